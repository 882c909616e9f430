package pglocal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// removeOrphans stops and removes the clusters of test binaries that died
// without running Main's cleanup (a test timeout's panic, a kill): pg_ctl
// starts the server detached, so nothing else would stop it. A cluster
// whose binary is still running (another package's tests) is left alone.
func removeOrphans(bin string, asOwner []string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue // not ours, or still being made
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || alive(pid) {
			continue
		}
		c := &cluster{dir: dir, bin: bin, asOwner: asOwner}
		c.stop()
	}
}

// alive reports whether process pid runs: it exists (signal 0 checks
// without sending anything) and, where Linux's /proc says, is not a zombie
// (it has exited, and its parent has not yet collected it).
func alive(pid int) bool {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "PID (COMMAND) STATE ...", where COMMAND may hold ")".
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
