// Package apigw pushes frames to WebSocket connections through Amazon API
// Gateway's Management API (aws-sdk-go-v2 apigatewaymanagementapi): the
// chatapp.Notifier of functions that run on Lambda, or out of process
// against the local gateway's /@connections endpoint.
package apigw

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/chatapp-dev/chatapp"
)

// Defaults for a broadcast's fan-out. A post is a round trip to API
// Gateway (tens of ms), so a broadcast lasts about connections ÷ concurrency
// round trips: 128 in flight send to a room of 1,000 in 8 of them (≈ 160 ms
// at 20 ms a post; 32 took 700 ms, BenchmarkBroadcastSlowPosts). The timeout
// only bounds a stuck post, with room for a throttled one's retries.
const (
	DefaultConcurrency = 128
	DefaultPostTimeout = 3 * time.Second
)

// Notifier implements chatapp.Notifier over the Management API. A broadcast
// reads the room's connections from the table and posts to each, with
// bounded concurrency and a timeout per post; the SDK's retryer retries
// throttling (LimitExceededException, 429) with backoff. A connection that
// is gone (410) is removed, and its room hears it leave; one failed post
// never fails the broadcast.
type Notifier struct {
	Connections chatapp.ConnectionStore
	// AWS is the SDK configuration (credentials, region, retryer).
	AWS aws.Config
	// Endpoint is the management endpoint used when the context names none:
	// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, a custom
	// domain, or the local gateway's http://127.0.0.1:8080.
	Endpoint    string
	Concurrency int
	PostTimeout time.Duration
	Logger      *slog.Logger

	clients sync.Map // endpoint → *apigatewaymanagementapi.Client
}

var _ chatapp.Notifier = (*Notifier)(nil)

type endpointKey struct{}

// ContextWithEndpoint names the management endpoint for the pushes made
// under ctx: the WebSocket API that an event came from.
func ContextWithEndpoint(ctx context.Context, endpoint string) context.Context {
	return context.WithValue(ctx, endpointKey{}, endpoint)
}

// EndpointFromEvent builds the management endpoint from a WebSocket event's
// domain name and stage, as AWS documents; the original hard-coded a region
// and a stage instead.
func EndpointFromEvent(domainName, stage string) string {
	return "https://" + domainName + "/" + stage
}

func (n *Notifier) endpoint(ctx context.Context) (string, error) {
	if e, ok := ctx.Value(endpointKey{}).(string); ok && e != "" {
		return e, nil
	}
	if n.Endpoint != "" {
		return n.Endpoint, nil
	}
	return "", errors.New("apigw: no management endpoint: set one or push from a WebSocket event")
}

// client returns the Management API client of an endpoint, made once.
func (n *Notifier) client(endpoint string) *apigatewaymanagementapi.Client {
	if c, ok := n.clients.Load(endpoint); ok {
		return c.(*apigatewaymanagementapi.Client)
	}
	c := apigatewaymanagementapi.NewFromConfig(n.AWS, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.HTTPClient = n.httpClient(o.HTTPClient)
	})
	actual, _ := n.clients.LoadOrStore(endpoint, c)
	return actual.(*apigatewaymanagementapi.Client)
}

// httpClient keeps as many idle connections to the endpoint as posts run
// at once. The SDK's default keeps 10: with more in flight, every broadcast
// would close and redial (a TLS handshake each, on AWS) the rest. A client
// that is not the SDK's buildable one is the caller's choice and is kept.
func (n *Notifier) httpClient(c aws.HTTPClient) aws.HTTPClient {
	limit := n.concurrency()
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	buildable, ok := c.(*awshttp.BuildableClient)
	if !ok {
		return c
	}
	return buildable.WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, limit)
		t.MaxIdleConns = max(t.MaxIdleConns, limit)
	})
}

func (n *Notifier) concurrency() int {
	if n.Concurrency > 0 {
		return n.Concurrency
	}
	return DefaultConcurrency
}

