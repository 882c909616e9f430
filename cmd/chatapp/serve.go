package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatapp-dev/chatapp/apigw"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/metrics"
	"github.com/chatapp-dev/chatapp/nats"
	"github.com/chatapp-dev/chatapp/postgres"
	"github.com/chatapp-dev/chatapp/ratelimit"
	"github.com/chatapp-dev/chatapp/sqlite"
	"github.com/chatapp-dev/chatapp/web"
)

// ServeConfig is what `chatapp serve` is started with.
type ServeConfig struct {
	Addr                  string
	DataDir               string
	Stage                 string
	IdleTimeout           time.Duration
	MaxConnectionDuration time.Duration
	// Store is "sqlite" (the default), "dynamodb" or "postgres".
	Store    string
	DynamoDB DynamoDBConfig
	// PostgresURL is the database of the postgres store (a URL or
	// key=value string, as libpq takes them).
	PostgresURL string
	// Broker, when set, is the NATS server (nats://host:4222) that makes
	// this process a node of a cluster sharing PostgresURL's database.
	Broker string
	// Functions is "inprocess" (the default) or "rie": each function in
	// the Lambda runtime interface emulator, invoked through the Invoke API.
	Functions string
	RIE       RIEConfig
	Limits    Limits
	// Auth, when set, requires a token of every client (see AuthConfig).
	Auth   AuthConfig
	Logger *slog.Logger
	// FunctionLogs receives the output of functions run under the emulator.
	FunctionLogs io.Writer
	// SweepInterval is how often connection rows with no socket in this
	// gateway are deleted, and SweepGrace the age under which they are
	// spared; 0 means hub.DefaultSweepInterval and DefaultSweepGrace.
	SweepInterval time.Duration
	SweepGrace    time.Duration
	// Heartbeat is how often a node of a cluster writes its row in the
	// nodes table, sweeps dead nodes' rows and fills rooms behind the
	// store; 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// Metrics serves Prometheus metrics at /metrics (`serve` turns it on by
	// default); Pprof serves net/http/pprof at /debug/pprof/ to loopback
	// callers. /healthz is always served.
	Metrics bool
	Pprof   bool
	// HTTP bounds the time of every request and connection, on every
	// route; a zero field is its DefaultHTTPLimits value.
	HTTP HTTPLimits
}

// HTTPLimits bound how long one client may hold a connection's goroutine
// on any route: the APIs, the web page, /metrics, /healthz, pprof.
// WebSockets live by their own idle timeout and maximum duration once
// upgraded: the gateway clears these deadlines from their connections.
type HTTPLimits struct {
	// ReadHeaderTimeout bounds the request line and headers, ReadTimeout
	// the whole request, body included (the REST API and the Management
	// API also bound the body's own time with it).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// WriteTimeout bounds writing the answer, from the end of the
	// request's headers for the server (so it must outlast the 29 s a
	// function may take before a handshake's answer) and from the start
	// of each answer for the REST API.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for
	// this long.
	IdleTimeout time.Duration
}

// DefaultHTTPLimits are `chatapp serve`'s.
var DefaultHTTPLimits = HTTPLimits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       gateway.DefaultReadTimeout,
	WriteTimeout:      time.Minute,
	IdleTimeout:       time.Minute,
}

// maxHeaderBytes bounds a request's line and headers. API Gateway's REST
// quota is 10 KB; 32 KiB leaves room for large tokens (net/http allows
// 4 KiB more). A request past it gets 431.
const maxHeaderBytes = 32 << 10

// withDefaults fills the zero fields of l from DefaultHTTPLimits.
func (l HTTPLimits) withDefaults() HTTPLimits {
	d := DefaultHTTPLimits
	return HTTPLimits{
		ReadHeaderTimeout: cmp.Or(l.ReadHeaderTimeout, d.ReadHeaderTimeout),
		ReadTimeout:       cmp.Or(l.ReadTimeout, d.ReadTimeout),
		WriteTimeout:      cmp.Or(l.WriteTimeout, d.WriteTimeout),
		IdleTimeout:       cmp.Or(l.IdleTimeout, d.IdleTimeout),
	}
}

