package txn

import (
	"context"
	"log/slog"
	"time"

	"github.com/strata-io/strata/internal/clock"
)

// TransactionStateTopic is Kafka's internal topic of transaction state.
const TransactionStateTopic = "__transaction_state"

// Config configures a Coordinator. Zero fields take DefaultConfig's values.
type Config struct {
	NodeID int32
	Logger *slog.Logger
	// NumPartitions is the partition count of __transaction_state
	// (transaction.state.log.num.partitions, 50); the transactional-id to
	// partition mapping depends on it.
	NumPartitions int32
	// MaxTimeout bounds a producer's transaction.timeout.ms
	// (transaction.max.timeout.ms, 15 minutes).
	MaxTimeout time.Duration
	// IDExpiration forgets a transactional id whose producer sent nothing
	// for this long (transactional.id.expiration.ms, 7 days).
	IDExpiration time.Duration
	// AbortTimedOutInterval is how often transactions that outlived their
	// timeout are looked for and aborted
	// (transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s).
	AbortTimedOutInterval time.Duration
	// RemoveExpiredInterval is how often expired transactional ids are
	// removed (transaction.remove.expired.transaction.cleanup.interval.ms,
	// 1 hour).
	RemoveExpiredInterval time.Duration
	// ProducerIDs hands out a new producer id (from the controller's
	// blocks, as for idempotent producers). Called off the shard loops.
	ProducerIDs func(ctx context.Context) (int64, error)
	// Markers sends WriteTxnMarkers to partition leaders.
	Markers MarkerSender
	// MarkerRetryBackoff is the wait before a marker that failed is sent
	// again (Kafka retries at once on its next poll; 100 ms here).
	MarkerRetryBackoff time.Duration
	// Now is the wall clock of transaction timeouts, expiration and the
	// state's timestamps (default clock.Now; tests replace it). Marker
	// retry back-offs use time.Now.
	Now func() time.Time
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		Logger:                slog.New(slog.DiscardHandler),
		NumPartitions:         50,
		MaxTimeout:            15 * time.Minute,
		IDExpiration:          7 * 24 * time.Hour,
		AbortTimedOutInterval: 10 * time.Second,
		RemoveExpiredInterval: time.Hour,
		MarkerRetryBackoff:    100 * time.Millisecond,
		Now:                   clock.Now,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.NumPartitions <= 0 {
		c.NumPartitions = d.NumPartitions
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = d.MaxTimeout
	}
	if c.IDExpiration <= 0 {
		c.IDExpiration = d.IDExpiration
	}
	if c.AbortTimedOutInterval <= 0 {
		c.AbortTimedOutInterval = d.AbortTimedOutInterval
	}
	if c.RemoveExpiredInterval <= 0 {
		c.RemoveExpiredInterval = d.RemoveExpiredInterval
	}
	if c.MarkerRetryBackoff <= 0 {
		c.MarkerRetryBackoff = d.MarkerRetryBackoff
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}
