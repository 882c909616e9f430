package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
)

// serveWebSocket runs one client connection: $connect before the handshake
// (a non-2xx answer rejects it), a route per frame, $disconnect on any close.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		writeJSON(w, http.StatusUpgradeRequired, chatapp.EncodeError(chatapp.Errorf(chatapp.EINVALID, "expected a WebSocket upgrade")))
		return
	}
	// The authorizer guards $connect only, as on API Gateway; a refusal
	// is the handshake's answer, with the same JSON error body as others.
	authorizer, err := g.authorize(r.Context(), g.authorizerEvent(r, localWebSocketAPIID, "$connect"))
	if err != nil {
		writeError(w, err)
		return
	}
	id := newConnectionID()
	ident := identity(r)
	s := newSocket(id, ident.SourceIP, ident.UserAgent, r.Host)
	if authorizer != nil {
		// Every route of the connection gets $connect's authorizer output.
		g.authorizers.Store(id, authorizer)
		defer g.authorizers.Delete(id)
	}
	if !g.hub.add(s) {
		writeError(w, chatapp.Errorf(chatapp.EUNAVAILABLE, "the server is shutting down"))
		return
	}
	defer g.hub.done()

	connect := g.wsEvent(s, "$connect", "CONNECT")
	connect.Headers, connect.MultiValueHeaders = splitHeaders(r)
	connect.QueryStringParameters, connect.MultiValueQueryStringParameters = splitQuery(r.URL.RawQuery)
	resp, err := g.invoke(connect)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		g.hub.remove(s)
		s.close(websocket.StatusPolicyViolation, "")
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, chatapp.EncodeError(chatapp.Errorf(chatapp.EINTERNAL, "internal server error")))
			return
		}
		writeProxyResponse(w, resp)
		return
	}

	opts := &websocket.AcceptOptions{
		// API Gateway accepts any origin; authorization is the $connect
		// route's business.
		InsecureSkipVerify: true,
		OnPingReceived:     func(context.Context, []byte) bool { s.touch(); return true },
		OnPongReceived:     func(context.Context, []byte) { s.touch() },
	}
	if p := resp.Headers["Sec-WebSocket-Protocol"]; p != "" {
		opts.Subprotocols = []string{p}
	}
	conn, err := websocket.Accept(w, r, opts)
	if err != nil {
		g.hub.remove(s)
		s.close(websocket.StatusProtocolError, "")
		g.disconnect(s, websocket.StatusAbnormalClosure, "handshake failed")
		return
	}
	conn.SetReadLimit(MaxFrameBytes)

	writerDone := make(chan struct{})
	go func() { s.writeLoop(conn); close(writerDone) }()
	go s.expire(g.cfg.IdleTimeout, g.cfg.MaxConnectionDuration)

	code, reason := g.readLoop(conn, s)
	s.close(code, reason)
	<-writerDone
	g.hub.remove(s)
	g.disconnect(s, code, reason)
}

// readLoop invokes a route for every frame until the connection ends, and
// returns the close code and reason.
func (g *Gateway) readLoop(conn *websocket.Conn, s *socket) (websocket.StatusCode, string) {
	for {
		typ, data, err := conn.Read(context.Background())
		if err != nil {
			return closeStatus(err, s)
		}
		s.touch()
		if !g.allowFrame(s) {
			continue
		}
		route := selectRoute(data, typ == websocket.MessageBinary, g.cfg.WebSocket)
		event := g.wsEvent(s, route, "MESSAGE")
		event.RequestContext.MessageID = newRequestID()
		// Bytes that are not UTF-8 travel as base64: a JSON event would
		// otherwise replace them before the function could refuse them.
		event.Body, event.IsBase64Encoded = encodeBody(data)
		if _, err := g.invoke(event); err != nil {
			// API Gateway answers a failed integration with an error frame.
			s.enqueue(chatapp.EncodeError(chatapp.Errorf(chatapp.EINTERNAL, "internal server error")))
		}
	}
}

// closeStatus tells why a read ended: the client's close code, 1009 for an
// oversize frame, the gateway's own code when it closed, or 1006.
func closeStatus(err error, s *socket) (websocket.StatusCode, string) {
	if s.isClosing() {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closeCode, s.closeReason
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	if strings.Contains(err.Error(), "read limited at") {
		return websocket.StatusMessageTooBig, "frame larger than 128 KB"
	}
	return websocket.StatusAbnormalClosure, "connection lost"
}

func (g *Gateway) disconnect(s *socket, code websocket.StatusCode, reason string) {
	event := g.wsEvent(s, "$disconnect", "DISCONNECT")
	event.RequestContext.DisconnectStatusCode = int64(code)
	event.RequestContext.DisconnectReason = &reason
	if _, err := g.invoke(event); err != nil {
		g.cfg.Logger.Error("$disconnect failed", "connection_id", s.id, "err", err)
	}
}

// invoke runs the function of an event's route, if the route exists.
func (g *Gateway) invoke(event events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	fn, ok := g.cfg.WebSocket[event.RequestContext.RouteKey]
	if !ok {
		// A route without an integration accepts, as API Gateway does for
		// an API with no $connect or $disconnect route.
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), integrationTimeout)
	defer cancel()
	resp, err := fn(ctx, event)
	if err != nil {
		g.cfg.Logger.Error("integration failed", "route", event.RequestContext.RouteKey, "connection_id", event.RequestContext.ConnectionID, "err", err)
	}
	return resp, err
}

func (g *Gateway) wsEvent(s *socket, route, eventType string) events.APIGatewayWebsocketProxyRequest {
	now := time.Now()
	var authorizer any
	if a, ok := g.authorizers.Load(s.id); ok {
		authorizer = a
	}
	return events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			AccountID:         localAccountID,
			Stage:             g.cfg.Stage,
			RequestID:         newRequestID(),
			ExtendedRequestID: newRequestID(),
			APIID:             localWebSocketAPIID,
			ConnectedAt:       s.connectedAt.UnixMilli(),
			ConnectionID:      s.id,
			DomainName:        s.domainName,
			EventType:         eventType,
			MessageDirection:  "IN",
			RequestTime:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch:  now.UnixMilli(),
			RouteKey:          route,
			Authorizer:        authorizer,
			Identity:          events.APIGatewayRequestIdentity{SourceIP: s.sourceIP, UserAgent: s.userAgent},
		},
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}