// Limits bound what one user, connection or address, or all of them, may
// do; a zero field is no limit, but for Connections.
type Limits struct {
	SendRate           float64 // sends a second per user, REST and WebSocket together
	SendBurst          int
	FrameRate          float64 // inbound WebSocket frames a second per connection
	FrameBurst         int
	ConnectionsPerUser int
	// Connections caps the open WebSockets in the process. 0 is as many
	// as the file descriptor limit leaves once other requests have their
	// share, and at most 100,000 (listen.go); a larger cap is lowered to
	// that, with a warning.
	Connections int
	// ConnectionsPerIP caps the open WebSockets of one source address
	// (an IPv6 /64).
	ConnectionsPerIP int
	// ConcurrentRequests is how many REST requests may run their functions
	// at once: a reader of a 1 MiB history page holds about 2 MiB while it
	// runs, so 256 of them bound that memory near 512 MiB.
	ConcurrentRequests int
	// BufferedBodyBytes is how many bytes of request bodies the gateway
	// holds at once, whatever the number of connections (a body reserves
	// its Content-Length, or the most a body may be when chunked, from
	// before it is read until its answer is written); the Management API's
	// bodies have as much again. Places under ConcurrentRequests are not
	// held while bodies arrive, so this, not they, bounds their memory.
	BufferedBodyBytes int64
}

// DefaultLimits are `chatapp serve`'s: far above a person chatting, far below
// a script flooding. `serve` turns ConnectionsPerIP off when it listens on a
// loopback address: benchmarks and local development open tens of
// thousands of connections from 127.0.0.1, and behind a reverse proxy on
// the same host every client is loopback.
var DefaultLimits = Limits{SendRate: 20, SendBurst: 40, FrameRate: 50, FrameBurst: 100, ConnectionsPerUser: 20, ConnectionsPerIP: 1000, ConcurrentRequests: 256, BufferedBodyBytes: DefaultBufferedBodyBytes}

// DefaultBufferedBodyBytes is 32 MiB: 256 bodies of the largest the
// functions take (handler.MaxBodyBytes, 128 KiB), far more of the small
// bodies a chat sends.
const DefaultBufferedBodyBytes = 256 * handler.MaxBodyBytes

// DynamoDBConfig says where the DynamoDB store is.
type DynamoDBConfig struct {
	Endpoint         string // empty: AWS, from the usual environment
	MessagesTable    string
	ConnectionsTable string
	CreateTables     bool
}

// RIEConfig names the emulator and the bootstrap binary it runs.
type RIEConfig struct {
	Binary    string
	Bootstrap string
}

// Server is the whole system on one machine.
type Server struct {
	URL          string // http://host:port
	bounds       connBounds
	maxSockets   int // the WebSocket cap in force
	store        io.Closer
	integrations *integrations
	hub          *hub.Hub   // the live WebSockets: the functions' notifier in process
	node         *nats.Node // with --broker: the hub as a node of the cluster
	gateway      *gateway.Gateway
	metrics      *metrics.Metrics // nil without ServeConfig.Metrics
	handler      http.Handler     // the gateway and the operator's endpoints
	http         *http.Server
	served       chan error
	stopSweeper  func()
}

