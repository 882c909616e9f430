package awslambda_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	cfndynamodb "github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/protocol"
)

// The checks below read template.yaml as SAM would deploy it and hold it to
// what the code expects: every function on the one arm64 bootstrap, the
// routes of docs/protocol.md, the tables of the dynamodb package, and IAM
// grants no wider than what each function calls.

// wantREST maps each REST method and path to the function that serves it.
var wantREST = map[string]string{
	"GET /chat":       awslambda.GetMessages,
	"PUT /chat":       awslambda.PutMessage,
	"GET /chat/users": awslambda.GetUsers,
}

// wantRoutes maps each WebSocket route key to the function it invokes.
var wantRoutes = map[string]string{
	"$connect":    awslambda.Connect,
	"$disconnect": awslambda.Disconnect,
	"sendmessage": awslambda.SendMessage,
	"$default":    awslambda.Default,
}

// Where the functions' grants point, as grant() names them.
const (
	messagesTable    = "MessagesTable"
	connectionsTable = "ConnectionsTable"
	connections      = "WebSocketApi POST @connections"
	// closeConnections is DeleteConnection: a push that meets a
	// connection whose token has expired closes it.
	closeConnections = "WebSocketApi DELETE @connections"
)

// wantGrants is every function's IAM permissions, exactly: the DynamoDB
// calls its code makes and the Management API posts it pushes with.
var wantGrants = map[string][]string{
	awslambda.GetMessages: {
		"dynamodb:Query " + messagesTable,
	},
	awslambda.PutMessage: {
		"dynamodb:PutItem " + messagesTable,
		"dynamodb:GetItem " + messagesTable,
		// A room's connections: a strongly consistent Query of the table,
		// never of a global index (none can be read so).
		"dynamodb:Query " + connectionsTable,
		"dynamodb:GetItem " + connectionsTable, // a gone connection's record names its row
		"dynamodb:DeleteItem " + connectionsTable,
		"dynamodb:UpdateItem " + connectionsTable, // a deleted connection's slot
		"execute-api:ManageConnections " + connections,
		"execute-api:ManageConnections " + closeConnections,
	},
	awslambda.GetUsers: {
		"dynamodb:Query " + connectionsTable,
	},
	awslambda.Connect: {
		"dynamodb:PutItem " + connectionsTable,
		"dynamodb:UpdateItem " + connectionsTable,   // the user's slot, with the row and the record
		"dynamodb:GetItem " + connectionsTable,      // a full user's slots …
		"dynamodb:BatchGetItem " + connectionsTable, // … and their records, to free gone ones
		"dynamodb:Query " + connectionsTable,
		"dynamodb:DeleteItem " + connectionsTable, // a moved connection's old row, in the transaction; gone connections
		"execute-api:ManageConnections " + connections,
		"execute-api:ManageConnections " + closeConnections,
	},
	awslambda.Disconnect: {
		"dynamodb:GetItem " + connectionsTable,
		"dynamodb:DeleteItem " + connectionsTable,
		"dynamodb:UpdateItem " + connectionsTable,
		"dynamodb:Query " + connectionsTable,
		"execute-api:ManageConnections " + connections,
		"execute-api:ManageConnections " + closeConnections,
	},
	awslambda.SendMessage: {
		"dynamodb:GetItem " + connectionsTable,
		"dynamodb:PutItem " + messagesTable,
		"dynamodb:GetItem " + messagesTable,
		"dynamodb:Query " + connectionsTable,
		"dynamodb:DeleteItem " + connectionsTable,
		"dynamodb:UpdateItem " + connectionsTable,
		"execute-api:ManageConnections " + connections,
		"execute-api:ManageConnections " + closeConnections,
	},
	awslambda.Default: {
		"execute-api:ManageConnections " + connections,
	},
	// The authorizer checks tokens only: no Policies at all.
	awslambda.Authorize: nil,
}

func TestTemplateFunctions(t *testing.T) {
	tmpl, unknown := loadTemplate(t)
	// awslambda.DefaultTimeout is the one copy of Globals' Timeout.
	data, err := deployTemplate(nil)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Globals struct{ Function struct{ Timeout float64 } }
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(raw.Globals.Function.Timeout * float64(time.Second)); got != awslambda.DefaultTimeout {
		t.Errorf("Globals.Function.Timeout = %v, awslambda.DefaultTimeout = %v: keep them one", got, awslambda.DefaultTimeout)
	}
	logGroups := tmpl.GetAllLogsLogGroupResources()
	used := map[string]string{} // Handler → logical id
	for id, fn := range tmpl.GetAllServerlessFunctionResources() {
		if got := deref(fn.Runtime); got != "provided.al2023" {
			t.Errorf("%s: Runtime = %q, want provided.al2023", id, got)
		}
		if !slices.Equal(fn.Architectures, []string{"arm64"}) {
			t.Errorf("%s: Architectures = %q, want [arm64]", id, fn.Architectures)
		}
		if fn.CodeUri == nil || deref(fn.CodeUri.String) != "bin/lambda/" {
			t.Errorf("%s: CodeUri is not bin/lambda/ (where `make lambda` puts bootstrap)", id)
		}
		if fn.Timeout == nil || *fn.Timeout >= 29 {
			t.Errorf("%s: Timeout must be set and under API Gateway's 29 s", id)
		}
		// The local gateway and the runtime interface emulator keep the
		// timeout each function is deployed with (Globals or its own).
		if fn.Timeout != nil && time.Duration(*fn.Timeout)*time.Second != awslambda.Timeout(deref(fn.Handler)) {
			t.Errorf("%s: Timeout %d s, but awslambda.Timeout(%q) is %v: the local functions would run under another timeout than on Lambda",
				id, *fn.Timeout, deref(fn.Handler), awslambda.Timeout(deref(fn.Handler)))
		}
		// The bootstrap logs JSON (slog), which Lambda's JSON format keeps
		// as fields; the log group is the stack's, with a retention.
		logging, _ := unknown[id]["LoggingConfig"].(map[string]any)
		group, ok := logGroups[refID(fmt.Sprint(logging["LogGroup"]))]
		if logging["LogFormat"] != "JSON" || !ok || group.RetentionInDays == nil {
			t.Errorf("%s: LoggingConfig = %v, want LogFormat JSON and a LogGroup of this template with a retention", id, logging)
		}
		handler := deref(fn.Handler)
		if !slices.Contains(awslambda.Names(), handler) {
			t.Errorf("%s: Handler %q is none of %q", id, handler, awslambda.Names())
			continue
		}
		if other, ok := used[handler]; ok {
			t.Errorf("%s and %s both have Handler %q", other, id, handler)
		}
		used[handler] = id

		env := map[string]string{}
		if fn.Environment != nil {
			env = fn.Environment.Variables
		}
		if !references(env["CHATAPP_MESSAGES_TABLE"], "MessagesTable") || !references(env["CHATAPP_CONNECTIONS_TABLE"], "ConnectionsTable") {
			t.Errorf("%s: CHATAPP_MESSAGES_TABLE=%q CHATAPP_CONNECTIONS_TABLE=%q, want this stack's tables",
				id, env["CHATAPP_MESSAGES_TABLE"], env["CHATAPP_CONNECTIONS_TABLE"])
		}
		// On AWS too a user's WebSockets are capped: $connect enforces it.
		if n, err := strconv.Atoi(env["CHATAPP_MAX_CONNECTIONS_PER_USER"]); handler == awslambda.Connect && (err != nil || n <= 0) {
			t.Errorf("%s: CHATAPP_MAX_CONNECTIONS_PER_USER = %q, want a cap above 0", id, env["CHATAPP_MAX_CONNECTIONS_PER_USER"])
		}
		// Only put-message has no WebSocket event to take the endpoint from.
		endpoint, ok := env["CHATAPP_MANAGEMENT_ENDPOINT"]
		switch {
		case handler == awslambda.PutMessage && !(strings.HasPrefix(endpoint, "https://") && references(endpoint, "WebSocketApi") && strings.HasSuffix(endpoint, "/${Stage}")):
			t.Errorf("%s: CHATAPP_MANAGEMENT_ENDPOINT = %q, want https://${WebSocketApi}.execute-api.…/${Stage}", id, endpoint)
		case handler != awslambda.PutMessage && ok:
			t.Errorf("%s: sets CHATAPP_MANAGEMENT_ENDPOINT; only put-message needs it, WebSocket functions take it from their event", id)
		}
	}
	for _, name := range awslambda.Names() {
		if _, ok := used[name]; !ok {
			t.Errorf("no function has Handler %q", name)
		}
	}
}

