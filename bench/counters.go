// The broker's and the store's own counters over a measured phase:
// nats-server's messages and bytes (its monitoring endpoint's /varz), and
// PostgreSQL's write transactions and WAL bytes.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// BrokerTraffic is what nats-server counted over the measured phase:
// messages and bytes in from publishers and out to subscribers, in all
// and per acknowledged message.
type BrokerTraffic struct {
	NATSCounters
	InMsgsPerMessage   float64 `json:"in_msgs_per_message"`
	OutMsgsPerMessage  float64 `json:"out_msgs_per_message"`
	InBytesPerMessage  float64 `json:"in_bytes_per_message"`
	OutBytesPerMessage float64 `json:"out_bytes_per_message"`
}

// NATSCounters are the fields of nats-server's /varz the benchmark reads.
type NATSCounters struct {
	InMsgs   int64 `json:"in_msgs"`
	OutMsgs  int64 `json:"out_msgs"`
	InBytes  int64 `json:"in_bytes"`
	OutBytes int64 `json:"out_bytes"`
}

// readVarz reads the counters from nats-server's monitoring address
// (http://HOST:PORT of its -m PORT).
func readVarz(ctx context.Context, client *http.Client, monitor string) (NATSCounters, error) {
	var c NATSCounters
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(monitor, "/")+"/varz", nil)
	if err != nil {
		return c, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("GET /varz: %s", resp.Status)
	}
	return c, json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&c) // /varz is a few KB
}

// brokerTraffic is the traffic between two readings, over messages.
func brokerTraffic(before, after NATSCounters, messages int64) *BrokerTraffic {
	d := NATSCounters{InMsgs: after.InMsgs - before.InMsgs, OutMsgs: after.OutMsgs - before.OutMsgs,
		InBytes: after.InBytes - before.InBytes, OutBytes: after.OutBytes - before.OutBytes}
	return &BrokerTraffic{NATSCounters: d,
		InMsgsPerMessage: ratio(d.InMsgs, messages), OutMsgsPerMessage: ratio(d.OutMsgs, messages),
		InBytesPerMessage: ratio(d.InBytes, messages), OutBytesPerMessage: ratio(d.OutBytes, messages)}
}

// StoreWrites is what PostgreSQL wrote over the measured phase, in all and
// per acknowledged message. Both counters are exact at the moment they are
// read (pg_stat_database and pg_stat_wal are not: a backend reports to
// them some time after its transactions).
type StoreWrites struct {
	PGCounters
	WriteTransactionsPerMessage float64 `json:"write_transactions_per_message"`
	WALBytesPerMessage          float64 `json:"wal_bytes_per_message"`
}

// PGCounters are read from the database server.
type PGCounters struct {
	// WriteTransactions counts transaction ids assigned: every transaction
	// (or savepoint) that wrote, in any database of the server.
	WriteTransactions int64 `json:"write_transactions"`
	WALBytes          int64 `json:"wal_bytes"` // the WAL insert position
}

// readPG reads the counters from the database at url.
func readPG(ctx context.Context, url string) (PGCounters, error) {
	var c PGCounters
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return c, err
	}
	defer conn.Close(ctx)
	// xmax of a snapshot is the next transaction id to assign; reading it
	// assigns none.
	err = conn.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
		pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint`).Scan(&c.WriteTransactions, &c.WALBytes)
	return c, err
}

// storeWrites is the writes between two readings, over messages.
func storeWrites(before, after PGCounters, messages int64) *StoreWrites {
	d := PGCounters{WriteTransactions: after.WriteTransactions - before.WriteTransactions,
		WALBytes: after.WALBytes - before.WALBytes}
	return &StoreWrites{PGCounters: d,
		WriteTransactionsPerMessage: ratio(d.WriteTransactions, messages),
		WALBytesPerMessage:          ratio(d.WALBytes, messages)}
}

func ratio(n, messages int64) float64 {
	if messages <= 0 {
		return 0
	}
	return float64(n) / float64(messages)
}
