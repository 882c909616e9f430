package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/internal/apispec"
	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/internal/gobuild"
)

// unityAway is how many messages the test sends to the harness's room while
// its server is away; the harness expects exactly these.
const unityAway = 3

// unityBudget bounds the whole harness run.
const unityBudget = 60 * time.Second

// TestUnityClient compiles the Unity package's networking layer
// (unity/Runtime, plain C# without UnityEngine) into a library with Mono's
// mcs, as Unity compiles its assembly, and runs the console harness
// (unity/Tests~/Harness) against the server in process: history, members,
// sends over REST and WebSocket received once by the other client, errors,
// the REST send's retries under one Idempotency-Key, the socket send's
// confirmation by its push or its PUT under the frame's key (the client
// algorithm's step 3), and a server restart on the same address
// and data during which messages are sent, which both clients must get
// exactly once after they reconnect.
func TestUnityClient(t *testing.T) {
	t.Parallel() // its own server and harness process
	dir := buildUnityHarness(t)

	data := t.TempDir()
	srv := startServer(t, ServeConfig{DataDir: data})
	addr := strings.TrimPrefix(srv.URL, "http://")

	ctx, cancel := context.WithTimeout(context.Background(), unityBudget)
	defer cancel()
	cmd := harnessCommand(ctx, t, dir, "--away", strconv.Itoa(unityAway), srv.URL)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waited := false
	t.Cleanup(func() {
		if !waited {
			cancel()
			for range lines {
			}
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("harness stderr:\n%s", stderr.String())
		}
	})

	var out []string
	restarted, reconnected := false, false
	for line := range lines {
		t.Logf("harness: %s", line)
		out = append(out, line)
		switch {
		case strings.HasPrefix(line, "READY-FOR-RESTART"):
			room, ok := strings.CutPrefix(line, "READY-FOR-RESTART room=")
			if !ok || room == "" || restarted {
				t.Fatalf("unexpected restart request %q", line)
			}
			srv = restartWhileAway(t, srv, data, addr, room)
			restarted = true
		case strings.HasPrefix(line, "DROP-CONNECTION id="):
			// DeleteConnection must be signed with the gateway's credentials,
			// which only this side holds.
			id := strings.TrimPrefix(line, "DROP-CONNECTION id=")
			if r := signedDo(t, srv, http.MethodDelete, srv.URL+"/@connections/"+url.PathEscape(id), nil, nil); r.Status != http.StatusNoContent {
				t.Errorf("DeleteConnection %s: %d %s, want 204", id, r.Status, r.Body)
			}
		case line == "RECONNECTED":
			if !restarted {
				t.Fatal("harness reconnected before the server restarted")
			}
			reconnected = true
		}
	}
	err = cmd.Wait()
	waited = true
	t.Logf("harness ran %v", time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("harness did not finish within %v", unityBudget)
	}
	if err != nil {
		t.Fatalf("harness: %v (want exit 0)", err)
	}

	var fails []string
	passes := map[string]bool{}
	for _, l := range out {
		if strings.HasPrefix(l, "FAIL") {
			fails = append(fails, l)
		}
		if name, ok := strings.CutPrefix(l, "PASS "); ok {
			passes[name] = true
		}
	}
	if len(fails) > 0 {
		t.Errorf("harness failures:\n%s", strings.Join(fails, "\n"))
	}
	if !restarted || !reconnected {
		t.Errorf("restart handshake incomplete: restarted %v, reconnected %v", restarted, reconnected)
	}
	for _, want := range []string{
		"json",
		"connect returns the latest history",
		"member list has both",
		"send over REST, each client gets it once",
		"send over WebSocket, each client gets it once",
		"a transport that cannot fragment (WebGL): the largest message goes over REST",
		"bad input is an error, not retried",
		"retry: answer lost after the server stored it → sent again with the same key, stored once, the same message returned",
		"retry: request lost before the server → sent again once, with the same key",
		"retry: 503 after the server stored it → sent again with the same key, stored once",
		"retry: 429 → the next attempt waits its Retry-After; one past the backoff's cap fails at once",
		"retry: every answer lost → unavailable after the attempts, stored once",
		"socket send: the frame carries an idempotency key, its push confirms it, no PUT",
		"socket send: a frame lost on its way → PUT with its key after SendConfirmTimeout, stored once",
		"socket send: its push lost on its way → PUT with its key is a repeat, stored once",
		"socket send: refused by an error frame → not sent by PUT",
		"socket send: a rate_limited error frame → PUT with its key at once, stored once",
		"socket send: not confirmed and its PUTs fail → an Error event",
		"reconnect after the server restarts",
		"messages sent while away arrive once, in order, by the catch-up",
		"live after reconnect, REST and WebSocket",
		"every message after the first page exactly once",
		"close",
	} {
		if !passes[want] {
			t.Errorf("no PASS line for %q", want)
		}
	}
	if last := out[len(out)-1]; !strings.HasPrefix(last, "PASS all ") {
		t.Errorf("last line %q, want PASS all N checks", last)
	}
}

