package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatapp-dev/chatapp"
)

// operation is one store method's latency and failures, resolved once so
// that a call does no label lookup.
type operation struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

func (m *Metrics) operation(name string) operation {
	return operation{duration: m.storeDuration.WithLabelValues(name), errors: m.storeErrors.WithLabelValues(name)}
}

// observe records one call that started at start and returned err.
func (op operation) observe(start time.Time, err error) {
	op.duration.Observe(since(start))
	if isFailure(err) {
		op.errors.Inc()
	}
}

// isFailure tells a failed call from an answer: a duplicate send, a key
// reused for another text, a missing row and a connection past its user's
// cap are what the store is asked to report.
func isFailure(err error) bool {
	if err == nil || errors.Is(err, chatapp.ErrDuplicate) {
		return false
	}
	switch chatapp.ErrorCode(err) {
	case chatapp.ENOTFOUND, chatapp.ECONFLICT, chatapp.ERATELIMIT:
		return false
	}
	return true
}

// MessageStore wraps a message store: the latency and failures of each
// operation, and the messages stored.
func (m *Metrics) MessageStore(next chatapp.MessageStore) chatapp.MessageStore {
	if m == nil {
		return next
	}
	return &messageStore{next: next, sent: m.messagesSent, create: m.operation("create_message"), find: m.operation("find_messages"), replay: m.operation("find_replay")}
}

type messageStore struct {
	next                 chatapp.MessageStore
	sent                 prometheus.Counter
	create, find, replay operation
}

func (s *messageStore) CreateMessage(ctx context.Context, msg *chatapp.Message) error {
	start := time.Now()
	return s.created(start, s.next.CreateMessage(ctx, msg))
}

// QueueMessage counts as a CreateMessage, from the queueing to the end of
// the wait.
func (s *messageStore) QueueMessage(ctx context.Context, msg *chatapp.Message) (func() error, error) {
	start := time.Now()
	wait, err := s.next.QueueMessage(ctx, msg)
	if err != nil {
		return nil, s.created(start, err)
	}
	return func() error { return s.created(start, wait()) }, nil
}

// created records a CreateMessage begun at start that ended with err.
func (s *messageStore) created(start time.Time, err error) error {
	s.create.observe(start, err)
	if err == nil {
		s.sent.Inc()
	}
	return err
}

func (s *messageStore) FindReplay(ctx context.Context, msg *chatapp.Message) error {
	start := time.Now()
	err := s.next.FindReplay(ctx, msg)
	s.replay.observe(start, err)
	return err
}

func (s *messageStore) FindMessages(ctx context.Context, filter chatapp.MessageFilter) (chatapp.MessagePage, error) {
	start := time.Now()
	page, err := s.next.FindMessages(ctx, filter)
	s.find.observe(start, err)
	return page, err
}

// ConnectionStore wraps a connection store: the latency and failures of
// each operation.
func (m *Metrics) ConnectionStore(next chatapp.ConnectionStore) chatapp.ConnectionStore {
	if m == nil {
		return next
	}
	return &connectionStore{
		next:   next,
		create: m.operation("create_connection"), delete: m.operation("delete_connection"),
		find: m.operation("find_connection"), findByRoom: m.operation("find_connections_by_room"),
	}
}

type connectionStore struct {
	next                             chatapp.ConnectionStore
	create, delete, find, findByRoom operation
}

func (s *connectionStore) CreateConnection(ctx context.Context, c *chatapp.Connection, maxPerUser int) error {
	start := time.Now()
	err := s.next.CreateConnection(ctx, c, maxPerUser)
	s.create.observe(start, err)
	return err
}

func (s *connectionStore) DeleteConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	start := time.Now()
	c, err := s.next.DeleteConnection(ctx, id)
	s.delete.observe(start, err)
	return c, err
}

func (s *connectionStore) FindConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	start := time.Now()
	c, err := s.next.FindConnection(ctx, id)
	s.find.observe(start, err)
	return c, err
}

func (s *connectionStore) FindConnectionsByRoom(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	start := time.Now()
	conns, err := s.next.FindConnectionsByRoom(ctx, roomID)
	s.findByRoom.observe(start, err)
	return conns, err
}
