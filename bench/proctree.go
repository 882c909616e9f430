// The resources of a process with all its descendants, from /proc: the
// PostgreSQL server is a postmaster and a process per connection and per
// background task.
package bench

import (
	"os"
	"path/filepath"
	"strconv"
)

// ReadProcTree samples process root and every process descended from it.
// CPUSeconds is each one's utime+stime plus the CPU of the children each
// has waited for (cutime+cstime), so that a backend that ended during the
// run still counts, in its parent's; RSS, HWM, threads and file
// descriptors are summed (shared memory counts once in each process).
func ReadProcTree(root int) (ProcSample, error) { return readProcTree("/proc", root) }

func readProcTree(procDir string, root int) (ProcSample, error) {
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return ProcSample{}, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(filepath.Join(procDir, e.Name())); err == nil { // else ended since the listing
			children[st.ppid] = append(children[st.ppid], pid)
		}
	}
	var tree []ProcSample
	for next := []int{root}; len(next) > 0; next = next[1:] {
		pid := next[0]
		s, st, err := readProcDir(filepath.Join(procDir, strconv.Itoa(pid)))
		if err != nil {
			if pid == root {
				return s, err
			}
			continue // ended since the listing: its CPU is its parent's from now on
		}
		s.CPUSeconds += st.childCPUSeconds
		tree = append(tree, s)
		next = append(next, children[pid]...)
	}
	return sumSamples(tree), nil
}
