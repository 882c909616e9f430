// The connection rows of a cluster's nodes, found by the tag that begins
// every connection id a node mints: ranges of the primary key, which
// orders ids bytewise (the column is COLLATE "C"), so that a sweep reads
// the rows of the nodes it wants alone, never the whole table.

package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp"
)

// pastPrefix is the SQL of the least string past every string that
// begins with the text expression %[1]s: its last character's next. Node
// tags are ASCII letters and digits, whose next is one too; for another
// last character it steps over the surrogates (which chr refuses), and it
// is NULL past U+10FFFF, the last: a hand-written id must not make the
// query fail (ConnectionTags falls back to a filter, TestConnectionTagsOddLastCharacter).
const pastPrefix = `left(%[1]s, -1) || CASE ascii(right(%[1]s, 1)) WHEN 55295 THEN chr(57344) WHEN 1114111 THEN NULL
		ELSE chr(ascii(right(%[1]s, 1)) + 1) END`

var (
	// listConnectionsOfTagsSQL reads, for each tag of $1, the range of
	// connections_pkey that holds the ids beginning with it
	// (TestTagQueryPlans).
	listConnectionsOfTagsSQL = `SELECT ` + connectionColumns + `
		FROM unnest($1::text[]) AS t(tag)
		JOIN connections c ON c.connection_id >= t.tag AND c.connection_id < ` + fmt.Sprintf(pastPrefix, "t.tag")
	// connectionTagsSQL lists the distinct first $1 characters of the
	// ids by a skip scan of connections_pkey: each step is one search of
	// the index, for the first id past the tag before, so it reads one
	// row per tag whatever the table holds (TestTagQueryPlans). An id
	// shorter than a tag is followed by the least string after it; a tag
	// with no string past it (pastPrefix) is stepped over by the filter,
	// reading its rows.
	connectionTagsSQL = `WITH RECURSIVE tags(tag) AS (
		(SELECT left(connection_id, $1) FROM connections ORDER BY connection_id LIMIT 1)
		UNION ALL
		SELECT (SELECT left(c.connection_id, $1) FROM connections c
			WHERE c.connection_id >= CASE WHEN length(tags.tag) < $1 THEN tags.tag || chr(1)
					ELSE coalesce(` + fmt.Sprintf(pastPrefix, "tags.tag") + `, tags.tag) END
				AND left(c.connection_id, $1) > tags.tag
			ORDER BY c.connection_id LIMIT 1)
		FROM tags WHERE tags.tag IS NOT NULL)
	SELECT tag FROM tags WHERE tag IS NOT NULL`
)

// ListConnectionsOfTags returns the connections whose ids begin with one
// of tags (a cluster node's, which begins every id it mints), reading
// their rows alone: a node's sweep of its own rows, and of dead nodes'.
// Tags are node tags, of ASCII letters and digits; a tag with no string
// past it (pastPrefix is NULL), which no node mints, reads nothing.
func (db *DB) ListConnectionsOfTags(ctx context.Context, tags []string) ([]*chatapp.Connection, error) {
	if tags = nonEmpty(tags); len(tags) == 0 {
		return nil, nil
	}
	return db.queryConnections(ctx, listConnectionsOfTagsSQL, tags)
}

// nonEmpty drops the empty tags: the prefix of every id, whose range
// would be the whole table's.
func nonEmpty(tags []string) []string {
	return slices.DeleteFunc(slices.Clone(tags), func(tag string) bool { return tag == "" })
}

// ConnectionTags returns the distinct first tagLen characters of the
// stored connection ids, in order: the tags of the nodes that hold rows
// (and the first characters of ids no node minted). It reads one index
// entry per tag, not the table: a heartbeat finds the rows whose node
// has no row in the nodes table this way.
func (db *DB) ConnectionTags(ctx context.Context, tagLen int) ([]string, error) {
	rows, _ := db.pool.Query(ctx, connectionTagsSQL, tagLen)
	tags, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list connection tags: %w", err)
	}
	return tags, nil
}
