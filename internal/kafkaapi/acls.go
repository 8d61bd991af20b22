package kafkaapi

// DescribeAcls v1-v3, CreateAcls v2-v3, DeleteAcls v2-v3 (KIP-11; v1
// KIP-290 pattern types; v2 flexible; v3 (KIP-1075) no wire change). The
// floors are Kafka 4.0's (KIP-896).
// ACLs live in the metadata log (metadata.AccessControlEntryRecord).
// CreateAcls and DeleteAcls are served by the active controller (forwarded
// from any other node, forward.go) and need ALTER on the cluster;
// DescribeAcls is answered from the local image and needs DESCRIBE on the
// cluster. Without an authorizer (authorizer.class.name unset) every ACL
// request answers SECURITY_DISABLED, as Kafka does.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
)

var noAuthorizerMsg = "No Authorizer is configured."

func (h *Handler) describeACLs(rc *reqCtx, req *kmsg.DescribeACLsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	if !h.authz.enabled() {
		resp.ErrorCode, resp.ErrorMessage = kerr.SecurityDisabled.Code, &noAuthorizerMsg
		return done(resp)
	}
	f := acl.Filter{
		ResourceType: acl.ResourceType(req.ResourceType), ResourceName: req.ResourceName,
		PatternType: acl.PatternType(req.ResourcePatternType), Principal: req.Principal, Host: req.Host,
		Operation: acl.Operation(req.Operation), Permission: acl.Permission(req.PermissionType),
	}
	if err := f.Validate(); err != nil {
		msg := err.Error()
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, &msg
		return done(resp)
	}
	// Bindings come sorted by resource first, so one resource's ACLs are
	// adjacent.
	for _, b := range h.ctrl.Image().ACLs().Bindings() {
		if !f.Matches(b) {
			continue
		}
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != kmsg.ACLResourceType(b.ResourceType) ||
			resp.Resources[n-1].ResourceName != b.ResourceName || resp.Resources[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(b.PatternType) {
			rr := kmsg.NewDescribeACLsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
			resp.Resources = append(resp.Resources, rr)
			n++
		}
		ra := kmsg.NewDescribeACLsResponseResourceACL()
		ra.Principal, ra.Host, ra.Operation, ra.PermissionType = b.Principal, b.Host, kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, ra)
	}
	return done(resp)
}

func (h *Handler) createACLs(rc *reqCtx, req *kmsg.CreateACLsRequest) server.Response {
	if !h.authz.enabled() {
		return done(createACLsError(req, kerr.SecurityDisabled.Code, &noAuthorizerMsg))
	}
	bindings := make([]acl.Binding, len(req.Creations))
	for i, c := range req.Creations {
		bindings[i] = acl.Binding{
			ResourceType: acl.ResourceType(c.ResourceType), ResourceName: c.ResourceName, PatternType: acl.PatternType(c.ResourcePatternType),
			Principal: c.Principal, Host: c.Host, Operation: acl.Operation(c.Operation), Permission: acl.Permission(c.PermissionType),
		}
	}
	return later(rc, func() kmsg.Response {
		results, err := h.ctrl.CreateACLs(rc.ctx, bindings)
		if err != nil {
			msg := err.Error()
			return createACLsError(req, errorCode(rc.log, err), &msg)
		}
		resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
		for _, e := range results {
			r := kmsg.NewCreateACLsResponseResult()
			if e != nil {
				msg := e.Error()
				r.ErrorCode, r.ErrorMessage = errorCode(rc.log, e), &msg
			}
			resp.Results = append(resp.Results, r)
		}
		return resp
	})
}

func createACLsError(req *kmsg.CreateACLsRequest, code int16, msg *string) *kmsg.CreateACLsResponse {
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	for range req.Creations {
		r := kmsg.NewCreateACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = code, msg
		resp.Results = append(resp.Results, r)
	}
	return resp
}

func (h *Handler) deleteACLs(rc *reqCtx, req *kmsg.DeleteACLsRequest) server.Response {
	if !h.authz.enabled() {
		return done(deleteACLsError(req, kerr.SecurityDisabled.Code, &noAuthorizerMsg))
	}
	filters := make([]acl.Filter, len(req.Filters))
	for i, f := range req.Filters {
		filters[i] = acl.Filter{
			ResourceType: acl.ResourceType(f.ResourceType), ResourceName: f.ResourceName, PatternType: acl.PatternType(f.ResourcePatternType),
			Principal: f.Principal, Host: f.Host, Operation: acl.Operation(f.Operation), Permission: acl.Permission(f.PermissionType),
		}
	}
	return later(rc, func() kmsg.Response {
		results, err := h.ctrl.DeleteACLs(rc.ctx, filters)
		if err != nil {
			msg := err.Error()
			return deleteACLsError(req, errorCode(rc.log, err), &msg)
		}
		resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
		for _, res := range results {
			r := kmsg.NewDeleteACLsResponseResult()
			if res.Err != nil {
				msg := res.Err.Error()
				r.ErrorCode, r.ErrorMessage = errorCode(rc.log, res.Err), &msg
			}
			for _, b := range res.Deleted {
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
				m.Principal, m.Host, m.Operation, m.PermissionType = b.Principal, b.Host, kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
				r.MatchingACLs = append(r.MatchingACLs, m)
			}
			resp.Results = append(resp.Results, r)
		}
		return resp
	})
}

func deleteACLsError(req *kmsg.DeleteACLsRequest, code int16, msg *string) *kmsg.DeleteACLsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	for range req.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = code, msg
		resp.Results = append(resp.Results, r)
	}
	return resp
}
