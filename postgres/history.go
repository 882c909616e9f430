package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp"
)

// FindMessages reads one page of history: the rows the page takes, whole,
// and the first row past it, by its id alone, to say More.
func (db *DB) FindMessages(ctx context.Context, f chatapp.MessageFilter) (chatapp.MessagePage, error) {
	if err := f.Validate(); err != nil {
		return chatapp.MessagePage{}, err
	}
	query, args, newestFirst := historyQuery(f)
	rows, _ := db.pool.Query(ctx, query, args...) // an error comes back from the rows
	var page chatapp.MessagePage
	m := chatapp.Message{RoomID: f.RoomID}
	var taken bool
	var text []byte
	_, err := pgx.ForEachRow(rows, []any{&m.ID, &taken, &m.Timestamp, &m.UserID, &m.Name, &text}, func() error {
		if !taken { // the last row, if any
			page.More = true
			return nil
		}
		row := m
		row.Text = string(text)
		page.Messages = append(page.Messages, &row)
		return nil
	})
	if err != nil {
		return chatapp.MessagePage{}, fmt.Errorf("query messages: %w", err)
	}
	if newestFirst {
		slices.Reverse(page.Messages)
	}
	return page, nil
}

// historyQuery is the SQL of a page, whose rows come in the order the page
// reads them (newest first but for an After page). The inner query walks
// the primary key (room_id, id) INCLUDE (size) in that order, numbering the
// rows and summing their sizes as MessageFilter.Takes counts them, for at
// most Limit + 1 rows, from the index alone; it keeps the rows the page
// takes and the first it does not, which proves More (the second row, when
// the first alone is past the budget; else the first whose bytes before it
// are within the budget and its own are not, or the row past the limit),
// last. Only the rows taken are then read from the table, one primary key
// lookup each: the LATERAL
// subquery's LIMIT keeps the planner from flattening it into a join that
// may scan the room (a hash join, on a room of thousands), so a page's
// texts cost its budget, not its limit (TestHistoryQueryPlans).
func historyQuery(f chatapp.MessageFilter) (query string, args []any, newestFirst bool) {
	order, cursor := "DESC", ""
	args = []any{f.RoomID, f.Limit, f.MaxBytes}
	newestFirst = true
	switch {
	case f.After != "":
		order, cursor = "ASC", ` AND id > $4`
		args = append(args, f.After)
		newestFirst = false
	case f.Before != "":
		cursor = ` AND id < $4`
		args = append(args, f.Before)
	}
	query = `SELECT p.id, p.taken, COALESCE(m.timestamp, 0), COALESCE(m.user_id, ''), COALESCE(m.name, ''), COALESCE(m.message, ''::bytea)
	FROM (
		SELECT id, n <= $2::integer AND (n = 1 OR $3::bigint <= 0 OR used <= $3::bigint) AS taken
		FROM (
			SELECT id, size, row_number() OVER w AS n, sum(size) OVER w AS used
			FROM messages WHERE room_id = $1` + cursor + `
			WINDOW w AS (ORDER BY id ` + order + ` ROWS UNBOUNDED PRECEDING)
			ORDER BY id ` + order + ` LIMIT $2::integer + 1
		) counted
		WHERE n <= 2 OR $3::bigint <= 0 OR used - size <= $3::bigint
	) p
	LEFT JOIN LATERAL (
		SELECT timestamp, user_id, name, message FROM messages WHERE p.taken AND room_id = $1 AND id = p.id LIMIT 1
	) m ON true
	ORDER BY p.id ` + order
	return query, args, newestFirst
}
