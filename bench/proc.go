package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcSample is what /proc says of a process at one moment.
type ProcSample struct {
	At         time.Time `json:"-"`
	RSSKB      int64     `json:"rss_kb"`
	HWMKB      int64     `json:"hwm_kb"`
	CPUSeconds float64   `json:"cpu_seconds"` // utime + stime since start
	Threads    int64     `json:"threads"`
	FDs        int       `json:"fds,omitempty"`
	Processes  int       `json:"processes"` // 1, or more in a sum or a tree
}

// ReadProc samples process pid (0: this process) from /proc.
func ReadProc(pid int) (ProcSample, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	s, _, err := readProcDir(dir)
	return s, err
}

// procStat is what a process's stat file says.
type procStat struct {
	ppid            int
	cpuSeconds      float64 // utime + stime
	childCPUSeconds float64 // cutime + cstime: of the children it has waited for
}

// readProcDir samples the process of dir, a /proc/PID folder.
func readProcDir(dir string) (ProcSample, procStat, error) {
	s := ProcSample{At: time.Now(), Processes: 1}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, procStat{}, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			s.RSSKB = n
		case "VmHWM":
			s.HWMKB = n
		case "Threads":
			s.Threads = n
		}
	}
	st, err := readStat(dir)
	if err != nil {
		return s, st, err
	}
	s.CPUSeconds = st.cpuSeconds
	if ents, err := os.ReadDir(dir + "/fd"); err == nil {
		s.FDs = len(ents)
	}
	return s, st, nil
}

// readStat reads dir/stat.
func readStat(dir string) (procStat, error) {
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) may hold spaces: fields after it start
	// after the last ')'. ppid is field 4; utime, stime, cutime and
	// cstime are fields 14 to 17.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("%s/stat: unexpected format", dir)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("%s/stat: too few fields", dir)
	}
	field := func(n int) int64 { // counted from 1, as proc(5) does
		v, _ := strconv.ParseInt(f[n-3], 10, 64)
		return v
	}
	return procStat{
		ppid:            int(field(4)),
		cpuSeconds:      float64(field(14)+field(15)) / clockTicks,
		childCPUSeconds: float64(field(16)+field(17)) / clockTicks,
	}, nil
}

// RaiseFileLimit raises the soft limit of open files to the hard limit and
// returns the new soft limit.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// Server is a chatapp server the load generator started (--serve-cmd).
type Server struct {
	URL     string
	PID     int
	DataDir string // a temporary directory substituted for {data}, removed at Stop
	cmd     *exec.Cmd
	stderr  *tailBuffer
	waited  chan error
	once    sync.Once
}

// StartServer runs a server command line (split on spaces, no shell). The
// token {data} is replaced by a new temporary directory. The server must
// print "serving on http://HOST:PORT" on stdout, as `chatapp serve` does;
// the command should listen on 127.0.0.1.
func StartServer(ctx context.Context, cmdline string, log io.Writer) (*Server, error) {
	args := strings.Fields(cmdline)
	if len(args) == 0 {
		return nil, errors.New("empty --serve-cmd")
	}
	s := &Server{stderr: &tailBuffer{max: 16 << 10}, waited: make(chan error, 1)}
	if strings.Contains(cmdline, "{data}") {
		dir, err := os.MkdirTemp("", "chatbench-data-")
		if err != nil {
			return nil, err
		}
		s.DataDir = dir
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "{data}", dir)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		s.removeData()
		return nil, err
	}
	s.cmd, s.PID = cmd, cmd.Process.Pid
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if log != nil {
				fmt.Fprintln(log, "server:", line)
			}
			if i := strings.Index(line, "serving on "); i >= 0 && !found {
				found = true
				urls <- strings.Fields(line[i+len("serving on "):])[0]
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { s.waited <- cmd.Wait() }()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case s.URL = <-urls:
		return s, nil
	case err := <-s.waited:
		s.waited <- err
		s.Stop()
		return nil, fmt.Errorf("server exited before serving: %v: %s", err, s.stderr.String())
	case <-timer.C:
		s.Stop()
		return nil, fmt.Errorf("server did not print its URL within 30s: %s", s.stderr.String())
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
}

// Stop sends SIGTERM, waits up to 15 s, then kills the server.
func (s *Server) Stop() error {
	var err error
	s.once.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			s.removeData()
			return
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		timer := time.NewTimer(15 * time.Second)
		defer timer.Stop()
		select {
		case err = <-s.waited:
		case <-timer.C:
			s.cmd.Process.Kill()
			err = <-s.waited
		}
		s.removeData()
	})
	return err
}

func (s *Server) removeData() {
	if s.DataDir != "" {
		os.RemoveAll(s.DataDir)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
