package metadata

import (
	"errors"
	"testing"

	"github.com/strata-io/strata/internal/acl"
)

func TestACLRecords(t *testing.T) {
	read := acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "orders", PatternType: acl.PatternLiteral,
		Principal: "User:alice", Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow}
	write := read
	write.Operation = acl.OpWrite
	id1, id2 := UUID{0xa1}, UUID{0xa2}

	img, d, err := Empty().Apply(1, &AccessControlEntryRecord{ID: id1, Binding: read}, &AccessControlEntryRecord{ID: id2, Binding: write})
	if err != nil {
		t.Fatalf("Apply(two ACLs) error: %v", err)
	}
	if !d.ACLsChanged || d.Empty() {
		t.Errorf("Apply(two ACLs) delta ACLsChanged = %v, Empty = %v; want true, false", d.ACLsChanged, d.Empty())
	}
	if got, ok := img.ACLs().Get(id1); !ok || got != read {
		t.Errorf("ACLs().Get(id1) = %v, %v; want %v", got, ok, read)
	}
	if id, ok := img.ACLs().Find(write); !ok || id != id2 {
		t.Errorf("ACLs().Find(write) = %v, %v; want %v", id, ok, id2)
	}
	if Empty().ACLs().Len() != 0 {
		t.Errorf("Empty().ACLs().Len() = %d, want 0", Empty().ACLs().Len())
	}

	// An unrelated batch keeps the same *ACLs, which callers cache by.
	img2, d, err := img.Apply(2, &ProducerIDsRecord{NextProducerID: 10})
	if err != nil || d.ACLsChanged || img2.ACLs() != img.ACLs() {
		t.Errorf("Apply(producer ids): err %v, ACLsChanged %v, same ACLs %v; want nil, false, true", err, d.ACLsChanged, img2.ACLs() == img.ACLs())
	}

	img3, d, err := img2.Apply(3, &RemoveAccessControlEntryRecord{ID: id1})
	if err != nil || !d.ACLsChanged || img3.ACLs().Len() != 1 || img2.ACLs().Len() != 2 {
		t.Errorf("Apply(remove id1): err %v, ACLsChanged %v, len %d (before: %d); want nil, true, 1 (2)", err, d.ACLsChanged, img3.ACLs().Len(), img2.ACLs().Len())
	}

	bad := read
	bad.Operation = acl.OpAny
	for name, rec := range map[string]Record{
		"duplicate id":       &AccessControlEntryRecord{ID: id2, Binding: read},
		"zero id":            &AccessControlEntryRecord{Binding: read},
		"invalid binding":    &AccessControlEntryRecord{ID: UUID{9}, Binding: bad},
		"remove unknown acl": &RemoveAccessControlEntryRecord{ID: id1},
	} {
		if _, _, err := img3.Apply(4, rec); !errors.Is(err, ErrInconsistent) {
			t.Errorf("Apply(%s) error = %v, want ErrInconsistent", name, err)
		}
	}

	snap, err := img3.MarshalSnapshot()
	if err != nil {
		t.Fatalf("MarshalSnapshot: %v", err)
	}
	restored, err := UnmarshalSnapshot(snap)
	if err != nil {
		t.Fatalf("UnmarshalSnapshot: %v", err)
	}
	if got, ok := restored.ACLs().Get(id2); !ok || got != write || restored.ACLs().Len() != 1 {
		t.Errorf("restored ACLs = %v (%d); want only %v", restored.ACLs().Bindings(), restored.ACLs().Len(), write)
	}
}