func TestTemplateRESTAPI(t *testing.T) {
	tmpl, _ := loadTemplate(t)
	apis := tmpl.GetAllServerlessApiResources()
	got := map[string]string{}
	for id, fn := range tmpl.GetAllServerlessFunctionResources() {
		for name, event := range fn.Events {
			if event.Type != "Api" {
				continue
			}
			api := event.Properties.ApiEvent
			if api == nil {
				t.Errorf("%s: event %s is not an Api event goformation understands", id, name)
				continue
			}
			if _, ok := apis[refID(deref(api.RestApiId))]; !ok {
				t.Errorf("%s: event %s is not on this template's AWS::Serverless::Api", id, name)
			}
			got[strings.ToUpper(api.Method)+" "+api.Path] = deref(fn.Handler)
		}
	}
	if !maps.Equal(got, wantREST) {
		t.Errorf("REST routes = %v, want %v", got, wantREST)
	}
	for id, api := range apis {
		if api.Cors == nil || api.Cors.CorsConfiguration == nil {
			t.Errorf("%s: no CORS configuration", id)
			continue
		}
		cors := api.Cors.CorsConfiguration
		if cors.AllowOrigin != "'*'" || !strings.Contains(deref(cors.AllowMethods), "PUT") || !strings.Contains(deref(cors.AllowHeaders), "Idempotency-Key") {
			t.Errorf("%s: CORS = %+v, want origin '*', PUT and Idempotency-Key allowed", id, cors)
		}
	}
}

// awsDefaultStatus is the status API Gateway gives each gateway response
// type the REST API can meet unless the API sets another: AWS's table
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html);
// DEFAULT_4XX and DEFAULT_5XX have none of their own.
var awsDefaultStatus = map[string]int{
	"DEFAULT_4XX":                    0,
	"DEFAULT_5XX":                    0,
	"MISSING_AUTHENTICATION_TOKEN":   403,
	"UNAUTHORIZED":                   401,
	"ACCESS_DENIED":                  403,
	"AUTHORIZER_FAILURE":             500,
	"AUTHORIZER_CONFIGURATION_ERROR": 500,
	"REQUEST_TOO_LARGE":              413,
	"THROTTLED":                      429,
	"INTEGRATION_FAILURE":            504,
	"INTEGRATION_TIMEOUT":            504,
}

// TestTemplateGatewayResponses holds the REST API's GatewayResponses to
// awslambda.RESTGatewayResponses, the table the local gateway answers
// with: the same types, each with its body template, its status (set
// where it is not AWS's default), and the CORS header.
func TestTemplateGatewayResponses(t *testing.T) {
	tmpl, unknown := loadTemplate(t)
	for id, api := range tmpl.GetAllServerlessApiResources() {
		got, _ := unknown[id]["GatewayResponses"].(map[string]any)
		for typ := range got {
			if _, ok := awslambda.RESTGatewayResponses[typ]; !ok {
				t.Errorf("%s: GatewayResponses has %s, which awslambda.RESTGatewayResponses does not", id, typ)
			}
		}
		for typ, want := range awslambda.RESTGatewayResponses {
			def, known := awsDefaultStatus[typ]
			if !known {
				t.Errorf("awslambda.RESTGatewayResponses has %s, a type this test does not know AWS's status of", typ)
			}
			if want.Status < 500 && want.Status != 0 && protocol.ErrorStatus(&chatapp.Error{Code: want.Code}) != want.Status {
				t.Errorf("%s: status %d with code %s, whose status is another", typ, want.Status, want.Code)
			}
			r, ok := got[typ].(map[string]any)
			if !ok {
				t.Errorf("%s: GatewayResponses has no %s", id, typ)
				continue
			}
			for k := range r {
				if k != "StatusCode" && k != "ResponseParameters" && k != "ResponseTemplates" {
					t.Errorf("%s: %s has %s, which SAM does not take", id, typ, k)
				}
			}
			templates := fmt.Sprint(r["ResponseTemplates"])
			if wantTemplates := fmt.Sprint(map[string]any{"application/json": want.Template()}); templates != wantTemplates {
				t.Errorf("%s: %s ResponseTemplates = %s, want %s", id, typ, templates, wantTemplates)
			}
			body := strings.Replace(want.Template(), "$context.error.messageString", `"a message"`, 1)
			var eb protocol.ErrorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Code != want.Code || eb.Error.Message == "" {
				t.Errorf("%s: body %s is not the project's error body with code %s (%v)", typ, body, want.Code, err)
			}
			origin := deref(api.Cors.CorsConfiguration).AllowOrigin
			if params := fmt.Sprint(r["ResponseParameters"]); params != fmt.Sprint(map[string]any{"Headers": map[string]any{"Access-Control-Allow-Origin": origin}}) {
				t.Errorf("%s: %s ResponseParameters = %s, want the header Access-Control-Allow-Origin: %s", id, typ, params, origin)
			}
			switch status, set := r["StatusCode"]; {
			case set && fmt.Sprint(status) != strconv.Itoa(want.Status):
				t.Errorf("%s: %s StatusCode = %v, want %d", id, typ, status, want.Status)
			case set && want.Status == def:
				t.Errorf("%s: %s sets StatusCode to AWS's default %d: leave it out", id, typ, def)
			case !set && want.Status != def:
				t.Errorf("%s: %s has AWS's status %d, want StatusCode %d", id, typ, def, want.Status)
			}
		}
	}
}

