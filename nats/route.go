package nats

import (
	"context"
	"errors"
	"fmt"

	natsgo "github.com/nats-io/nats.go"

	"github.com/chatapp-dev/chatapp"
)

// The headers of a request to another node's connection, and of its
// answer.
const (
	headerOp         = "Chatapp-Op" // opPost, opDisconnect, opGet or opDelete
	headerConnection = "Chatapp-Connection"
	headerReason     = "Chatapp-Reason"
	headerErrorCode  = "Chatapp-Error-Code" // an answer's chatapp error code, if it failed
	headerError      = "Chatapp-Error"

	opPost       = "post"
	opDisconnect = "disconnect"
	opGet        = "get"    // the Management API's GetConnection
	opDelete     = "delete" // the Management API's DeleteConnection
)

// maxTagAttempts bounds the draws of a tag that another node holds.
const maxTagAttempts = 10

// serveRequests takes a tag no other node answers to (nor holds in the
// store, with Config.Claim) and serves the requests other nodes send to
// this node's connections.
func (n *Node) serveRequests(ctx context.Context) error {
	for range maxTagAttempts {
		tag := newTag()
		if taken, err := n.tagTaken(ctx, tag); err != nil {
			return err
		} else if taken {
			continue
		}
		if n.claim != nil {
			if ok, err := n.claim(ctx, tag); err != nil {
				return err
			} else if !ok {
				continue
			}
		}
		if _, err := n.nc.Subscribe(nodeSubject(tag), n.serveRequest); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		if n.nc.IsConnected() {
			if err := n.nc.FlushTimeout(flushTimeout); err != nil {
				return fmt.Errorf("broker: %w", err)
			}
		}
		n.tag = tag
		return nil
	}
	return errors.New("broker: no free node tag")
}

// tagTaken asks the broker whether a node answers to tag: the broker
// says at once that nobody does. A broker too old to say (before NATS
// 2.2) lets the request time out: nobody answered either.
func (n *Node) tagTaken(ctx context.Context, tag string) (bool, error) {
	if !n.nc.IsConnected() {
		return false, nil // nobody to ask yet: the claim in the store decides
	}
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	_, err := n.nc.RequestWithContext(ctx, nodeSubject(tag), nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, natsgo.ErrNoResponders), errors.Is(err, context.DeadlineExceeded):
		return false, nil
	}
	return false, fmt.Errorf("broker: checking a node tag: %w", err)
}

// serveRequest runs another node's request on this node's hub and
// answers with its error, if any, or what it asked for.
func (n *Node) serveRequest(m *natsgo.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	id := m.Header.Get(headerConnection)
	answer := &natsgo.Msg{Header: natsgo.Header{}}
	var err error
	switch op := m.Header.Get(headerOp); op {
	case opPost:
		err = n.hub.Post(ctx, id, m.Data)
	case opDisconnect:
		err = n.hub.Disconnect(ctx, id, m.Header.Get(headerReason))
	case opGet:
		answer.Data, err = n.describeConnection(id)
	case opDelete:
		err = n.hub.DeleteConnection(id)
	default:
		err = fmt.Errorf("unknown request %q", op)
	}
	if err != nil {
		setHeaders(answer, headerErrorCode, chatapp.ErrorCode(err), headerError, err.Error())
	}
	if err := m.RespondMsg(answer); err != nil {
		n.logger.Warn("answering another node failed", "err", err)
	}
}

// Post is chatapp.Notifier's: a connection of this node is posted to
// here, another node's through that node. A node that is gone gives EGONE.
func (n *Node) Post(ctx context.Context, connectionID string, data []byte) error {
	if n.answersHere(connectionID) {
		return n.hub.Post(ctx, connectionID, data)
	}
	_, err := n.request(ctx, connectionID, opPost, data, "")
	return err
}

// Disconnect is chatapp.Notifier's, routed as Post is; a connection whose
// node is gone is gone, which is not an error. A node that is alive but
// out of reach is one: the kick was not delivered.
func (n *Node) Disconnect(ctx context.Context, connectionID, reason string) error {
	if n.answersHere(connectionID) {
		return n.hub.Disconnect(ctx, connectionID, reason)
	}
	_, err := n.request(ctx, connectionID, opDisconnect, nil, reason)
	if chatapp.ErrorCode(err) == chatapp.EGONE {
		return nil
	}
	return err
}

// request runs op on the node of a connection and returns its answer's
// data, or its error.
func (n *Node) request(ctx context.Context, connectionID, op string, data []byte, reason string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	m := &natsgo.Msg{Subject: nodeSubject(tagOf(connectionID)), Data: data, Header: natsgo.Header{}}
	setHeaders(m, headerOp, op, headerConnection, connectionID, headerReason, reason)
	answer, err := n.nc.RequestMsgWithContext(ctx, m)
	switch {
	case errors.Is(err, natsgo.ErrNoResponders):
		return nil, n.noResponders(ctx, connectionID)
	case err != nil:
		return nil, fmt.Errorf("reach the node of connection %s: %w", connectionID, err)
	}
	if msg := answer.Header.Get(headerError); msg != "" {
		if code := answer.Header.Get(headerErrorCode); code != "" && code != chatapp.EINTERNAL {
			return nil, chatapp.Errorf(code, "%s", msg)
		}
		return nil, errors.New(msg)
	}
	return answer.Data, nil
}

// noResponders is the error of a request nobody on the broker answered.
// That alone proves nothing: a live node briefly off the broker (a
// network blip, a broker restart) does not answer either. The connection
// is gone (EGONE, on which a caller deletes its row) only if the store
// takes its node for dead or has no row of it; otherwise the request
// fails with an error worth retrying.
func (n *Node) noResponders(ctx context.Context, connectionID string) error {
	if n.alive != nil {
		alive, err := n.alive(ctx, tagOf(connectionID))
		if err != nil {
			return fmt.Errorf("reach the node of connection %s: it does not answer, and the store could not say whether it is alive: %w", connectionID, err)
		}
		if alive {
			return fmt.Errorf("reach the node of connection %s: it is alive but does not answer on the broker", connectionID)
		}
	}
	return chatapp.Errorf(chatapp.EGONE, "connection %s is gone: its node is", connectionID)
}

// answersHere reports whether a connection is this node's hub's to
// answer: its id carries this node's tag, or none.
func (n *Node) answersHere(connectionID string) bool {
	tag := tagOf(connectionID)
	return tag == "" || tag == n.tag
}
