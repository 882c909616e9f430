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

// layers ranks the module's packages from the domain outwards: a package
// may import only packages of a lower rank (and internal helpers), so
// that no arrow runs back up. The clients, last but the commands, take
// only the domain and the protocol: they speak to a server, they do not
// run one.
var layers = map[string]int{
	"":         0,
	"protocol": 1,
	"sqlite":   2, "dynamodb": 2, "postgres": 2, "apigw": 2, "auth": 2, "ratelimit": 2, "storetest": 2, "rie": 2, "web": 2,
	"handler":   3,
	"hub":       4,
	"gateway":   5,
	"nats":      5, // a cluster node: the hub's notifier across processes
	"awslambda": 6, "metrics": 6,
	"awslambda/invoke": 7, // the local gateway's integrations of the functions
	"client":           7, "bench": 7,
}

// TestImportsRunDownwards: every package imports only what lies below it
// (TestPackageTableMatchesFolders says what each owns).
func TestImportsRunDownwards(t *testing.T) {
	const module = "github.com/chatapp-dev/chatapp"
	for path, rank := range layers {
		pkg, err := build.ImportDir(filepath.Join(".", path), 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			rel, ok := strings.CutPrefix(imp, module)
			if !ok || strings.HasPrefix(rel, "/internal/") {
				continue
			}
			rel = strings.TrimPrefix(rel, "/")
			below, known := layers[rel]
			switch {
			case !known:
				t.Errorf("%s imports %s, which has no layer here", path, rel)
			case below >= rank:
				t.Errorf("%s (layer %d) imports %s (layer %d): an arrow that runs back up", path, rank, rel, below)
			case (path == "client" || path == "bench") && below > 1:
				t.Errorf("%s imports %s: a client takes only the domain and the protocol", path, rel)
			}
		}
	}
	dirs, _ := filepath.Glob("*/*.go")
	for _, f := range dirs {
		dir := filepath.Dir(f)
		if _, ok := layers[dir]; !ok && dir != "internal" && dir != "cmd" && !strings.HasPrefix(dir, ".") {
			t.Errorf("package folder %s has no layer in layout_test.go", dir)
		}
	}
}
