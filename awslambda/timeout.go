package awslambda

import "time"

// DefaultTimeout is the functions' Lambda timeout, template.yaml's
// Globals.Function.Timeout (awslambda/template_test.go checks they agree):
// far above a normal run (tens of milliseconds), below API Gateway's 29 s
// integration timeout, so that a stuck call fails as the function's own
// error. On Lambda a function still running at its timeout is stopped
// ("Task timed out after 10.00 seconds") and its invocation fails; the
// local gateway keeps the same timeout for the functions it runs in
// process (gateway.WithLambdaTimeout, in invoke.InProcess) and hands it to
// the runtime interface emulator under --functions rie
// (AWS_LAMBDA_FUNCTION_TIMEOUT).
const DefaultTimeout = 10 * time.Second

// timeouts are the functions whose own Timeout in template.yaml overrides
// DefaultTimeout, by Handler name: none today. A function given its own
// Timeout there gets it here too, or awslambda/template_test.go fails.
var timeouts = map[string]time.Duration{}

// Timeout is the Lambda timeout of the function with this Handler name,
// as template.yaml deploys it.
func Timeout(name string) time.Duration {
	if d, ok := timeouts[name]; ok {
		return d
	}
	return DefaultTimeout
}
