package apispec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/internal/reporoot"
)

// AsyncAPIFile is the AsyncAPI document's name under docs/.
const AsyncAPIFile = "asyncapi.yaml"

// ErrNoChecker is returned by FrameChecker when node or the AsyncAPI
// parser is missing.
var ErrNoChecker = errors.New("the AsyncAPI check needs node and the AsyncAPI parser: run scripts/asyncapi.sh (npm)")

// FrameChecker returns the command line that runs scripts/asyncapi/check.mjs
// (node and the script), or ErrNoChecker.
func FrameChecker() ([]string, error) {
	root, err := reporoot.Find()
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, ErrNoChecker
	}
	if _, err := os.Stat(filepath.Join(root, ".cache", "asyncapi", "node_modules", "@asyncapi", "parser")); err != nil {
		return nil, ErrNoChecker
	}
	return []string{node, filepath.Join(root, "scripts", "asyncapi", "check.mjs")}, nil
}

// CheckFrames parses docs/asyncapi.yaml with the AsyncAPI parser and
// checks the frames of the file at path against it (check.mjs says how).
// It returns the checker's report, and an error when the document or a
// frame fails.
func CheckFrames(path string) (string, error) { return runChecker("--frames", path) }

// runChecker runs check.mjs with args.
func runChecker(args ...string) (string, error) {
	argv, err := FrameChecker()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(argv[0], append(argv[1:], args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out), nil
}

// FrameLog records WebSocket frames, as check.mjs reads them: a JSON line
// each. It keeps a few frames of each kind (a kind is the direction, the
// top-level keys and the action, type or error code), so that a long test
// run leaves a small file that still holds every kind it saw.
type FrameLog struct {
	mu    sync.Mutex
	lines [][]byte
	kinds map[string]int
}

// framesPerKind bounds the frames a FrameLog keeps of one kind.
const framesPerKind = 20

// Server records a text frame the server sent.
func (l *FrameLog) Server(data []byte) { l.add("server", data) }

// Client records a text frame a client sent.
func (l *FrameLog) Client(data []byte) { l.add("client", data) }

// ServerClose records the code of the server's close frame.
func (l *FrameLog) ServerClose(code int) {
	l.keep(fmt.Sprintf("close %d", code), map[string]any{"from": "server", "close": code})
}

func (l *FrameLog) add(from string, data []byte) {
	l.keep(from+" "+kindOf(data), map[string]any{"from": from, "data": string(data)})
}

func (l *FrameLog) keep(kind string, line map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kinds == nil {
		l.kinds = map[string]int{}
	}
	if l.kinds[kind] >= framesPerKind {
		return
	}
	l.kinds[kind]++
	b, _ := json.Marshal(line) // strings and numbers: cannot fail
	l.lines = append(l.lines, b)
}

// kindOf names a frame's kind: its top-level keys, and the value of its
// action, type or error code.
func kindOf(data []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return "not an object"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	kind := strings.Join(keys, ",")
	for _, k := range []string{"action", "type"} {
		if v, ok := m[k]; ok {
			kind += " " + k + "=" + string(v)
		}
	}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
		kind += " error=" + e.Error.Code
	}
	return kind
}

// Len is the number of frames recorded.
func (l *FrameLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// WriteFile writes the frames recorded to path.
func (l *FrameLog) WriteFile(path string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	for _, line := range l.lines {
		b.Write(line)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// RequireFrameChecker skips t when the AsyncAPI checker is missing, with
// how to get it, or fails t when CI=true: CI must not skip.
func RequireFrameChecker(t testing.TB) {
	t.Helper()
	if _, err := FrameChecker(); err != nil {
		component.Missing(t, "%v", err)
	}
}
