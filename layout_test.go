package chatapp_test

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPackageTableMatchesFolders: the README's package layout names every
// Go package and every top-level folder, each folder it names exists, and
// each package's doc comment begins "Package NAME" (it says what the
// package owns). A newcomer finds a thing from that table.
func TestPackageTableMatchesFolders(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	table := readme[strings.Index(string(readme), "### Package layout"):]
	table = table[:strings.Index(string(table), "\n## ")]
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| ([^|]+) \\|").FindAllStringSubmatch(string(table), -1) {
		// A folder ends in "/", a file has a dot; other words in
		// backquotes (a package's name) are not paths.
		for _, f := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(m[1], -1) {
			if p := f[1]; p != "/" && (strings.HasSuffix(p, "/") || strings.Contains(p, ".")) {
				named[strings.TrimSuffix(p, "/")] = true
			}
		}
	}
	for path := range named {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the README's package table names %s, which does not exist", path)
		}
	}
	var folders []string
	filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == "." {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") || name == "testdata" || strings.HasSuffix(name, "~") || strings.Contains(path, "node_modules") {
			return filepath.SkipDir
		}
		if !strings.Contains(path, string(filepath.Separator)) {
			folders = append(folders, path) // top level: every one is named
			return nil
		}
		if pkg, err := build.ImportDir(path, 0); err == nil && len(pkg.GoFiles) > 0 {
			folders = append(folders, filepath.ToSlash(path))
			if !strings.HasPrefix(pkg.Doc, "Package "+pkg.Name) && pkg.Name != "main" {
				t.Errorf("package %s (%s) has no doc comment saying what it owns", pkg.Name, path)
			}
		}
		return nil
	})
	for _, f := range folders {
		if named[f] || f == "cmd" || f == "internal" { // their packages have rows
			continue
		}
		if parent := filepath.ToSlash(filepath.Dir(f)); named[parent] && parent != "internal" && parent != "cmd" {
			continue // a package inside a named folder (awslambda/invoke)
		}
		t.Errorf("the README's package table does not name %s/", f)
	}
}
