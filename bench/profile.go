// Profiles of the servers under test, fetched from their /debug/pprof/
// (chatapp serve --pprof) while a scenario runs: each node's into a file
// of its own (nodeFile).
package bench

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pprofBases are the base URLs of each server's /debug/pprof/: PprofURL,
// for a single server, when given; else each server's own address.
func (r *run) pprofBases() []string {
	if r.cfg.PprofURL != "" && len(r.cfg.URLs) == 1 {
		return []string{strings.TrimSuffix(r.cfg.PprofURL, "/")}
	}
	return r.cfg.URLs
}

// profile fetches a CPU profile of every server in the background; the
// returned function waits for them.
func (r *run) profile(ctx context.Context, seconds int) func() {
	if r.cfg.CPUProfile == "" {
		return func() {}
	}
	seconds = max(seconds, 1)
	bases := r.pprofBases()
	var wg sync.WaitGroup
	for k, base := range bases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, time.Duration(seconds+30)*time.Second)
			defer cancel()
			r.savePprof(pctx, "cpu profile", base+"/debug/pprof/profile?seconds="+strconv.Itoa(seconds),
				nodeFile(r.cfg.CPUProfile, k, len(bases)))
		}()
	}
	return wg.Wait
}

// heapProfile saves each server's heap profile, if asked.
func (r *run) heapProfile(ctx context.Context) {
	if r.cfg.HeapProfile == "" {
		return
	}
	bases := r.pprofBases()
	for k, base := range bases {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		r.savePprof(pctx, "heap profile", base+"/debug/pprof/heap", nodeFile(r.cfg.HeapProfile, k, len(bases)))
		cancel()
	}
}

// maxProfileBytes bounds a profile read from a server: a CPU or heap
// profile of chatapp is a few hundred KB.
const maxProfileBytes = 256 << 20

// savePprof writes what url answers to path; a failure is logged, not
// the run's.
func (r *run) savePprof(ctx context.Context, what, url, path string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.logf("%s: %v", what, err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProfileBytes))
	if err != nil || resp.StatusCode != http.StatusOK {
		r.logf("%s: %d %v", what, resp.StatusCode, err)
		return
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		r.logf("%s: %v", what, err)
		return
	}
	r.logf("wrote %s %s", what, path)
}