func TestTemplateWebSocketAPI(t *testing.T) {
	tmpl, _ := loadTemplate(t)
	apiID := webSocketAPI(t, tmpl)
	if got := deref(tmpl.GetAllApiGatewayV2ApiResources()[apiID].RouteSelectionExpression); got != "$request.body.action" {
		t.Errorf("RouteSelectionExpression = %q, want $request.body.action", got)
	}

	functions := tmpl.GetAllServerlessFunctionResources()
	integrations := tmpl.GetAllApiGatewayV2IntegrationResources()
	permissions := tmpl.GetAllLambdaPermissionResources()
	got, gotMocks := map[string]string{}, map[string]string{}
	var routeIDs []string
	for id, route := range tmpl.GetAllApiGatewayV2RouteResources() {
		if refID(route.ApiId) != apiID {
			continue
		}
		routeIDs = append(routeIDs, id)
		integrationID := strings.TrimPrefix(deref(route.Target), "integrations/")
		integration, ok := integrations[refID(integrationID)]
		if !ok {
			t.Errorf("route %s: Target %q is not integrations/${Integration} of this template", id, deref(route.Target))
			continue
		}
		if integration.IntegrationType == "MOCK" && refID(integration.ApiId) == apiID {
			frame, extra := checkMockRoute(t, tmpl, id, refID(integrationID))
			gotMocks[route.RouteKey] = frame
			routeIDs = append(routeIDs, extra...)
			continue
		}
		if integration.IntegrationType != "AWS_PROXY" || refID(integration.ApiId) != apiID {
			t.Errorf("route %s: integration is %s on %s, want AWS_PROXY on the WebSocket API", id, integration.IntegrationType, integration.ApiId)
		}
		fnID := referencedOf(deref(integration.IntegrationUri), functions)
		if fnID == "" {
			t.Errorf("route %s: IntegrationUri %q invokes no function of this template", id, deref(integration.IntegrationUri))
			continue
		}
		got[route.RouteKey] = deref(functions[fnID].Handler)

		allowed := false
		for _, p := range permissions {
			if refID(p.FunctionName) == fnID && p.Action == "lambda:InvokeFunction" &&
				p.Principal == "apigateway.amazonaws.com" && references(deref(p.SourceArn), apiID) {
				allowed = true
			}
		}
		if !allowed {
			t.Errorf("route %s: no AWS::Lambda::Permission lets apigateway.amazonaws.com invoke %s from the WebSocket API", id, fnID)
		}
	}
	if !maps.Equal(got, wantRoutes) {
		t.Errorf("WebSocket routes = %v, want %v", got, wantRoutes)
	}
	if !maps.Equal(gotMocks, awslambda.WebSocketMockRoutes) {
		t.Errorf("WebSocket mock routes = %v, want awslambda.WebSocketMockRoutes %v", gotMocks, awslambda.WebSocketMockRoutes)
	}

	stages := 0
	for id, stage := range tmpl.GetAllApiGatewayV2StageResources() {
		if refID(stage.ApiId) != apiID {
			continue
		}
		stages++
		if stage.AutoDeploy == nil || !*stage.AutoDeploy {
			t.Errorf("stage %s: AutoDeploy is not true", id)
		}
		if s := stage.DefaultRouteSettings; s == nil || s.ThrottlingRateLimit == nil || s.ThrottlingBurstLimit == nil {
			t.Errorf("stage %s: no default route throttling", id)
		} else {
			checkMockRouteThrottles(t, id, stage.RouteSettings, *s.ThrottlingRateLimit, float64(*s.ThrottlingBurstLimit))
		}
		// Its first automatic deployment must hold every route, with the
		// responses of the two-way ones.
		for _, r := range routeIDs {
			if !slices.Contains(stage.AWSCloudFormationDependsOn, r) {
				t.Errorf("stage %s: DependsOn %v lacks %s", id, stage.AWSCloudFormationDependsOn, r)
			}
		}
	}
	if stages != 1 {
		t.Errorf("the WebSocket API has %d stages, want 1", stages)
	}
}

// checkMockRouteThrottles checks that each mock route (the keepalive's
// ping) has a throttle of its own in the stage's RouteSettings, no looser
// than the default route's: a MOCK costs no function, so nothing else
// bounds what its clients make API Gateway send (and bill).
func checkMockRouteThrottles(t *testing.T, stageID string, routeSettings any, rate, burst float64) {
	t.Helper()
	settings, _ := routeSettings.(map[string]any)
	for key := range awslambda.WebSocketMockRoutes {
		rs, _ := settings[key].(map[string]any)
		r, rok := rs["ThrottlingRateLimit"].(float64)
		b, bok := rs["ThrottlingBurstLimit"].(float64)
		switch {
		case !rok || !bok:
			t.Errorf("stage %s: RouteSettings[%q] = %v, want ThrottlingRateLimit and ThrottlingBurstLimit", stageID, key, settings[key])
		case r > rate || b > burst:
			t.Errorf("stage %s: route %s throttled at %v/s, burst %v: looser than the default route's %v/s, burst %v", stageID, key, r, b, rate, burst)
		}
	}
}

