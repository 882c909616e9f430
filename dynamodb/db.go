// Package dynamodb is the store on AWS: the original's two DynamoDB tables,
// read and written through aws-sdk-go-v2. It behaves as the sqlite store
// does; storetest checks both against the same contract.
package dynamodb

import (
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatapp-dev/chatapp"
)

// The original's table names.
const (
	DefaultMessagesTable    = "chatapp-chat-messages"
	DefaultConnectionsTable = "chatapp-userlist"
)

// DefaultConnectionTTL is how long a connection row lives: API Gateway closes
// every WebSocket after 2 hours, and $disconnect is best-effort, so a row
// older than that (plus a margin for clock skew) belongs to a dead socket.
const DefaultConnectionTTL = 2*time.Hour + 10*time.Minute

// Config names the tables and sets the lifetimes of rows.
type Config struct {
	MessagesTable    string // default DefaultMessagesTable
	ConnectionsTable string // default DefaultConnectionsTable

	// MessageRetention sets expires_at on each message to its timestamp plus
	// this, for DynamoDB's TTL to delete it. 0 keeps messages forever.
	MessageRetention time.Duration

	// ConnectionTTL sets expires_at on each connection row to its write time
	// plus this, so rows whose $disconnect never ran go away. 0 means
	// DefaultConnectionTTL.
	ConnectionTTL time.Duration

	// QueryPageSize caps the items one Query or Scan request reads (its Limit).
	// 0 leaves only DynamoDB's own 1 MB page. Tests set it small so that the
	// paging loops run on a few rows.
	QueryPageSize int32
}

// DB is a store on DynamoDB. It implements chatapp.MessageStore and
// chatapp.ConnectionStore and is safe for concurrent use.
type DB struct {
	client *ddb.Client
	cfg    Config
}

var (
	_ chatapp.MessageStore    = (*DB)(nil)
	_ chatapp.ConnectionStore = (*DB)(nil)
)

// New returns a store on the tables cfg names; see NewClient for the client.
// It does not create the tables: on AWS the SAM template does, in
// development CreateTables.
func New(client *ddb.Client, cfg Config) *DB {
	if cfg.MessagesTable == "" {
		cfg.MessagesTable = DefaultMessagesTable
	}
	if cfg.ConnectionsTable == "" {
		cfg.ConnectionsTable = DefaultConnectionsTable
	}
	if cfg.ConnectionTTL == 0 {
		cfg.ConnectionTTL = DefaultConnectionTTL
	}
	return &DB{client: client, cfg: cfg}
}

// pageLimit is the Limit of a Query that needs want more items.
func (db *DB) pageLimit(want int) *int32 {
	n := int32(want)
	if db.cfg.QueryPageSize > 0 && db.cfg.QueryPageSize < n {
		n = db.cfg.QueryPageSize
	}
	return &n
}

// expired tells whether a row's TTL has passed. DynamoDB deletes expired
// rows lazily (typically within days), so reads must skip them.
func expired(expiresAt int64, now time.Time) bool {
	return expiresAt > 0 && expiresAt <= now.Unix()
}