// StartServer opens the store, wires the functions into the gateway and
// starts listening. Close stops it.
func StartServer(ctx context.Context, cfg ServeConfig) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DynamoDB.MessagesTable == "" {
		cfg.DynamoDB.MessagesTable = dynamodb.DefaultMessagesTable
	}
	if cfg.DynamoDB.ConnectionsTable == "" {
		cfg.DynamoDB.ConnectionsTable = dynamodb.DefaultConnectionsTable
	}
	cfg.HTTP = cfg.HTTP.withDefaults()
	if cfg.Functions == "rie" && cfg.Store != "dynamodb" {
		return nil, errors.New("--functions rie needs --store dynamodb: the functions run in other processes")
	}
	if cfg.Broker != "" && cfg.Store != "postgres" {
		return nil, errors.New("--broker needs --store postgres: the nodes of a cluster share one database (sqlite is one process's)")
	}
	files, err := openFileLimit()
	if err != nil {
		return nil, fmt.Errorf("reading the file descriptor limit: %w", err)
	}
	bounds, err := boundsFor(files)
	if err != nil {
		return nil, err
	}
	cfg.Limits.Connections = bounds.webSocketCap(cfg.Limits.Connections, cfg.Logger)
	if n := cfg.Limits.ConnectionsPerIP; n > cfg.Limits.Connections/4 {
		// Nor may one address take every WebSocket.
		cfg.Limits.ConnectionsPerIP = max(cfg.Limits.Connections/4, 1)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), bounds: bounds, maxSockets: cfg.Limits.Connections, served: make(chan error, 1)}
	if err := s.wire(ctx, cfg); err != nil {
		ln.Close()
		return nil, err
	}
	bounded := newBoundedListener(ln.(*net.TCPListener), bounds.listener, cfg.Logger)
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	if n := cfg.Limits.ConnectionsPerIP; n > 0 {
		bounded.limitSources(sourceShare(n, bounds.listener))
	}
	bounded.onPressure(func(on bool) { s.http.SetKeepAlivesEnabled(!on) })
	go func() { s.served <- s.http.Serve(bounded) }()
	return s, nil
}

// sourceHTTPShare is how many connections one source address may hold
// beside its --max-connections-per-ip WebSockets.
const sourceHTTPShare = 64

// sourceShare is the most connections of the listener's bound one source
// address may hold: its WebSockets and some for REST, and at most a
// quarter of the bound whatever the flag, so that on a host of few
// descriptors one address cannot take them all.
func sourceShare(perIP, listener int) int {
	return min(perIP+sourceHTTPShare, listener/4)
}

