package postgres

import (
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestDurabilitySettings checks what the package doc promises on every
// session of the store's pool: a commit returns once flushed to the WAL
// (synchronous_commit on), which the server writes with fsync and full
// pages. The store's user here has synchronous_commit off by default, as
// a server tuned for speed may: the store's sessions still commit
// synchronously.
func TestDurabilitySettings(t *testing.T) {
	base := pglocal.Schema(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(t.Context())
	schema := u.Query().Get("search_path")
	role := "fast_" + schema
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"ALTER ROLE " + role + " SET synchronous_commit = off",
		"GRANT ALL ON SCHEMA " + schema + " TO " + role,
	} {
		if _, err := admin.Exec(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	u.User = url.User(role)
	db := openDB(t, u.String())

	// Hold several sessions at once, so that each is a distinct one.
	var conns []*pgxpool.Conn
	for range 3 {
		c, err := db.pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		conns = append(conns, c)
	}
	for i, c := range conns {
		for setting, want := range map[string]string{"synchronous_commit": "on", "fsync": "on", "full_page_writes": "on"} {
			var got string
			if err := c.QueryRow(t.Context(), "SELECT current_setting($1)", setting).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("session %d: %s = %q, want %q", i, setting, got, want)
			}
		}
	}

	// The role's own default, seen by a session that is not the store's.
	plain, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(t.Context())
	var off string
	if err := plain.QueryRow(t.Context(), "SHOW synchronous_commit").Scan(&off); err != nil || off != "off" {
		t.Fatalf("the role's default synchronous_commit = %q, %v; want off, or the test proves nothing", off, err)
	}
}
