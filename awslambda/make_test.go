package awslambda_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/internal/gobuild"
)

// The Makefile's AWS targets, run for real by make: `make -n deploy` for
// the sam deploy command line (nothing is built or deployed), and `make
// outputs` and `make token` with a stand-in for the AWS CLI that answers as
// the deployed stack would.

// samDeployArgs returns the arguments `make deploy` would give sam deploy,
// as the shell splits them, and make's whole output.
func samDeployArgs(t *testing.T, vars ...string) ([]string, string) {
	t.Helper()
	out, err := exec.Command("make", append([]string{"-C", "..", "-n", "deploy", "SAM=sam"}, vars...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("make -n deploy: %v\n%s", err, out)
	}
	script := strings.ReplaceAll(string(out), "\\\n", " ")
	var line string
	for l := range strings.Lines(script) {
		if strings.HasPrefix(l, "sam deploy ") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("make -n deploy runs no sam deploy:\n%s", out)
	}
	argv, err := exec.Command("sh", "-c", `sam() { printf '%s\n' "$@"; }; `+line).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(argv), "\n"), "\n"), string(out)
}

// overrides returns the template parameters of sam deploy's arguments.
func overrides(t *testing.T, args []string) map[string]string {
	t.Helper()
	params := map[string]string{}
	for i, a := range args {
		if a != "--parameter-overrides" || i+1 == len(args) {
			continue
		}
		for _, kv := range strings.Fields(args[i+1]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("parameter override %q is not Name=value", kv)
			}
			params[k] = v
		}
	}
	return params
}

// TestMakeDeploy: `make deploy` with no arguments gives the template every
// parameter it needs (none) and passes its Rules, with the capabilities
// its transforms and roles need; AuthMode=open reaches sam deploy and is
// announced before anything is built.
func TestMakeDeploy(t *testing.T) {
	args, out := samDeployArgs(t)
	params := overrides(t, args)
	if len(params) != 0 {
		t.Errorf("make deploy overrides %v, want none (the template's defaults)", params)
	}
	if _, err := deployTemplate(params); err != nil {
		t.Errorf("CloudFormation would refuse make deploy: %v", err)
	}
	for _, want := range []string{"--template-file", "template.yaml", "--resolve-s3", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} {
		if !slices.Contains(args, want) {
			t.Errorf("sam deploy %q lacks %s", args, want)
		}
	}
	if strings.Contains(out, "WARNING") {
		t.Errorf("make deploy warns of open mode:\n%s", out)
	}
	// After sam deploy, the outputs of the stack just deployed: under -n
	// make still runs the recursive make, which prints outputs' commands.
	deployed, described := strings.Index(out, "sam deploy "), strings.Index(out, "aws cloudformation describe-stacks --stack-name chatapp ")
	if deployed < 0 || described < deployed {
		t.Errorf("make deploy does not read the stack's outputs after sam deploy:\n%s", out)
	}
	_, out = samDeployArgs(t, "STACK=chat-eu", "REGION=eu-west-1")
	if !strings.Contains(out, "describe-stacks --stack-name chat-eu --region eu-west-1 ") {
		t.Errorf("make deploy STACK=chat-eu REGION=eu-west-1 reads the outputs of another stack:\n%s", out)
	}

	args, out = samDeployArgs(t, "PARAMS=AuthMode=open Stage=prod")
	params = overrides(t, args)
	if params["AuthMode"] != "open" || params["Stage"] != "prod" || len(params) != 2 {
		t.Errorf("make deploy PARAMS='AuthMode=open Stage=prod' overrides %v", params)
	}
	if _, err := deployTemplate(params); err != nil {
		t.Errorf("CloudFormation would refuse %v: %v", params, err)
	}
	if i, j := strings.Index(out, "WITHOUT AUTHENTICATION"), strings.Index(out, "make lambda"); i < 0 || i > j {
		t.Errorf("make deploy with AuthMode=open does not warn before building:\n%s", out)
	}

	// Every way make's command line can ask sam for the open mode is
	// warned of (docs/deploy.md lists them); the stack's output and the
	// functions' logs cover what make cannot see (a samconfig.toml).
	for _, vars := range [][]string{
		{"PARAMS=ParameterKey=AuthMode,ParameterValue=open"},
		{`PARAMS=Stage=prod AuthMode="open"`},
		{"SAM_FLAGS=--parameter-overrides AuthMode=open"},
		{"SAM_FLAGS=--parameter-overrides 'Stage=prod AuthMode=open'"},
		{"SAM_FLAGS=--parameter-overrides ParameterKey=AuthMode,ParameterValue=open"},
		{"SAM_FLAGS=--parameter-overrides=AuthMode=open --confirm-changeset"},
	} {
		args, out := samDeployArgs(t, vars...)
		opens := false
		for i, a := range args {
			if a == "--parameter-overrides" && i+1 < len(args) {
				opens = opens || strings.Contains(args[i+1], "AuthMode=open") || strings.Contains(args[i+1], "ParameterKey=AuthMode,ParameterValue=open") || strings.Contains(args[i+1], `AuthMode="open"`)
			}
			opens = opens || a == "--parameter-overrides=AuthMode=open"
		}
		if !opens {
			t.Errorf("make deploy %q: sam deploy %q does not get the open mode", vars, args)
		}
		if i, j := strings.Index(out, "WITHOUT AUTHENTICATION"), strings.Index(out, "make lambda"); i < 0 || i > j {
			t.Errorf("make deploy %q does not warn of the open mode before building:\n%s", vars, out)
		}
	}
	for _, vars := range [][]string{
		{"PARAMS=AuthMode=secret Stage=open"},
		{"SAM_FLAGS=--parameter-overrides AuthMode=jwks --confirm-changeset"},
	} {
		if _, out := samDeployArgs(t, vars...); strings.Contains(out, "WARNING") {
			t.Errorf("make deploy %q warns of the open mode:\n%s", vars, out)
		}
	}
}

