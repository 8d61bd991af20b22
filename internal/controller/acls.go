package controller

import (
	"context"
	"fmt"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/metadata"
)

// maxACLsPerRequest bounds the records one CreateAcls or DeleteAcls
// writes, like maxPartitionsPerRequest.
const maxACLsPerRequest = 10000

// CreateACLs adds ACLs, as Kafka's AclControlManager.createAcls: each
// binding is validated on its own (a refusal wraps ErrInvalidRequest); one
// equal to an existing ACL, or to an earlier one of the request, succeeds
// without a new record. The valid new ones are written in one batch. The
// returned error is request-wide: ErrNotController or a quorum failure.
func (c *Controller) CreateACLs(ctx context.Context, bindings []acl.Binding) ([]error, error) {
	if len(bindings) > maxACLsPerRequest {
		return nil, fmt.Errorf("%w: %d ACLs in one request, at most %d", ErrInvalidRequest, len(bindings), maxACLsPerRequest)
	}
	var results []error
	var opErr error
	if err := c.doAdmin(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			opErr = err
			return
		}
		results = make([]error, len(bindings))
		var recs []metadata.Record
		added := map[acl.Binding]bool{}
		for i, b := range bindings {
			if err := b.Validate(); err != nil {
				results[i] = fmt.Errorf("%w: %w", ErrInvalidRequest, err)
				continue
			}
			if _, exists := img.ACLs().Find(b); exists || added[b] {
				continue
			}
			id, err := c.newACLID(img, recs)
			if err != nil {
				opErr = err
				return
			}
			added[b] = true
			recs = append(recs, &metadata.AccessControlEntryRecord{ID: id, Binding: b})
		}
		if len(recs) == 0 {
			return
		}
		opErr = c.propose(ctx, recs)
	}); err != nil {
		return nil, err
	}
	if opErr != nil {
		return nil, opErr
	}
	return results, nil
}

// newACLID returns a random ACL id unused by img and by recs. Run on the
// loop.
func (c *Controller) newACLID(img *metadata.Image, recs []metadata.Record) (metadata.UUID, error) {
	for {
		id, err := metadata.NewUUID(c.cfg.Rand)
		if err != nil {
			return id, fmt.Errorf("controller: ACL id: %w", err)
		}
		if _, taken := img.ACLs().Get(id); taken || id.IsZero() {
			continue
		}
		dup := false
		for _, r := range recs {
			dup = dup || r.(*metadata.AccessControlEntryRecord).ID == id
		}
		if !dup {
			return id, nil
		}
	}
}

// DeleteACLsResult is what one filter of DeleteACLs matched and removed,
// or why it was refused.
type DeleteACLsResult struct {
	Err     error
	Deleted []acl.Binding
}

// DeleteACLs removes the ACLs each filter matches (Kafka's
// AclControlManager.deleteAcls): a filter with an UNKNOWN element is
// refused (ErrInvalidRequest); an ACL matched by several filters is
// removed once and reported under each. The removals are written in one
// batch. The returned error is request-wide.
func (c *Controller) DeleteACLs(ctx context.Context, filters []acl.Filter) ([]DeleteACLsResult, error) {
	var results []DeleteACLsResult
	var opErr error
	if err := c.doAdmin(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			opErr = err
			return
		}
		results = make([]DeleteACLsResult, len(filters))
		var recs []metadata.Record
		removed := map[metadata.UUID]bool{}
		acls := img.ACLs()
		ids := acls.IDs()
		for i, f := range filters {
			if err := f.Validate(); err != nil {
				results[i].Err = fmt.Errorf("%w: %w", ErrInvalidRequest, err)
				continue
			}
			for _, id := range ids {
				b, _ := acls.Get(id)
				if !f.Matches(b) {
					continue
				}
				results[i].Deleted = append(results[i].Deleted, b)
				if !removed[id] {
					removed[id] = true
					recs = append(recs, &metadata.RemoveAccessControlEntryRecord{ID: id})
				}
			}
		}
		if len(recs) > maxACLsPerRequest {
			opErr = fmt.Errorf("%w: the filters match %d ACLs, at most %d are deleted in one request", ErrInvalidRequest, len(recs), maxACLsPerRequest)
			return
		}
		if len(recs) == 0 {
			return
		}
		opErr = c.propose(ctx, recs)
	}); err != nil {
		return nil, err
	}
	if opErr != nil {
		return nil, opErr
	}
	return results, nil
}
