package reporoot_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/reporoot"
)

// TestFind: from this package's folder, the module's root, two levels up,
// whose go.mod declares the module; outside any module, an error.
func TestFind(t *testing.T) {
	root, err := reporoot.Find()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs("../.."); root != want {
		t.Errorf("Find() = %s, want %s", root, want)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Error(err)
	}
	t.Chdir(t.TempDir())
	if dir, err := reporoot.Find(); err == nil {
		t.Errorf("Find() outside a module = %s, want an error", dir)
	}
}