// unityDowntime is how long the address stays closed at least, longer
// than the harness's first reconnect delay, so that attempts fail first.
const unityDowntime = 500 * time.Millisecond

// restartWhileAway stops srv (its WebSockets close with 1001), sends
// unityAway messages to room through a server on the same data at another
// address, which the harness does not know, so that they are stored while
// the harness's clients are away; then serves again on addr, no sooner than
// unityDowntime after the stop.
func restartWhileAway(t *testing.T, srv *testServer, data, addr, room string) *testServer {
	t.Helper()
	srv.close(t)
	back := time.Now().Add(unityDowntime)
	side := startServer(t, ServeConfig{DataDir: data})
	for i := 1; i <= unityAway; i++ {
		putMessage(t, side.URL, room, "go-test", "Go", fmt.Sprintf("away %d", i))
	}
	side.close(t)
	time.Sleep(time.Until(back))
	return startServerOn(t, ServeConfig{DataDir: data, Addr: addr})
}

// startServerOn is startServer on a fixed address, retrying the listen
// briefly while the address is still taken.
func startServerOn(t *testing.T, cfg ServeConfig) *testServer {
	t.Helper()
	lw := &testLogWriter{t: t}
	cfg.Logger = slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		s, err := StartServer(ctx, cfg)
		cancel()
		if err == nil {
			ts := &testServer{Server: s}
			t.Cleanup(func() {
				ts.close(t)
				lw.stop()
			})
			apispec.Watch(t, ts.URL)
			return ts
		}
		if time.Now().After(deadline) {
			t.Fatalf("StartServer on %s: %v", cfg.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// monoTools checks that mcs and mono are there; scripts/mono.sh installs
// them.
func monoTools(t *testing.T) {
	t.Helper()
	_, err1 := exec.LookPath("mcs")
	_, err2 := exec.LookPath("mono")
	if err := errors.Join(err1, err2); err != nil {
		component.Missing(t, "Mono is missing (%v): run scripts/deps.sh (or scripts/mono.sh)", err)
	}
}

// unityHarnessScript builds and runs the harness, for these tests and for
// `make unity-harness` alike.
func unityHarnessScript(t *testing.T) string {
	return filepath.Join(repoRoot(t), "scripts", "unity-harness.sh")
}

// unityBuild is the harness, built once per test binary: the tests only
// run it, each against its own server.
var unityBuild struct {
	once sync.Once
	dir  string
	err  error
}

// buildUnityHarness compiles unity/Runtime into ChatApp.Client.dll, as
// Unity builds the package's assembly, and the harness against it
// (scripts/unity-harness.sh build), once; it returns the directory of both.
func buildUnityHarness(t *testing.T) string {
	t.Helper()
	monoTools(t)
	script := unityHarnessScript(t)
	unityBuild.once.Do(func() {
		if unityBuild.dir, unityBuild.err = os.MkdirTemp("", "chatapp-unity-"); unityBuild.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, script, "build", unityBuild.dir).CombinedOutput(); err != nil {
			unityBuild.err = fmt.Errorf("scripts/unity-harness.sh build: %v\n%s", err, out)
		}
	})
	if unityBuild.err != nil {
		t.Fatal(unityBuild.err)
	}
	return unityBuild.dir
}

// harnessCommand runs the harness built in dir with args
// (scripts/unity-harness.sh run, which execs mono: ctx's end kills it).
func harnessCommand(ctx context.Context, t *testing.T, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, unityHarnessScript(t), append([]string{"run", dir}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// TestUnityPackageLayout checks what Unity's Package Manager reads: the
// manifest, the assembly definition, and a .meta beside every asset and
// folder it imports (a package from a git URL is immutable, so Unity
// ignores assets without one); folders ending in ~ are not imported.
func TestUnityPackageLayout(t *testing.T) {
	t.Parallel() // its own server and harness process
	root := filepath.Join(repoRoot(t), "unity")

	var pkg struct {
		Name, DisplayName, Version, Unity, Description string
		Samples                                        []struct{ DisplayName, Description, Path string }
	}
	readUnityJSON(t, filepath.Join(root, "package.json"), &pkg)
	if pkg.Name != "com.chatapp.client" || pkg.Version != "0.1.0" || pkg.Unity != "2021.3" ||
		pkg.DisplayName == "" || pkg.Description == "" {
		t.Errorf("package.json: %+v", pkg)
	}
	for _, s := range pkg.Samples {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(s.Path))); err != nil {
			t.Errorf("sample %q: %v", s.DisplayName, err)
		}
	}
	if len(pkg.Samples) == 0 {
		t.Error("package.json lists no samples")
	}

	var asm struct {
		Name               string
		NoEngineReferences bool
		AutoReferenced     bool
	}
	readUnityJSON(t, filepath.Join(root, "Runtime", "ChatApp.Client.asmdef"), &asm)
	if asm.Name != "ChatApp.Client" || !asm.NoEngineReferences || !asm.AutoReferenced {
		t.Errorf("ChatApp.Client.asmdef: %+v", asm)
	}

	guids := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		name := d.Name()
		switch {
		case rel == ".":
			return nil
		case d.IsDir() && strings.HasSuffix(name, "~"), d.IsDir() && strings.HasPrefix(name, "."):
			return filepath.SkipDir
		case strings.HasSuffix(name, ".meta"):
			asset := strings.TrimSuffix(path, ".meta")
			if _, err := os.Stat(asset); err != nil {
				t.Errorf("%s: meta of nothing", rel)
			}
			return nil
		case strings.HasPrefix(name, "."):
			return nil
		}
		meta, err := os.ReadFile(path + ".meta")
		if err != nil {
			t.Errorf("%s has no .meta: Unity ignores it in an immutable package", rel)
			return nil
		}
		guid := ""
		for _, l := range strings.Split(string(meta), "\n") {
			if g, ok := strings.CutPrefix(l, "guid: "); ok {
				guid = strings.TrimSpace(g)
			}
		}
		if len(guid) != 32 || strings.Trim(guid, "0123456789abcdef") != "" {
			t.Errorf("%s.meta: guid %q, want 32 lowercase hex digits", rel, guid)
		} else if other, dup := guids[guid]; dup {
			t.Errorf("%s.meta and %s.meta share guid %s", rel, other, guid)
		}
		guids[guid] = rel
		if d.IsDir() != strings.Contains(string(meta), "folderAsset: yes") {
			t.Errorf("%s.meta: folderAsset does not match", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files := slices.Sorted(maps.Values(guids))
	t.Logf("%d assets with .meta: %v", len(files), files)
}

func readUnityJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestUnityClientAuth runs the harness's --auth mode against a server with
// auth on: a client with a token and no user id connects, sends and
// receives as the token's user and name; no token, an expired token, another
// user's id and a room the token does not allow are refused as
// unauthorized or forbidden with one request, not retried; and a reconnect
// refused after the token expired closes the client instead of retrying.
func TestUnityClientAuth(t *testing.T) {
	t.Parallel() // its own server and harness process
	dir := buildUnityHarness(t)
	srv := startServer(t, ServeConfig{Auth: AuthConfig{Secret: authTestSecret}})

	expired, err := (&auth.Issuer{Secret: []byte(authTestSecret), Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}).
		Issue(chatapp.Identity{UserID: "unity-ada", Name: "Ada"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"CHATAPP_TOKEN_A=" + devToken(t, chatapp.Identity{UserID: "unity-ada", Name: "Ada"}),
		"CHATAPP_TOKEN_B=" + devToken(t, chatapp.Identity{UserID: "unity-bob", Name: "Bob", Rooms: []string{"unity-auth"}}),
		"CHATAPP_TOKEN_EXPIRED=" + expired,
	}

	ctx, cancel := context.WithTimeout(context.Background(), unityBudget)
	defer cancel()
	cmd := harnessCommand(ctx, t, dir, "--auth", srv.URL)
	cmd.Env = append(os.Environ(), env...)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Logf("harness: %s", line)
		out = append(out, line)
		if id, ok := strings.CutPrefix(line, "DROP-CONNECTION id="); ok {
			if r := signedDo(t, srv, http.MethodDelete, srv.URL+"/@connections/"+url.PathEscape(id), nil, nil); r.Status != http.StatusNoContent {
				t.Errorf("DeleteConnection %s: %d %s, want 204", id, r.Status, r.Body)
			}
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("harness did not finish within %v\nstderr:\n%s", unityBudget, stderr.String())
	}
	if err != nil {
		t.Errorf("harness: %v (want exit 0)\nstderr:\n%s", err, stderr.String())
	}
	passes := map[string]bool{}
	for _, l := range out {
		if strings.HasPrefix(l, "FAIL") {
			t.Errorf("harness: %s", l)
		}
		if name, ok := strings.CutPrefix(l, "PASS "); ok {
			passes[name] = true
		}
		for _, kv := range env {
			if _, token, _ := strings.Cut(kv, "="); strings.Contains(l, token) {
				t.Errorf("the harness printed a token: %s", l)
			}
		}
	}
	for _, want := range []string{
		"auth: no token is unauthorized, not retried",
		"auth: expired token is unauthorized, not retried",
		"auth: another user's id is forbidden",
		"auth: a room the token does not allow is forbidden",
		"auth: connect with a token and no user id",
		"auth: send and receive with tokens",
		"auth: a retried send is stored once, as the token's user",
		"auth: a refused reconnect stops the client",
	} {
		if !passes[want] {
			t.Errorf("no PASS line for %q", want)
		}
	}
	if len(out) == 0 || !strings.HasPrefix(out[len(out)-1], "PASS all ") {
		t.Errorf("the harness did not end with PASS all N checks")
	}
}

// TestUnityKeepAlive: the Unity client keeps its WebSocket past the
// server's idle timeout with its keepalive message (the harness's
// --keepalive mode), though it sends nothing else: pings do not count as
// activity, on API Gateway as far as AWS documents, and here. The idle
// timeout is 1.5 keepalive intervals, so that the keepalive must come every
// interval, not every interval plus the wait for its answer (which is the
// interval too, when shorter than 30 s): half an interval of slack either
// way, 2.5 s: a busy machine delayed Mono's timer past a 1 s slack. The
// harness stays for four intervals: with the keepalive every two, the server
// closes at three.
func TestUnityKeepAlive(t *testing.T) {
	t.Parallel() // its own server and harness process
	const (
		interval = 5 * time.Second
		idle     = interval * 3 / 2
		stay     = 4 * interval
	)
	srv := startServer(t, ServeConfig{IdleTimeout: idle})
	runHarness(t, srv.URL, 1, "--keepalive", strconv.Itoa(int(stay/time.Second)), "--interval", strconv.Itoa(int(interval/time.Millisecond)))
}

// TestUnityHarnessByHand runs `make unity-harness`'s script as a person
// would: it builds the harness and chatapp, starts `chatapp serve` on a
// free loopback port, restarts it when the harness asks, and stops it; it
// must pass, and say so.
func TestUnityHarnessByHand(t *testing.T) {
	t.Parallel() // its own server and harness process
	monoTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*unityBudget)
	defer cancel()
	cmd := exec.CommandContext(ctx, unityHarnessScript(t))
	cmd.Env = append(gobuild.Env(), "UNITY_HARNESS_OUT="+t.TempDir())
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("scripts/unity-harness.sh:\n%s", out)
	if err != nil {
		t.Fatalf("scripts/unity-harness.sh: %v", err)
	}
	for _, want := range []string{"RECONNECTED", "PASS messages sent while away arrive once, in order, by the catch-up", "PASS all ", "unity-harness: passed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if strings.Contains(string(out), "FAIL") {
		t.Error("the output has a FAIL line")
	}
}
