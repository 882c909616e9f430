// Spreading a run over the nodes of a cluster: which node each member and
// sender talks to, which file each node's profile goes to, and the nodes'
// samples added up.
package bench

import (
	"path/filepath"
	"strconv"
	"strings"
)

// nodeOf is the node, of nodes, that connection i (a member or a sender,
// in room i%rooms) talks to: the k-th connection of room r (k = i/rooms)
// is on node (r+k)%nodes. So a room with at least as many members as
// there are nodes has members on every node, whatever the counts, and the
// nodes get equal shares. For one room, or when rooms%nodes is 1 (100
// rooms on 3 nodes), that is i%nodes.
func nodeOf(i, rooms, nodes int) int {
	if nodes <= 1 {
		return 0
	}
	rooms = max(rooms, 1)
	return (i%rooms + i/rooms) % nodes
}

// nodeFile is the file of node k (from 0) of n: path itself for a single
// server, else path with ".node<k+1>" before its extension
// (fanout.cpu.pprof → fanout.cpu.node2.pprof).
func nodeFile(path string, k, n int) string {
	if n <= 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".node" + strconv.Itoa(k+1) + ext
}

// sumSamples adds the samples of several processes: CPU, RSS, threads and
// file descriptors are each the sum (HWMKB too: the sum of each one's
// peak, not the peak of the sum); At is the latest.
func sumSamples(ss []ProcSample) ProcSample {
	var total ProcSample
	for _, s := range ss {
		if s.At.After(total.At) {
			total.At = s.At
		}
		total.RSSKB += s.RSSKB
		total.HWMKB += s.HWMKB
		total.CPUSeconds += s.CPUSeconds
		total.Threads += s.Threads
		total.FDs += s.FDs
		total.Processes += s.Processes
	}
	return total
}
