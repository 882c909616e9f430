package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chatapp-dev/chatapp"
)

// write is one message to commit and, once its transaction is done, the
// outcome: nil, a replay's answer (ErrDuplicate, ECONFLICT) or a failure.
type write struct {
	ctx context.Context
	m   *chatapp.Message
	err error
}

// The statements of a commit. Arrays carry any number of rooms and
// messages in one statement each; every statement is prepared once per
// connection (pgx's statement cache).
const (
	// createRoomsSQL makes the rooms row of a room's first message. Rooms
	// come sorted: two transactions creating the same rooms wait for each
	// other in one order, never in a cycle.
	createRoomsSQL = `INSERT INTO rooms (room_id, last_id) SELECT unnest($1::text[]), '' ON CONFLICT DO NOTHING`
	// lockRoomsSQL locks the rooms, in id order (FOR UPDATE locks rows
	// as the sorted plan returns them), and reads each one's last id as
	// the transaction that held the lock before left it.
	lockRoomsSQL = `SELECT room_id, last_id FROM rooms WHERE room_id = ANY($1::text[]) ORDER BY room_id FOR UPDATE`
	// findKeysSQL reads the stored message of each idempotency key; under
	// the rooms' locks no other transaction can store one meanwhile.
	findKeysSQL = `SELECT m.room_id, m.user_id, m.idempotency_key, m.id, m.timestamp, m.name, m.message
		FROM messages m JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(room_id, user_id, idempotency_key)
		ON m.room_id = k.room_id AND m.user_id = k.user_id AND m.idempotency_key = k.idempotency_key`
	// findIDsSQL tells which of the ids that messages came with are
	// stored: a duplicate fails its own write, not its transaction.
	findIDsSQL = `SELECT m.room_id, m.id FROM messages m JOIN unnest($1::text[], $2::text[]) AS g(room_id, id)
		ON m.room_id = g.room_id AND m.id = g.id`
	insertMessagesSQL = `INSERT INTO messages (room_id, id, timestamp, user_id, name, message, idempotency_key)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::text[])`
	updateRoomsSQL = `UPDATE rooms SET last_id = v.last_id FROM unnest($1::text[], $2::text[]) AS v(room_id, last_id)
		WHERE rooms.room_id = v.room_id AND v.last_id > rooms.last_id`
)

// commit stores ws in one transaction and sets each write's outcome. It
// takes two round trips whatever len(ws): the first begins, locks the
// rooms and reads their last ids and the keys and ids in use; the ids are
// minted here; the second inserts, moves the rooms' last ids and commits.
// A transaction that fails fails every write, and leaves each message as
// it was given: none was stored, none is acknowledged.
func (db *DB) commit(ctx context.Context, ws []*write) {
	var live []*write
	for _, w := range ws {
		if w.err = w.ctx.Err(); w.err == nil {
			if w.err = unstorable(w.m); w.err == nil {
				live = append(live, w)
			}
		}
	}
	if len(live) == 0 {
		return
	}
	given := make([]chatapp.Message, len(live))
	for i, w := range live {
		given[i] = *w.m
	}
	if err := db.commitTx(ctx, live); err != nil {
		for i, w := range live {
			*w.m, w.err = given[i], err
		}
	}
}

// commitTx runs commit's transaction. A connection given back in a
// transaction (a failure midway) is closed by the pool, which the server
// takes for a rollback.
func (db *DB) commitTx(ctx context.Context, ws []*write) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store messages: %w", err)
	}
	defer conn.Release()
	tx, err := readState(ctx, conn.Conn(), ws)
	if err != nil {
		return fmt.Errorf("store messages: %w", err)
	}
	ins := tx.resolve(db, ws)
	b := &pgx.Batch{}
	if len(ins.ids) > 0 {
		b.Queue(insertMessagesSQL, ins.rooms, ins.ids, ins.timestamps, ins.users, ins.names, ins.texts, ins.keys)
		rooms, last := tx.lastIDs()
		b.Queue(updateRoomsSQL, rooms, last)
	}
	// The server answers a COMMIT of a transaction it aborted with
	// ROLLBACK, and no error.
	b.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return errors.New("the transaction was rolled back")
		}
		return nil
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store messages: %w", err)
	}
	return nil
}

// txState is what a commit's first round trip read, under the locks.
type txState struct {
	last   map[string]string // each room's last id, as minted so far
	keys   map[keyOf]*chatapp.Message
	stored map[[2]string]bool // (room, id) of the given ids already stored
}

type keyOf struct{ room, user, key string }

func messageKey(m *chatapp.Message) keyOf { return keyOf{m.RoomID, m.UserID, m.IdempotencyKey} }

