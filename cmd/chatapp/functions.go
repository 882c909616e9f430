package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/metrics"
	"github.com/chatapp-dev/chatapp/rie"
)

// integrations are the gateway's routes and what must stop with them.
type integrations struct {
	rest      map[string]gateway.RESTFunc
	websocket map[string]gateway.WebSocketFunc
	// authorizer is the REQUEST authorizer, nil with auth off.
	authorizer gateway.AuthorizerFunc
	// emulators are the functions' emulators under --functions rie, by
	// Handler name.
	emulators map[string]*rie.Process
	closers   []io.Closer
}

// Err is why a function cannot run: its emulator exited and is not
// running again yet (it is restarted with a backoff).
func (in *integrations) Err() error {
	var errs []error
	for _, p := range in.emulators {
		errs = append(errs, p.Err())
	}
	return errors.Join(errs...)
}

func (in *integrations) Close() error {
	var errs []error
	for _, c := range in.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// inProcess routes every request to the handlers in this process, each
// under its Lambda timeout.
func inProcess(h *handler.Handler) *integrations {
	in := &integrations{}
	in.rest, in.websocket = invoke.InProcess(h)
	if h.Tokens != nil {
		in.authorizer = invoke.InProcessAuthorizer(h)
	}
	return in
}

// underRIE starts every function in the Lambda runtime interface emulator,
// running the real bootstrap binary, and routes requests to them through
// the Lambda Invoke API. The functions use DynamoDB and push back through
// the gateway's /@connections endpoint at managementURL, signing with
// management, the gateway's credentials.
func underRIE(ctx context.Context, cfg ServeConfig, managementURL string, management aws.Credentials, logs io.Writer) (*integrations, error) {
	env := []string{
		"CHATAPP_MANAGEMENT_ENDPOINT=" + managementURL,
		// Not AWS_ACCESS_KEY_ID: DynamoDB keeps the environment's
		// credentials, and DynamoDB Local keeps one set of tables per key.
		"CHATAPP_MANAGEMENT_ACCESS_KEY_ID=" + management.AccessKeyID,
		"CHATAPP_MANAGEMENT_SECRET_ACCESS_KEY=" + management.SecretAccessKey,
		"CHATAPP_MESSAGES_TABLE=" + cfg.DynamoDB.MessagesTable,
		"CHATAPP_CONNECTIONS_TABLE=" + cfg.DynamoDB.ConnectionsTable,
		"CHATAPP_MAX_CONNECTIONS_PER_USER=" + strconv.Itoa(cfg.Limits.ConnectionsPerUser),
		"AWS_ENDPOINT_URL_DYNAMODB=" + cfg.DynamoDB.Endpoint,
		"AWS_REGION=" + envOr("AWS_REGION", "us-east-1"),
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		// DynamoDB Local keeps tables per access key: use the one the
		// store used (see awsconfig.NewDynamoDBClient).
		env = append(env, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local")
	}
	env = append(env, cfg.Auth.env()...)
	in := &integrations{rest: map[string]gateway.RESTFunc{}, websocket: map[string]gateway.WebSocketFunc{}, emulators: map[string]*rie.Process{}}
	invokers := map[string]*invoke.Invoker{}
	for _, name := range awslambda.Names() {
		if name == awslambda.Authorize && !cfg.Auth.enabled() {
			continue // auth off: no authorizer to run
		}
		// Each function under the timeout template.yaml deploys it with.
		// An emulator that exits is started again (and logged).
		p, err := rie.Start(ctx, rie.Options{RIE: cfg.RIE.Binary, Bootstrap: cfg.RIE.Bootstrap, Handler: name, Env: env, Output: logs, Timeout: awslambda.Timeout(name), Logger: cfg.Logger})
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("function %s: %w", name, err)
		}
		in.closers = append(in.closers, p)
		in.emulators[name] = p
		invokers[name] = &invoke.Invoker{Client: newInvokeClient(p.Endpoint), FunctionName: rie.FunctionName, Serial: true, Timeout: awslambda.Timeout(name)}
	}
	for route, name := range awslambda.RESTRoutes {
		in.rest[route] = invokers[name].REST()
	}
	for route, name := range awslambda.WebSocketRoutes {
		in.websocket[route] = invokers[name].WebSocket()
	}
	if authorizer, ok := invokers[awslambda.Authorize]; ok {
		in.authorizer = authorizer.Authorizer()
	}
	return in, nil
}

// newInvokeClient is the Lambda client of one emulator, whose base URL
// endpoint returns at each invoke: a restarted emulator listens on new
// ports. It never retries: API Gateway invokes a function once per
// request, and a retried Invoke whose first attempt ran (an answer lost to
// a reset connection, a 5xx) would run a send twice and store the message
// twice.
func newInvokeClient(endpoint func() string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:             "us-east-1",
		EndpointResolverV2: endpointFunc(endpoint),
		Credentials:        credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer:            aws.NopRetryer{},
	})
}

// endpointFunc resolves every Invoke to the URL it returns.
type endpointFunc func() string

func (f endpointFunc) ResolveEndpoint(context.Context, lambda.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, err := url.Parse(f())
	if err != nil {
		return smithyendpoints.Endpoint{}, err
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// instrument wraps every route and the authorizer so that their error
// answers are counted by code; without metrics it changes nothing.
func (in *integrations) instrument(m *metrics.Metrics) {
	for route, fn := range in.rest {
		in.rest[route] = m.REST(route, fn)
	}
	for route, fn := range in.websocket {
		in.websocket[route] = m.WebSocket(route, fn)
	}
	in.authorizer = m.Authorizer(in.authorizer)
}
