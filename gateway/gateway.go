// Package gateway is a local Amazon API Gateway: it turns HTTP requests and
// WebSocket messages into the proxy events API Gateway sends to Lambda
// (route selection, the REQUEST authorizer, its quotas and its own
// answers), applies the functions' responses, and offers the Management
// API (PostToConnection, GetConnection, DeleteConnection) over HTTP at
// /@connections/{id}, SigV4-signed as on AWS.
//
// The WebSockets themselves, once upgraded, are the hub's (package hub):
// the gateway hands each one to the hub with API Gateway's limits, and the
// hub hands back each message to route and the connection's end.
package gateway

import (
	"context"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/internal/budget"
	"github.com/chatapp-dev/chatapp/internal/httperror"
	"github.com/chatapp-dev/chatapp/internal/panics"
)

// RESTFunc is a REST API integration: a Lambda function behind a
// "Lambda proxy" integration.
type RESTFunc func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// AuthorizerFunc is a Lambda REQUEST authorizer.
type AuthorizerFunc func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// WebSocketFunc is a WebSocket API route integration.
type WebSocketFunc func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// API Gateway's WebSocket quotas, which a client can notice
// (docs/aws-fidelity.md has their sources).
const (
	DefaultIdleTimeout   = 10 * time.Minute
	DefaultMaxConnection = 2 * time.Hour
	// MaxFrameBytes is API Gateway's "WebSocket frame size" quota, 32 KB,
	// counted as 32,768 bytes: a client's data frame (a whole message or
	// one fragment of it) over it closes the connection with 1009, so a
	// larger message must come in fragments. AWS writes KB without saying
	// which; its Lambda payload quota, "6 MB", is 6×1024×1024 bytes (and
	// 100 of framing) in its own runtime emulator, so KB here is 1024.
	MaxFrameBytes = 32 << 10
	// MaxPayloadBytes is API Gateway's "Message payload size" quota, 128
	// KB: a client's message (its fragments joined) and a PostToConnection
	// payload are at most this. A larger message closes with 1009.
	MaxPayloadBytes = 128 << 10
	// integrationTimeout is API Gateway's 29-second integration limit: a
	// REST client then gets 504, a WebSocket route's sender an error frame.
	integrationTimeout = 29 * time.Second
	// DefaultMessageTimeout bounds how long a client's message may take to
	// arrive once it has begun: 128 KB at 4.4 KB/s.
	DefaultMessageTimeout = 30 * time.Second
)

// Bounds of a REST or Management API request, so that one client cannot
// hold a goroutine or the memory of a large body at will.
const (
	// DefaultMaxBodyBytes is API Gateway's 10 MB request payload quota.
	DefaultMaxBodyBytes = 10 << 20
	// DefaultReadTimeout bounds reading a request body: 30 s lets a 64 KB
	// body arrive at 2 KB/s, and stops a client dripping bytes.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds writing an answer, counted from when the
	// answer starts (after the function, which has its own 29 s).
	DefaultWriteTimeout = 30 * time.Second
)