// fakeAWS writes a stand-in for the AWS CLI: it records its arguments and
// answers describe-stacks and get-secret-value as a deployed stack would.
func fakeAWS(t *testing.T, dir, outputs, secret string) string {
	t.Helper()
	path := filepath.Join(dir, "aws")
	script := `#!/bin/sh
printf '%s\n' "$*" >> "$0.log"
case "$1 $2" in
"cloudformation describe-stacks")
	case "$*" in
	*AuthSecretArn*) printf '%s\n' "` + ownSecretARN + `" ;;
	*) printf '` + outputs + `' ;;
	esac ;;
"secretsmanager get-secret-value") printf '%s\n' "` + secret + `" ;;
*) echo "unexpected: $*" >&2; exit 1 ;;
esac
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMakeOutputs: what `make deploy` prints after deploying: the URLs,
// how to mint a token, and the open mode's warning on stderr.
func TestMakeOutputs(t *testing.T) {
	dir := t.TempDir()
	aws := fakeAWS(t, dir, `RestApiUrl\thttps://a1.execute-api.eu-west-1.amazonaws.com/dev/chat\nWebSocketUrl\twss://b2.execute-api.eu-west-1.amazonaws.com/dev\nTokenCommand\tmake token STACK=chatapp REGION=eu-west-1 USER_ID=U ROOMS=lobby\nOpenModeWarning\tWARNING: NO AUTHENTICATION.\n`, "")
	cmd := exec.Command("make", "-C", "..", "-s", "outputs", "AWS="+aws, "REGION=eu-west-1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make outputs: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"RestApiUrl", "https://a1.execute-api.eu-west-1.amazonaws.com/dev/chat", "wss://b2.execute-api", "make token STACK=chatapp"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("make outputs printed %q, without %q", stdout.String(), want)
		}
	}
	if !strings.Contains(stderr.String(), "NO AUTHENTICATION") {
		t.Errorf("make outputs did not warn on stderr: %q", stderr.String())
	}
	if log, _ := os.ReadFile(aws + ".log"); !strings.Contains(string(log), "--stack-name chatapp --region eu-west-1") {
		t.Errorf("aws called as %q", log)
	}
}

