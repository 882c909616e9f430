// Package pglocal runs a throwaway PostgreSQL cluster for tests: one per
// test binary, made by initdb in a temporary folder, started by the first
// test that needs it and stopped (pg_ctl stop -m immediate) and removed
// when the tests end. It uses the server binaries of Debian's postgresql
// package (/usr/lib/postgresql/VERSION/bin), which scripts/postgres.sh
// installs. Run as root, initdb and pg_ctl run as the postgres user (they
// refuse root), through runuser.
//
// The cluster is durable as a production one: fsync on, and the stores
// commit with synchronous_commit on, so a test of what survives sees
// what an operator's server would keep.
//
// A package using it calls Main (or Run) from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pglocal.Main(m)) }
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp/internal/component"
)

// startTimeout bounds the wait for the server to accept connections.
const startTimeout = time.Minute

// dirPrefix names the cluster folders in the temporary folder, so that
// one left by a test binary that was killed can be found and removed.
const dirPrefix = "chatapp-pglocal-"

var (
	inMain atomic.Bool
	once   sync.Once
	shared struct {
		cluster *cluster
		err     error
	}
	schemas atomic.Int64
)

// Main runs the tests and then stops the cluster if a test started it.
// It returns m.Run's exit code.
func Main(m *testing.M) int { return Run(m.Run) }

// Run is Main for a TestMain that runs its tests through another
// wrapper: run is m.Run, or that wrapper's Main of m.
func Run(run func() int) int {
	inMain.Store(true)
	code := run()
	if c := shared.cluster; c != nil {
		if err := c.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pglocal:", err)
		}
	}
	return code
}

// URL returns the address of the test binary's cluster
// (postgres://postgres@127.0.0.1:PORT/postgres), starting it on first
// use. It skips the test when PostgreSQL is not installed, or fails it if
// the environment variable CI is "true".
func URL(t testing.TB) string {
	t.Helper()
	if !inMain.Load() {
		t.Fatal("pglocal: TestMain must call pglocal.Main, which stops the cluster after the tests")
	}
	once.Do(func() { shared.cluster, shared.err = start() })
	component.Require(t, "PostgreSQL", shared.err, "run scripts/postgres.sh (or make deps)")
	return shared.cluster.url
}

// Schema returns the address of a schema of the cluster that no other
// test uses: the URL's search_path names it, so a store opened on it
// creates its tables there. Two stores opened on one such URL share one
// database, as the processes of a cluster of chatapp servers do.
func Schema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	name := fmt.Sprintf("test_%d", schemas.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pglocal: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pglocal: create schema: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// cluster is a running server and the folder that holds it.
type cluster struct {
	dir     string // owned by the server's user: data/, the socket, the log
	bin     string // the server binaries
	asOwner []string
	url     string
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

// start makes and starts a cluster. The free port may be taken between
// our check and the server's bind: it tries a few.
func start() (*cluster, error) {
	bin, err := binaries()
	if err != nil {
		return nil, err
	}
	asOwner, owner, err := serverUser()
	if err != nil {
		return nil, err
	}
	removeOrphans(bin, asOwner)
	c := &cluster{bin: bin, asOwner: asOwner}
	if c.dir, err = os.MkdirTemp("", dirPrefix); err != nil {
		return nil, err
	}
	// The binary that owns the cluster, for removeOrphans of a later run.
	if err := os.WriteFile(filepath.Join(c.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, c.cleanUp(err)
	}
	if owner != nil {
		if err := os.Chown(c.dir, owner.uid, owner.gid); err != nil {
			return nil, c.cleanUp(fmt.Errorf("give %s to the postgres user: %w", c.dir, err))
		}
	}
	// trust: the server listens on 127.0.0.1 only, for this test binary.
	args := []string{"-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"}
	if version(filepath.Join(bin, "initdb")) >= 15 {
		// ICU's English collation, not C, as the default (PostgreSQL 15
		// and later), so that a query whose order needs bytewise
		// comparison shows it by failing.
		args = append(args, "--locale-provider=icu", "--icu-locale=en-US")
	}
	if out, err := c.run("initdb", args...); err != nil {
		return nil, c.cleanUp(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	for attempt := 1; ; attempt++ {
		err := c.serve()
		if err == nil {
			return c, nil
		}
		if attempt == 3 {
			return nil, c.cleanUp(err)
		}
	}
}

// serve starts the server on a free port and waits until it answers.
func (c *cluster) serve() error {
	port, err := component.FreePort()
	if err != nil {
		return err
	}
	options := strings.Join([]string{
		"-c listen_addresses=127.0.0.1",
		"-p " + strconv.Itoa(port),
		"-c unix_socket_directories=" + c.dir,
		"-c fsync=on",
		"-c synchronous_commit=on",
		"-c full_page_writes=on",
		"-c max_connections=200",
		"-c shared_buffers=32MB", // a test's data is small; several test binaries run at once
	}, " ")
	log := filepath.Join(c.dir, "server.log")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := c.runContext(ctx, "pg_ctl", "-D", c.data(), "-l", log, "-o", options, "-w", "-t", "60", "start"); err != nil {
		logText, _ := os.ReadFile(log)
		return fmt.Errorf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, tail(logText))
	}
	c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		c.stopServer()
		return fmt.Errorf("connect to %s: %w", c.url, err)
	}
	conn.Close(ctx)
	return nil
}

// stop stops the server at once (no checkpoint: the cluster is thrown
// away) and removes its folder.
func (c *cluster) stop() error {
	return c.cleanUp(c.stopServer())
}

func (c *cluster) stopServer() error {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err != nil {
		return nil // not running
	}
	if out, err := c.run("pg_ctl", "-D", c.data(), "stop", "-m", "immediate", "-w"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// cleanUp removes the cluster's folder and returns err, joined with the
// removal's.
func (c *cluster) cleanUp(err error) error {
	return errors.Join(err, os.RemoveAll(c.dir))
}

func (c *cluster) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return c.runContext(ctx, name, args...)
}

// runContext runs one of the server's binaries as the server's user.
func (c *cluster) runContext(ctx context.Context, name string, args ...string) ([]byte, error) {
	argv := append(slices.Clone(c.asOwner), filepath.Join(c.bin, name))
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...)
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

// Installed reports, as an error (component.Unavailable) for
// component.Require, whether PostgreSQL's server is installed: for a test
// that starts one through a script of its own (scripts/cluster.sh).
func Installed() error {
	_, err := binaries()
	return err
}

// binaries finds the newest PostgreSQL's server binaries.
func binaries() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", component.Unavailable("no /usr/lib/postgresql/*/bin/initdb")
	}
	slices.SortFunc(found, func(a, b string) int { return version(a) - version(b) })
	return filepath.Dir(found[len(found)-1]), nil
}

// version is the major version in a path /usr/lib/postgresql/15/bin/initdb.
func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

type ids struct{ uid, gid int }

// serverUser says how the server's binaries are run: as root, through
// runuser as the postgres user (owner is then that user); as anyone
// else, as themselves.
func serverUser() (prefix []string, owner *ids, err error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, component.Unavailable("no postgres user to run the server as (root may not)")
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, nil, component.Unavailable("no runuser to run the server as the postgres user")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return []string{runuser, "-u", "postgres", "--"}, &ids{uid, gid}, nil
}

// tail is the end of a log, for an error message.
func tail(b []byte) string {
	if n := len(b) - 4096; n > 0 {
		b = b[n:]
	}
	return string(b)
}
