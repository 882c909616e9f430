package pglocal_test

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

func TestMain(m *testing.M) { os.Exit(pglocal.Main(m)) }

// TestClusterIsDurable: the server is up, shared by the test binary, and
// runs with the settings a production server keeps commits with: the
// stores' durability is what their tests check.
func TestClusterIsDurable(t *testing.T) {
	url := pglocal.URL(t)
	if again := pglocal.URL(t); again != url {
		t.Fatalf("second URL = %s, want the first's %s", again, url)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for setting, want := range map[string]string{
		"fsync":              "on",
		"synchronous_commit": "on",
		"full_page_writes":   "on",
		"listen_addresses":   "127.0.0.1",
	} {
		var got string
		if err := conn.QueryRow(t.Context(), "SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
}

// TestSchemasAreApart: each Schema is a fresh namespace, named by the
// URL's search_path, so tests' tables never meet.
func TestSchemasAreApart(t *testing.T) {
	a, b := pglocal.Schema(t), pglocal.Schema(t)
	if a == b {
		t.Fatalf("two schemas have one URL %s", a)
	}
	for _, url := range []string{a, b} {
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(t.Context(), "CREATE TABLE t (x int)"); err != nil {
			t.Errorf("CREATE TABLE on %s: %v", url, err)
		}
		conn.Close(t.Context())
	}
}

// TestDefaultCollationIsNotBytewise: the cluster's text compares as a
// language does ('a' before 'B'), not bytewise as C does, so that a store's
// query that needs bytewise order must say so (COLLATE "C").
func TestDefaultCollationIsNotBytewise(t *testing.T) {
	conn, err := pgx.Connect(t.Context(), pglocal.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var version int
	var less bool
	if err := conn.QueryRow(t.Context(), "SELECT current_setting('server_version_num')::int, 'a' < 'B'").Scan(&version, &less); err != nil {
		t.Fatal(err)
	}
	if version >= 150000 && !less {
		t.Errorf("'a' < 'B' is false: the default collation is bytewise")
	}
}