// Config describes the two APIs the gateway serves.
type Config struct {
	// Hub holds the WebSockets the gateway opens, and is the notifier and
	// room index the functions are given. Nil: the gateway makes one of
	// its own (a gateway whose functions push nothing, or only through
	// the Management API).
	Hub *hub.Hub
	// REST maps "METHOD /resource" (e.g. "GET /chat") to its function. A
	// request path matches its resource with or without a trailing slash.
	REST map[string]RESTFunc
	// WebSocket maps route keys ($connect, $disconnect, $default, or an
	// action) to functions. Routes are selected by $request.body.action.
	WebSocket map[string]WebSocketFunc
	// MockRoutes maps route keys (actions) to the frame API Gateway answers
	// them with when the route's integration is MOCK, with an integration
	// response and a route response (a two-way route): the frame goes back
	// to the sender alone, no function runs, and the message counts as
	// activity for the idle timeout as any other. A key must not also be
	// in WebSocket.
	MockRoutes map[string]string
	// GatewayResponses are the REST API's own answers by gateway response
	// type (gatewayresponse.go), as template.yaml defines them
	// (awslambda.RESTGatewayResponses). A type it lacks is answered as
	// API Gateway answers an API that defines none: AWS's default status
	// and body, {"message": "..."}.
	GatewayResponses map[string]GatewayResponse
	// WebSocketPath is where clients connect, "/ws" by default.
	WebSocketPath string
	// Stage is reported in events, "dev" by default as in the original.
	Stage string
	// IdleTimeout and MaxConnectionDuration default to API Gateway's
	// 10 minutes and 2 hours.
	IdleTimeout           time.Duration
	MaxConnectionDuration time.Duration
	// FrameRate and FrameBurst bound the frames one connection may send, as
	// API Gateway's route throttling does: FrameRate a second, in bursts of
	// FrameBurst. Every frame counts, each fragment of a message too. A
	// frame over the limit gets a rate_limited error frame, and its
	// message is not routed; a client that keeps flooding is closed
	// (1008). 0 means no limit.
	FrameRate  float64
	FrameBurst int
	// MessageTimeout bounds how long a message may take to arrive once it
	// is seen incomplete (a fragment without its end, a frame without its
	// payload): past it the socket is closed (1008), so that a partial
	// message is not held for the whole idle timeout. 0 means
	// DefaultMessageTimeout.
	MessageTimeout time.Duration
	// MaxBodyBytes bounds a REST request body: a larger Content-Length is
	// refused (413) before a byte of the body is read, and a chunked body
	// is read no further than the limit. 0 means DefaultMaxBodyBytes, API
	// Gateway's quota; a server whose functions take less says so here.
	MaxBodyBytes int64
	// ReadTimeout bounds reading the body of a REST or Management API
	// request (408 past it), and WriteTimeout writing each answer; 0 means
	// DefaultReadTimeout and DefaultWriteTimeout. The gateway sets them on
	// the connection itself (http.ResponseController), so they hold
	// whatever the embedding http.Server's own timeouts are.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxConnections caps the gateway's open WebSockets: a handshake past
	// it gets 503 (unavailable) before the authorizer and $connect run, so
	// that a flood of connections costs neither. 0 means no limit.
	MaxConnections int
	// MaxConcurrentRequests caps the REST functions that run at once (a
	// request's authorizer, then its integration), as Lambda's concurrency
	// limit does: a function past it is not run, and its request gets 503
	// (unavailable) with Retry-After, so that a flood of requests cannot
	// queue without end on the store. A place is held only while a
	// function runs, not while its client sends the body. 0 means no
	// limit.
	MaxConcurrentRequests int
	// MaxBufferedBodyBytes caps the bytes of REST request bodies the
	// gateway holds at once, whatever the number of connections: a
	// request reserves its Content-Length (MaxBodyBytes when chunked)
	// after its authorizer and before its body is read, and holds it
	// until its answer is written; one that finds no room gets 503
	// (unavailable) with Retry-After, and its body is not read. The
	// Management API's bodies have a budget of the same size of their own,
	// so that REST bodies, whose functions post, cannot starve their
	// posts. 0 means no limit; a value under MaxBodyBytes is raised to it.
	MaxBufferedBodyBytes int64
	// MaxConnectionsPerIP caps the open WebSockets of one source address
	// (an IPv6 address's /64): a handshake past it gets 429 (rate_limited)
	// before the authorizer and $connect run, so that one client cannot
	// take every place of MaxConnections. 0 means no limit. Behind a
	// reverse proxy every client has the proxy's address: leave it off.
	MaxConnectionsPerIP int
	// ManagementCredentials are the only credentials whose Signature
	// Version 4 the /@connections endpoint accepts; the gateway's owner
	// hands them to the functions it runs. New generates random ones when
	// they are empty.
	ManagementCredentials aws.Credentials
	// Connections are what the Management API reaches. Nil: the Hub's own;
	// a node of a cluster gives its own, which reach every node's.
	Connections Connections
	// ConnectionIDPrefix begins every connection id the gateway mints
	// (letters and digits, fewer than 15): a cluster node's tag, by which
	// the other nodes route a post to one of its connections. The ids
	// keep API Gateway's shape whatever it is.
	ConnectionIDPrefix string
	// Authorizer, if set, is a Lambda REQUEST authorizer run before
	// $connect and before every REST method except OPTIONS preflights, as
	// API Gateway runs one (see authorizer.go).
	Authorizer AuthorizerFunc
	// Fallback serves every path the APIs do not (the web page); its
	// plain-text errors (net/http's NotFound, a file server's) are answered
	// as JSON errors. Without it every such path is an unknown route: 404
	// not_found, as API Gateway answers it.
	Fallback http.Handler
	Logger   *slog.Logger

	// integrationTimeout is API Gateway's 29 s (integrationTimeout) unless
	// a test of this package shortens it.
	integrationTimeout time.Duration
}

