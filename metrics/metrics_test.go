package metrics

import (
	"context"
	"errors"
	"io"
	"iter"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	dto "github.com/prometheus/client_model/go"

	"github.com/chatapp-dev/chatapp"
)

// metric finds the sample of family name whose labels include want.
func metric(t *testing.T, m *Metrics, name string, want map[string]string) *dto.Metric {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue samples
				}
			}
			return s
		}
	}
	return nil
}

func counterValue(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	s := metric(t, m, name, labels)
	if s == nil {
		return 0
	}
	return s.GetCounter().GetValue()
}

func histogramCount(t *testing.T, m *Metrics, name string, labels map[string]string) uint64 {
	t.Helper()
	s := metric(t, m, name, labels)
	if s == nil {
		return 0
	}
	return s.GetHistogram().GetSampleCount()
}

// fakeStore answers with the error its test sets.
type fakeStore struct{ err error }

func (s *fakeStore) CreateMessage(context.Context, *chatapp.Message) error { return s.err }
func (s *fakeStore) QueueMessage(context.Context, *chatapp.Message) (func() error, error) {
	return chatapp.Committed(s.err), nil
}
func (s *fakeStore) FindReplay(context.Context, *chatapp.Message) error { return s.err }
func (s *fakeStore) FindMessages(context.Context, chatapp.MessageFilter) (chatapp.MessagePage, error) {
	return chatapp.MessagePage{}, s.err
}
func (s *fakeStore) CreateConnection(context.Context, *chatapp.Connection, int) error { return s.err }
func (s *fakeStore) DeleteConnection(context.Context, string) (*chatapp.Connection, error) {
	return nil, s.err
}
func (s *fakeStore) FindConnection(context.Context, string) (*chatapp.Connection, error) {
	return nil, s.err
}
func (s *fakeStore) FindConnectionsByRoom(context.Context, string) ([]*chatapp.Connection, error) {
	return nil, s.err
}

func TestMessageStoreCountsSendsLatencyAndFailures(t *testing.T) {
	m := New()
	fake := &fakeStore{}
	store := m.MessageStore(fake)
	ctx := context.Background()
	for range 3 {
		if err := store.CreateMessage(ctx, &chatapp.Message{}); err != nil {
			t.Fatal(err)
		}
	}
	fake.err = chatapp.ErrDuplicate // a replay: neither sent nor failed
	store.CreateMessage(ctx, &chatapp.Message{})
	fake.err = errors.New("disk full")
	store.CreateMessage(ctx, &chatapp.Message{})
	store.FindMessages(ctx, chatapp.MessageFilter{})

	if got := counterValue(t, m, "chatapp_messages_sent_total", nil); got != 3 {
		t.Errorf("messages sent = %v, want 3", got)
	}
	create := map[string]string{"operation": "create_message"}
	if got := histogramCount(t, m, "chatapp_store_duration_seconds", create); got != 5 {
		t.Errorf("create_message observations = %d, want 5", got)
	}
	if got := counterValue(t, m, "chatapp_store_errors_total", create); got != 1 {
		t.Errorf("create_message errors = %v, want 1 (the duplicate is an answer)", got)
	}
	find := map[string]string{"operation": "find_messages"}
	if got := histogramCount(t, m, "chatapp_store_duration_seconds", find); got != 1 {
		t.Errorf("find_messages observations = %d, want 1", got)
	}
	if got := counterValue(t, m, "chatapp_store_errors_total", find); got != 1 {
		t.Errorf("find_messages errors = %v, want 1", got)
	}
}