// TestMakeOutputsFails: when the outputs cannot be read (no AWS CLI, a
// stack missing in the Region, a stack without outputs yet), make outputs
// fails with the reason, so that make deploy does not end as if all went
// well without the URLs.
func TestMakeOutputsFails(t *testing.T) {
	dir := t.TempDir()
	// What the AWS CLI does for a stack that is not in the Region.
	missing := filepath.Join(dir, "aws-missing")
	if err := os.WriteFile(missing, []byte("#!/bin/sh\necho 'An error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id chatapp does not exist' >&2\nexit 254\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A stack whose outputs are not there (yet): the CLI prints None.
	none := filepath.Join(dir, "aws-none")
	if err := os.WriteFile(none, []byte("#!/bin/sh\necho None\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ aws, want string }{
		{"false", ""},
		{filepath.Join(dir, "no-such-aws"), "needs the AWS CLI"},
		{missing, "Stack with id chatapp does not exist"},
		{none, "has no outputs"},
	} {
		cmd := exec.Command("make", "-C", "..", "-s", "outputs", "AWS="+c.aws, "REGION=eu-west-1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil {
			t.Errorf("make outputs AWS=%s succeeded (stdout %q)", filepath.Base(c.aws), stdout.String())
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("make outputs AWS=%s: stderr %q, want %q", filepath.Base(c.aws), stderr.String(), c.want)
		}
	}
}

// TestMakeToken: `make token` reads the stack's secret with the AWS CLI and
// mints, with the real chatapp binary, a token the authorizer accepts for
// the user and rooms asked for; the secret is on no command line.
func TestMakeToken(t *testing.T) {
	dir := t.TempDir()
	const secret = "Zq8vR2mX5tLw9cYb4nHj7kPd3sFg6aE1uVx0oQiT"
	aws := fakeAWS(t, dir, "", secret)
	chatapp := filepath.Join(dir, "chatapp")
	if out, err := gobuild.Command(context.Background(), "-o", chatapp, "../cmd/chatapp").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A wrapper records chatapp's arguments.
	wrapper := filepath.Join(dir, "chatapp-args")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.log\"\nexec "+chatapp+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-C", "..", "-s", "token", "AWS="+aws, "CHATAPP="+wrapper, "STACK=chat-test", "USER_ID=42", "ROOMS=lobby,dev", "NAME=Ada")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make token: %v\n%s", err, stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := auth.NewVerifier(ctx, auth.Config{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	id, err := v.VerifyToken(ctx, strings.TrimSpace(stdout.String()))
	if err != nil {
		t.Fatalf("the token of make token does not verify: %v (stdout %q)", err, stdout.String())
	}
	if id.UserID != "42" || id.Name != "Ada" || !slices.Equal(id.Rooms, []string{"lobby", "dev"}) {
		t.Errorf("identity %+v, want user 42 Ada in lobby and dev", id)
	}
	awsLog, _ := os.ReadFile(aws + ".log")
	argsLog, _ := os.ReadFile(wrapper + ".log")
	if !strings.Contains(string(awsLog), "--secret-id "+ownSecretARN) || !strings.Contains(string(awsLog), "--stack-name chat-test") {
		t.Errorf("aws called as %q, want the stack's AuthSecretArn read", awsLog)
	}
	if strings.Contains(string(argsLog), secret) || strings.Contains(string(awsLog), secret) {
		t.Error("the secret is on a command line")
	}

	// Without USER_ID, a usage line and no call to AWS.
	os.Remove(aws + ".log")
	if out, err := exec.Command("make", "-C", "..", "-s", "token", "AWS="+aws, "CHATAPP="+wrapper).CombinedOutput(); err == nil || !strings.Contains(string(out), "usage: make token USER_ID=") {
		t.Errorf("make token without USER_ID: err %v, output %q", err, out)
	}
	if _, err := os.Stat(aws + ".log"); err == nil {
		t.Error("make token without USER_ID called AWS")
	}

	// Without the AWS CLI, a failure that says so.
	if out, err := exec.Command("make", "-C", "..", "-s", "token", "AWS="+filepath.Join(dir, "no-such-aws"), "CHATAPP="+wrapper, "USER_ID=42").CombinedOutput(); err == nil || !strings.Contains(string(out), "needs the AWS CLI") {
		t.Errorf("make token without the AWS CLI: err %v, output %q", err, out)
	}
	// A failing AWS CLI: make token fails and runs no chatapp.
	os.Remove(wrapper + ".log")
	if out, err := exec.Command("make", "-C", "..", "-s", "token", "AWS=false", "CHATAPP="+wrapper, "USER_ID=42").CombinedOutput(); err == nil {
		t.Errorf("make token AWS=false succeeded: %q", out)
	}
	if _, err := os.Stat(wrapper + ".log"); err == nil {
		t.Error("make token AWS=false ran chatapp")
	}

	// Quotes, $ and ; in the values are text: chatapp gets each value
	// whole, as typed, and the shell runs nothing of them. A name holds
	// any printable character, so its token carries it; an id with a
	// quote reaches chatapp intact, which judges it.
	injected := filepath.Join(dir, "injected")
	const name = `Ada O'Brien "the" $HOME; touch $INJECTED #`
	cmd = exec.Command("make", "-C", "..", "-s", "token", "AWS="+aws, "CHATAPP="+wrapper, "STACK=chat-test", "USER_ID=42", "NAME="+name, "ROOMS=lobby")
	cmd.Env = append(os.Environ(), "INJECTED="+injected)
	stdout.Reset()
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make token NAME=%q: %v\n%s", name, err, stderr.String())
	}
	if id, err := v.VerifyToken(ctx, strings.TrimSpace(stdout.String())); err != nil || id.Name != name {
		t.Errorf("make token NAME=%q: %+v %v, want a token with that very name", name, id, err)
	}
	for _, user := range []string{"o'neil", `o"neil$(touch $INJECTED)`} {
		os.Remove(wrapper + ".log")
		cmd := exec.Command("make", "-C", "..", "-s", "token", "AWS="+aws, "CHATAPP="+wrapper, "STACK=chat-test", "USER_ID="+user, "ROOMS=lobby,it's", "TTL=1h")
		cmd.Env = append(os.Environ(), "INJECTED="+injected)
		cmd.Run()
		args, _ := os.ReadFile(wrapper + ".log")
		want := strings.Join([]string{"token", "--user", user, "--ttl", "1h", "--rooms", "lobby,it's"}, "\n") + "\n"
		if string(args) != want {
			t.Errorf("make token USER_ID=%q ROOMS=\"lobby,it's\": chatapp got %q, want %q", user, args, want)
		}
	}
	if _, err := os.Stat(injected); err == nil {
		t.Error("a value given to make token ran as a shell command")
	}
}
