package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
)

// serveWebSocket runs one client connection: a handshake checked whole
// (handshake.go) and admitted (admission.go), then $connect before the
// upgrade (a non-2xx answer rejects it), a route per frame, $disconnect on
// any close. After the handshake the connection is served by a goroutine
// of its own, with a small stack, and the HTTP handler returns.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if refuseBadHandshake(w, r) {
		return
	}
	ident := identity(r)
	source := sourceOf(ident.SourceIP)
	// The place is given back by end, or on a refusal below.
	if err := g.admit(source); err != nil {
		refuseHandshake(w, chatapp.ErrorStatus(err), err)
		return
	}
	// The authorizer guards $connect only, as on API Gateway; a refusal
	// is the handshake's answer, with the same JSON error body as others.
	authorizer, err := g.authorize(r.Context(), g.authorizerEvent(r, localWebSocketAPIID, "$connect"))
	if err != nil {
		g.release(source)
		refuseHandshake(w, chatapp.ErrorStatus(err), err)
		return
	}
	id := newConnectionID()
	s := newSocket(g.hub, id, ident.SourceIP, ident.UserAgent, r.Host)
	if !g.hub.add(s) {
		g.release(source)
		refuseHandshake(w, http.StatusServiceUnavailable, chatapp.Errorf(chatapp.EUNAVAILABLE, "the server is shutting down"))
		return
	}
	if authorizer != nil {
		// Every route of the connection gets $connect's authorizer output.
		g.authorizers.Store(id, authorizer)
	}
	// end forgets the socket; it runs once, when its handler is done.
	var ended atomic.Bool
	end := func() {
		if !ended.Swap(true) {
			g.authorizers.Delete(id)
			g.hub.done()
			g.release(source)
		}
	}
	// A panic before the connection's goroutine takes over (ServeHTTP
	// answers it) forgets the socket: Close would wait for it forever.
	defer func() {
		if v := recover(); v != nil {
			g.hub.remove(s)
			s.close(ws.StatusInternalServerError, "internal server error")
			end()
			panic(v)
		}
	}()

	connect := g.wsEvent(s, "$connect", "CONNECT")
	connect.Headers, connect.MultiValueHeaders = splitHeaders(r)
	connect.QueryStringParameters, connect.MultiValueQueryStringParameters = splitQuery(r.URL.RawQuery)
	resp, err := g.invoke(connect)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		g.hub.remove(s)
		s.close(ws.StatusPolicyViolation, "")
		end()
		// A refused handshake does not keep its connection either.
		w.Header().Set("Connection", "close")
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, chatapp.EncodeError(chatapp.Errorf(chatapp.EINTERNAL, "internal server error")))
			return
		}
		writeProxyResponse(w, resp)
		return
	}
	s.connected.Store(true)

	// API Gateway accepts any origin; authorization is the $connect
	// route's business.
	upgrader := ws.HTTPUpgrader{Timeout: writeTimeout}
	if p := resp.Headers["Sec-WebSocket-Protocol"]; p != "" {
		upgrader.Protocol = func(offered string) bool { return offered == p }
	}
	conn, rw, _, err := upgrader.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		g.hub.leave(s.id)
		s.close(ws.StatusProtocolError, "")
		g.disconnect(s, ws.StatusAbnormalClosure, "handshake failed")
		g.hub.remove(s)
		end()
		return
	}
	// The HTTP server's read and write deadlines may outlive the hijack:
	// the socket lives by the idle timeout and maximum duration instead.
	conn.SetDeadline(time.Time{})
	// Bytes the client sent right behind its handshake are in the HTTP
	// server's buffer: read them first, then the connection itself, through
	// a reader that holds no buffer while the client is quiet.
	var in io.Reader = conn
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ := rw.Reader.Peek(n)
		in = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	go func() {
		defer end()
		defer g.recoverSocket(s, conn)
		g.serveSocket(s, conn, &lazyReader{conn: in})
	}()
}

// serveSocket runs an upgraded connection until it closes, then runs
// $disconnect.
func (g *Gateway) serveSocket(s *socket, conn net.Conn, in *lazyReader) {
	s.attach(conn)
	s.startTimers(g.cfg.IdleTimeout, g.cfg.MaxConnectionDuration)
	mr := &messageReader{r: in, limit: MaxPayloadBytes, frameLimit: MaxFrameBytes, wait: messageWait{s: s, lazy: in, timeout: g.cfg.MessageTimeout}}
	code, reason, err := g.readMessages(s, mr)
	s.close(code, reason)
	s.stopTimers()
	// The closing socket leaves its room at once (no broadcast lists it),
	// but the hub keeps it until its $disconnect has run: the sweep spares
	// its row, and $disconnect is the one that removes it and announces
	// the leave.
	g.hub.leave(s.id)
	g.awaitClose(s, conn, in, errors.Is(err, errMessageTooBig) || errors.Is(err, errFrameTooBig) || errors.Is(err, errProtocol) || errors.Is(err, errSlowMessage) || errors.Is(err, errPanicked) || errors.Is(err, errBinaryFrame))
	g.disconnect(s, code, reason)
	g.hub.remove(s)
}

// errPanicked ends a read loop that panicked; errBinaryFrame, one that
// met a binary frame.
var (
	errPanicked    = errors.New("the read loop panicked")
	errBinaryFrame = errors.New("binary frame")
)

