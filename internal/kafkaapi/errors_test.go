package kafkaapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

func TestErrorCodeMapsEverySentinel(t *testing.T) {
	tests := []struct {
		give error
		want *kerr.Error
	}{
		{errMessageTooLarge, kerr.MessageTooLarge},
		{errInvalidTimestamp, kerr.InvalidTimestamp},
		{&recordErrors{}, kerr.InvalidRecord},
		{&recordErrors{timestamp: true}, kerr.InvalidTimestamp},
		{partition.ErrPolicyViolation, kerr.PolicyViolation},
		{record.ErrCorrupt, kerr.CorruptMessage},
		{record.ErrInvalid, kerr.InvalidRecord},
		{record.ErrUnsupported, kerr.UnsupportedCompressionType},
		{record.ErrTooLarge, kerr.CorruptMessage},
		{storage.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
		{storage.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
		{storage.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
		{storage.ErrProducerFenced, kerr.ProducerFenced},
		{storage.ErrCoordinatorFenced, kerr.TransactionCoordinatorFenced},
		{storage.ErrTxnNotVerified, kerr.InvalidTxnState},
		{storage.ErrLogClosed, kerr.NotLeaderForPartition},
		{storage.ErrStorageFailed, kerr.KafkaStorageError},
		{storage.ErrCorruptLog, kerr.KafkaStorageError},
		{partition.ErrNotLeader, kerr.NotLeaderForPartition},
		{&partition.NotLeaderError{Leader: 2, LeaderEpoch: 3}, kerr.NotLeaderForPartition},
		{partition.ErrNotEnoughReplicas, kerr.NotEnoughReplicas},
		{partition.ErrNotEnoughReplicasAfterAppend, kerr.NotEnoughReplicasAfterAppend},
		{context.DeadlineExceeded, kerr.RequestTimedOut},
		{partition.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
		{partition.ErrUnknownLeaderEpoch, kerr.UnknownLeaderEpoch},
		{controller.ErrTopicExists, kerr.TopicAlreadyExists},
		{controller.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
		{controller.ErrUnknownTopicID, kerr.UnknownTopicID},
		{controller.ErrInvalidTopic, kerr.InvalidTopicException},
		{controller.ErrInvalidPartitions, kerr.InvalidPartitions},
		{controller.ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
		{controller.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
		{controller.ErrInvalidConfig, kerr.InvalidConfig},
		{controller.ErrNotController, kerr.NotController},
		{controller.ErrInvalidRequest, kerr.InvalidRequest},
		{controller.ErrDuplicateResource, kerr.DuplicateResource},
		{controller.ErrResourceNotFound, kerr.ResourceNotFound},
		{controller.ErrUnacceptableCredential, kerr.UnacceptableCredential},
		{controller.ErrUnsupportedSaslMechanism, kerr.UnsupportedSaslMechanism},
		{controller.ErrTopicDeletionDisabled, kerr.TopicDeletionDisabled},
		{controller.ErrBrokerNotRegistered, kerr.BrokerIDNotRegistered},
		{controller.ErrStaleBrokerEpoch, kerr.StaleBrokerEpoch},
		{controller.ErrDuplicateBrokerRegistration, kerr.DuplicateBrokerRegistration},
		{controller.ErrNotLeaderOrFollower, kerr.NotLeaderForPartition},
		{controller.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
		{controller.ErrInvalidUpdateVersion, kerr.InvalidUpdateVersion},
		{controller.ErrIneligibleReplica, kerr.IneligibleReplica},
		{controller.ErrElectionNotNeeded, kerr.ElectionNotNeeded},
		{controller.ErrPreferredLeaderNotAvailable, kerr.PreferredLeaderNotAvailable},
		{controller.ErrEligibleLeadersNotAvailable, kerr.EligibleLeadersNotAvailable},
		{kerr.RebalanceInProgress, kerr.RebalanceInProgress},
	}
	log := slog.New(slog.DiscardHandler)
	for _, tt := range tests {
		wrapped := fmt.Errorf("context: %w", tt.give)
		if got := errorCode(log, wrapped); got != tt.want.Code {
			t.Errorf("errorCode(%v) = %v, want %v", tt.give, kerr.ErrorForCode(got), tt.want)
		}
	}
	if got := errorCode(log, errors.New("something else")); got != kerr.UnknownServerError.Code {
		t.Errorf("errorCode(unrecognised) = %d, want UNKNOWN_SERVER_ERROR", got)
	}
	if got := errorCode(log, nil); got != 0 {
		t.Errorf("errorCode(nil) = %d", got)
	}
}