func TestConnectionStoreTakesMissingRowsForAnswers(t *testing.T) {
	m := New()
	fake := &fakeStore{err: chatapp.Errorf(chatapp.ENOTFOUND, "no connection")}
	store := m.ConnectionStore(fake)
	ctx := context.Background()
	store.FindConnection(ctx, "a")
	fake.err = errors.New("timeout")
	store.FindConnection(ctx, "b")
	store.CreateConnection(ctx, &chatapp.Connection{}, 0)
	fake.err = nil
	store.DeleteConnection(ctx, "a")
	store.FindConnectionsByRoom(ctx, "lobby")

	find := map[string]string{"operation": "find_connection"}
	if got := histogramCount(t, m, "chatapp_store_duration_seconds", find); got != 2 {
		t.Errorf("find_connection observations = %d, want 2", got)
	}
	if got := counterValue(t, m, "chatapp_store_errors_total", find); got != 1 {
		t.Errorf("find_connection errors = %v, want 1 (not_found is an answer)", got)
	}
	for op, want := range map[string]float64{"create_connection": 1, "delete_connection": 0, "find_connections_by_room": 0} {
		labels := map[string]string{"operation": op}
		if got := histogramCount(t, m, "chatapp_store_duration_seconds", labels); got != 1 {
			t.Errorf("%s observations = %d, want 1", op, got)
		}
		if got := counterValue(t, m, "chatapp_store_errors_total", labels); got != want {
			t.Errorf("%s errors = %v, want %v", op, got, want)
		}
	}
}

// fakeNotifier reports a fixed delivery and fails posts to "gone".
type fakeNotifier struct{ delivery chatapp.Delivery }

func (n *fakeNotifier) Broadcast(context.Context, string, chatapp.Push) (chatapp.Delivery, error) {
	return n.delivery, nil
}

func (n *fakeNotifier) Members(context.Context, string) ([]*chatapp.Connection, error) {
	return n.delivery.Connections, nil
}

func (n *fakeNotifier) Disconnect(context.Context, string, string) error { return nil }

func (n *fakeNotifier) Post(_ context.Context, id string, _ []byte) error {
	if id == "gone" {
		return chatapp.Errorf(chatapp.EGONE, "gone")
	}
	return nil
}

func TestNotifierCountsFanOutAndDeliveries(t *testing.T) {
	m := New()
	n := m.Notifier(&fakeNotifier{delivery: chatapp.Delivery{Delivered: 3, Failed: 1}})
	ctx := context.Background()
	for range 2 {
		if _, err := n.Broadcast(ctx, "lobby", chatapp.Push{Kind: chatapp.PushMessage}); err != nil {
			t.Fatal(err)
		}
	}
	n.Broadcast(ctx, "lobby", chatapp.Push{Kind: chatapp.PushPresence})
	if err := n.Post(ctx, "here", nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Post(ctx, "gone", nil); chatapp.ErrorCode(err) != chatapp.EGONE {
		t.Fatalf("Post to a gone connection: %v, want the inner EGONE", err)
	}

	if got := histogramCount(t, m, "chatapp_broadcast_duration_seconds", map[string]string{"kind": "message"}); got != 2 {
		t.Errorf("message broadcasts = %d, want 2", got)
	}
	if got := histogramCount(t, m, "chatapp_broadcast_duration_seconds", map[string]string{"kind": "presence"}); got != 1 {
		t.Errorf("presence broadcasts = %d, want 1", got)
	}
	if got := counterValue(t, m, "chatapp_deliveries_total", nil); got != 3*3+1 {
		t.Errorf("deliveries = %v, want 10", got)
	}
	if got := counterValue(t, m, "chatapp_delivery_failures_total", nil); got != 3*1+1 {
		t.Errorf("delivery failures = %v, want 4", got)
	}
}

func TestNotifierBroadcastDoesNotAllocate(t *testing.T) {
	n := New().Notifier(&fakeNotifier{delivery: chatapp.Delivery{Connections: make([]*chatapp.Connection, 1000), Delivered: 1000}})
	ctx := context.Background()
	push := chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(`{}`)}
	allocs := testing.AllocsPerRun(1000, func() { n.Broadcast(ctx, "lobby", push) })
	if allocs != 0 {
		t.Errorf("an instrumented Broadcast allocates %v times, want 0", allocs)
	}
}

