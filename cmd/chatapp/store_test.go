package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

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

	stdout, stderr := serveUntilBanner(t, "--addr", "127.0.0.1:0", "--store", "postgres")
	if want := "store           PostgreSQL postgres@" + u.Host + "/postgres"; !strings.Contains(stdout, want) {
		t.Errorf("banner has no %q:\n%s", want, stdout)
	}
	help := &lockedBuffer{}
	runServe(context.Background(), []string{"-help"}, help, help)
	if !strings.Contains(help.String(), "-postgres-url") {
		t.Errorf("-help does not list -postgres-url:\n%s", help.String())
	}
	if strings.Contains(stdout+stderr+help.String(), password) {
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
