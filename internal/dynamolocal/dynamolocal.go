// Package dynamolocal runs Amazon's DynamoDB Local for tests: one in-memory
// java process per test binary, started by the first test that needs it and
// stopped when the tests end. scripts/deps.sh fetches it into
// .cache/dynamodb-local.
//
// A package using it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(dynamolocal.Main(m)) }
package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/internal/reporoot"
)

// startTimeout bounds the wait for the JVM to answer.
const startTimeout = time.Minute

var (
	inMain atomic.Bool
	once   sync.Once
	shared struct {
		endpoint string
		err      error
		cmd      *exec.Cmd
		exited   <-chan struct{}
	}
)

// Main runs the tests and then stops DynamoDB Local if a test started it.
// It returns m.Run's exit code.
func Main(m *testing.M) int {
	inMain.Store(true)
	code := m.Run()
	stop()
	return code
}

// Start returns the endpoint (http://127.0.0.1:PORT) of the test binary's
// DynamoDB Local, starting it on first use. It skips the test when java or
// the jar is missing, or fails it if the environment variable CI is "true".
func Start(t testing.TB) string {
	t.Helper()
	if !inMain.Load() {
		t.Fatal("dynamolocal: TestMain must call dynamolocal.Main, which stops DynamoDB Local after the tests")
	}
	once.Do(func() { shared.endpoint, shared.err = start() })
	component.Require(t, "DynamoDB Local", shared.err, "run scripts/deps.sh (or make deps)")
	return shared.endpoint
}

func start() (string, error) {
	root, err := reporoot.Find()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".cache", "dynamodb-local")
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar")); err != nil {
		return "", component.Unavailable("no DynamoDBLocal.jar in " + dir)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return "", component.Unavailable("java is not on PATH (DynamoDB Local needs Java 17 or later)")
	}
	// The free port may be taken between our check and java's bind: try a
	// few.
	for attempt := 1; ; attempt++ {
		endpoint, err := run(java, dir)
		if err == nil || attempt == 3 {
			return endpoint, err
		}
	}
}

// run starts java on a free port and waits until it answers ListTables.
func run(java, dir string) (string, error) {
	port, err := component.FreePort()
	if err != nil {
		return "", err
	}
	out := &tailBuffer{}
	// C1 only (TieredStopAtLevel=1) halves the start, 10 s to 5 s on two
	// cores, and is fast enough for tests.
	cmd := exec.Command(java, "-XX:TieredStopAtLevel=1", "-Djava.library.path=./DynamoDBLocal_lib",
		"-jar", "DynamoDBLocal.jar", "-inMemory", "-disableTelemetry", "-port", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	exited, err := component.Start(cmd)
	if err != nil {
		return "", fmt.Errorf("start java: %w", err)
	}
	shared.cmd, shared.exited = cmd, exited

	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(endpoint, exited); err != nil {
		stop()
		return "", fmt.Errorf("%v\njava output:\n%s", err, out.String())
	}
	return endpoint, nil
}

// waitReady polls ListTables until it succeeds, java exits or time is up.
func waitReady(endpoint string, exited <-chan struct{}) error {
	client := ddb.New(ddb.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer:      aws.NopRetryer{},
	})
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.ListTables(ctx, &ddb.ListTablesInput{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within %v: %w", endpoint, startTimeout, err)
		}
		select {
		case <-exited:
			return errors.New("java exited before answering")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop kills java and waits for it, so that no process outlives the tests.
func stop() {
	if shared.cmd == nil {
		return
	}
	shared.cmd.Process.Kill()
	<-shared.exited
	shared.cmd = nil
}

// tailBuffer keeps the last bytes java wrote, for an error message.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if n := len(b.buf) - 8192; n > 0 {
		b.buf = b.buf[n:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
