package dynamodb

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatapp-dev/chatapp"
)

// Bounds on the tries of a transaction that others keep conflicting with:
// a capped CreateConnection (a burst of one user's handshakes) and an
// idempotent CreateMessage (attempts of one send racing, or a key record
// taken over).
const (
	maxSlotAttempts    = 8
	maxMessageAttempts = 4
)

// transact is one attempt of a transaction that our own loops may try
// again with other conditions. The SDK fills in's ClientRequestToken (the
// idempotency token its own retries of this attempt share) and leaves it
// there: sent again, DynamoDB would take a changed attempt for a replay
// of the first (IdempotentParameterMismatch within 10 minutes), so each
// attempt gets a token of its own.
func (db *DB) transact(ctx context.Context, in *ddb.TransactWriteItemsInput) error {
	in.ClientRequestToken = nil
	_, err := db.client.TransactWriteItems(ctx, in)
	return err
}

// conflicted reports whether a canceled transaction lost a race with
// another (TransactionConflict): worth trying again.
func conflicted(reasons []types.CancellationReason) bool {
	for _, r := range reasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return true
		}
	}
	return false
}

// retryConflict waits before try attempt+1 of a conflicted transaction, a
// random while that grows with attempt. Past max tries it gives up with
// EUNAVAILABLE (503): contention the client may retry, not a fault.
func retryConflict(ctx context.Context, attempt, max int, what string) error {
	if attempt >= max {
		return chatapp.Errorf(chatapp.EUNAVAILABLE, "too many %s: retry shortly", what)
	}
	select {
	case <-time.After(time.Duration(rand.Int64N(int64(5*time.Millisecond) << attempt))):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
