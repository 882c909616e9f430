package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// isolateConfig points the user's config directory at a temporary one
// (XDG_CONFIG_HOME on Linux, HOME for macOS) and returns the stored id's
// path.
func isolateConfig(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("AppData", filepath.Join(home, "appdata"))
	path, err := userIDPath()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(path, home) {
		t.Fatalf("the user id's path %s is outside the test's home %s", path, home)
	}
	return path
}

func parseUser(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cfg, err := parseChatFlags(append([]string{"--name", "Ada Lovelace"}, args...), &stdout, &stderr)
	return cfg.UserID, err
}

// TestChatUserIDKept: two runs of `chatapp chat` without --user are the
// same user: the first makes an id and keeps it, owner-only, in the config
// directory; the second reads it. --user overrides it without overwriting
// it, and so does a token's user.
func TestChatUserIDKept(t *testing.T) {
	path := isolateConfig(t)
	first, err := parseUser(t)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ada-lovelace-[0-9a-f]{8}$`).MatchString(first) {
		t.Errorf("first id %q, want ada-lovelace-XXXXXXXX", first)
	}
	second, err := parseUser(t, "--name", "Someone Else")
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("the second run is %q, the first %q: want one id per user", second, first)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != first+"\n" {
		t.Errorf("%s holds %q (%v), want %q", path, data, err, first+"\n")
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
			}
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".user-id-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	if id, err := parseUser(t, "--user", "guest-42"); err != nil || id != "guest-42" {
		t.Errorf("--user guest-42: %q, %v", id, err)
	}
	token := devToken(t, chatapp.Identity{UserID: "tok-user", Name: "Tok"})
	if id, err := parseUser(t, "--token", token); err != nil || id != "tok-user" {
		t.Errorf("a token's user: %q, %v", id, err)
	}
	if data, _ := os.ReadFile(path); string(data) != first+"\n" {
		t.Errorf("--user or --token changed the stored id to %q", data)
	}
	if id, _ := parseUser(t); id != first {
		t.Errorf("after --user the id is %q, want %q", id, first)
	}
}

// TestChatUserIDBadFile: a stored id that is not valid, or a file that
// cannot be read, is an error that names the file and the way out, never
// silently replaced by a new identity; --user still works.
func TestChatUserIDBadFile(t *testing.T) {
	path := isolateConfig(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"empty": "", "bad characters": "ada lovelace/../x\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := parseUser(t)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--user") {
			t.Errorf("%s file: %v, want an error naming %s and --user", name, err, path)
		}
		if data, _ := os.ReadFile(path); string(data) != content {
			t.Errorf("%s file: rewritten to %q", name, data)
		}
		if id, err := parseUser(t, "--user", "u1"); err != nil || id != "u1" {
			t.Errorf("%s file, --user u1: %q, %v", name, id, err)
		}
	}
	// A directory where the file should be: unreadable as a file.
	os.Remove(path)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := parseUser(t); err == nil || !strings.Contains(err.Error(), "--user") {
		t.Errorf("unreadable file: %v, want an error that says --user", err)
	}
}

// TestChatHelpNamesUserIDFile: the real binary's help says where the id is
// kept, in the config directory of its environment.
func TestChatHelpNamesUserIDFile(t *testing.T) {
	bin := buildBinary(t) // before HOME moves: go build would find no module or build cache there
	path := isolateConfig(t)
	ctx, cancel := contextWithTimeout()
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "chat", "--help").CombinedOutput()
	home, _ := os.UserHomeDir()
	shown := "~" + strings.TrimPrefix(path, home)
	if err != nil || !strings.Contains(string(out), shown) {
		t.Errorf("chatapp chat --help: %v; want it to name %s:\n%s", err, shown, out)
	}
}

// TestChatUserIDFileTooLong: at most 4 KiB of the file is read; a longer
// one (here a valid id and then 5,000 blanks, which trimming would
// accept) is a bad file, with the usual way out.
func TestChatUserIDFileTooLong(t *testing.T) {
	path := isolateConfig(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("ada-1234\n"+strings.Repeat(" ", 5000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := parseUser(t)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "longer than") || !strings.Contains(err.Error(), "--user") {
		t.Errorf("a 5 KB file: %v, want an error naming %s, its length and --user", err, path)
	}
}

// TestChatUserIDWithoutHardLinks: on a file system without hard links
// (FAT answers link(2) with permission denied) the id is kept by a rename.
func TestChatUserIDWithoutHardLinks(t *testing.T) {
	path := isolateConfig(t)
	linkFile = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	t.Cleanup(func() { linkFile = os.Link })
	id, err := parseUser(t)
	if err != nil {
		t.Fatalf("without hard links: %v", err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != id+"\n" {
		t.Errorf("%s holds %q (%v), want %q", path, data, err, id+"\n")
	}
	if again, err := parseUser(t); err != nil || again != id {
		t.Errorf("the second run: %q, %v; want %q", again, err, id)
	}
}
