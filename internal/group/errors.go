package group

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-io/strata/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinels. Status returns errors wrapping the first two; kafkaapi maps
// them in FindCoordinator.
var (
	// ErrNotCoordinator: this node does not coordinate the group (its
	// __consumer_offsets partition is not loaded here). A Log returns an
	// error wrapping it when leadership of its partition was lost.
	ErrNotCoordinator = errors.New("not the coordinator for this group")
	// ErrLoadInProgress: the group's shard is still replaying its log.
	ErrLoadInProgress = errors.New("group coordinator is loading")
)

// routingErr wraps the runtime's ErrNotCoordinator and ErrLoadInProgress
// (a shard not hosted here, loading, or stopped while a request waited) in
// this package's sentinels; other errors (the request's context) pass.
func routingErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, coordinator.ErrLoadInProgress):
		return fmt.Errorf("%w: %w", ErrLoadInProgress, err)
	case errors.Is(err, coordinator.ErrNotCoordinator):
		return fmt.Errorf("%w: %w", ErrNotCoordinator, err)
	default:
		return err
	}
}

// statusCode is the Kafka code for a routing error (Status, shard stopped,
// request context ended).
func statusCode(err error) *kerr.Error {
	switch {
	case errors.Is(err, ErrLoadInProgress):
		return kerr.CoordinatorLoadInProgress
	case errors.Is(err, ErrNotCoordinator):
		return kerr.NotCoordinator
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Nobody may be listening (the connection closed); for a deadline
		// Kafka answers REQUEST_TIMED_OUT as COORDINATOR_NOT_AVAILABLE.
		return kerr.CoordinatorNotAvailable
	default:
		return kerr.UnknownServerError
	}
}

// writeCode maps a failed append or commit to the code Kafka answers group
// metadata writes with (GroupMetadataManager.appendGroupMetadataErrorToResponseError
// and CoordinatorRuntime's mapping): lost leadership and storage failures
// become NOT_COORDINATOR so the client looks up the coordinator again; too
// large a batch is UNKNOWN_SERVER_ERROR; everything else (timeouts, not
// enough replicas, unknown errors) is COORDINATOR_NOT_AVAILABLE.
func writeCode(err error) *kerr.Error {
	if errors.Is(err, ErrNotCoordinator) {
		return kerr.NotCoordinator
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.NotLeaderForPartition, kerr.KafkaStorageError, kerr.NotCoordinator:
			return kerr.NotCoordinator
		case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
			return kerr.UnknownServerError
		}
	}
	return kerr.CoordinatorNotAvailable
}

// commitWriteCode is writeCode for OffsetCommit, where Kafka answers an
// oversized batch with INVALID_COMMIT_OFFSET_SIZE.
func commitWriteCode(err error) *kerr.Error {
	c := writeCode(err)
	if c == kerr.UnknownServerError {
		return kerr.InvalidCommitOffsetSize
	}
	return c
}
