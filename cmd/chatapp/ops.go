package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/httperror"
	"github.com/chatapp-dev/chatapp/metrics"
)

// healthTimeout bounds the store's answer to a health check: a load
// balancer's probe wants a prompt no rather than a late yes.
const healthTimeout = 2 * time.Second

// healthRoom is the room a health check reads one message of: an indexed
// read of one row at most, whatever the room holds.
const healthRoom = "_healthz"

// The operator's endpoints. docs/openapi.yaml documents /healthz and
// /metrics (TestOpenAPIRoutes); pprof is a diagnostic, not the API.
const (
	healthPath  = "/healthz"
	metricsPath = "/metrics"
	pprofPath   = "/debug/pprof/"
)

// opsRoutes serves the operator's endpoints beside the gateway: /healthz
// always, /metrics with metrics (not nil), /debug/pprof/ with pprof. Their
// errors are JSON as the APIs' are: promhttp's and pprof's plain-text
// errors (a failed gather, an unknown profile) are converted, and so is
// the mux's own 404 of a path that does not start with "/" (CONNECT).
func opsRoutes(api http.Handler, messages chatapp.MessageStore, functions func() error, m *metrics.Metrics, withPprof bool, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle(healthPath, healthHandler(messages, functions, logger))
	if m != nil {
		mux.Handle(metricsPath, httperror.JSON(m.Handler()))
	}
	if withPprof {
		mux.Handle(pprofPath, loopbackOnly(httperror.JSON(pprofHandler())))
	}
	return httperror.Rooted(mux)
}

// healthHandler answers 200 {"status":"ok"} when the store answers a cheap
// read in time and functions (nil: none to check) reports every function
// able to run, and 503 with the JSON error otherwise: under --functions rie
// a function's emulator that exited is down until its restart.
func healthHandler(messages chatapp.MessageStore, functions func() error, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		w.Header().Set("Cache-Control", "no-store")
		if functions != nil {
			if err := functions(); err != nil {
				logger.Warn("health check failed", "err", err)
				httperror.Write(w, chatapp.Errorf(chatapp.EUNAVAILABLE, "a function is not running"))
				return
			}
		}
		if _, err := messages.FindMessages(ctx, chatapp.MessageFilter{RoomID: healthRoom, Limit: 1}); err != nil {
			logger.Warn("health check failed", "err", err)
			httperror.Write(w, chatapp.Errorf(chatapp.EUNAVAILABLE, "the store does not answer"))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte(`{"status":"ok"}`))
	})
}

// pprofHandler serves net/http/pprof under /debug/pprof/. The handlers are
// mounted one by one: the package's own registration is on
// http.DefaultServeMux, which this server does not serve.
//
// The command line is left out (404): it holds --auth-secret when the
// secret is given as a flag, and a profile must not hand it out.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", func(w http.ResponseWriter, _ *http.Request) {
		httperror.Write(w, chatapp.Errorf(chatapp.ENOTFOUND, "the command line is not served: it may hold secrets"))
	})
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return readOnly(capSeconds(mux))
}

// readOnly refuses methods other than GET and HEAD (405): pprof reads its
// parameters with FormValue, which takes a POST body's first, past
// capSeconds, which looks at the query.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httperror.Write(w, chatapp.Errorf(chatapp.ENOTALLOWED, "pprof answers GET and HEAD only"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxProfileSeconds bounds ?seconds= of any profile (a CPU profile, a
// trace, and the deltas of heap, allocs, block, mutex and goroutine), which
// net/http/pprof would honour past the server's write timeout.
const maxProfileSeconds = 30

// capSeconds lowers a request's ?seconds= to maxProfileSeconds.
func capSeconds(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if s, err := strconv.ParseFloat(q.Get("seconds"), 64); err == nil && s > maxProfileSeconds {
			q.Set("seconds", strconv.Itoa(maxProfileSeconds))
			r.URL.RawQuery = q.Encode()
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackOnly refuses callers from other machines: profiles expose the
// program's memory.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			httperror.Write(w, chatapp.Errorf(chatapp.EFORBIDDEN, "pprof answers loopback callers only"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
