package gateway

import (
	"context"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/protocol"
)

// serveWebSocket runs one client connection: a handshake checked whole
// (handshake.go) and admitted (admission.go), then $connect before the
// upgrade (a non-2xx answer rejects it); the upgraded connection is then
// the hub's, which hands the gateway each message to route (Message) and
// its end to run $disconnect for (Closed). After the handshake the
// connection is served by a goroutine of its own, with a small stack, and
// the HTTP handler returns.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if refuseBadHandshake(w, r) {
		return
	}
	ident := identity(r)
	source := sourceOf(ident.SourceIP)
	// The place is given back by end, or on a refusal below.
	if err := g.admit(source); err != nil {
		refuseHandshake(w, protocol.ErrorStatus(err), err)
		return
	}
	// The authorizer guards $connect only, as on API Gateway; a refusal
	// is the handshake's answer, with the same JSON error body as others.
	authorizer, err := g.authorize(r.Context(), g.authorizerEvent(r, localWebSocketAPIID, protocol.RouteConnect))
	if err != nil {
		g.release(source)
		refuseHandshake(w, protocol.ErrorStatus(err), err)
		return
	}
	id := newConnectionID(g.cfg.ConnectionIDPrefix)
	c := g.hub.Open(id, hub.Peer{SourceIP: ident.SourceIP, UserAgent: ident.UserAgent, DomainName: r.Host})
	if c == nil {
		g.release(source)
		refuseHandshake(w, http.StatusServiceUnavailable, chatapp.Errorf(chatapp.EUNAVAILABLE, "the server is shutting down"))
		return
	}
	if authorizer != nil {
		// Every route of the connection gets $connect's authorizer output.
		g.authorizers.Store(id, authorizer)
	}
	// A panic before the hub takes the connection over (ServeHTTP answers
	// it) ends the client: Shutdown would wait for it forever. Once
	// $connect has accepted it, its $disconnect runs, as for any end.
	accepted := false
	defer func() {
		if v := recover(); v != nil {
			c.Close(hub.DisconnectInternal)
			if accepted {
				g.closed(c, hub.DisconnectInternal)
			} else {
				g.forget(c)
			}
			panic(v)
		}
	}()

	connect := g.wsEvent(c, protocol.RouteConnect, "CONNECT")
	connect.Headers, connect.MultiValueHeaders = splitHeaders(r)
	connect.QueryStringParameters, connect.MultiValueQueryStringParameters = splitQuery(r.URL.RawQuery)
	resp, err := g.invoke(connect)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.Close(hub.Disconnect{Code: ws.StatusPolicyViolation})
		g.forget(c)
		// A refused handshake does not keep its connection either.
		w.Header().Set("Connection", "close")
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, protocol.EncodeError(chatapp.Errorf(chatapp.EINTERNAL, "internal server error")))
			return
		}
		writeProxyResponse(w, resp)
		return
	}
	c.Accept()
	accepted = true

	// API Gateway accepts any origin; authorization is the $connect
	// route's business.
	upgrader := ws.HTTPUpgrader{Timeout: upgradeTimeout}
	if p := resp.Headers["Sec-WebSocket-Protocol"]; p != "" {
		upgrader.Protocol = func(offered string) bool { return offered == p }
	}
	conn, rw, _, err := upgrader.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		g.hub.Left(id)
		c.Close(disconnectHandshakeFailed)
		g.closed(c, disconnectHandshakeFailed)
		return
	}
	// The HTTP server's read and write deadlines may outlive the hijack:
	// the socket lives by the idle timeout and maximum duration instead.
	conn.SetDeadline(time.Time{})
	// Bytes the client sent right behind its handshake are in the HTTP
	// server's buffer: the hub reads them first.
	early, _ := rw.Reader.Peek(rw.Reader.Buffered())
	c.Start(conn, early, g.limits, sockets{g})
}

// upgradeTimeout bounds writing the handshake's answer.
const upgradeTimeout = 10 * time.Second

// disconnectHandshakeFailed ends a connection whose upgrade failed after
// $connect accepted it: its $disconnect runs, with 1006.
var disconnectHandshakeFailed = hub.Disconnect{Code: ws.StatusAbnormalClosure, Reason: "handshake failed", Abort: true}

