package handler

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// ErrUnauthorized is what an authorizer returns for a request it refuses:
// API Gateway answers 401 for exactly this error message, without calling
// the integration.
var ErrUnauthorized = errors.New("Unauthorized")

// The keys of the authorizer's context, which API Gateway passes to the
// integrations in requestContext.authorizer. Context values may only be
// strings, numbers and booleans, so the rooms list is a JSON array in a
// string, present only when the token limits the rooms.
const (
	AuthorizerUserID = "user_id"
	AuthorizerName   = "name"
	AuthorizerRooms  = "rooms"
	// AuthorizerExpires is the token's expiry in Unix seconds, as a
	// string: API Gateway hands every context value to the integration as
	// a string.
	AuthorizerExpires = "exp"
)

// Authorize is a Lambda REQUEST authorizer of both APIs: the REST API's
// methods and the WebSocket API's $connect. It takes the bearer token from
// the Authorization header or the token query parameter and answers an
// Allow policy for the whole stage (so that a cached answer serves every
// route) with the caller's identity as context, or ErrUnauthorized.
func (h *Handler) Authorize(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	if h.Tokens == nil {
		h.logger().ErrorContext(ctx, "authorizer has no token verifier: set CHATAPP_AUTH_SECRET or CHATAPP_AUTH_JWKS_URL")
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("authorizer is not configured")
	}
	id, err := h.Tokens.VerifyToken(ctx, bearerToken(req.Headers, req.QueryStringParameters))
	if chatapp.ErrorCode(err) == chatapp.EUNAUTHORIZED {
		// The message says why (expired, bad signature); it never holds
		// the token.
		h.logger().InfoContext(ctx, "token refused", "method_arn", req.MethodArn, "reason", chatapp.ErrorMessage(err))
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	} else if err != nil {
		h.logger().ErrorContext(ctx, "token verification failed", "err", err)
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: id.UserID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{stageResources(req.MethodArn)},
			}},
		},
		Context: authorizerContext(id),
	}, nil
}

// stageResources turns a method ARN, arn:…:api-id/stage/GET/chat or
// arn:…:api-id/stage/$connect, into the ARN of every route of its stage.
func stageResources(methodArn string) string {
	parts := strings.SplitN(methodArn, "/", 3)
	if len(parts) < 3 {
		return methodArn
	}
	return parts[0] + "/" + parts[1] + "/*"
}

// bearerToken returns a request's token: the Authorization header's Bearer
// credentials, else the token query parameter. Header names match without
// regard to case, as in HTTP.
func bearerToken(headers, query map[string]string) string {
	for k, v := range headers {
		if strings.EqualFold(k, "Authorization") {
			scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
			if ok && strings.EqualFold(scheme, "Bearer") {
				return strings.TrimSpace(token)
			}
		}
	}
	return query[protocol.QueryToken]
}

func authorizerContext(id *chatapp.Identity) map[string]any {
	c := map[string]any{AuthorizerUserID: id.UserID}
	if id.Name != "" {
		c[AuthorizerName] = id.Name
	}
	if id.Rooms != nil {
		rooms, _ := json.Marshal(id.Rooms)
		c[AuthorizerRooms] = string(rooms)
	}
	if !id.ExpiresAt.IsZero() {
		c[AuthorizerExpires] = strconv.FormatInt(id.ExpiresAt.Unix(), 10)
	}
	return c
}

// identityOf reads the identity an authorizer put into an event's
// requestContext.authorizer; nil if there is none.
func identityOf(authorizer any) *chatapp.Identity {
	m, _ := authorizer.(map[string]any)
	userID, _ := m[AuthorizerUserID].(string)
	if userID == "" {
		return nil
	}
	id := &chatapp.Identity{UserID: userID}
	id.Name, _ = m[AuthorizerName].(string)
	if s, ok := m[AuthorizerRooms].(string); ok {
		// A list that does not decode allows no room: fail closed.
		id.Rooms = []string{}
		if json.Unmarshal([]byte(s), &id.Rooms) != nil || id.Rooms == nil {
			id.Rooms = []string{}
		}
	}
	id.ExpiresAt = contextTime(m[AuthorizerExpires])
	return id
}

// caller applies RequireAuth to a request: it returns the identity the
// authorizer vouched for (nil with auth off), refusing a request without
// one (401), one that names another user (403) and one for a room the
// token does not allow (403).
func (h *Handler) caller(authorizer any, room, claimedUserID string) (*chatapp.Identity, error) {
	if !h.RequireAuth {
		return nil, nil
	}
	id := identityOf(authorizer)
	switch {
	case id == nil:
		return nil, chatapp.Errorf(chatapp.EUNAUTHORIZED, "a bearer token is required")
	case claimedUserID != "" && claimedUserID != id.UserID:
		// Validated first: the answer and the log quote only a valid id,
		// never a client's 60 KB of anything.
		if err := chatapp.ValidateUserID(claimedUserID); err != nil {
			return nil, err
		}
		return nil, chatapp.Errorf(chatapp.EFORBIDDEN, "user_id %s is not the user of the token", claimedUserID)
	case room != "" && !id.AllowsRoom(room):
		if err := chatapp.ValidateRoomID(room); err != nil {
			return nil, err
		}
		return nil, chatapp.Errorf(chatapp.EFORBIDDEN, "the token does not allow room %s", room)
	}
	return id, nil
}

// contextTime reads the Unix seconds Authorize wrote as a string (API
// Gateway hands every context value on as one). Zero if absent or
// unreadable.
func contextTime(v any) time.Time {
	s, _ := v.(string)
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}