// wire opens the store and builds, in this order, the hub, the functions,
// and the gateway that runs them and hands its WebSockets to the hub.
func (s *Server) wire(ctx context.Context, cfg ServeConfig) error {
	db, closer, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	s.store = closer
	if cfg.Metrics {
		s.metrics = metrics.New()
	}
	s.hub = hub.New(cfg.Logger)
	notifier, rooms, err := s.joinCluster(ctx, cfg, db)
	if err != nil {
		closer.Close()
		return err
	}
	if s.node != nil {
		closer = closeAll{s.node, closer}
		s.store = closer
	}
	h := &handler.Handler{
		Messages:    s.metrics.MessageStore(db),
		Connections: s.metrics.ConnectionStore(db),
		// In process, pushes go straight to the hub's sockets (or the
		// cluster's, through the node), and the hub learns each
		// connection's room as $connect stores it. Out of process
		// (--functions rie) the functions push through the Management
		// API, and the hub learns no rooms.
		Notifier:              s.metrics.Notifier(notifier),
		Rooms:                 rooms,
		Logger:                cfg.Logger,
		MaxConnectionsPerUser: cfg.Limits.ConnectionsPerUser,
	}
	if cfg.Limits.SendRate > 0 {
		h.SendLimiter = ratelimit.New(cfg.Limits.SendRate, cfg.Limits.SendBurst)
	}
	verifier, err := setupAuth(ctx, cfg, h)
	if err != nil {
		closer.Close()
		return err
	}
	// Functions out of process sign their pushes to /@connections with these.
	managementCredentials := gateway.NewManagementCredentials()
	switch cfg.Functions {
	case "", "inprocess":
		s.integrations = inProcess(h)
	case "rie":
		logs := cfg.FunctionLogs
		if logs == nil {
			logs = io.Discard
		}
		if s.integrations, err = underRIE(ctx, cfg, s.URL, managementCredentials, logs); err != nil {
			closer.Close()
			return err
		}
	default:
		closer.Close()
		return fmt.Errorf("unknown --functions %q: want inprocess or rie", cfg.Functions)
	}
	if verifier != nil {
		s.integrations.closers = append(s.integrations.closers, verifier)
	}
	s.integrations.instrument(s.metrics)
	s.gateway = gateway.New(gateway.Config{
		Hub:                   s.hub,
		REST:                  s.integrations.rest,
		WebSocket:             s.integrations.websocket,
		MockRoutes:            awslambda.WebSocketMockRoutes, // the keepalive, answered without a function as on AWS
		GatewayResponses:      restGatewayResponses(),        // the REST API's own answers, as template.yaml gives them
		Stage:                 cfg.Stage,
		IdleTimeout:           cfg.IdleTimeout,
		MaxConnectionDuration: cfg.MaxConnectionDuration,
		FrameRate:             cfg.Limits.FrameRate,
		FrameBurst:            cfg.Limits.FrameBurst,
		MaxConnections:        cfg.Limits.Connections,
		MaxConcurrentRequests: cfg.Limits.ConcurrentRequests,
		MaxBufferedBodyBytes:  cfg.Limits.BufferedBodyBytes,
		MaxConnectionsPerIP:   cfg.Limits.ConnectionsPerIP,
		// The functions refuse a larger body anyway: the gateway need
		// not read API Gateway's 10 MB to learn it.
		MaxBodyBytes:          handler.MaxBodyBytes,
		ReadTimeout:           cfg.HTTP.ReadTimeout,
		WriteTimeout:          cfg.HTTP.WriteTimeout,
		Authorizer:            s.integrations.authorizer,
		ManagementCredentials: managementCredentials,
		Connections:           s.managementConnections(),
		ConnectionIDPrefix:    s.nodeTag(),
		Fallback:              web.Handler(),
		Logger:                cfg.Logger,
	})
	// The sweep announces each leave as the functions do: in process
	// through the hub, which knows every room; out of process through the
	// Management API, reading the room from the table.
	announcer := h.Notifier
	if cfg.Functions == "rie" {
		announcer = &apigw.Notifier{Connections: db, AWS: managementConfig(managementCredentials), Endpoint: s.URL, Logger: cfg.Logger}
	}
	s.metrics.WatchHub(s.hub)
	s.metrics.WatchPanics(s.gateway, s.hub)
	s.handler = opsRoutes(s.gateway, db, s.integrations.Err, s.metrics, cfg.Pprof, cfg.Logger)
	s.startSweeper(ctx, cfg, db, announcer)
	if s.node != nil {
		s.store = closeAll{s.startHeartbeat(cfg, db.(nodeStore), announcer), s.store}
	}
	return nil
}