func TestErrorsAreCountedByRouteAndCode(t *testing.T) {
	m := New()
	answer := func(status int, body string) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: status, Body: body}, nil
		}
	}
	ctx := context.Background()
	invalid := m.REST("PUT /chat", answer(400, `{"error":{"code":"invalid","message":"room_id is required"}}`))
	invalid(ctx, events.APIGatewayProxyRequest{})
	invalid(ctx, events.APIGatewayProxyRequest{})
	m.REST("PUT /chat", answer(200, `{"message":{}}`))(ctx, events.APIGatewayProxyRequest{})
	m.REST("GET /chat", answer(500, `not json`))(ctx, events.APIGatewayProxyRequest{})
	m.REST("GET /chat", answer(400, `{"error":{"code":"Robert'); DROP","message":""}}`))(ctx, events.APIGatewayProxyRequest{})
	m.WebSocket("sendmessage", func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 429, Body: `{"error":{"code":"rate_limited","message":"slow down"}}`}, nil
	})(ctx, events.APIGatewayWebsocketProxyRequest{})
	m.WebSocket("$connect", func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, errors.New("function crashed")
	})(ctx, events.APIGatewayWebsocketProxyRequest{})
	m.Authorizer(func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	})(ctx, events.APIGatewayCustomAuthorizerRequestTypeRequest{})

	for _, tc := range []struct {
		route, code string
		want        float64
	}{
		{"PUT /chat", "invalid", 2},
		{"GET /chat", "unknown", 2}, // a body without a code, and a code that is not one
		{"sendmessage", "rate_limited", 1},
		{"$connect", "internal", 1}, // a failed invocation
		{"$authorizer", "unauthorized", 1},
	} {
		if got := counterValue(t, m, "chatapp_errors_total", map[string]string{"route": tc.route, "code": tc.code}); got != tc.want {
			t.Errorf("errors{route=%q,code=%q} = %v, want %v", tc.route, tc.code, got, tc.want)
		}
	}
	families, _ := m.Registry().Gather()
	for _, f := range families {
		if f.GetName() == "chatapp_errors_total" && len(f.GetMetric()) != 5 {
			t.Errorf("errors_total has %d series, want 5 (a 200 is no error)", len(f.GetMetric()))
		}
	}
}

type fakeHub struct {
	sockets, closing, rooms int
}

func (h fakeHub) Sockets() (int, int) { return h.sockets, h.closing }
func (h fakeHub) Rooms() int          { return h.rooms }

// fakePanics is one part's panic counts, by where.
type fakePanics map[string]uint64

func (p fakePanics) Panics() iter.Seq2[string, uint64] { return maps.All(p) }

func TestHandlerExposesGaugesAndRuntimeCollectors(t *testing.T) {
	m := New()
	m.WatchHub(fakeHub{sockets: 7, closing: 1, rooms: 2})
	m.WatchPanics(fakePanics{"http": 0, "timer": 1}, fakePanics{"socket": 3, "timer": 2}) // timer twice: one series, summed
	m.Notifier(&fakeNotifier{}).Broadcast(context.Background(), "lobby", chatapp.Push{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		"\nchatapp_connections_open 7\n",
		"\nchatapp_connections_closing 1\n",
		"\nchatapp_rooms 2\n",
		"\nchatapp_panics_total{where=\"socket\"} 3\n",
		"\nchatapp_panics_total{where=\"http\"} 0\n",
		"\nchatapp_panics_total{where=\"timer\"} 3\n",
		"\n# TYPE chatapp_panics_total counter\n",
		"\ngo_goroutines ",
		"\nprocess_start_time_seconds ",
		// the fast paths' buckets, from 50µs to 1s
		`chatapp_broadcast_duration_seconds_bucket{kind="message",le="5e-05"} `,
		`chatapp_broadcast_duration_seconds_bucket{kind="message",le="1"} 1`,
		"\nchatapp_messages_sent_total 0\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func TestNilMetricsWrapsNothing(t *testing.T) {
	var m *Metrics
	store := &fakeStore{}
	notifier := &fakeNotifier{}
	if got := m.MessageStore(store); got != chatapp.MessageStore(store) {
		t.Error("nil Metrics wrapped the message store")
	}
	if got := m.ConnectionStore(store); got != chatapp.ConnectionStore(store) {
		t.Error("nil Metrics wrapped the connection store")
	}
	if got := m.Notifier(notifier); got != chatapp.Notifier(notifier) {
		t.Error("nil Metrics wrapped the notifier")
	}
	if m.Authorizer(nil) != nil {
		t.Error("nil Metrics made an authorizer out of none")
	}
	m.WatchHub(fakeHub{}) // must not panic
}
