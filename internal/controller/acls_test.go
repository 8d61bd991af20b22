package controller

import (
	"errors"
	"testing"

	"github.com/strata-io/strata/internal/acl"
)

func TestCreateAndDeleteACLs(t *testing.T) {
	h := start(t, t.TempDir(), 11)
	ctx := ctxT(t)
	read := acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "orders", PatternType: acl.PatternLiteral,
		Principal: "User:alice", Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow}
	write := read
	write.Operation = acl.OpWrite
	group := acl.Binding{ResourceType: acl.ResourceGroup, ResourceName: "app-", PatternType: acl.PatternPrefixed,
		Principal: "User:alice", Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow}
	bad := read
	bad.Principal = "alice"

	results, err := h.CreateACLs(ctx, []acl.Binding{read, write, bad, read, group})
	if err != nil {
		t.Fatalf("CreateACLs error: %v", err)
	}
	if results[0] != nil || results[1] != nil || !errors.Is(results[2], ErrInvalidRequest) || results[3] != nil || results[4] != nil {
		t.Fatalf("CreateACLs results = %v, want nil, nil, invalid request, nil, nil", results)
	}
	if got := h.Image().ACLs().Len(); got != 3 {
		t.Fatalf("ACLs after create = %d (%v), want 3", got, h.Image().ACLs().Bindings())
	}
	// Creating an existing ACL again adds nothing.
	if results, err := h.CreateACLs(ctx, []acl.Binding{read}); err != nil || results[0] != nil || h.Image().ACLs().Len() != 3 {
		t.Fatalf("CreateACLs(existing) = %v, %v, %d ACLs; want success and 3 ACLs", results, err, h.Image().ACLs().Len())
	}

	orders := "orders"
	byTopic := acl.Filter{ResourceType: acl.ResourceTopic, ResourceName: &orders, PatternType: acl.PatternLiteral, Operation: acl.OpAny, Permission: acl.PermissionAny}
	readsOnly := acl.Filter{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpRead, Permission: acl.PermissionAny}
	unknown := acl.Filter{ResourceType: acl.ResourceTopic, PatternType: acl.PatternUnknown, Operation: acl.OpAny, Permission: acl.PermissionAny}
	del, err := h.DeleteACLs(ctx, []acl.Filter{byTopic, readsOnly, unknown})
	if err != nil {
		t.Fatalf("DeleteACLs error: %v", err)
	}
	if len(del[0].Deleted) != 2 || del[0].Err != nil {
		t.Errorf("DeleteACLs(topic orders) = %+v, want read and write", del[0])
	}
	if len(del[1].Deleted) != 2 || del[1].Err != nil {
		t.Errorf("DeleteACLs(reads) = %+v, want the topic and the group read", del[1])
	}
	if !errors.Is(del[2].Err, ErrInvalidRequest) {
		t.Errorf("DeleteACLs(unknown pattern) error = %v, want ErrInvalidRequest", del[2].Err)
	}
	if got := h.Image().ACLs().Len(); got != 0 {
		t.Errorf("ACLs after delete = %v, want none", h.Image().ACLs().Bindings())
	}
}