// checkMockRoute checks that a route with a MOCK integration is answered
// by API Gateway as the local gateway answers it: the request template
// gives status 200, the $default integration response's template is the
// frame, and a $default route response makes the route two-way (without
// one API Gateway sends nothing back). It returns the frame, and the ids
// of the route and integration responses.
func checkMockRoute(t *testing.T, tmpl *cloudformation.Template, routeID, integrationID string) (frame string, responses []string) {
	t.Helper()
	route := tmpl.GetAllApiGatewayV2RouteResources()[routeID]
	integration := tmpl.GetAllApiGatewayV2IntegrationResources()[integrationID]
	if got := deref(route.RouteResponseSelectionExpression); got != "$default" {
		t.Errorf("route %s: RouteResponseSelectionExpression %q, want $default (the only key API Gateway supports)", routeID, got)
	}
	for id, rr := range tmpl.GetAllApiGatewayV2RouteResponseResources() {
		if refID(rr.RouteId) == routeID && rr.RouteResponseKey == "$default" {
			responses = append(responses, id)
		}
	}
	if len(responses) != 1 {
		t.Errorf("route %s: %d $default route responses, want 1: without one the route is one-way and sends nothing back", routeID, len(responses))
	}
	// A template selection expression of \$default picks the template
	// keyed $default, whatever the frame.
	templates, _ := integration.RequestTemplates.(map[string]any)
	var status struct{ StatusCode int }
	if raw, _ := templates["$default"].(string); deref(integration.TemplateSelectionExpression) != `\$default` ||
		json.Unmarshal([]byte(raw), &status) != nil || status.StatusCode != 200 {
		t.Errorf("integration %s: TemplateSelectionExpression %q, RequestTemplates %v; want \\$default and a $default template giving statusCode 200",
			integrationID, deref(integration.TemplateSelectionExpression), integration.RequestTemplates)
	}
	found := 0
	for id, ir := range tmpl.GetAllApiGatewayV2IntegrationResponseResources() {
		if refID(ir.IntegrationId) != integrationID {
			continue
		}
		found++
		responses = append(responses, id)
		templates, _ := ir.ResponseTemplates.(map[string]any)
		frame, _ = templates["$default"].(string)
		if ir.IntegrationResponseKey != "$default" || deref(ir.TemplateSelectionExpression) != `\$default` || frame == "" {
			t.Errorf("integration response %s: key %q, TemplateSelectionExpression %q, templates %v; want $default, \\$default and a $default template",
				id, ir.IntegrationResponseKey, deref(ir.TemplateSelectionExpression), ir.ResponseTemplates)
		}
	}
	if found != 1 {
		t.Errorf("integration %s: %d integration responses, want 1 (a MOCK integration answers only through one)", integrationID, found)
	}
	return frame, responses
}

