package controller

import (
	"context"
	"fmt"

	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/quota"
)

// QuotaOp sets (Remove false) or removes one quota key of an entity.
type QuotaOp struct {
	Key    string
	Value  float64
	Remove bool
}

// ClientQuotaAlteration is AlterClientQuotas' change to one entity.
type ClientQuotaAlteration struct {
	Entity []metadata.QuotaEntityComponent
	Ops    []QuotaOp
}

// AlterClientQuotas validates each entity's changes as Kafka's
// ClientQuotaControlManager does and commits the valid ones in one batch
// (nothing with validateOnly). The result for entry i is errs[i]: nil, or
// an error wrapping ErrInvalidRequest (the whole entity is refused: none of
// its keys change), or a quorum error.
func (c *Controller) AlterClientQuotas(ctx context.Context, entries []ClientQuotaAlteration, validateOnly bool) []error {
	errs := make([]error, len(entries))
	fail := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	err := c.doAdmin(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			fail(err)
			return
		}
		seen := map[string]bool{}
		var recs []metadata.Record
		for i, e := range entries {
			key := metadata.QuotaEntityKey(e.Entity)
			if seen[key] {
				errs[i] = fmt.Errorf("%w: ignoring duplicate entity", ErrInvalidRequest)
				continue
			}
			seen[key] = true
			entityRecs, err := clientQuotaChanges(img, e)
			if err != nil {
				errs[i] = err
				continue
			}
			recs = append(recs, entityRecs...)
		}
		if validateOnly || len(recs) == 0 {
			return
		}
		if err := c.propose(ctx, recs); err != nil {
			fail(err)
			return
		}
		c.logger.Info("client quotas altered", "records", len(recs))
	})
	if err != nil {
		fail(err)
	}
	return errs
}

// clientQuotaChanges validates one entity's changes and returns the
// records that make them; a removal of an absent key and a value equal to
// the current one write nothing.
func clientQuotaChanges(img *metadata.Image, e ClientQuotaAlteration) ([]metadata.Record, error) {
	if err := quota.ValidateEntity(e.Entity); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	keys := map[string]bool{}
	for _, op := range e.Ops {
		if keys[op.Key] {
			return nil, fmt.Errorf("%w: duplicate quota key %s", ErrInvalidRequest, op.Key)
		}
		keys[op.Key] = true
	}
	var current map[string]float64
	if q := img.ClientQuota(e.Entity); q != nil {
		current = q.Values
	}
	var recs []metadata.Record
	for _, op := range e.Ops {
		cur, has := current[op.Key]
		if op.Remove {
			if has {
				recs = append(recs, &metadata.ClientQuotaRecord{Entity: e.Entity, Key: op.Key, Remove: true})
			}
			continue
		}
		if err := quota.ValidateValue(e.Entity, op.Key, op.Value); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		if !has || cur != op.Value {
			recs = append(recs, &metadata.ClientQuotaRecord{Entity: e.Entity, Key: op.Key, Value: op.Value})
		}
	}
	return recs, nil
}
