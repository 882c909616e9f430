package handler

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// MaxBodyBytes bounds a REST body (after base64 decoding). The largest
// valid PUT body, as a JSON encoder that escapes all it may writes it
// (Python's json.dumps, Newtonsoft's EscapeNonAscii), is about 98 KiB: the
// text's 16 KiB of control characters as 96 KiB of \u0001, the name's 64
// characters outside the BMP as 768 bytes of surrogate-pair escapes, each
// id's 128 bytes of letters as 384 bytes of escapes (room, user,
// idempotency key), and the field names. 128 KiB takes it with room for an
// encoder's whitespace; 64 KiB refused valid messages.
const MaxBodyBytes = 128 * 1024

// GetMessages is REST GET /chat?room_id=R[&limit=N][&cursor=ID|&after=ID]:
// {"messages":[...],"next_cursor":ID} or {"messages":[...],"has_more":true}.
// Without a cursor it returns the latest messages, oldest first.
// next_cursor is set while older messages exist: pass it back as ?cursor=
// to read them. has_more is set on an ?after= page that stopped before the
// newest message: ask again after its last. A page holds at most limit
// messages and MaxHistoryBodyBytes (see encodeHistory), and the store loads
// at most historyLoadBytes of them.
func (h *Handler) GetMessages(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	q := req.QueryStringParameters
	if _, err := h.caller(req.RequestContext.Authorizer, q[protocol.QueryRoomID], ""); err != nil {
		return h.errorResponse(ctx, "GET /chat", err)
	}
	filter := chatapp.MessageFilter{RoomID: q[protocol.QueryRoomID], Before: q[protocol.QueryCursor], After: q[protocol.QueryAfter], MaxBytes: historyLoadBytes}
	if s := q[protocol.QueryLimit]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return h.errorResponse(ctx, "GET /chat", chatapp.Errorf(chatapp.EINVALID, "limit must be a positive integer"))
		}
		filter.Limit = n
	}
	page, err := h.Messages.FindMessages(ctx, filter)
	if err != nil {
		return h.errorResponse(ctx, "GET /chat", err)
	}
	body, err := encodeHistory(page, filter.After != "", MaxHistoryBodyBytes)
	if err != nil {
		return h.errorResponse(ctx, "GET /chat", err)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: headers(), Body: body}, nil
}

// MaxUsersListed bounds the "users" of PUT /chat's and GET /chat/users'
// answers, which grew with the room: a room of many thousand connections
// made answers over Lambda's 6 MB payload limit, a 502 for every send to
// it. An entry's JSON is at most about 610 bytes (a 16-byte connection id,
// 128-byte room and user ids, a name of 64 four-byte characters), so 1000
// entries stay under 1 MiB of body, as a history page does, and under
// 2 MiB as the string inside Lambda's response, with the message of a PUT
// beside them. 1000 is also more than a chat shows as a member list. A cut
// list holds the oldest connections, in connection order, and the answer
// says "users_truncated":true; an uncut answer is the original's shape.
const MaxUsersListed = 1000

// listUsers is a room's connections as an answer lists them: never null,
// and cut to the first MaxUsersListed.
func listUsers(conns []*chatapp.Connection) (users []*chatapp.Connection, truncated bool) {
	switch {
	case conns == nil:
		return []*chatapp.Connection{}, false
	case len(conns) > MaxUsersListed:
		return conns[:MaxUsersListed:MaxUsersListed], true
	}
	return conns, false
}