// authModes are the AuthMode choices of template.yaml, with the parameters
// each needs, and the value CHATAPP_AUTH_SECRET must have: a dynamic
// reference to a Secrets Manager secret (resolved at deploy time, so the
// secret is in no template or parameter), or empty.
var authModes = []struct {
	name   string
	params map[string]string
	secret string // CHATAPP_AUTH_SECRET, as loadTemplate reads it
}{
	{"default: a generated secret", nil, "{{resolve:secretsmanager:${AuthSecret}:SecretString}}"},
	{"your own secret", map[string]string{"AuthSecretArn": ownSecretARN}, "{{resolve:secretsmanager:${AuthSecretArn}:SecretString}}"},
	{"jwks", map[string]string{"AuthMode": "jwks", "AuthJwksUrl": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"}, ""},
}

const ownSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chatapp-hs256-AbCdEf"

// TestTemplateAuth holds the deployed stack to auth on, in every mode but
// open: the REQUEST authorizer (the authorize function) guards $connect and
// every REST method, the CORS preflights stay open, API Gateway may invoke
// the authorizer, and the functions require the identity it vouches for.
func TestTemplateAuth(t *testing.T) {
	for _, mode := range authModes {
		t.Run(mode.name, func(t *testing.T) {
			tmpl, _ := loadTemplateWith(t, mode.params)
			authorizerFn := checkRequireAuth(t, tmpl, "true")
			if authorizerFn == "" {
				t.Fatalf("no function has Handler %s", awslambda.Authorize)
			}
			env := tmpl.GetAllServerlessFunctionResources()[authorizerFn].Environment
			for _, key := range []string{"CHATAPP_AUTH_SECRET", "CHATAPP_AUTH_JWKS_URL", "CHATAPP_AUTH_ISSUER", "CHATAPP_AUTH_AUDIENCE"} {
				if _, ok := env.Variables[key]; env == nil || !ok {
					t.Errorf("%s: no %s in its environment", authorizerFn, key)
				}
			}
			if got := env.Variables["CHATAPP_AUTH_SECRET"]; got != mode.secret {
				t.Errorf("%s: CHATAPP_AUTH_SECRET = %q, want %q", authorizerFn, got, mode.secret)
			}
			checkAuthorizerWired(t, tmpl, authorizerFn)
			if _, ok := tmpl.Outputs["OpenModeWarning"]; ok {
				t.Error("output OpenModeWarning with auth on")
			}
		})
	}
}

// TestTemplateSecretRotation: CloudFormation resolves a Secrets Manager
// dynamic reference again only when it updates the resource that holds it.
// AuthSecretVersion is the way to update the authorizer after a rotation:
// its value is in the environment of the very function whose
// CHATAPP_AUTH_SECRET is the reference, so a new value updates that
// function and it gets the secret's new value.
func TestTemplateSecretRotation(t *testing.T) {
	for _, mode := range authModes[:2] { // the secret modes
		t.Run(mode.name, func(t *testing.T) {
			for _, version := range []string{"", "2"} {
				params := maps.Clone(mode.params)
				if params == nil {
					params = map[string]string{}
				}
				want := "1" // the default
				if version != "" {
					params["AuthSecretVersion"], want = version, version
				}
				tmpl, _ := loadTemplateWith(t, params)
				found := false
				for id, fn := range tmpl.GetAllServerlessFunctionResources() {
					if fn.Environment == nil {
						continue
					}
					env := fn.Environment.Variables
					v, ok := env["CHATAPP_AUTH_SECRET_VERSION"]
					if !ok {
						continue
					}
					found = true
					if deref(fn.Handler) != awslambda.Authorize || v != want || env["CHATAPP_AUTH_SECRET"] != mode.secret {
						t.Errorf("AuthSecretVersion=%q: %s (%s) has CHATAPP_AUTH_SECRET_VERSION=%q beside CHATAPP_AUTH_SECRET=%q, want %q beside the reference %q in the authorizer",
							version, id, deref(fn.Handler), v, env["CHATAPP_AUTH_SECRET"], want, mode.secret)
					}
				}
				if !found {
					t.Errorf("AuthSecretVersion=%q reaches no function: a rotated secret would never reach the authorizer", version)
				}
			}
		})
	}
	// Like every mode's parameters, it is refused with another mode.
	if _, err := deployTemplate(map[string]string{"AuthMode": "open", "AuthSecretVersion": "2"}); err == nil {
		t.Error("AuthMode=open AuthSecretVersion=2 deploys; want the rule's refusal")
	}
	if _, err := deployTemplate(map[string]string{"AuthSecretVersion": "2 3"}); err == nil {
		t.Error(`AuthSecretVersion="2 3" deploys; want the AllowedPattern's refusal`)
	}
}

// TestTemplateGeneratesSecret: `make deploy` with no parameters makes the
// HS256 secret in Secrets Manager, long enough for HS256 and without the
// backslash a dynamic reference cannot end with, and outputs its ARN (never
// its value) and the command that mints a token; with your own secret none
// is made and the ARN output is yours.
func TestTemplateGeneratesSecret(t *testing.T) {
	tmpl, _ := loadTemplate(t)
	secrets := tmpl.GetAllSecretsManagerSecretResources()
	secret, ok := secrets["AuthSecret"]
	if !ok || len(secrets) != 1 {
		t.Fatalf("secrets %v, want one AuthSecret", slices.Collect(maps.Keys(secrets)))
	}
	g := secret.GenerateSecretString
	if secret.SecretString != nil || g == nil || g.PasswordLength == nil || *g.PasswordLength < 32 || g.ExcludePunctuation == nil || !*g.ExcludePunctuation {
		t.Errorf("AuthSecret: SecretString %v GenerateSecretString %+v, want a generated string of 32+ characters without punctuation", secret.SecretString, g)
	}
	if out := tmpl.Outputs["AuthSecretArn"]; fmt.Sprint(out.Value) != "${AuthSecret}" {
		t.Errorf("output AuthSecretArn = %v, want the generated secret's ARN", out.Value)
	}
	if out := fmt.Sprint(tmpl.Outputs["TokenCommand"].Value); !strings.HasPrefix(out, "make token ") || !strings.Contains(out, "STACK=${AWS::StackName}") {
		t.Errorf("output TokenCommand = %q, want make token for this stack", out)
	}

	tmpl, _ = loadTemplateWith(t, map[string]string{"AuthSecretArn": ownSecretARN})
	if n := len(tmpl.GetAllSecretsManagerSecretResources()); n != 0 {
		t.Errorf("with AuthSecretArn the stack makes %d secrets, want 0", n)
	}
	if out := tmpl.Outputs["AuthSecretArn"]; fmt.Sprint(out.Value) != ownSecretARN {
		t.Errorf("output AuthSecretArn = %v, want %s", out.Value, ownSecretARN)
	}
}

// TestTemplateOpenMode: AuthMode=open, the tutorial's client's mode, has no
// authorizer anywhere (no function, no REST Auth, $connect NONE), the
// functions take the user_id a request names, and the stack says so loudly.
func TestTemplateOpenMode(t *testing.T) {
	tmpl, _ := loadTemplateWith(t, map[string]string{"AuthMode": "open"})
	if fn := checkRequireAuth(t, tmpl, "false"); fn != "" {
		t.Errorf("open mode deploys the authorizer function %s", fn)
	}
	for id, api := range tmpl.GetAllServerlessApiResources() {
		if api.Auth != nil {
			t.Errorf("%s: Auth %+v in open mode", id, api.Auth)
		}
	}
	if n := len(tmpl.GetAllApiGatewayV2AuthorizerResources()); n != 0 {
		t.Errorf("%d WebSocket authorizers in open mode", n)
	}
	for id, route := range tmpl.GetAllApiGatewayV2RouteResources() {
		if deref(route.AuthorizationType) != "NONE" || route.AuthorizerId != nil {
			t.Errorf("route %s (%s): AuthorizationType %q AuthorizerId %q in open mode", id, route.RouteKey, deref(route.AuthorizationType), deref(route.AuthorizerId))
		}
	}
	if n := len(tmpl.GetAllSecretsManagerSecretResources()); n != 0 {
		t.Errorf("open mode makes %d secrets", n)
	}
	for _, name := range []string{"AuthSecretArn", "TokenCommand"} {
		if _, ok := tmpl.Outputs[name]; ok {
			t.Errorf("output %s in open mode", name)
		}
	}
	if warning := fmt.Sprint(tmpl.Outputs["OpenModeWarning"].Value); !strings.Contains(warning, "NO AUTHENTICATION") {
		t.Errorf("output OpenModeWarning = %q, want a loud warning", warning)
	}
	if mode := tmpl.Outputs["AuthMode"].Value; mode != "open" {
		t.Errorf("output AuthMode = %v, want open", mode)
	}
}

// TestTemplateRules: CloudFormation refuses, before any resource, a mode
// without what it needs or given what another mode reads, and an unknown
// mode; `make deploy`'s parameters (none) pass.
func TestTemplateRules(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		ok     bool
	}{
		{nil, true},
		{map[string]string{"AuthMode": "open"}, true},
		{map[string]string{"AuthMode": "jwks"}, false},
		{map[string]string{"AuthMode": "open", "AuthJwksUrl": "https://idp.example/jwks.json"}, false},
		{map[string]string{"AuthJwksUrl": "https://idp.example/jwks.json"}, false},
		{map[string]string{"AuthMode": "jwks", "AuthJwksUrl": "https://idp.example/jwks.json", "AuthSecretArn": ownSecretARN}, false},
		{map[string]string{"AuthMode": "none"}, false},
		// The secret itself is no parameter value: only an ARN is.
		{map[string]string{"AuthSecretArn": "0123456789abcdef0123456789abcdef0123456789abcdef"}, false},
		{map[string]string{"AuthSecret": "0123456789abcdef0123456789abcdef0123456789abcdef"}, false},
	} {
		_, err := deployTemplate(tc.params)
		if (err == nil) != tc.ok {
			t.Errorf("deploy with %v: err = %v, want accepted=%v", tc.params, err, tc.ok)
		}
	}
}

// TestTemplateSecretNeverPlain: in no mode does a secret value stand in the
// template: no parameter can hold one (no NoEcho parameter, AuthSecretArn
// takes only an ARN), the only places a secret reaches are the authorizer's
// CHATAPP_AUTH_SECRET as a dynamic reference, and no output resolves one.
func TestTemplateSecretNeverPlain(t *testing.T) {
	for _, mode := range append(authModes, struct {
		name   string
		params map[string]string
		secret string
	}{"open", map[string]string{"AuthMode": "open"}, ""}) {
		data, err := deployTemplate(mode.params)
		if err != nil {
			t.Fatalf("%s: %v", mode.name, err)
		}
		if n := strings.Count(string(data), "{{resolve:"); n != min(len(mode.secret), 1) {
			t.Errorf("%s: %d dynamic references, want only CHATAPP_AUTH_SECRET's", mode.name, n)
		}
		tmpl, _ := loadTemplateWith(t, mode.params)
		for name, p := range tmpl.Parameters {
			if p.NoEcho != nil && *p.NoEcho {
				t.Errorf("%s: parameter %s is NoEcho: a secret must not be a parameter", mode.name, name)
			}
		}
		for name, out := range tmpl.Outputs {
			if strings.Contains(fmt.Sprint(out.Value), "resolve:") {
				t.Errorf("%s: output %s resolves a secret", mode.name, name)
			}
		}
	}
}

// checkRequireAuth checks every function's CHATAPP_REQUIRE_AUTH and returns
// the authorizer function's logical id, if any.
func checkRequireAuth(t *testing.T, tmpl *cloudformation.Template, want string) string {
	t.Helper()
	authorizerFn := ""
	for id, fn := range tmpl.GetAllServerlessFunctionResources() {
		if deref(fn.Handler) == awslambda.Authorize {
			authorizerFn = id
		}
		env := map[string]string{}
		if fn.Environment != nil {
			env = fn.Environment.Variables
		}
		if env["CHATAPP_REQUIRE_AUTH"] != want {
			t.Errorf("%s: CHATAPP_REQUIRE_AUTH = %q, want %s", id, env["CHATAPP_REQUIRE_AUTH"], want)
		}
	}
	return authorizerFn
}

// checkAuthorizerWired checks that authorizerFn guards every REST method
// and $connect.
func checkAuthorizerWired(t *testing.T, tmpl *cloudformation.Template, authorizerFn string) {
	t.Helper()
	functions := tmpl.GetAllServerlessFunctionResources()
	// REST: a default REQUEST authorizer on the API, not lifted by any
	// method, and left off the preflights.
	for id, api := range tmpl.GetAllServerlessApiResources() {
		a := api.Auth
		if a == nil || deref(a.DefaultAuthorizer) == "" {
			t.Errorf("%s: no Auth.DefaultAuthorizer", id)
			continue
		}
		if a.AddDefaultAuthorizerToCorsPreflight == nil || *a.AddDefaultAuthorizerToCorsPreflight {
			t.Errorf("%s: AddDefaultAuthorizerToCorsPreflight must be false: a browser's preflight carries no token", id)
		}
		authorizers, _ := a.Authorizers.(map[string]any)
		def, _ := authorizers[deref(a.DefaultAuthorizer)].(map[string]any)
		if def["FunctionPayloadType"] != "REQUEST" || referencedOf(fmt.Sprint(def["FunctionArn"]), functions) != authorizerFn {
			t.Errorf("%s: default authorizer %v, want a REQUEST authorizer with FunctionArn of %s", id, def, authorizerFn)
		}
		if def["DisableFunctionDefaultPermissions"] == true {
			t.Errorf("%s: DisableFunctionDefaultPermissions stops SAM from letting the API invoke the authorizer", id)
		}
		// Without identity sources (the token comes in a header or the
		// query) SAM and API Gateway require caching off.
		identity, _ := def["Identity"].(map[string]any)
		if len(identity) == 1 && fmt.Sprint(identity["ReauthorizeEvery"]) != "0" {
			t.Errorf("%s: an authorizer without identity sources must not cache (ReauthorizeEvery 0): %v", id, identity)
		}
	}
	for id, fn := range functions {
		for name, event := range fn.Events {
			if api := event.Properties.ApiEvent; api != nil && api.Auth != nil && deref(api.Auth.Authorizer) != "" {
				t.Errorf("%s: event %s overrides the API's authorizer with %q", id, name, deref(api.Auth.Authorizer))
			}
		}
	}

	// WebSocket: $connect has a REQUEST authorizer of the WebSocket API
	// that invokes the authorize function; the other routes cannot have
	// one (API Gateway runs it on $connect only).
	apiID := webSocketAPI(t, tmpl)
	authorizers := tmpl.GetAllApiGatewayV2AuthorizerResources()
	connects := 0
	for id, route := range tmpl.GetAllApiGatewayV2RouteResources() {
		if refID(route.ApiId) != apiID {
			continue
		}
		if route.RouteKey != "$connect" {
			if got := deref(route.AuthorizationType); got != "NONE" {
				t.Errorf("route %s (%s): AuthorizationType %q; only $connect can be authorized", id, route.RouteKey, got)
			}
			continue
		}
		connects++
		authzID := refID(deref(route.AuthorizerId))
		authz, ok := authorizers[authzID]
		if deref(route.AuthorizationType) != "CUSTOM" || !ok {
			t.Errorf("route %s: AuthorizationType %q AuthorizerId %q, want CUSTOM and an authorizer of this template",
				id, deref(route.AuthorizationType), deref(route.AuthorizerId))
			continue
		}
		if authz.AuthorizerType != "REQUEST" || refID(authz.ApiId) != apiID || referencedOf(deref(authz.AuthorizerUri), functions) != authorizerFn {
			t.Errorf("authorizer %s: %s on %s invoking %q, want REQUEST on the WebSocket API invoking %s",
				authzID, authz.AuthorizerType, authz.ApiId, deref(authz.AuthorizerUri), authorizerFn)
		}
		allowed := false
		for _, p := range tmpl.GetAllLambdaPermissionResources() {
			arn := deref(p.SourceArn)
			if refID(p.FunctionName) == authorizerFn && p.Action == "lambda:InvokeFunction" && p.Principal == "apigateway.amazonaws.com" &&
				references(arn, apiID) && references(arn, authzID) {
				allowed = true
			}
		}
		if !allowed {
			t.Errorf("authorizer %s: no AWS::Lambda::Permission lets the WebSocket API invoke %s", authzID, authorizerFn)
		}
	}
	if connects != 1 {
		t.Errorf("%d $connect routes, want 1", connects)
	}
}

func TestTemplateTables(t *testing.T) {
	tmpl, _ := loadTemplate(t)
	tables := tmpl.GetAllDynamoDBTableResources()
	for _, tc := range []struct {
		id, name, keys, index string
	}{
		{"MessagesTable", dynamodb.DefaultMessagesTable, "room_id:S:HASH id:S:RANGE", ""},
		// A room is a partition, read consistently; no index.
		{"ConnectionsTable", dynamodb.DefaultConnectionsTable, "room_id:S:HASH connection_id:S:RANGE", ""},
	} {
		table, ok := tables[tc.id]
		if !ok {
			t.Errorf("no AWS::DynamoDB::Table %s", tc.id)
			continue
		}
		// TableName is a parameter; the parser resolves it to its default.
		if got := deref(table.TableName); got != tc.name {
			t.Errorf("%s: TableName defaults to %q, want %q", tc.id, got, tc.name)
		}
		if got := deref(table.BillingMode); got != "PAY_PER_REQUEST" {
			t.Errorf("%s: BillingMode = %q, want PAY_PER_REQUEST", tc.id, got)
		}
		types := map[string]string{}
		for _, a := range table.AttributeDefinitions {
			types[a.AttributeName] = a.AttributeType
		}
		keySchema := func(keys []cfndynamodb.Table_KeySchema) string {
			var s []string
			for _, k := range keys {
				s = append(s, k.AttributeName+":"+types[k.AttributeName]+":"+k.KeyType)
			}
			return strings.Join(s, " ")
		}
		if got := keySchema(table.KeySchema); got != tc.keys {
			t.Errorf("%s: key schema %q, want %q", tc.id, got, tc.keys)
		}
		var indexes []string
		for _, gsi := range table.GlobalSecondaryIndexes {
			projection := ""
			if gsi.Projection != nil {
				projection = deref(gsi.Projection.ProjectionType)
			}
			indexes = append(indexes, gsi.IndexName+" "+keySchema(gsi.KeySchema)+" "+projection)
		}
		if got := strings.Join(indexes, ", "); got != tc.index {
			t.Errorf("%s: global secondary indexes %q, want %q", tc.id, got, tc.index)
		}
		if ttl := table.TimeToLiveSpecification; ttl == nil || !ttl.Enabled || deref(ttl.AttributeName) != "expires_at" {
			t.Errorf("%s: TTL is not enabled on expires_at", tc.id)
		}
	}
}

// TestTemplateIAM holds every function to least privilege: inline
// statements only, no wildcard actions, DynamoDB actions on this stack's
// tables, execute-api on this stack's WebSocket API, and exactly the grants
// of wantGrants.
// It holds in every AuthMode: the generated secret reaches the authorizer
// by a dynamic reference, so no function is granted Secrets Manager.
func TestTemplateIAM(t *testing.T) {
	for _, mode := range authModes {
		t.Run(mode.name, func(t *testing.T) {
			tmpl, _ := loadTemplateWith(t, mode.params)
			checkIAM(t, tmpl)
		})
	}
	t.Run("open", func(t *testing.T) {
		tmpl, _ := loadTemplateWith(t, map[string]string{"AuthMode": "open"})
		checkIAM(t, tmpl)
	})
}

func checkIAM(t *testing.T, tmpl *cloudformation.Template) {
	for id, res := range tmpl.Resources {
		if typ := res.AWSCloudFormationType(); strings.HasPrefix(typ, "AWS::IAM::") {
			t.Errorf("%s: %s; give functions permissions through their Policies, checked here", id, typ)
		}
	}
	tables := tmpl.GetAllDynamoDBTableResources()
	apiID := webSocketAPI(t, tmpl)

	for id, fn := range tmpl.GetAllServerlessFunctionResources() {
		if fn.Role != nil {
			t.Errorf("%s: has its own Role; let SAM make one from Policies", id)
		}
		if fn.Policies == nil && len(wantGrants[deref(fn.Handler)]) == 0 {
			continue // only SAM's basic execution role: its logs
		}
		var grants []string
		for i, stmt := range statements(t, id, fn.Policies) {
			where := fmt.Sprintf("%s: statement %d", id, i)
			if _, ok := stmt["NotAction"]; ok {
				t.Errorf("%s: NotAction grants everything else", where)
			}
			if _, ok := stmt["NotResource"]; ok {
				t.Errorf("%s: NotResource grants everything else", where)
			}
			if stmt["Effect"] != "Allow" {
				continue
			}
			actions, resources := stringList(stmt["Action"]), stringList(stmt["Resource"])
			if len(actions) == 0 || len(resources) == 0 {
				t.Errorf("%s: want Action and Resource", where)
			}
			for _, action := range actions {
				service, _, _ := strings.Cut(action, ":")
				if strings.Contains(action, "*") {
					t.Errorf("%s: wildcard action %q", where, action)
				}
				for _, resource := range resources {
					switch {
					case resource == "*" || resource == "":
						t.Errorf("%s: %s on every resource (%q)", where, action, resource)
					case service == "dynamodb" && referencedOf(resource, tables) == "":
						t.Errorf("%s: %s on %q, not a table of this template", where, action, resource)
					case service == "execute-api" && !references(resource, apiID):
						t.Errorf("%s: %s on %q, not the WebSocket API", where, action, resource)
					case service != "dynamodb" && service != "execute-api":
						t.Errorf("%s: %s: no function needs service %q (CloudWatch Logs come with SAM's basic execution role)", where, action, service)
					}
					grants = append(grants, action+" "+grantTarget(resource))
				}
			}
		}
		want := wantGrants[deref(fn.Handler)]
		slices.Sort(grants)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(grants, want) {
			t.Errorf("%s (%s) is granted\n\t%s\nwant exactly\n\t%s", id, deref(fn.Handler),
				strings.Join(grants, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
}

// statements returns a function's policy statements. Policies must be a
// list of inline policy documents: a managed policy name or a SAM policy
// template (DynamoDBCrudPolicy, ...) grants more than the code needs.
func statements(t *testing.T, id string, p *serverless.Function_Policies) []map[string]any {
	t.Helper()
	if p == nil {
		t.Errorf("%s: no Policies", id)
		return nil
	}
	var docs []serverless.Function_IAMPolicyDocument
	switch {
	case p.IAMPolicyDocument != nil:
		docs = []serverless.Function_IAMPolicyDocument{*p.IAMPolicyDocument}
	case p.IAMPolicyDocumentArray != nil:
		docs = *p.IAMPolicyDocumentArray
	}
	if len(docs) == 0 {
		t.Errorf("%s: Policies is not a list of inline policy documents", id)
	}
	var out []map[string]any
	for i, doc := range docs {
		if len(doc.Statement) == 0 {
			t.Errorf("%s: Policies entry %d is not an inline policy document with statements (a managed policy or SAM policy template?)", id, i)
		}
		for _, s := range doc.Statement {
			m, ok := s.(map[string]any)
			if !ok {
				t.Errorf("%s: statement %v is not an object", id, s)
				continue
			}
			out = append(out, m)
		}
	}
	return out
}

var (
	tableARN      = regexp.MustCompile(`^\$\{(\w+)\.Arn\}(/index/[\w.-]+)?$`)
	connectionARN = regexp.MustCompile(`^arn:(?:aws|\$\{AWS::Partition\}):execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{(\w+)\}/\$\{Stage\}/(POST|DELETE)/@connections/\*$`)
)

// grantTarget names what a statement's resource is, in wantGrants' terms:
// a table, a table's index, or the posts to the WebSocket API's
// connections; anything else as it is.
func grantTarget(resource string) string {
	if m := tableARN.FindStringSubmatch(resource); m != nil {
		return m[1] + m[2]
	}
	if m := connectionARN.FindStringSubmatch(resource); m != nil {
		return m[1] + " " + m[2] + " @connections"
	}
	return resource
}

func TestTemplateOutputs(t *testing.T) {
	tmpl, _ := loadTemplate(t)
	for name, want := range map[string]*regexp.Regexp{
		"RestApiUrl":                  regexp.MustCompile(`^https://\$\{RestApi\}\.execute-api\..*/\$\{Stage\}/chat$`),
		"WebSocketUrl":                regexp.MustCompile(`^wss://\$\{WebSocketApi\}\.execute-api\..*/\$\{Stage\}$`),
		"WebSocketManagementEndpoint": regexp.MustCompile(`^https://\$\{WebSocketApi\}\.execute-api\..*/\$\{Stage\}$`),
		"MessagesTableName":           regexp.MustCompile(`^\$\{MessagesTable\}$`),
		"ConnectionsTableName":        regexp.MustCompile(`^\$\{ConnectionsTable\}$`),
	} {
		out, ok := tmpl.Outputs[name]
		if !ok {
			t.Errorf("no output %s", name)
			continue
		}
		if s, _ := out.Value.(string); !want.MatchString(s) {
			t.Errorf("output %s = %v, want %s", name, out.Value, want)
		}
	}
}

// loadTemplate parses ../template.yaml as SAM deploys it with the
// parameters `make deploy` gives (none: every default). See loadTemplateWith.
func loadTemplate(t *testing.T) (*cloudformation.Template, map[string]map[string]any) {
	t.Helper()
	return loadTemplateWith(t, nil)
}

// loadTemplateWith parses ../template.yaml as SAM deploys it with params
// (deployTemplate: conditions decided, Fn::If resolved). References stay
// readable: Ref X and GetAtt X.Attr become the text "${X}" and "${X.Attr}",
// as inside a Sub, so that every reference is "${...}" in a string; a Ref to
// a parameter becomes its value. Globals are merged into each function as
// SAM merges them (goformation does not). The properties goformation cannot
// represent are returned by logical id.
func loadTemplateWith(t *testing.T, params map[string]string) (*cloudformation.Template, map[string]map[string]any) {
	t.Helper()
	data, err := deployTemplate(params)
	if err != nil {
		t.Fatalf("template.yaml with %v: %v", params, err)
	}
	processed, err := intrinsics.ProcessJSON(data, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":        refText,
			"Fn::GetAtt": getAttText,
			"Fn::Sub":    subText,
		},
	})
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(processed, &doc); err != nil {
		t.Fatal(err)
	}
	resources, _ := doc["Resources"].(map[string]any)
	if globals, ok := doc["Globals"].(map[string]any); ok {
		for _, r := range resources {
			r, _ := r.(map[string]any)
			if g, ok := globals["Function"]; ok && r["Type"] == "AWS::Serverless::Function" {
				r["Properties"] = mergeGlobal(g, r["Properties"])
			}
		}
		delete(doc, "Globals")
	}
	// Properties goformation v7.14.9 cannot represent are set aside, for
	// the tests to read from unknown.
	unknown := map[string]map[string]any{}
	for id, r := range resources {
		r, _ := r.(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		for _, name := range unrepresentable[fmt.Sprint(r["Type"])] {
			if v, ok := props[name]; ok {
				if unknown[id] == nil {
					unknown[id] = map[string]any{}
				}
				unknown[id][name] = v
				delete(props, name)
			}
		}
	}
	merged, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := goformation.ParseJSONWithOptions(merged, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return tmpl, unknown
}

// unrepresentable lists, by resource type, the properties that goformation
// v7.14.9 does not know (LoggingConfig, newer than it) or types otherwise
// than SAM (GatewayResponses, which it takes for a map of strings).
var unrepresentable = map[string][]string{
	"AWS::Serverless::Function": {"LoggingConfig"},
	"AWS::Serverless::Api":      {"GatewayResponses"},
}

// mergeGlobal merges a Globals section into a resource's properties as SAM
// does: maps key by key, lists global first, otherwise the resource's value.
func mergeGlobal(global, local any) any {
	switch g := global.(type) {
	case map[string]any:
		l, ok := local.(map[string]any)
		if !ok {
			if local != nil {
				return local
			}
			l = map[string]any{}
		}
		out := maps.Clone(l)
		for k, gv := range g {
			out[k] = mergeGlobal(gv, l[k])
		}
		return out
	case []any:
		if l, ok := local.([]any); ok {
			return append(slices.Clone(g), l...)
		}
	}
	if local != nil {
		return local
	}
	return global
}

func refText(_ string, input, template any) any {
	name, _ := input.(string)
	if params, ok := template.(map[string]any)["Parameters"].(map[string]any); ok {
		if p, ok := params[name].(map[string]any); ok {
			if def, ok := p["Default"]; ok {
				return def
			}
		}
	}
	return "${" + name + "}"
}

func getAttText(_ string, input, _ any) any {
	switch v := input.(type) {
	case string:
		return "${" + v + "}"
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return "${" + strings.Join(parts, ".") + "}"
	}
	return nil
}

func subText(_ string, input, _ any) any {
	if v, ok := input.([]any); ok && len(v) > 0 {
		return v[0] // the variables map's names stay as ${name}
	}
	return input
}

var reference = regexp.MustCompile(`\$\{([\w:]+)(?:\.[\w.]+)?\}`)

// references reports whether s refers to the logical id.
func references(s, id string) bool {
	for _, m := range reference.FindAllStringSubmatch(s, -1) {
		if m[1] == id {
			return true
		}
	}
	return false
}

// referencedOf returns the first logical id of resources that s refers to.
func referencedOf[T any](s string, resources map[string]T) string {
	for _, m := range reference.FindAllStringSubmatch(s, -1) {
		if _, ok := resources[m[1]]; ok {
			return m[1]
		}
	}
	return ""
}

// refID returns X of "${X}", or s.
func refID(s string) string {
	if m := reference.FindStringSubmatch(s); m != nil && m[0] == s {
		return m[1]
	}
	return s
}

// webSocketAPI returns the logical id of the template's one WebSocket API.
func webSocketAPI(t *testing.T, tmpl *cloudformation.Template) string {
	t.Helper()
	var ids []string
	for id, api := range tmpl.GetAllApiGatewayV2ApiResources() {
		if deref(api.ProtocolType) == "WEBSOCKET" {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("WebSocket APIs: %q, want one", ids)
	}
	return ids[0]
}

// stringList returns an IAM element that is a string or a list of strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