// readState begins the transaction, locks the writes' rooms and reads
// their last ids, the messages stored under their idempotency keys and
// which of their given ids are stored, in one round trip.
func readState(ctx context.Context, conn *pgx.Conn, ws []*write) (*txState, error) {
	var rooms []string
	var keyRooms, keyUsers, keys, idRooms, ids []string
	for _, w := range ws {
		rooms = append(rooms, w.m.RoomID)
		if w.m.IdempotencyKey != "" {
			keyRooms, keyUsers, keys = append(keyRooms, w.m.RoomID), append(keyUsers, w.m.UserID), append(keys, w.m.IdempotencyKey)
		}
		if w.m.ID != "" {
			idRooms, ids = append(idRooms, w.m.RoomID), append(ids, w.m.ID)
		}
	}
	slices.Sort(rooms)
	rooms = slices.Compact(rooms)

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(createRoomsSQL, rooms)
	b.Queue(lockRoomsSQL, rooms)
	if len(keys) > 0 {
		b.Queue(findKeysSQL, keyRooms, keyUsers, keys)
	}
	if len(ids) > 0 {
		b.Queue(findIDsSQL, idRooms, ids)
	}
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	s := &txState{last: make(map[string]string, len(rooms)), keys: map[keyOf]*chatapp.Message{}, stored: map[[2]string]bool{}}
	var room, last string
	if _, err := pgx.ForEachRow(rowsOf(br.Query()), []any{&room, &last}, func() error {
		s.last[room] = last
		return nil
	}); err != nil {
		return nil, fmt.Errorf("lock rooms: %w", err)
	}
	if len(keys) > 0 {
		var k keyOf
		var m chatapp.Message
		var text []byte
		if _, err := pgx.ForEachRow(rowsOf(br.Query()), []any{&k.room, &k.user, &k.key, &m.ID, &m.Timestamp, &m.Name, &text}, func() error {
			stored := m
			stored.RoomID, stored.UserID, stored.IdempotencyKey, stored.Text = k.room, k.user, k.key, string(text)
			s.keys[k] = &stored
			return nil
		}); err != nil {
			return nil, fmt.Errorf("find idempotency keys: %w", err)
		}
	}
	if len(ids) > 0 {
		var id [2]string
		if _, err := pgx.ForEachRow(rowsOf(br.Query()), []any{&id[0], &id[1]}, func() error {
			s.stored[id] = true
			return nil
		}); err != nil {
			return nil, fmt.Errorf("find given ids: %w", err)
		}
	}
	return s, br.Close()
}

// unstorable refuses, with EINVALID, a message the tables cannot hold as
// given: an error of the server would fail the whole batch, not this one
// write. The handlers' validation passes none of these; direct callers
// might. (A text's NUL is stored: message is bytea.)
func unstorable(m *chatapp.Message) error {
	if m.ID != "" && !canonicalID(m.ID) {
		return chatapp.Errorf(chatapp.EINVALID, "message id %q is not a message id in upper case", m.ID)
	}
	for _, s := range []string{m.RoomID, m.UserID, m.Name, m.IdempotencyKey} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || len(s) > maxKeyBytes {
			return chatapp.Errorf(chatapp.EINVALID, "a room, user, name or key that is not UTF-8 text of at most %d bytes", maxKeyBytes)
		}
	}
	return nil
}

// maxKeyBytes bounds the strings of a message's indexed columns, well
// under what a B-tree entry holds (about 2.7 KB), far over what the
// handlers let through (chatapp.MaxIDBytes).
const maxKeyBytes = 512

// rowsOf passes a batch's Query on to pgx.ForEachRow: an error of the
// query comes back from the rows.
func rowsOf(rows pgx.Rows, _ error) pgx.Rows { return rows }

// inserts are the columns of the messages a commit inserts.
type inserts struct {
	rooms, ids, users, names []string
	timestamps               []int64
	texts                    [][]byte
	keys                     []*string
}

// resolve answers each write, in order: a replay of a key stored or used
// earlier in the batch, a given id already stored, or a message to
// insert, whose id it mints after its room's last and whose PrevID is
// that last (chatapp.Message.PrevID).
func (s *txState) resolve(db *DB, ws []*write) *inserts {
	ins := &inserts{}
	for _, w := range ws {
		m := w.m
		if m.IdempotencyKey != "" {
			if stored := s.keys[messageKey(m)]; stored != nil {
				w.err = chatapp.Replay(m, stored)
				continue
			}
		}
		if m.ID == "" {
			id, ms, err := db.mint(s.last[m.RoomID])
			if err != nil {
				w.err = err
				continue
			}
			m.ID, m.Timestamp = id, cmp.Or(m.Timestamp, ms)
		} else {
			if s.stored[[2]string{m.RoomID, m.ID}] {
				w.err = fmt.Errorf("insert message: id %s is already stored in room %s", m.ID, m.RoomID)
				continue
			}
			s.stored[[2]string{m.RoomID, m.ID}] = true
			m.Timestamp = cmp.Or(m.Timestamp, time.Now().UnixMilli())
		}
		m.PrevID = s.last[m.RoomID]
		s.last[m.RoomID] = max(m.PrevID, m.ID)
		var key *string
		if m.IdempotencyKey != "" {
			key = &m.IdempotencyKey
			s.keys[messageKey(m)] = m
		}
		ins.rooms, ins.ids, ins.timestamps = append(ins.rooms, m.RoomID), append(ins.ids, m.ID), append(ins.timestamps, m.Timestamp)
		ins.users, ins.names, ins.texts = append(ins.users, m.UserID), append(ins.names, m.Name), append(ins.texts, []byte(m.Text))
		ins.keys = append(ins.keys, key)
	}
	return ins
}

// lastIDs lists the rooms' last ids, for updateRoomsSQL.
func (s *txState) lastIDs() (rooms, last []string) {
	for room, id := range s.last {
		rooms, last = append(rooms, room), append(last, id)
	}
	return rooms, last
}