// Gateway is the local API Gateway. It is an http.Handler.
type Gateway struct {
	cfg Config
	hub *hub.Hub
	// limits are API Gateway's quotas on each WebSocket, which the hub
	// enforces.
	limits hub.Limits
	// panics counts the panics the gateway recovered from (recover.go);
	// the hub counts its own.
	panics *panics.Counts
	mux    *http.ServeMux
	// root is mux behind httperror.Rooted: a CONNECT's 404 is JSON too.
	root http.Handler
	// authorizers holds each connection's authorizer output (connection id
	// → requestContext.authorizer), which API Gateway gives every route.
	authorizers sync.Map
	// flights holds each connection's frames in flight (connection id →
	// *flights, flights.go).
	flights sync.Map
	// extraFrames are the slots of the frames in flight beyond one a
	// connection, the whole gateway's (flights.go).
	extraFrames chan struct{}
	// admission counts the WebSockets admitted against MaxConnections and
	// MaxConnectionsPerIP, from the handshake until their $disconnect has
	// run (admission.go).
	admission admission
	inFlight  atomic.Int64 // REST requests whose functions run (startInvocation)
	// restBodies and managementBodies bound the request bodies held at
	// once (Config.MaxBufferedBodyBytes, bodybudget.go).
	restBodies, managementBodies budget.Bytes
	// routes are the route keys a frame's action can select, each with
	// the frame of a mock route (Config.MockRoutes, made once: every answer
	// shares its route's bytes, which nothing writes to), or none for a
	// function's route. Their keys are returned, not copies of the
	// action's bytes: selecting a route allocates nothing.
	routes map[string]selectedRoute
	// answers are the REST API's gateway responses, made once from
	// Config.GatewayResponses and AWS's defaults.
	answers map[string]gatewayAnswer
}

// New returns a gateway for cfg.
func New(cfg Config) *Gateway {
	if cfg.WebSocketPath == "" {
		cfg.WebSocketPath = "/ws"
	}
	if cfg.Stage == "" {
		cfg.Stage = "dev"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConnectionDuration <= 0 {
		cfg.MaxConnectionDuration = DefaultMaxConnection
	}
	if cfg.integrationTimeout <= 0 {
		cfg.integrationTimeout = integrationTimeout
	}
	if cfg.MessageTimeout <= 0 {
		cfg.MessageTimeout = DefaultMessageTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ManagementCredentials.AccessKeyID == "" || cfg.ManagementCredentials.SecretAccessKey == "" {
		cfg.ManagementCredentials = NewManagementCredentials()
	}
	if cfg.MaxBufferedBodyBytes > 0 && cfg.MaxBufferedBodyBytes < cfg.MaxBodyBytes {
		// Else a chunked body, which reserves MaxBodyBytes, never fits.
		cfg.MaxBufferedBodyBytes = cfg.MaxBodyBytes
	}
	if cfg.Hub == nil {
		cfg.Hub = hub.New(cfg.Logger)
	}
	if cfg.Connections == nil {
		cfg.Connections = hubConnections{cfg.Hub}
	}
	g := &Gateway{
		cfg: cfg, hub: cfg.Hub, panics: panics.New(cfg.Logger, panicSites...), mux: http.NewServeMux(),
		extraFrames: make(chan struct{}, maxExtraFramesInFlight),
		routes:      make(map[string]selectedRoute, len(cfg.MockRoutes)+len(cfg.WebSocket)), answers: gatewayAnswers(cfg.GatewayResponses),
		limits: hub.Limits{
			IdleTimeout: cfg.IdleTimeout, MaxDuration: cfg.MaxConnectionDuration,
			MaxFrameBytes: MaxFrameBytes, MaxMessageBytes: MaxPayloadBytes, MessageTimeout: cfg.MessageTimeout,
			FrameRate: cfg.FrameRate, FrameBurst: cfg.FrameBurst,
		},
	}
	g.restBodies.Limit = cfg.MaxBufferedBodyBytes
	if limit := cfg.MaxBufferedBodyBytes; limit > 0 {
		g.managementBodies.Limit = max(limit, MaxPayloadBytes) // room for one chunked body there too
	}
	for key, frame := range cfg.MockRoutes {
		if _, ok := cfg.WebSocket[key]; ok {
			panic("gateway: route " + key + " is both a mock route and a function's")
		}
		g.routes[key] = selectedRoute{key, []byte(frame)}
	}
	for key := range cfg.WebSocket {
		g.routes[key] = selectedRoute{key: key}
	}
	g.mux.HandleFunc(cfg.WebSocketPath, g.serveWebSocket)
	for _, path := range g.managementPaths() {
		g.mux.HandleFunc(path, g.serveManagement)
	}
	for _, resource := range g.resources() {
		for _, path := range restPaths(resource) {
			g.mux.HandleFunc(path, g.serveREST)
		}
	}
	fallback := cfg.Fallback
	if fallback == nil {
		fallback = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			g.writeGatewayResponse(w, ResponseMissingAuthenticationToken)
		})
	}
	g.mux.Handle("/", httperror.JSON(fallback))
	g.root = httperror.Rooted(g.mux)
	return g
}