// Close stops accepting, closes every WebSocket with 1001 and runs its
// $disconnect, then stops the functions and closes the store.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.stopSweeper()
	err := s.http.Shutdown(ctx)
	s.gateway.Close()
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return errors.Join(err, s.integrations.Close(), s.store.Close())
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := ServeConfig{}
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.DataDir, "data", "./chatapp-data", "directory of the embedded database")
	fs.StringVar(&cfg.Stage, "stage", "dev", "API Gateway stage reported in events")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", gateway.DefaultIdleTimeout, "close a WebSocket after this long without a frame from its client")
	fs.DurationVar(&cfg.MaxConnectionDuration, "max-connection", gateway.DefaultMaxConnection, "close a WebSocket after this long")
	fs.StringVar(&cfg.Store, "store", "sqlite", "store: sqlite (embedded, under --data), dynamodb or postgres")
	fs.StringVar(&cfg.DynamoDB.Endpoint, "dynamodb-endpoint", os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), "DynamoDB endpoint, e.g. DynamoDB Local's http://127.0.0.1:8000 (default: AWS, from the environment)")
	fs.StringVar(&cfg.DynamoDB.MessagesTable, "messages-table", envOr("CHATAPP_MESSAGES_TABLE", dynamodb.DefaultMessagesTable), "DynamoDB messages table")
	fs.StringVar(&cfg.DynamoDB.ConnectionsTable, "connections-table", envOr("CHATAPP_CONNECTIONS_TABLE", dynamodb.DefaultConnectionsTable), "DynamoDB connections table")
	fs.BoolVar(&cfg.DynamoDB.CreateTables, "create-tables", false, "create the DynamoDB tables if missing (development)")
	// No default from the environment in the flag itself: -help prints
	// defaults, and the URL may hold a password.
	fs.StringVar(&cfg.PostgresURL, "postgres-url", "", "the database of --store postgres, e.g. postgres://chatapp@db:5432/chatapp (default $CHATAPP_POSTGRES_URL; the variable keeps a password out of ps)")
	fs.StringVar(&cfg.Broker, "broker", "", "the NATS server of a cluster of serve nodes on one --store postgres database, e.g. nats://127.0.0.1:4222 (default $CHATAPP_BROKER, which keeps a password out of ps; none: one process)")
	fs.StringVar(&cfg.Functions, "functions", "inprocess", "run the functions inprocess, or under the Lambda runtime interface emulator (rie)")
	fs.StringVar(&cfg.RIE.Binary, "rie", "aws-lambda-rie", "the aws-lambda-rie binary, for --functions rie")
	fs.StringVar(&cfg.RIE.Bootstrap, "bootstrap", "bin/local/bootstrap", "the functions' bootstrap binary, for --functions rie (make bootstrap-local)")
	fs.DurationVar(&cfg.SweepInterval, "sweep-interval", hub.DefaultSweepInterval, "delete connection rows whose socket is gone this often (and at start)")
	fs.DurationVar(&cfg.SweepGrace, "sweep-grace", hub.DefaultSweepGrace, "spare connection rows younger than this from the sweep")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", DefaultHeartbeat, "with --broker: write this node's row in the nodes table this often; a node not seen for 3 of them and --sweep-grace is dead, and the others sweep its rows")
	cfg.Limits = DefaultLimits
	fs.Float64Var(&cfg.Limits.SendRate, "send-rate", cfg.Limits.SendRate, "sends a second per user (0: no limit)")
	fs.IntVar(&cfg.Limits.SendBurst, "send-burst", cfg.Limits.SendBurst, "burst of sends per user")
	fs.Float64Var(&cfg.Limits.FrameRate, "frame-rate", cfg.Limits.FrameRate, "WebSocket frames a second per connection (0: no limit)")
	fs.IntVar(&cfg.Limits.FrameBurst, "frame-burst", cfg.Limits.FrameBurst, "burst of WebSocket frames per connection")
	fs.IntVar(&cfg.Limits.ConnectionsPerUser, "max-connections-per-user", cfg.Limits.ConnectionsPerUser, "open WebSocket connections per user (0: no limit)")
	fs.IntVar(&cfg.Limits.Connections, "max-connections", cfg.Limits.Connections, "open WebSocket connections in the process (0: as many as the file descriptor limit allows, at most 100000)")
	fs.IntVar(&cfg.Limits.ConnectionsPerIP, "max-connections-per-ip", cfg.Limits.ConnectionsPerIP, "open WebSocket connections per source address (0: no limit; default off when --addr is loopback)")
	fs.IntVar(&cfg.Limits.ConcurrentRequests, "max-concurrent-requests", cfg.Limits.ConcurrentRequests, "REST requests running at once; past it 503 with Retry-After (0: no limit)")
	fs.Int64Var(&cfg.Limits.BufferedBodyBytes, "max-buffered-body-bytes", cfg.Limits.BufferedBodyBytes, "bytes of REST request bodies held at once; past it 503 with Retry-After (0: no limit)")
	authFlags(fs, &cfg.Auth)
	fs.BoolVar(&cfg.Metrics, "metrics", true, "serve Prometheus metrics at /metrics (--metrics=false: off)")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve net/http/pprof at /debug/pprof/ to loopback callers")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !flagSet(fs, "max-connections-per-ip") && isLoopback(cfg.Addr) {
		// Every client of a loopback address is local: a benchmark, a
		// developer, or a reverse proxy that gives all of them its address.
		cfg.Limits.ConnectionsPerIP = 0
	}
	cfg.Auth.fill()
	if cfg.PostgresURL == "" {
		cfg.PostgresURL = os.Getenv("CHATAPP_POSTGRES_URL")
	}
	if cfg.Broker == "" {
		cfg.Broker = os.Getenv("CHATAPP_BROKER")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	tuneGC()
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.FunctionLogs = stderr

	s, err := StartServer(ctx, cfg)
	if err != nil {
		return err
	}
	ws := "ws" + s.URL[len("http"):]
	fmt.Fprintf(stdout, `chatapp is serving on %[1]s
  web chat        %[1]s/
  REST API        %[1]s/chat  (GET history, PUT send, GET /chat/users)
  WebSocket API   %[2]s/ws?room_id=ROOM&user_id=USER
  management API  %[1]s/@connections/{connection_id}  (loopback only, SigV4-signed by the functions)
  health          %[1]s/healthz
%[5]s  store           %[3]s
%[7]s  auth            %[4]s
  connections     %[6]s
Press Ctrl-C to stop.
`, s.URL, ws, describeStore(cfg), cfg.Auth.describe(), describeOps(cfg, s.URL), s.describeConnections(cfg), s.describeCluster(cfg))

	select {
	case <-ctx.Done():
	case err := <-s.served:
		s.stopSweeper()
		return errors.Join(err, s.integrations.Close(), s.store.Close())
	}
	fmt.Fprintln(stdout, "chatapp: stopping")
	return s.Close()
}

