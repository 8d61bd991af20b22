package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/controller"
)

// extraCodes maps the controller's sentinels. ErrUnknownTopicID wraps
// ErrUnknownTopic, so it comes first.
var extraCodes = []struct {
	err  error
	kerr *kerr.Error
}{
	{controller.ErrTopicExists, kerr.TopicAlreadyExists},
	{controller.ErrUnknownTopicID, kerr.UnknownTopicID},
	{controller.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
	{controller.ErrInvalidTopic, kerr.InvalidTopicException},
	{controller.ErrInvalidPartitions, kerr.InvalidPartitions},
	{controller.ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
	{controller.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
	{controller.ErrInvalidConfig, kerr.InvalidConfig},
	{controller.ErrNotController, kerr.NotController},
	{controller.ErrInvalidRequest, kerr.InvalidRequest},
	{controller.ErrTopicDeletionDisabled, kerr.TopicDeletionDisabled},
}