// ManagementCredentials returns the credentials that requests to the
// /@connections endpoint must be signed with.
func (g *Gateway) ManagementCredentials() aws.Credentials { return g.cfg.ManagementCredentials }

// ServeHTTP serves both APIs and the fallback; a panic answers its one
// request with a 500 (recover.go).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.serveRecovering(g.root, w, r) }

// Close closes every WebSocket with 1001 (going away), as API Gateway does
// on a deployment, and waits until their $disconnect routes have run: the
// hub's Shutdown.
func (g *Gateway) Close() { g.hub.Shutdown() }

// Panics yields how many panics the gateway recovered from, by where they
// happened: "http" (a request: REST, a handshake, the Management API, the
// fallback) and "integration" (a route's function). Every site is
// yielded, those without a panic too; the hub counts the connections'.
func (g *Gateway) Panics() iter.Seq2[string, uint64] { return g.panics.All() }

// managementPath is the Management API's path below its base.
const managementPath = "/@connections/{id}"

// managementPaths are the Management API's paths: at the root and under
// the stage.
func (g *Gateway) managementPaths() []string {
	return []string{managementPath, "/" + g.cfg.Stage + managementPath}
}

// restPaths are a REST resource's paths, with and without a trailing slash.
func restPaths(resource string) []string { return []string{resource, resource + "/"} }

// managementMethods are the Management API's operations: PostToConnection,
// GetConnection, DeleteConnection.
var managementMethods = []string{http.MethodPost, http.MethodGet, http.MethodDelete}

// Routes lists the requests the gateway answers other than with "no such
// route", as "METHOD /path" ({id} stands for a connection id): each REST
// method and the CORS preflight of each resource, with and without a
// trailing slash; the WebSocket handshake; the Management API at the root
// and under the stage. docs/openapi.yaml documents every one
// (cmd/chatapp's TestOpenAPIRoutes).
func (g *Gateway) Routes() []string {
	var out []string
	for _, resource := range g.resources() {
		for _, path := range restPaths(resource) {
			for _, method := range append(g.methods(resource), http.MethodOptions) {
				out = append(out, method+" "+path)
			}
		}
	}
	out = append(out, http.MethodGet+" "+g.cfg.WebSocketPath)
	for _, path := range g.managementPaths() {
		for _, method := range managementMethods {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// resources lists the REST resources configured, without methods.
func (g *Gateway) resources() []string {
	seen := map[string]bool{}
	var out []string
	for key := range g.cfg.REST {
		_, resource, _ := strings.Cut(key, " ")
		if !seen[resource] {
			seen[resource] = true
			out = append(out, resource)
		}
	}
	return out
}
