package apispec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAsyncAPIDocumentParses: docs/asyncapi.yaml parses with the AsyncAPI
// parser without an error, and its examples match their payloads; a copy
// with an operation the specification does not allow, or with an example
// that its message refuses, fails: the check cannot pass vacuously.
func TestAsyncAPIDocumentParses(t *testing.T) {
	RequireFrameChecker(t)
	if out, err := runChecker(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	path, err := docPath(AsyncAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"an operation the specification does not allow", "    action: send\n", "    action: publish\n", `"action" property must be equal to one of the allowed values`},
		{"an example that is not its message", "payload: {type: pong}", "payload: {type: ping}", "message pong: example pong does not match its payload"},
	} {
		bad := strings.Replace(string(doc), c.from, c.to, 1)
		if bad == string(doc) {
			t.Fatalf("%s: the document has no %q to break", c.name, c.from)
		}
		broken := filepath.Join(t.TempDir(), "asyncapi.yaml")
		os.WriteFile(broken, []byte(bad), 0o644)
		out, err := runChecker("--doc", broken)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s: %v, want a failure saying %q:\n%s", c.name, err, c.want, out)
		}
	}
}
