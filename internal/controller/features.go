package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strata-io/strata/internal/metadata"
)

// Upgrade types of a feature update (UpdateFeatures v1+, KIP-778).
const (
	FeatureUpgrade         int8 = 1
	FeatureSafeDowngrade   int8 = 2
	FeatureUnsafeDowngrade int8 = 3
)

// ErrOtherFeatureUpdateInvalid is the result of a valid update in an
// atomic UpdateFeatures request that another invalid update failed.
var ErrOtherFeatureUpdateInvalid = fmt.Errorf("%w: another update of the request is invalid", ErrInvalidUpdateVersion)

// FeatureUpdate asks to finalize feature Name at Level.
type FeatureUpdate struct {
	Name  string
	Level int16
	// UpgradeType is FeatureUpgrade, FeatureSafeDowngrade or
	// FeatureUnsafeDowngrade.
	UpgradeType int8
}

// bootstrapFeatures finalizes the features of a cluster whose metadata has
// none (created before Strata kept them): the bootstrap levels, except
// that eligible leader replicas stay off until an operator turns them on.
// Run on the loop.
func (c *Controller) bootstrapFeatures(ctx context.Context, img *metadata.Image) error {
	if img.FeatureLevel(metadata.MetadataVersionFeature) != 0 {
		return nil
	}
	var recs []metadata.Record
	for _, r := range metadata.BootstrapFeatures() {
		if f := r.(*metadata.FeatureLevelRecord); f.Name == metadata.ELRVersionFeature {
			f.Level = 0
		}
		recs = append(recs, r)
	}
	if err := c.propose(ctx, recs); err != nil {
		return err
	}
	c.logger.Info("finalized features of an existing cluster", "features", c.Image().FinalizedFeatures())
	return nil
}

// checkFinalizedSupported checks that a node supporting features can run
// at every finalized level of img.
func checkFinalizedSupported(img *metadata.Image, features []metadata.SupportedFeature) error {
	for name, level := range img.FinalizedFeatures() {
		i := slices.IndexFunc(features, func(f metadata.SupportedFeature) bool { return f.Name == name })
		if i < 0 {
			return fmt.Errorf("feature %s is finalized at level %d, which the node does not support", name, level)
		}
		if f := features[i]; level < f.MinLevel || level > f.MaxLevel {
			return fmt.Errorf("feature %s is finalized at level %d, the node supports %d-%d", name, level, f.MinLevel, f.MaxLevel)
		}
	}
	return nil
}

// UpdateFeatures validates feature level changes as Kafka's controller
// does and, unless validateOnly, finalizes the valid ones in one batch.
// It returns one error per update, nil for a valid one; a refusal wraps
// ErrInvalidUpdateVersion (or ErrInvalidRequest for a feature listed
// twice). With atomic, one invalid update fails the whole request: nothing
// is written and the valid updates report ErrOtherFeatureUpdateInvalid.
//
// A level must be supported by this controller's software and by every
// registered broker's; a lower level needs FeatureSafeDowngrade or
// FeatureUnsafeDowngrade and a higher one FeatureUpgrade. metadata.version
// is never downgraded (Strata cannot tell that a downgrade loses no
// metadata). Turning eligible.leader.replicas.version off clears the ELR
// fields of every partition in the same batch, giving a partition whose
// ISR is empty its ELR members (else its last known leader) back as ISR.
//
// The returned error is request-wide: ErrNotController or a quorum
// failure.
func (c *Controller) UpdateFeatures(ctx context.Context, updates []FeatureUpdate, validateOnly, atomic bool) ([]error, error) {
	var results []error
	var opErr error
	if err := c.doAdmin(ctx, func(ctx context.Context) {
		results, opErr = c.updateFeatures(ctx, updates, validateOnly, atomic)
	}); err != nil {
		return nil, err
	}
	return results, opErr
}

