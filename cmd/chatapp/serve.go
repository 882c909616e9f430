package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
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
	Logger                *slog.Logger
}

// Server is the whole system on one machine.
type Server struct {
	URL     string // http://host:port
	db      *sqlite.DB
	gateway *gateway.Gateway
	http    *http.Server
	served  chan error
}

// StartServer opens the store, wires the handlers into the gateway and
// starts listening. Close stops it.
func StartServer(ctx context.Context, cfg ServeConfig) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	// No socket outlives the process that held it: rows left by a previous
	// run are stale.
	if err := db.DeleteAllConnections(ctx); err != nil {
		db.Close()
		return nil, err
	}

	h := &handler.Handler{Messages: db, Logger: cfg.Logger}
	gw := gateway.New(gateway.Config{
		REST: map[string]gateway.RESTFunc{
			"GET /chat":       h.GetMessages,
			"PUT /chat":       h.PutMessage,
			"GET /chat/users": h.GetUsers,
		},
		WebSocket: map[string]gateway.WebSocketFunc{
			"$connect":    h.Connect,
			"$disconnect": h.Disconnect,
			"sendmessage": h.SendMessage,
			"$default":    h.Default,
		},
		Stage:                 cfg.Stage,
		IdleTimeout:           cfg.IdleTimeout,
		MaxConnectionDuration: cfg.MaxConnectionDuration,
		Fallback:              web.Handler(),
		Logger:                cfg.Logger,
	})
	h.Notifier = gw.Hub()
	h.Connections = gw.Hub().TrackConnections(db)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Server{
		URL:     "http://" + ln.Addr().String(),
		db:      db,
		gateway: gw,
		http:    &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second},
		served:  make(chan error, 1),
	}
	go func() { s.served <- s.http.Serve(ln) }()
	return s, nil
}

// Close stops accepting, closes every WebSocket with 1001 and runs its
// $disconnect, then closes the store.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.gateway.Close()
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return errors.Join(err, s.db.Close())
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
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	s, err := StartServer(ctx, cfg)
	if err != nil {
		return err
	}
	ws := "ws" + s.URL[len("http"):]
	fmt.Fprintf(stdout, `chatapp is serving on %[1]s
  web chat        %[1]s/
  REST API        %[1]s/chat  (GET history, PUT send, GET /chat/users)
  WebSocket API   %[2]s/ws?room_id=ROOM&user_id=USER
  management API  %[1]s/@connections/{connection_id}  (loopback only)
  data            %[3]s
Press Ctrl-C to stop.
`, s.URL, ws, filepath.Join(cfg.DataDir, sqlite.FileName))

	select {
	case <-ctx.Done():
	case err := <-s.served:
		return errors.Join(err, s.db.Close())
	}
	fmt.Fprintln(stdout, "chatapp: stopping")
	return s.Close()
}