// sockets is the gateway as the hub's Handler of the connections it hands
// over; a type of its own, so that only the hub calls it.
type sockets struct{ g *Gateway }

func (s sockets) Message(c *hub.Client, payload []byte)  { s.g.message(c, payload) }
func (s sockets) Closed(c *hub.Client, d hub.Disconnect) { s.g.closed(c, d) }
func (s sockets) Refused(c *hub.Client, answer []byte)   { s.g.answerInOrder(c, answer) }

// message routes one message of a client: a mock route is answered at
// once, any other route's function is invoked with the message as its
// event's body.
func (g *Gateway) message(c *hub.Client, payload []byte) {
	text := utf8.Valid(payload) // once: for the route and for the event's body
	route, mock := g.route(payload, text)
	if mock != nil {
		g.answerInOrder(c, mock) // the route response of a MOCK integration
		return
	}
	event := g.wsEvent(c, route, "MESSAGE")
	event.RequestContext.MessageID = newRequestID()
	// A text frame's bytes that are not UTF-8 travel as base64: a JSON
	// event would otherwise replace them before the function could refuse
	// them.
	event.Body, event.IsBase64Encoded = eventBody(payload, text)
	g.invokeInFlight(c, event)
}

// closed runs $disconnect for a connection that ended, then forgets it.
func (g *Gateway) closed(c *hub.Client, d hub.Disconnect) {
	defer g.forget(c)
	g.landed(c)
	event := g.wsEvent(c, protocol.RouteDisconnect, "DISCONNECT")
	event.RequestContext.DisconnectStatusCode = int64(d.Code)
	event.RequestContext.DisconnectReason = &d.Reason
	if _, err := g.invoke(event); err != nil {
		g.cfg.Logger.Error("$disconnect failed", "connection_id", c.ID(), "err", err)
	}
}

// forget has the hub forget a connection, and drops what the gateway
// keeps of it and gives its place back: once, on the call of Forget that
// forgot it, whichever path ends the connection (closed after the hub's
// goroutine, or a handshake that never got that far).
func (g *Gateway) forget(c *hub.Client) {
	if c.Forget() {
		g.authorizers.Delete(c.ID())
		g.flights.Delete(c.ID())
		g.release(sourceOf(c.Peer().SourceIP))
	}
}

// invoke runs the function of an event's route, if the route exists.
func (g *Gateway) invoke(event events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return g.invokeWith(context.Background(), event)
}

// invokeWith is invoke under base, which carries what the function may
// use of the gateway (chatapp.WithFrameOrder).
func (g *Gateway) invokeWith(base context.Context, event events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	fn, ok := g.cfg.WebSocket[event.RequestContext.RouteKey]
	if !ok {
		// A route without an integration accepts, as API Gateway does for
		// an API with no $connect or $disconnect route.
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	ctx, cancel := context.WithTimeout(base, g.cfg.integrationTimeout)
	defer cancel()
	resp, err := callIntegration(ctx, g.panics, fn, event)
	if err != nil {
		g.cfg.Logger.Error("integration failed", "route", event.RequestContext.RouteKey, "connection_id", event.RequestContext.ConnectionID, "err", err)
	}
	return resp, err
}

func (g *Gateway) wsEvent(c *hub.Client, route, eventType string) events.APIGatewayWebsocketProxyRequest {
	now := time.Now()
	var authorizer any
	if a, ok := g.authorizers.Load(c.ID()); ok {
		authorizer = a
	}
	return events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			AccountID:         localAccountID,
			Stage:             g.cfg.Stage,
			RequestID:         newRequestID(),
			ExtendedRequestID: newRequestID(),
			APIID:             localWebSocketAPIID,
			ConnectedAt:       c.ConnectedAt().UnixMilli(),
			ConnectionID:      c.ID(),
			DomainName:        c.Peer().DomainName,
			EventType:         eventType,
			MessageDirection:  "IN",
			RequestTime:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch:  now.UnixMilli(),
			RouteKey:          route,
			Authorizer:        authorizer,
			Identity:          events.APIGatewayRequestIdentity{SourceIP: c.Peer().SourceIP, UserAgent: c.Peer().UserAgent},
		},
	}
}
