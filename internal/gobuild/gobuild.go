// Package gobuild runs `go build` for tests, with the race detector on when
// the test binary has it. `make test` vets and tests with -race; a binary a
// test builds with the same flags reuses those compiled packages from the
// build cache, where a plain `go build` would compile every dependency
// again (minutes on a first run).
package gobuild

import (
	"context"
	"os"
	"os/exec"
	"strings"
)

// Command is `go build [-race] args...`, ended with ctx.
func Command(ctx context.Context, args ...string) *exec.Cmd {
	flags := []string{"build"}
	if Race {
		flags = append(flags, "-race")
	}
	return exec.CommandContext(ctx, "go", append(flags, args...)...)
}

// Env is the environment for a script that runs `go build` itself: the
// process's, with -race added to GOFLAGS when Race.
func Env() []string {
	env := os.Environ()
	if !Race {
		return env
	}
	goflags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -race")
	return append(env, "GOFLAGS="+goflags)
}
