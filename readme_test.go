package chatapp_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// modulePath is go.mod's module path, such as github.com/chatapp-dev/chatapp.
func modulePath(t *testing.T) string {
	t.Helper()
	f, err := os.Open("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(mod), `"`)
		}
	}
	t.Fatal("go.mod has no module line")
	return ""
}

// readmes are the repository's README files, outside hidden folders
// (.git, .cache) and node_modules.
func readmes(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(name, ".") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.EqualFold(strings.TrimSuffix(name, filepath.Ext(name)), "readme") { // README, README.md, not README.md.meta
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	// placeholder matches a repository left to be filled in: OWNER/REPO,
	// <owner>/<repo>, {owner}/{repo}, :owner/:repo, any <x>/<y> or {x}/{y},
	// your-org/your-repo (an owner or repository named your-..., your_...),
	// in any case.
	placeholder = regexp.MustCompile(`(?i)[<{:]?\bowner\b[>}]?/[<{:]?\brepo(sitory)?\b[>}]?` +
		`|<[\w-]+>/<[\w-]+>|\{[\w-]+\}/\{[\w-]+\}|\byour[-_][\w-]+/[\w.-]+|\b[\w.-]+/your[-_][\w-]+`)
	// installURL matches what installs or imports this code from GitHub:
	// a git URL (https://github.com/O/R.git, as Unity's Package Manager
	// and git clone take it), a path after go get, go install, go run or
	// git clone, or a bare import path (github.com/O/R/pkg). Links to
	// another project's issues or pages (https://github.com/O/R/issues/1)
	// are not install URLs.
	installURL = regexp.MustCompile(`(?:https://|git@)?github\.com[/:]([\w.-]+)/([\w.-]+?)(\.git)?(?:[/?#@"'\x60)\s]|$)`)
	installCmd = regexp.MustCompile(`(?:go (?:get|install|run)|git clone)\s+\S*$`)
	// continuation is a shell line's end continued on the next
	// ("git clone \" then the URL).
	continuation = regexp.MustCompile(`[ \t]*\\\r?\n\s*`)
)

// readmeLines splits text into its lines, a line ending in a backslash
// joined with the next (as a shell reads it), each with the number of
// its first line.
func readmeLines(text string) (lines []string, numbers []int) {
	raw := strings.Split(text, "\n")
	for i := 0; i < len(raw); i++ {
		line, first := raw[i], i+1
		for strings.HasSuffix(strings.TrimRight(line, " \t\r"), "\\") && i+1 < len(raw) {
			i++
			line += "\n" + raw[i]
		}
		lines, numbers = append(lines, line), append(numbers, first)
	}
	return lines, numbers
}

// TestReadmeInstallURLs: no README names a placeholder repository, and
// every install URL or import path in one is go.mod's module: a reader who
// copies it gets this code.
func TestReadmeInstallURLs(t *testing.T) {
	module := modulePath(t)
	files := readmes(t)
	if len(files) < 2 {
		t.Fatalf("found only READMEs %v", files)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines, numbers := readmeLines(string(data))
		for i, line := range lines {
			for _, problem := range readmeLineProblems(line, module) {
				t.Errorf("%s:%d: %s", path, numbers[i], problem)
			}
		}
	}
}

// readmeLineProblems lists a line's placeholders and install URLs of
// another repository than module. The line may be continued ("\\\n").
func readmeLineProblems(line, module string) []string {
	line = continuation.ReplaceAllString(line, " ")
	var out []string
	if m := placeholder.FindString(line); m != "" {
		out = append(out, fmt.Sprintf("placeholder %q: give the real repository, %s", m, module))
	}
	for _, idx := range installURL.FindAllStringSubmatchIndex(line, -1) {
		url := strings.TrimSpace(line[idx[0]:idx[1]])
		repo := "github.com/" + line[idx[2]:idx[3]] + "/" + line[idx[4]:idx[5]]
		// A .git URL, and the forms only git takes: git@github.com:O/R
		// (ssh) and git+https:// (npm's, pip's).
		gitURL := idx[6] >= 0 || strings.HasPrefix(url, "git@") || strings.HasSuffix(line[:idx[0]], "git+")
		bare := !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "git@")
		command := installCmd.MatchString(line[:idx[0]])
		if !gitURL && !bare && !command {
			continue // a web link, such as another project's issue
		}
		if repo != module {
			out = append(out, fmt.Sprintf("install URL %q is %s, not go.mod's module %s", url, repo, module))
		}
	}
	return out
}

// TestReadmeLineProblems: what the README check flags, and what it lets be.
func TestReadmeLineProblems(t *testing.T) {
	const module = "github.com/chatapp-dev/chatapp"
	for line, want := range map[string]int{
		"https://github.com/chatapp-dev/chatapp.git?path=unity":                   0,
		`"com.chatapp.client": "https://github.com/chatapp-dev/chatapp.git#v0.1"`: 0,
		"(`github.com/chatapp-dev/chatapp/client`)":                               0,
		"go install github.com/chatapp-dev/chatapp/cmd/chatapp@latest":            0,
		"[aws-lambda-go#72](https://github.com/aws/aws-lambda-go/issues/72)":      0,
		"see https://github.com/charmbracelet/bubbletea for the framework":        0,
		"https://github.com/OWNER/REPO.git?path=unity":                            2, // a placeholder, and not the module
		"https://github.com/someone/fork.git?path=unity":                          1,
		"git clone https://github.com/someone/fork":                               1,
		"go get github.com/someone/chatapp/client@v1.0.0":                         1,
		"import `github.com/someone/chatapp/client`":                              1,
		"git@github.com:someone/chatapp.git":                                      1,
		"https://github.com/<owner>/<repo>":                                       1,
		"git+https://github.com/someone/fork#v1.0":                                1,
		`"client": "git+https://github.com/chatapp-dev/chatapp#v0.1"`:             0,
		"git@github.com:someone/chatapp":                                          1,
		"ssh://git@github.com/someone/chatapp":                                    1,
		"git@github.com:chatapp-dev/chatapp":                                      0,
		"git clone \\\n  https://github.com/someone/fork":                         1,
		"go install \\\n\tgithub.com/someone/chatapp/cmd/chatapp@latest":          1,
		"git clone \\\n  https://github.com/chatapp-dev/chatapp":                  0,
		"https://github.com/your-org/your-repo":                                   1,
		"git clone https://github.com/your-org/your-repo.git":                     2,
		"YOUR_USERNAME/YOUR_REPO":                                                 1,
		"github.com/your-name/chatapp":                                            2,
		"<org>/<project>":                                                         1,
		"{user}/{repo}":                                                           1,
		"your own room, or theirs/yours":                                          0,
	} {
		if got := readmeLineProblems(line, module); len(got) != want {
			t.Errorf("%s: %d problems %q, want %d", line, len(got), got, want)
		}
	}
}

// TestReadmeLines: a line that ends in a backslash is read with the next,
// as a shell reads it, numbered by its first.
func TestReadmeLines(t *testing.T) {
	lines, numbers := readmeLines("git clone \\\n  https://x \\  \n  --depth 1\nnext\nlast \\")
	want := []string{"git clone \\\n  https://x \\  \n  --depth 1", "next", "last \\"}
	if !slices.Equal(lines, want) || !slices.Equal(numbers, []int{1, 4, 5}) {
		t.Errorf("readmeLines: %q %v, want %q [1 4 5]", lines, numbers, want)
	}
}

// TestUnityReadmeInstallURL: the Unity package's README gives the git URL
// that Unity's Package Manager installs it from: the module's repository,
// with ?path= the folder of its package.json.
func TestUnityReadmeInstallURL(t *testing.T) {
	want := "https://" + modulePath(t) + ".git?path=unity"
	data, err := os.ReadFile(filepath.Join("unity", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), want); n < 2 {
		t.Errorf("unity/README.md gives %s %d times, want 2 (Add package from git URL, and manifest.json)", want, n)
	}
	if _, err := os.Stat(filepath.Join("unity", "package.json")); err != nil {
		t.Errorf("?path=unity: %v", err)
	}
}
