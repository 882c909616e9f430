//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChatUserIDNotARegularFile: the id's path may be anything: a symlink
// to /dev/zero (read whole, memory grew without bound) or a FIFO (opening
// it waited for a writer forever). Neither is read: each is a bad file,
// named, with the usual way out.
func TestChatUserIDNotARegularFile(t *testing.T) {
	path := isolateConfig(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, create := range map[string]func() error{
		"symlink to /dev/zero": func() error { return os.Symlink("/dev/zero", path) },
		"FIFO":                 func() error { return syscall.Mkfifo(path, 0o600) },
	} {
		os.Remove(path)
		if err := create(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := parseUser(t)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(waitTimeout):
			// Release a reader blocked on the FIFO, so that it ends.
			if w, werr := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); werr == nil {
				w.Close()
			}
			t.Fatalf("%s: reading the id did not return within %v", name, waitTimeout)
		}
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), "--user") {
			t.Errorf("%s: %v, want an error naming %s as not a regular file, and --user", name, err, path)
		}
	}
}

// TestChatUserIDDanglingSymlink: a symlink to a file that does not exist
// is not written through or replaced: it is named, with the usual advice.
func TestChatUserIDDanglingSymlink(t *testing.T) {
	path := isolateConfig(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "gone")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	_, err := parseUser(t)
	if err == nil || !strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "--user") {
		t.Errorf("a dangling symlink: %v, want an error naming %s as missing, and --user", err, target)
	}
	if got, err := os.Readlink(path); err != nil || got != target {
		t.Errorf("the symlink became %q (%v)", got, err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("the id was written through the symlink to %s", target)
	}
}