// Post is PostToConnection. The connection id is passed as is: the SDK
// escapes it ("=" becomes %3D); escaping it first would send %253D, an id
// API Gateway does not know.
func (n *Notifier) Post(ctx context.Context, connectionID string, data []byte) error {
	endpoint, err := n.endpoint(ctx)
	if err != nil {
		return err
	}
	timeout := n.PostTimeout
	if timeout <= 0 {
		timeout = DefaultPostTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = n.client(endpoint).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connectionID),
		Data:         data,
	})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return chatapp.Errorf(chatapp.EGONE, "connection %s is gone", connectionID)
	}
	return err
}

// Disconnect is DeleteConnection: API Gateway closes the socket and runs
// $disconnect. It cannot send a close reason.
func (n *Notifier) Disconnect(ctx context.Context, connectionID, _ string) error {
	endpoint, err := n.endpoint(ctx)
	if err != nil {
		return err
	}
	_, err = n.client(endpoint).DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connectionID)})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return nil
	}
	return err
}

// Members reads the room's connections from the table, as Broadcast does.
func (n *Notifier) Members(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	return n.Connections.FindConnectionsByRoom(ctx, roomID)
}

// Broadcast posts push to every connection of the room that wants it. A
// connection whose token has expired gets nothing and is disconnected: no
// timer on AWS closes it at its expiry, so the first push after it does.
func (n *Notifier) Broadcast(ctx context.Context, roomID string, push chatapp.Push) (chatapp.Delivery, error) {
	conns, err := n.Connections.FindConnectionsByRoom(ctx, roomID)
	if err != nil {
		return chatapp.Delivery{}, err
	}
	d := chatapp.Delivery{Connections: conns}
	limit := n.concurrency()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, limit)
		gone []string // connections to remove (removeGone)
	)
	now := time.Now()
	for _, c := range conns {
		if c.ID == push.Except || !c.Wants(push.Kind) && !c.Expired(now) {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if c.Expired(now) {
				if err := n.Disconnect(ctx, c.ID, "token expired"); err != nil {
					n.logger().WarnContext(ctx, "closing an expired connection failed", "connection_id", c.ID, "err", err)
				}
				return
			}
			err := n.Post(ctx, c.ID, push.Data)
			// A 410 to a connection whose $connect may not have returned
			// yet is no sign that it is dead: its row stays.
			isGone := chatapp.ErrorCode(err) == chatapp.EGONE && !stillConnecting(c, now)
			if err != nil && !isGone {
				n.logger().WarnContext(ctx, "post failed", "connection_id", c.ID, "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				d.Delivered++
			case isGone:
				gone = append(gone, c.ID)
				fallthrough
			default:
				d.Failed++
			}
		}()
	}
	wg.Wait()
	n.removeGone(ctx, gone)
	return d, nil
}

// removeGone deletes the connections a post found gone (410): $disconnect
// is best-effort, and a 410 is the sure sign. Whichever delete removes a
// connection announces its leave (chatapp.RemoveConnection), this one or
// its $disconnect, so that a leave is never lost to the race. It runs
// after the fan-out: each leave is a broadcast of its own.
func (n *Notifier) removeGone(ctx context.Context, ids []string) {
	for _, id := range ids {
		if c, err := chatapp.RemoveConnection(ctx, n.Connections, n, id, time.Now()); c == nil && err != nil {
			n.logger().WarnContext(ctx, "removing gone connection failed", "connection_id", id, "err", err)
		} else if err != nil {
			n.logger().WarnContext(ctx, "announcing the leave of a gone connection failed", "connection_id", id, "err", err)
		}
	}
}

// connectWindow is how long a connection's row may exist before its
// $connect returns: API Gateway's 29-second integration timeout, and some.
const connectWindow = 30 * time.Second

// stillConnecting reports whether c's $connect may still be running: its
// row is younger than connectWindow. API Gateway answers 410 to a post to
// such a connection though it is about to open.
func stillConnecting(c *chatapp.Connection, now time.Time) bool {
	return now.Sub(time.UnixMilli(c.Timestamp)) < connectWindow
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.Default()
}