// readMessages runs the read loop. A panic in it closes the socket with
// 1011, and the socket then ends as any other: $disconnect runs.
func (g *Gateway) readMessages(s *socket, mr *messageReader) (code ws.StatusCode, reason string, err error) {
	defer func() {
		if v := recover(); v != nil {
			g.hub.recovered(panicSocket, v)
			s.close(ws.StatusInternalServerError, "internal server error")
			code, reason = s.closeStatus()
			err = errPanicked
		}
	}()
	return g.readLoop(s, mr)
}

// recoverSocket, deferred at the top of a connection's goroutine, ends a
// panic that escaped serveSocket past its read loop: the socket is
// forgotten and its connection dropped.
func (g *Gateway) recoverSocket(s *socket, conn net.Conn) {
	if v := recover(); v != nil {
		g.hub.recovered(panicSocket, v)
		s.close(ws.StatusInternalServerError, "internal server error")
		s.stopTimers()
		g.hub.remove(s)
		conn.Close()
	}
}

// awaitClose gives the writer a moment to send the close frame, then drops
// the connection. After a frame it refused (too big, malformed, binary, a
// message too slow, a panic), it first reads and drops what the client
// still sends, until the client
// closes or closeWait passes: closing with unread bytes would reset the
// connection, and the client would lose the close frame that says why.
func (g *Gateway) awaitClose(s *socket, conn net.Conn, in io.Reader, linger bool) {
	deadline := time.Now().Add(closeWait)
	s.awaitWriter(closeWait)
	if linger {
		conn.SetReadDeadline(deadline)
		io.Copy(io.Discard, in)
	}
	conn.Close()
}

// readLoop invokes a route for every message until the connection ends,
// and returns the close code and reason.
//
// Every frame spends the frame budget (allowFrame): a message's fragments
// each, the frame that ends it, control frames. A message one of whose
// fragments was refused is read to its end and dropped, not routed.
func (g *Gateway) readLoop(s *socket, mr *messageReader) (ws.StatusCode, string, error) {
	refused := false // a fragment of the message being read was refused
	for {
		msg, err := mr.next()
		if err != nil {
			code, reason := closeStatus(err, s)
			return code, reason, err
		}
		if msg.op == ws.OpClose {
			if s.isClosing() {
				code, reason := s.closeStatus() // the client's answer to our close
				return code, reason, nil
			}
			code, reason := clientClose(msg.payload)
			s.close(code, reason)
			return code, reason, nil
		}
		if s.isClosing() {
			continue // closed by us: only the client's close frame matters now
		}
		if msg.op == ws.OpBinary {
			// API Gateway takes no binary frame: it closes the connection
			// with 1003 on the first one, a message's first fragment
			// included, and routes nothing (docs/aws-fidelity.md).
			s.close(ws.StatusUnsupportedData, "binary frames are not supported")
			return ws.StatusUnsupportedData, "binary frames are not supported", errBinaryFrame
		}
		// A message, or a fragment of one, is activity; a ping or a pong is
		// not: AWS documents no more than that API Gateway closes a
		// connection idle for 10 minutes, so a client must keep its
		// connection with messages (the ping route), and locally it must.
		if msg.op != ws.OpPing && msg.op != ws.OpPong {
			s.touch()
		}
		// Pings and pongs spend the frame budget too: a ping flood is
		// closed as a data flood is, and so is a flood of fragments.
		allowed := g.allowFrame(s)
		switch {
		case msg.more:
			refused = refused || !allowed
			continue
		case msg.op == ws.OpPing:
			if allowed {
				s.pong(msg.payload)
			}
			continue
		case msg.op == ws.OpPong:
			continue
		}
		// A whole data message.
		if !allowed || refused {
			refused = false
			continue
		}
		route, mock := g.route(msg.payload, false)
		if mock != nil {
			s.enqueue(mock) // the route response of a MOCK integration
			continue
		}
		event := g.wsEvent(s, route, "MESSAGE")
		event.RequestContext.MessageID = newRequestID()
		// A text frame's bytes that are not UTF-8 travel as base64: a JSON
		// event would otherwise replace them before the function could
		// refuse them.
		event.Body, event.IsBase64Encoded = encodeBody(msg.payload)
		if _, err := g.invoke(event); err != nil {
			// API Gateway answers a failed integration with an error frame.
			s.enqueue(chatapp.EncodeError(chatapp.Errorf(chatapp.EINTERNAL, "internal server error")))
		}
	}
}

// closeStatus tells why a read ended: the gateway's own code when it
// closed, 1009 for an oversize frame or message, 1002 for a protocol error, 1008
// for a message that did not arrive in time, or 1006.
func closeStatus(err error, s *socket) (ws.StatusCode, string) {
	switch {
	case s.isClosing():
		return s.closeStatus()
	case errors.Is(err, errFrameTooBig), errors.Is(err, errMessageTooBig):
		s.close(ws.StatusMessageTooBig, err.Error())
	case errors.Is(err, errProtocol):
		s.close(ws.StatusProtocolError, "protocol error")
	case errors.Is(err, errSlowMessage):
		s.close(ws.StatusPolicyViolation, "message not completed in time")
	default:
		s.mu.Lock()
		s.closeLocked(ws.StatusAbnormalClosure, "connection lost")
		s.aborted = true // nobody to send a close frame to
		s.mu.Unlock()
	}
	return s.closeStatus()
}

func (g *Gateway) disconnect(s *socket, code ws.StatusCode, reason string) {
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
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.integrationTimeout)
	defer cancel()
	resp, err := callIntegration(ctx, g.hub, fn, event)
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
