package kafkaapi

// DescribeClientQuotas v0-1 and AlterClientQuotas v0-1 (KIP-546; v1 is
// flexible, no other change). Entities are user, client-id (each a name or
// the default) or ip; keys producer_byte_rate, consumer_byte_rate,
// request_percentage and controller_mutation_rate for user/client-id
// entities and connection_creation_rate for ip entities (KIP-612).
//
// DescribeClientQuotas is answered from this broker's metadata image, with
// Kafka's filter semantics (ClientQuotasImage.describe): a component
// matches an exact name (match type 0), the default (1) or any entity
// having the type (2); strict keeps only entities with no other
// components. Bad filters answer INVALID_REQUEST, an entity type other than
// user, client-id and ip UNSUPPORTED_VERSION, in the top-level error.
//
// AlterClientQuotas is served by the active controller (other nodes
// forward it). Per entity: INVALID_REQUEST for an empty, duplicate-type,
// unknown-type or mixed ip/user entity, an empty name, an ip entity that is
// not an IP address, an unknown key for the entity, a value that is not
// positive or is fractional for a byte or connection rate, a key listed
// twice, or an entity listed twice. Deliberate difference: Kafka accepts a
// resolvable host name as an ip entity; Strata takes only IP addresses.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/quota"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) describeClientQuotas(rc *reqCtx, req *kmsg.DescribeClientQuotasRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	filter, err := parseQuotaFilter(req)
	if err != nil {
		resp.ErrorCode = kerr.InvalidRequest.Code
		if errors.Is(err, quota.ErrUnsupportedEntityType) {
			resp.ErrorCode = kerr.UnsupportedVersion.Code
		}
		msg := err.Error()
		resp.ErrorMessage = &msg
		return done(resp)
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	for _, q := range h.ctrl.Image().ClientQuotas() {
		if !filter.matches(q, req.Strict) {
			continue
		}
		e := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, c := range q.Entity {
			ee := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = c.Type, c.Name
			e.Entity = append(e.Entity, ee)
		}
		for _, k := range sortedKeys(q.Values) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, q.Values[k]
			e.Values = append(e.Values, v)
		}
		resp.Entries = append(resp.Entries, e)
	}
	return done(resp)
}

// quotaFilter is a DescribeClientQuotas filter: exact names (nil for the
// default) and types that must merely be present.
type quotaFilter struct {
	exact map[string]*string
	any   []string
}

func parseQuotaFilter(req *kmsg.DescribeClientQuotasRequest) (quotaFilter, error) {
	f := quotaFilter{exact: map[string]*string{}}
	seen := map[string]bool{}
	for _, c := range req.Components {
		switch {
		case c.EntityType == "":
			return f, fmt.Errorf("invalid empty entity type")
		case seen[c.EntityType]:
			return f, fmt.Errorf("entity type %s cannot appear more than once in the filter", c.EntityType)
		case c.EntityType != metadata.QuotaEntityUser && c.EntityType != metadata.QuotaEntityClientID && c.EntityType != metadata.QuotaEntityIP:
			return f, fmt.Errorf("%w %s", quota.ErrUnsupportedEntityType, c.EntityType)
		}
		seen[c.EntityType] = true
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if c.Match == nil {
				return f, fmt.Errorf("request specified MATCH_TYPE_EXACT, but set match string to null")
			}
			f.exact[c.EntityType] = c.Match
		case kmsg.QuotasMatchTypeDefault:
			if c.Match != nil {
				return f, fmt.Errorf("request specified MATCH_TYPE_DEFAULT, but also specified a match string")
			}
			f.exact[c.EntityType] = nil
		case kmsg.QuotasMatchTypeAny:
			if c.Match != nil {
				return f, fmt.Errorf("request specified MATCH_TYPE_SPECIFIED, but also specified a match string")
			}
			f.any = append(f.any, c.EntityType)
		default:
			return f, fmt.Errorf("unknown match type %d", c.MatchType)
		}
	}
	if seen[metadata.QuotaEntityIP] && (seen[metadata.QuotaEntityUser] || seen[metadata.QuotaEntityClientID]) {
		return f, fmt.Errorf("invalid entity filter component combination: IP filter component should not be used with user or clientId filter component")
	}
	return f, nil
}

func (f quotaFilter) matches(q *metadata.ClientQuota, strict bool) bool {
	if strict && len(q.Entity) != len(f.exact)+len(f.any) {
		return false
	}
	for typ, name := range f.exact {
		c, ok := q.Component(typ)
		if !ok || (c.Name == nil) != (name == nil) || (name != nil && *c.Name != *name) {
			return false
		}
	}
	for _, typ := range f.any {
		if _, ok := q.Component(typ); !ok {
			return false
		}
	}
	return true
}

func (h *Handler) alterClientQuotas(rc *reqCtx, req *kmsg.AlterClientQuotasRequest) server.Response {
	entries := make([]controller.ClientQuotaAlteration, len(req.Entries))
	for i, e := range req.Entries {
		for _, c := range e.Entity {
			entries[i].Entity = append(entries[i].Entity, metadata.QuotaEntityComponent{Type: c.Type, Name: c.Name})
		}
		for _, op := range e.Ops {
			entries[i].Ops = append(entries[i].Ops, controller.QuotaOp{Key: op.Key, Value: op.Value, Remove: op.Remove})
		}
	}
	return later(rc, func() kmsg.Response {
		errs := h.ctrl.AlterClientQuotas(rc.ctx, entries, req.ValidateOnly)
		resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
		for i, e := range req.Entries {
			re := kmsg.NewAlterClientQuotasResponseEntry()
			for _, c := range e.Entity {
				ee := kmsg.NewAlterClientQuotasResponseEntryEntity()
				ee.Type, ee.Name = c.Type, c.Name
				re.Entity = append(re.Entity, ee)
			}
			re.ErrorCode, re.ErrorMessage = resultError(rc, errs[i])
			resp.Entries = append(resp.Entries, re)
		}
		return resp
	})
}

// alterClientQuotasError answers every entry of req with code (forwarding
// failed).
func alterClientQuotasError(req *kmsg.AlterClientQuotasRequest, code int16) *kmsg.AlterClientQuotasResponse {
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	for _, e := range req.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		for _, c := range e.Entity {
			ee := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = c.Type, c.Name
			re.Entity = append(re.Entity, ee)
		}
		re.ErrorCode = code
		resp.Entries = append(resp.Entries, re)
	}
	return resp
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
