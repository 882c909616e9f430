package postgres

import (
	"errors"

	"github.com/oklog/ulid/v2"
)

// mint returns the id of a message stored now in a room whose last id is
// last ("" for a new room), and its time: a new id, or, when the clock
// gives one that does not sort after last (another process's clock is
// ahead, or this one went back), the id right after last.
func (db *DB) mint(last string) (id string, ms int64, err error) {
	id, ms = db.newID()
	if id > last {
		return id, ms, nil
	}
	id, err = idAfter(last)
	return id, ms, err
}

// idAfter returns the least id that sorts after last: a ULID is a
// 128-bit big-endian number, so this is last + 1.
func idAfter(last string) (string, error) {
	u, err := ulid.ParseStrict(last)
	if err != nil {
		return "", err
	}
	for i := len(u) - 1; i >= 0; i-- {
		u[i]++
		if u[i] != 0 {
			return u.String(), nil
		}
	}
	return "", errors.New("no message id sorts after the room's last")
}

// canonicalID reports whether id is a message id as the stores write them:
// a ULID in upper case. Ids compare bytewise (COLLATE "C"), so a given id
// in lower case would sort apart from the number it stands for.
func canonicalID(id string) bool {
	u, err := ulid.ParseStrict(id)
	return err == nil && u.String() == id
}
