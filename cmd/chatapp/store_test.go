package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestServePostgresFromEnvironment: `serve --store postgres` takes its
// database from CHATAPP_POSTGRES_URL, names it in the banner, and never
// prints the URL's password, nor shows it as a default in -help.
func TestServePostgresFromEnvironment(t *testing.T) {
	u, err := url.Parse(pglocal.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	const password = "pw-from-the-environment" // the test cluster trusts 127.0.0.1: unused
	u.User = url.UserPassword("postgres", password)
	t.Setenv("CHATAPP_POSTGRES_URL", u.String())

	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--store", "postgres"}, stdout, stderr)
	}()
	eventually(t, "the banner is printed", func() bool { return strings.Contains(stdout.String(), "Press Ctrl-C") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("serve did not stop")
	}
	if want := "store           PostgreSQL postgres@" + u.Host + "/postgres"; !strings.Contains(stdout.String(), want) {
		t.Errorf("banner has no %q:\n%s", want, stdout.String())
	}
	help := &lockedBuffer{}
	runServe(context.Background(), []string{"-help"}, help, help)
	if !strings.Contains(help.String(), "-postgres-url") {
		t.Errorf("-help does not list -postgres-url:\n%s", help.String())
	}
	if strings.Contains(stdout.String()+stderr.String()+help.String(), password) {
		t.Error("serve printed the database password")
	}
}

// TestServePostgresNeedsAURL: --store postgres without a database is an
// error at start that names the flag.
func TestServePostgresNeedsAURL(t *testing.T) {
	t.Setenv("CHATAPP_POSTGRES_URL", "")
	_, err := StartServer(context.Background(), ServeConfig{Addr: "127.0.0.1:0", Store: "postgres"})
	if err == nil || !strings.Contains(err.Error(), "--postgres-url") {
		t.Fatalf("StartServer with no database: %v, want an error naming --postgres-url", err)
	}
}
