package handler

import (
	"cmp"
	"context"
	"encoding/json"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// Connect is the $connect route: ws://HOST/ws?room_id=R&user_id=U[&name=N]
// [&events=presence]. A non-2xx response rejects the handshake.
func (h *Handler) Connect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	q := req.QueryStringParameters
	c := &chatapp.Connection{
		ID:        req.RequestContext.ConnectionID,
		RoomID:    q[protocol.QueryRoomID],
		UserID:    q[protocol.QueryUserID],
		Name:      q[protocol.QueryName],
		Timestamp: h.now().UnixMilli(),
		Presence:  q[protocol.QueryEvents] == protocol.EventsPresence,
	}
	id, err := h.caller(req.RequestContext.Authorizer, c.RoomID, c.UserID)
	if err != nil {
		return h.errorResponse(ctx, "$connect", err)
	}
	if id != nil {
		// The connection row carries the token's user: sendmessage sends
		// as it.
		c.UserID = id.UserID
		c.Name = cmp.Or(id.Name, c.Name)
		if !id.ExpiresAt.IsZero() {
			c.ExpiresAt = id.ExpiresAt.UnixMilli()
		}
		if c.Expired(h.now()) {
			// Within the verifier's leeway for clock skew, but the socket
			// would be closed at once.
			return h.errorResponse(ctx, "$connect", chatapp.TokenExpired())
		}
	}
	if err := c.Validate(); err != nil {
		return h.errorResponse(ctx, "$connect", err)
	}
	// The store takes the user's slot and stores the row in one step: past
	// MaxConnectionsPerUser it answers rate_limited (429).
	if err := h.Connections.CreateConnection(ctx, c, h.MaxConnectionsPerUser); err != nil {
		return h.errorResponse(ctx, "$connect", err)
	}
	if h.Rooms != nil {
		h.Rooms.Joined(c)
	}
	h.announce(ctx, chatapp.PresenceJoin, c)
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// Disconnect is the $disconnect route: forget the connection. API Gateway
// runs it on a best-effort basis, so stale rows are also removed by failed
// posts (410) and, locally, by the gateway's sweep (on AWS, by their TTL).
// All of them remove it through chatapp.RemoveConnection: whichever delete
// gets the connection back announces its leave, once.
func (h *Handler) Disconnect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	if h.Rooms != nil {
		h.Rooms.Left(req.RequestContext.ConnectionID)
	}
	c, err := chatapp.RemoveConnection(ctx, h.Connections, h.Notifier, req.RequestContext.ConnectionID, h.now())
	if c == nil && err != nil {
		return h.errorResponse(ctx, "$disconnect", err)
	}
	if err != nil {
		h.logger().WarnContext(ctx, "presence broadcast failed", "room_id", c.RoomID, "err", err)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// announce pushes a presence event to the connections that opted in.
func (h *Handler) announce(ctx context.Context, typ string, c *chatapp.Connection) {
	if err := chatapp.AnnouncePresence(ctx, h.Notifier, typ, c, h.now()); err != nil {
		h.logger().WarnContext(ctx, "presence broadcast failed", "room_id", c.RoomID, "err", err)
	}
}

// SendMessage is the sendmessage route: {"action":"sendmessage","text":"...",
// "name":"..."}. The room and user are those given at $connect; the name
// defaults to the one given there.
func (h *Handler) SendMessage(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id := req.RequestContext.ConnectionID
	if !utf8.ValidString(req.Body) {
		// encoding/json would replace it with U+FFFD before validation.
		return h.replyError(ctx, id, "sendmessage", chatapp.Errorf(chatapp.EINVALID, "frame is not valid UTF-8"))
	}
	body := []byte(req.Body) // one copy of up to 128 KB, for both readers
	var in protocol.SendMessageFrame
	if err := json.Unmarshal(body, &in); err != nil {
		return h.replyError(ctx, id, "sendmessage", chatapp.Errorf(chatapp.EINVALID, "frame is not a JSON object"))
	}
	if err := checkSurrogates(body); err != nil {
		return h.replyError(ctx, id, "sendmessage", err)
	}
	c, err := h.findConnection(ctx, id)
	if err != nil {
		return h.replyError(ctx, id, "sendmessage", err)
	}
	if c.Expired(h.now()) {
		// Locally the gateway has closed it already; on AWS nothing has.
		resp, _ := h.replyError(ctx, id, "sendmessage", chatapp.TokenExpired())
		if err := h.Notifier.Disconnect(ctx, id, "token expired"); err != nil {
			h.logger().WarnContext(ctx, "closing an expired connection failed", "connection_id", id, "err", err)
		}
		return resp, nil
	}
	m := &chatapp.Message{RoomID: c.RoomID, UserID: c.UserID, Name: in.Name, Text: in.Text, IdempotencyKey: in.IdempotencyKey}
	if m.Name == "" || h.RequireAuth {
		// With auth on, the name is the one vouched for at $connect.
		m.Name = c.Name
	}
	if _, _, err := h.send(ctx, m); err != nil {
		return h.replyError(ctx, id, "sendmessage", err)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// findConnection answers from the room index for a connection joined in
// this process, and from the store for others (rows of another process,
// or left by a crash).
func (h *Handler) findConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	if h.Rooms != nil {
		if c := h.Rooms.Member(id); c != nil {
			return c, nil
		}
	}
	return h.Connections.FindConnection(ctx, id)
}

// Default is the $default route: a frame whose action names no route. The
// sender gets an error frame; the connection stays open.
func (h *Handler) Default(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	var frame struct {
		Action any `json:"action"`
	}
	err := chatapp.Errorf(chatapp.EINVALID, `unknown action: send {"action":"sendmessage","text":"..."}`)
	if json.Unmarshal([]byte(req.Body), &frame) != nil {
		err = chatapp.Errorf(chatapp.EINVALID, "frame is not a JSON object")
	}
	return h.replyError(ctx, req.RequestContext.ConnectionID, "$default", err)
}

// replyError posts an error frame to the sender. On AWS a route's return
// value reaches the client only with a route response configured; a post
// works the same everywhere.
func (h *Handler) replyError(ctx context.Context, connectionID, route string, err error) (events.APIGatewayProxyResponse, error) {
	resp, _ := h.errorResponse(ctx, route, err)
	// The client takes an error frame for its oldest send waiting: the
	// pushes of the frames before this one go first.
	if werr := chatapp.AwaitEarlierFrames(ctx); werr != nil {
		h.logger().InfoContext(ctx, "error frame not delivered", "route", route, "connection_id", connectionID, "err", werr)
		return resp, nil
	}
	if perr := h.Notifier.Post(ctx, connectionID, []byte(resp.Body)); perr != nil {
		h.logger().InfoContext(ctx, "error frame not delivered", "route", route, "connection_id", connectionID, "err", perr)
	}
	return resp, nil
}
