package cfnspec

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/internal/reporoot"
)

var shared struct {
	once sync.Once
	spec *Spec
	err  error
}

// ForTest returns the specifications in the repository's .cache/cfn-spec,
// read once per test binary. It skips the test when scripts/cfn-spec.sh has
// not put them there, or fails it if the environment variable CI is "true".
func ForTest(t testing.TB) *Spec {
	t.Helper()
	shared.once.Do(func() {
		root, err := reporoot.Find()
		if err != nil {
			shared.err = err
			return
		}
		shared.spec, shared.err = Load(filepath.Join(root, ".cache", "cfn-spec"))
	})
	switch err := shared.err; {
	case errors.As(err, new(Missing)):
		component.Missing(t, "the CloudFormation and SAM specifications are not available: %v; run scripts/deps.sh (or make deps)", err)
	case err != nil:
		t.Fatalf("cfnspec: %v", err)
	}
	return shared.spec
}