func (c *Controller) updateFeatures(ctx context.Context, updates []FeatureUpdate, validateOnly, atomic bool) ([]error, error) {
	img, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	results := make([]error, len(updates))
	var recs []metadata.Record
	var valid []int
	elrOff := false
	for i, u := range updates {
		if slices.ContainsFunc(updates[:i], func(o FeatureUpdate) bool { return o.Name == u.Name }) {
			results[i] = fmt.Errorf("%w: feature %s is listed more than once", ErrInvalidRequest, u.Name)
			continue
		}
		if err := c.checkFeatureUpdate(img, u); err != nil {
			results[i] = fmt.Errorf("%w: invalid update version %d for feature %s: %v", ErrInvalidUpdateVersion, u.Level, u.Name, err)
			continue
		}
		valid = append(valid, i)
		if u.Level == img.FeatureLevel(u.Name) {
			continue
		}
		recs = append(recs, &metadata.FeatureLevelRecord{Name: u.Name, Level: u.Level})
		if u.Name == metadata.ELRVersionFeature && u.Level == 0 {
			elrOff = true
		}
	}
	failed := len(valid) < len(updates)
	if atomic && failed {
		for _, i := range valid {
			results[i] = ErrOtherFeatureUpdateInvalid
		}
		return results, nil
	}
	if validateOnly || len(recs) == 0 {
		return results, nil
	}
	cleared := 0
	if elrOff {
		recs, cleared = c.appendELRCleared(recs, img)
	}
	if err := c.propose(ctx, recs); err != nil {
		for _, i := range valid {
			results[i] = err
		}
		return results, nil
	}
	c.logger.Info("finalized features updated", "features", c.Image().FinalizedFeatures(), "partitions_changed", cleared)
	return results, nil
}

// checkFeatureUpdate validates one update against img (see UpdateFeatures).
func (c *Controller) checkFeatureUpdate(img *metadata.Image, u FeatureUpdate) error {
	if u.UpgradeType < FeatureUpgrade || u.UpgradeType > FeatureUnsafeDowngrade {
		return fmt.Errorf("the controller does not support upgrade type %d", u.UpgradeType)
	}
	if u.Level < 0 {
		return errors.New("a feature version cannot be less than 0")
	}
	local, ok := metadata.SupportedRange(u.Name)
	switch {
	case !ok:
		return fmt.Errorf("local controller %d does not support this feature", c.cfg.NodeID)
	case u.Level < local.MinLevel || u.Level > local.MaxLevel:
		return fmt.Errorf("local controller %d only supports versions %d-%d", c.cfg.NodeID, local.MinLevel, local.MaxLevel)
	}
	for _, b := range img.Brokers() {
		if b.Features == nil {
			return fmt.Errorf("broker %d registered without its supported features", b.NodeID)
		}
		i := slices.IndexFunc(b.Features, func(f metadata.SupportedFeature) bool { return f.Name == u.Name })
		if i < 0 {
			if u.Level != 0 {
				return fmt.Errorf("broker %d does not support this feature", b.NodeID)
			}
			continue
		}
		if f := b.Features[i]; u.Level < f.MinLevel || u.Level > f.MaxLevel {
			return fmt.Errorf("broker %d only supports versions %d-%d", b.NodeID, f.MinLevel, f.MaxLevel)
		}
	}
	cur := img.FeatureLevel(u.Name)
	switch {
	case u.Level < cur && u.UpgradeType == FeatureUpgrade:
		return errors.New("can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade")
	case u.Level > cur && u.UpgradeType != FeatureUpgrade:
		return errors.New("can't downgrade to a newer version")
	}
	if u.Name == metadata.MetadataVersionFeature && u.Level < cur {
		if u.UpgradeType == FeatureUnsafeDowngrade {
			return errors.New("unsafe metadata downgrade is not supported in this version")
		}
		return errors.New("refusing to perform the requested downgrade because it might delete metadata information")
	}
	return nil
}

// appendELRCleared appends, for every partition with ELR state or an
// empty ISR, the record that clears the state as eligible leader replicas
// go off, and returns the number of partitions changed.
func (c *Controller) appendELRCleared(recs []metadata.Record, img *metadata.Image) ([]metadata.Record, int) {
	e := eligibleIn(img)
	n := 0
	for _, t := range img.Topics() {
		ch := partitionChange{removeFromISR: -1, uncleanShutdown: -1, unclean: c.uncleanAllowed(img, t)}
		for _, p := range t.Partitions {
			if len(p.ELR) == 0 && len(p.LastKnownELR) == 0 && len(p.ISR) > 0 {
				continue
			}
			isr := p.ISR
			if len(isr) == 0 {
				// What KIP-841 would have kept: the replicas that hold every
				// committed record.
				isr = slices.Clone(p.ELR)
				if len(isr) == 0 {
					isr = slices.Clone(p.LastKnownELR)
				}
			}
			q := p
			q.ISR = isr
			next, _ := buildPartitionState(q, isr, ch, e)
			if next.Leader == p.Leader && slices.Equal(next.ISR, p.ISR) && len(p.ELR) == 0 && len(p.LastKnownELR) == 0 {
				continue
			}
			next.LeaderEpoch, next.PartitionEpoch = p.LeaderEpoch, p.PartitionEpoch+1
			if next.Leader != p.Leader {
				next.LeaderEpoch++
			}
			recs = append(recs, partitionRecord(t.ID, next))
			n++
			c.logPartitionChange(t.Name, p, next)
		}
	}
	return recs, n
}