// describeOps lists the optional operator's endpoints, one banner line each.
func describeOps(cfg ServeConfig, base string) string {
	var lines string
	if cfg.Metrics {
		lines += fmt.Sprintf("  metrics         %s/metrics  (Prometheus)\n", base)
	}
	if cfg.Pprof {
		lines += fmt.Sprintf("  pprof           %s/debug/pprof/  (loopback only)\n", base)
	}
	return lines
}

// describeConnections names the connection bounds in force.
func (s *Server) describeConnections(cfg ServeConfig) string {
	perIP := "no limit per address"
	if n := cfg.Limits.ConnectionsPerIP; n > 0 {
		perIP = fmt.Sprintf("%d per address", n)
	}
	return fmt.Sprintf("%d WebSockets (%s), %d in all (file descriptor limit %d)", s.maxSockets, perIP, s.bounds.listener, s.bounds.files)
}

// flagSet reports whether the command line gave the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func describeStore(cfg ServeConfig) string {
	switch cfg.Store {
	case "dynamodb":
		where := cfg.DynamoDB.Endpoint
		if where == "" {
			where = "AWS"
		}
		return fmt.Sprintf("DynamoDB at %s, tables %s and %s", where, cfg.DynamoDB.MessagesTable, cfg.DynamoDB.ConnectionsTable)
	case "postgres":
		return "PostgreSQL " + postgres.Describe(cfg.PostgresURL)
	}
	return filepath.Join(cfg.DataDir, sqlite.FileName)
}

// managementConfig signs the serve process's own pushes to its
// /@connections endpoint with the gateway's credentials, as the functions
// under the emulator sign theirs.
func managementConfig(creds aws.Credentials) aws.Config {
	return aws.Config{Region: envOr("AWS_REGION", "us-east-1"), Credentials: credentials.StaticCredentialsProvider{Value: creds}}
}

// restGatewayResponses is awslambda.RESTGatewayResponses, template.yaml's
// gateway responses, for the local gateway.
func restGatewayResponses() map[string]gateway.GatewayResponse {
	out := make(map[string]gateway.GatewayResponse, len(awslambda.RESTGatewayResponses))
	for typ, r := range awslambda.RESTGatewayResponses {
		out[typ] = gateway.GatewayResponse(r)
	}
	return out
}