// PutMessage is REST PUT /chat: store the message, push it to the room.
func (h *Handler) PutMessage(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body, err := requestBody(req)
	if err != nil {
		return h.errorResponse(ctx, "PUT /chat", err)
	}
	// encoding/json would replace invalid UTF-8 with U+FFFD before the text
	// is validated, storing a message other than the one sent.
	if !utf8.Valid(body) {
		return h.errorResponse(ctx, "PUT /chat", chatapp.Errorf(chatapp.EINVALID, "body is not valid UTF-8"))
	}
	var in protocol.PutRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return h.errorResponse(ctx, "PUT /chat", chatapp.Errorf(chatapp.EINVALID, "body is not a JSON object of room_id, text, user_id and name"))
	}
	if err := checkSurrogates(body); err != nil {
		return h.errorResponse(ctx, "PUT /chat", err)
	}
	key, err := idempotencyKey(req, in.IdempotencyKey)
	if err != nil {
		return h.errorResponse(ctx, "PUT /chat", err)
	}
	m := &chatapp.Message{RoomID: string(in.RoomID), UserID: string(in.UserID), Name: in.Name, Text: in.Text, IdempotencyKey: key}
	id, err := h.caller(req.RequestContext.Authorizer, m.RoomID, m.UserID)
	if err != nil {
		return h.errorResponse(ctx, "PUT /chat", err)
	}
	if id != nil {
		m.UserID = id.UserID
		m.Name = cmp.Or(id.Name, m.Name)
	}
	delivery, replayed, err := h.send(ctx, m)
	if err != nil {
		return h.errorResponse(ctx, "PUT /chat", err)
	}
	if delivery.Partial {
		// The answer lists the whole room; the push did not need to.
		// Stored all the same: a failed read only leaves it out.
		if conns, err := h.Notifier.Members(ctx, m.RoomID); err != nil {
			h.logger().WarnContext(ctx, "listing the room for the answer failed", "room_id", m.RoomID, "err", err)
		} else {
			delivery.Connections = conns
			if !replayed {
				delivery.Delivered = len(conns) // a message goes to every connection
			}
		}
	}
	users, truncated := listUsers(delivery.Connections)
	resp, err := jsonResponse(200, protocol.PutResponse{Users: users, UsersTruncated: truncated, Message: m, Delivered: delivery.Delivered})
	if replayed {
		resp.Headers[protocol.ReplayedHeader] = "true"
	}
	return resp, err
}

// idempotencyKey takes the key from the header or the body; both may be
// given only if they agree.
func idempotencyKey(req events.APIGatewayProxyRequest, fromBody string) (string, error) {
	var fromHeader string
	for k, v := range req.Headers {
		if strings.EqualFold(k, protocol.IdempotencyKeyHeader) {
			fromHeader = v
		}
	}
	if fromHeader != "" && fromBody != "" && fromHeader != fromBody {
		return "", chatapp.Errorf(chatapp.EINVALID, "the Idempotency-Key header and idempotency_key differ")
	}
	if fromHeader != "" {
		return fromHeader, nil
	}
	return fromBody, nil
}

// GetUsers is REST GET /chat/users?room_id=R: who is in the room, at most
// MaxUsersListed connections, with "users_truncated":true past that. The
// store still reads the room whole, as every send does to push to it (the
// room's partition in DynamoDB sorts by connection id, not by age, so a
// Limit there would not keep the oldest); only the answer is bounded.
func (h *Handler) GetUsers(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	roomID := req.QueryStringParameters[protocol.QueryRoomID]
	if err := chatapp.ValidateRoomID(roomID); err != nil {
		return h.errorResponse(ctx, "GET /chat/users", err)
	}
	if _, err := h.caller(req.RequestContext.Authorizer, roomID, ""); err != nil {
		return h.errorResponse(ctx, "GET /chat/users", err)
	}
	conns, err := h.Connections.FindConnectionsByRoom(ctx, roomID)
	if err != nil {
		return h.errorResponse(ctx, "GET /chat/users", err)
	}
	users, truncated := listUsers(conns)
	return jsonResponse(200, protocol.UsersResponse{Users: users, UsersTruncated: truncated})
}

func requestBody(req events.APIGatewayProxyRequest) ([]byte, error) {
	// Refused before it is copied or decoded: API Gateway passes bodies of
	// up to 10 MB.
	if n := len(req.Body); n > MaxBodyBytes && (!req.IsBase64Encoded || base64.StdEncoding.DecodedLen(n) > MaxBodyBytes+2) {
		return nil, chatapp.Errorf(chatapp.ETOOLARGE, "body is larger than %d bytes", MaxBodyBytes)
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, chatapp.Errorf(chatapp.EINVALID, "body is not valid base64")
		}
	}
	if len(body) > MaxBodyBytes {
		return nil, chatapp.Errorf(chatapp.ETOOLARGE, "body is larger than %d bytes", MaxBodyBytes)
	}
	return body, nil
}
