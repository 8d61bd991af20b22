package txn

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/coordinator"
)

// The coordinator answers with Kafka's own errors, as Kafka's
// TransactionCoordinator computes them: every error its methods return is
// or wraps a *kerr.Error, or wraps coordinator.ErrNotCoordinator /
// coordinator.ErrLoadInProgress, or is the request context's error. Code
// turns any of them into the Kafka error code.

// Code returns the Kafka error code of an error the coordinator returned;
// 0 for nil.
func Code(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Code
	case errors.Is(err, coordinator.ErrLoadInProgress):
		return kerr.CoordinatorLoadInProgress.Code
	case errors.Is(err, coordinator.ErrNotCoordinator):
		return kerr.NotCoordinator.Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut.Code
	default:
		// A write to __transaction_state failed (not enough replicas, the
		// leader moved): Kafka answers COORDINATOR_NOT_AVAILABLE or
		// NOT_COORDINATOR so that the client looks it up again.
		return kerr.CoordinatorNotAvailable.Code
	}
}
