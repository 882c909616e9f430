package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/chatapp-dev/chatapp"
)

// userIDFile is where `chatapp chat` keeps the user id it made, under the
// user's config directory, so that every run (and every terminal) of one
// user is the same user in the rooms.
const userIDFile = "chatapp/user-id"

// userIDPath is the file of the stored user id: $XDG_CONFIG_HOME or
// ~/.config on Linux, ~/Library/Application Support on macOS, %AppData% on
// Windows, then chatapp/user-id.
func userIDPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(userIDFile)), nil
}

// storedUserID returns the user id kept in the config directory, making
// and keeping one derived from name on the first run. A file that cannot be
// read or holds no valid id is an error, not replaced: replacing it would
// silently make the user someone else in every room. The message says how
// to go on (--user, or delete the file for a new id).
func storedUserID(name string) (string, error) {
	path, err := userIDPath()
	if err != nil {
		return "", fmt.Errorf("chat: no config directory to keep your user id in (%v): pass --user", err)
	}
	id, err := readUserID(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := writeUserID(path, defaultUserID(name)); err != nil {
		return "", fmt.Errorf("chat: keep your user id: %w: pass --user", err)
	}
	// Read back: another terminal may have written its id first.
	id, err = readUserID(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("chat: keep your user id: %s is gone right after it was written: pass --user", path)
	}
	return id, err
}

// maxUserIDFile is the most of the file read: an id is at most
// chatapp.MaxIDBytes, and a longer file is not one of ours.
const maxUserIDFile = 4 << 10

// readUserID reads a stored id; a missing file is fs.ErrNotExist. Only a
// regular file of at most maxUserIDFile bytes is read: the path may be a
// symlink to /dev/zero (endless) or a FIFO, which O_NONBLOCK opens without
// waiting for a writer.
func readUserID(path string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("chat: %s %s: fix it, delete it for a new id, or pass --user", path, why)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if target, lerr := os.Readlink(path); lerr == nil {
			return "", bad(fmt.Sprintf("is a symlink to %s, which does not exist", target))
		}
		return "", err
	} else if err != nil {
		return "", fmt.Errorf("chat: read your user id: %w: fix the file, or pass --user", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", fmt.Errorf("chat: read your user id: %w: fix the file, or pass --user", err)
	} else if !fi.Mode().IsRegular() {
		return "", bad(fmt.Sprintf("is not a regular file (%v)", fi.Mode().Type()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxUserIDFile+1))
	if err != nil {
		return "", fmt.Errorf("chat: read your user id: %w: fix the file, or pass --user", err)
	}
	if len(data) > maxUserIDFile {
		return "", bad(fmt.Sprintf("is longer than %d bytes, too long to hold a user id", maxUserIDFile))
	}
	id := strings.TrimSpace(string(data))
	if err := chatapp.ValidateUserID(id); err != nil {
		return "", bad(fmt.Sprintf("does not hold a valid user id (%s)", chatapp.ErrorMessage(err)))
	}
	return id, nil
}

// linkFile is os.Link; tests stand in a file system without hard links.
var linkFile = os.Link

// writeUserID writes the id readable by its owner only, through a
// temporary file linked into place, so that a crash leaves no half file
// and, if another terminal made one meanwhile, the first written stays.
func writeUserID(path, id string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".user-id-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(id + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	err = linkFile(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	// No hard links here (FAT says permission denied, others ENOTSUP or
	// EXDEV): a rename is atomic too, but replaces; keep a file another
	// terminal made meanwhile, as the link would have.
	if _, serr := os.Lstat(path); serr == nil {
		return nil
	}
	return os.Rename(tmp.Name(), path)
}

// defaultUserID is the name reduced to id characters and a random suffix,
// which tells apart users of the same name on one server.
func defaultUserID(name string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), strings.ContainsRune("-_.:@+", r):
			return unicode.ToLower(r)
		case unicode.IsSpace(r):
			return '-'
		}
		return -1
	}, name)
	for len(id) > 64 { // whole runes, well within chatapp.MaxIDBytes with the suffix
		_, size := utf8.DecodeLastRuneInString(id)
		id = id[:len(id)-size]
	}
	if id == "" {
		id = "guest"
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	return id + "-" + hex.EncodeToString(suffix)
}

// userIDHelpPath is the stored id's file for --help, the home folder
// written as ~.
func userIDHelpPath() string {
	path, err := userIDPath()
	if err != nil {
		return "<config dir>/" + userIDFile
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		if rel, ok := strings.CutPrefix(path, home+string(filepath.Separator)); ok {
			return "~" + string(filepath.Separator) + rel
		}
	}
	return path
}
