package group

import (
	"context"
	"fmt"
)

// CompleteTransaction writes the transaction marker of producerID (COMMIT
// when commit, else ABORT, from the transaction coordinator at
// coordinatorEpoch) to the __consumer_offsets partition, ordered with the
// shard's other writes, and once it is committed applies it to the
// producer's pending offsets of that partition's groups: COMMIT makes
// them visible to OffsetFetch, ABORT drops them. WriteTxnMarkers calls it
// for each __consumer_offsets partition of a marker.
//
// Errors wrap ErrNotCoordinator when the partition is not loaded here (or
// stopped meanwhile) and ErrLoadInProgress while it loads; the append's
// errors pass through, so errors.Is finds storage.ErrProducerFenced and
// storage.ErrCoordinatorFenced, and the partition's not-leader errors. A
// refused marker changes nothing.
func (c *Coordinator) CompleteTransaction(ctx context.Context, partition int32, producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool) error {
	s, err := c.shard(partition)
	if err != nil {
		return err
	}
	werr, err := call(ctx, s, func(reply func(error)) {
		s.loop.WriteMarker(producerID, producerEpoch, coordinatorEpoch, commit, func(err error) {
			if err == nil {
				s.completeTxn(producerID, commit)
			}
			reply(err)
		})
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("transaction marker of producer %d: %w", producerID, routingErr(werr))
	}
	return nil
}
