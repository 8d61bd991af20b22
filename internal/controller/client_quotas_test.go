package controller

import (
	"errors"
	"maps"
	"testing"

	"github.com/strata-io/strata/internal/metadata"
)

func TestAlterClientQuotas(t *testing.T) {
	h := start(t, t.TempDir(), 7)
	ctx := ctxT(t)
	s := func(v string) *string { return &v }
	alice := []metadata.QuotaEntityComponent{{Type: metadata.QuotaEntityUser, Name: s("alice")}}
	errs := h.AlterClientQuotas(ctx, []ClientQuotaAlteration{
		{Entity: alice, Ops: []QuotaOp{{Key: "producer_byte_rate", Value: 5e6}, {Key: "request_percentage", Value: 25.5}}},
		{Entity: []metadata.QuotaEntityComponent{{Type: "group"}}, Ops: []QuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: []metadata.QuotaEntityComponent{{Type: metadata.QuotaEntityClientID}}, Ops: []QuotaOp{{Key: "producer_byte_rate", Value: 1}, {Key: "bogus", Value: 1}}},
	}, false)
	if errs[0] != nil || !errors.Is(errs[1], ErrInvalidRequest) || !errors.Is(errs[2], ErrInvalidRequest) {
		t.Fatalf("AlterClientQuotas = %v, want nil, INVALID_REQUEST, INVALID_REQUEST", errs)
	}
	if q := h.Image().ClientQuota(alice); q == nil || !maps.Equal(q.Values, map[string]float64{"producer_byte_rate": 5e6, "request_percentage": 25.5}) {
		t.Fatalf("image quotas of alice = %+v, want both set", q)
	}
	if n := len(h.Image().ClientQuotas()); n != 1 {
		t.Errorf("image has %d quota entities, want 1: the refused entity must change nothing", n)
	}
	// validate only changes nothing; a removal does.
	if errs := h.AlterClientQuotas(ctx, []ClientQuotaAlteration{{Entity: alice, Ops: []QuotaOp{{Key: "producer_byte_rate", Remove: true}}}}, true); errs[0] != nil {
		t.Fatalf("AlterClientQuotas(validate only) = %v", errs)
	}
	if q := h.Image().ClientQuota(alice); len(q.Values) != 2 {
		t.Errorf("validate-only removal changed the image: %+v", q)
	}
	errs = h.AlterClientQuotas(ctx, []ClientQuotaAlteration{
		{Entity: alice, Ops: []QuotaOp{{Key: "producer_byte_rate", Remove: true}, {Key: "request_percentage", Remove: true}}},
		{Entity: alice, Ops: []QuotaOp{{Key: "consumer_byte_rate", Value: 1}}},
	}, false)
	if errs[0] != nil || !errors.Is(errs[1], ErrInvalidRequest) {
		t.Fatalf("AlterClientQuotas(remove; duplicate entity) = %v, want nil, INVALID_REQUEST", errs)
	}
	if n := len(h.Image().ClientQuotas()); n != 0 {
		t.Errorf("after removing every key: %d quota entities, want 0", n)
	}
}
