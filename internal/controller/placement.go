package controller

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/strata-io/strata/internal/metadata"
)

// usableBrokers returns the registered brokers that may take new replicas
// (unfenced, not in controlled shutdown), by ascending id.
func usableBrokers(img *metadata.Image) []metadata.BrokerInfo {
	var out []metadata.BrokerInfo
	for _, b := range img.Brokers() {
		if !b.Fenced && !b.InControlledShutdown {
			out = append(out, b)
		}
	}
	return out
}

// place assigns replicas to partitions [first, first+count) over brokers
// with Kafka's assignment (AdminUtils): rack-aware when any broker has a
// rack (brokers without one share the rack ""), else rack-unaware. The
// first replica of each partition, its preferred leader, round-robins from
// a random start, and the followers are shifted by an offset that changes
// every len(brokers) partitions, so leaders and followers both spread.
func (c *Controller) place(brokers []metadata.BrokerInfo, count, rf, first int) ([][]int32, error) {
	n := len(brokers)
	if rf > n {
		return nil, fmt.Errorf("%w: %d, but only %d broker(s) are registered and unfenced", ErrInvalidReplicationFactor, rf, n)
	}
	start, err := c.randIntn(n)
	if err != nil {
		return nil, err
	}
	shift, err := c.randIntn(n)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(brokers, func(b metadata.BrokerInfo) bool { return b.Rack != "" }) {
		return placeRackAware(brokers, count, rf, first, start, shift)
	}
	ids := make([]int32, n)
	for i, b := range brokers {
		ids[i] = b.NodeID
	}
	out := make([][]int32, count)
	for i := range count {
		p := first + i
		if p > 0 && p%n == 0 {
			shift++
		}
		lead := (p + start) % n
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, ids[lead])
		for j := range rf - 1 {
			replicas = append(replicas, ids[followerIndex(lead, shift, j, n)])
		}
		out[i] = replicas
	}
	return out, nil
}

// followerIndex is the broker index of the j-th follower (from 0) when the
// leader has index lead: never lead itself, since the step is in [1, n-1].
func followerIndex(lead, shift, j, n int) int {
	return (lead + 1 + (shift+j)%(n-1)) % n
}

// placeRackAware is Kafka's rack-aware assignment: brokers are arranged so
// that racks alternate (r1b1, r2b1, r3b1, r1b2...), leaders round-robin
// over that list, and each follower is the next broker, by shifted steps,
// on a rack without a replica of the partition yet (any rack once every
// rack has one).
func placeRackAware(brokers []metadata.BrokerInfo, count, rf, first, start, shift int) ([][]int32, error) {
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[b.Rack] = append(byRack[b.Rack], b.NodeID) // ascending: brokers are sorted
	}
	racks := slices.Sorted(maps.Keys(byRack))
	n := len(brokers)
	arranged := make([]int32, 0, n)
	for i := 0; len(arranged) < n; i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				arranged = append(arranged, byRack[r][i])
			}
		}
	}
	rackOf := make(map[int32]string, n)
	for _, b := range brokers {
		rackOf[b.NodeID] = b.Rack
	}
	out := make([][]int32, count)
	for i := range count {
		p := first + i
		if p > 0 && p%n == 0 {
			shift++
		}
		lead := (p + start) % n
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, arranged[lead])
		racksUsed := map[string]bool{rackOf[arranged[lead]]: true}
		for k := 0; len(replicas) < rf; k++ {
			if k > n*n {
				// Unreachable: the steps visit every other broker.
				return nil, errors.New("controller: rack-aware placement found no follower")
			}
			b := arranged[followerIndex(lead, shift*len(racks), k, n)]
			if slices.Contains(replicas, b) || racksUsed[rackOf[b]] && len(racksUsed) < len(racks) {
				continue
			}
			replicas = append(replicas, b)
			racksUsed[rackOf[b]] = true
		}
		out[i] = replicas
	}
	return out, nil
}
