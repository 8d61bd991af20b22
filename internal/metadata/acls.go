package metadata

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/strata-io/strata/internal/acl"
)

// Record types of ACLs, Kafka's numbers (KIP-801's
// AccessControlEntryRecord and RemoveAccessControlEntryRecord).
const (
	AccessControlEntryRecordType       RecordType = 22
	RemoveAccessControlEntryRecordType RecordType = 23
)

// AccessControlEntryRecord adds one ACL, identified by a random ID that no
// other ACL of the image has.
type AccessControlEntryRecord struct {
	ID      UUID
	Binding acl.Binding
}

// RemoveAccessControlEntryRecord removes the ACL with ID.
type RemoveAccessControlEntryRecord struct {
	ID UUID
}

func (*AccessControlEntryRecord) Type() RecordType { return AccessControlEntryRecordType }
func (*AccessControlEntryRecord) Version() uint8   { return 0 }
func (*RemoveAccessControlEntryRecord) Type() RecordType {
	return RemoveAccessControlEntryRecordType
}
func (*RemoveAccessControlEntryRecord) Version() uint8 { return 0 }

func (rec *AccessControlEntryRecord) appendFields(b []byte) []byte {
	b = append(b, rec.ID[:]...)
	b = append(b, byte(rec.Binding.ResourceType))
	b = appendString(b, rec.Binding.ResourceName)
	b = append(b, byte(rec.Binding.PatternType))
	b = appendString(b, rec.Binding.Principal)
	b = appendString(b, rec.Binding.Host)
	b = append(b, byte(rec.Binding.Operation))
	return append(b, byte(rec.Binding.Permission))
}

func (rec *AccessControlEntryRecord) decodeFields(r *reader, _ uint8) {
	rec.ID = r.uuid()
	rec.Binding.ResourceType = acl.ResourceType(r.int8())
	rec.Binding.ResourceName = r.string()
	rec.Binding.PatternType = acl.PatternType(r.int8())
	rec.Binding.Principal = r.string()
	rec.Binding.Host = r.string()
	rec.Binding.Operation = acl.Operation(r.int8())
	rec.Binding.Permission = acl.Permission(r.int8())
}

func (rec *RemoveAccessControlEntryRecord) appendFields(b []byte) []byte {
	return append(b, rec.ID[:]...)
}

func (rec *RemoveAccessControlEntryRecord) decodeFields(r *reader, _ uint8) {
	rec.ID = r.uuid()
}

// ACLs is the set of ACLs of an image, by id. It is immutable and shared by
// every image until a batch changes an ACL, so two images have the same
// *ACLs exactly when their ACLs are the same: callers may cache what they
// derive from it by pointer.
type ACLs struct {
	byID map[UUID]acl.Binding
}

var emptyACLs = &ACLs{byID: map[UUID]acl.Binding{}}

// Len is the number of ACLs.
func (a *ACLs) Len() int { return len(a.byID) }

// Get returns the ACL with id.
func (a *ACLs) Get(id UUID) (acl.Binding, bool) {
	b, ok := a.byID[id]
	return b, ok
}

// Find returns the id of an ACL equal to b.
func (a *ACLs) Find(b acl.Binding) (UUID, bool) {
	for id, o := range a.byID {
		if o == b {
			return id, true
		}
	}
	return UUID{}, false
}

// IDs returns every ACL id, in the order of the ACLs they name (resource
// type, pattern type, name, principal, host, operation, permission), then
// by id.
func (a *ACLs) IDs() []UUID {
	ids := slices.Collect(maps.Keys(a.byID))
	slices.SortFunc(ids, func(x, y UUID) int {
		if c := compareBindings(a.byID[x], a.byID[y]); c != 0 {
			return c
		}
		return strings.Compare(string(x[:]), string(y[:]))
	})
	return ids
}

// Bindings returns every ACL, in IDs order.
func (a *ACLs) Bindings() []acl.Binding {
	var out []acl.Binding
	for _, id := range a.IDs() {
		out = append(out, a.byID[id])
	}
	return out
}

func compareBindings(x, y acl.Binding) int {
	if c := int(x.ResourceType) - int(y.ResourceType); c != 0 {
		return c
	}
	if c := int(x.PatternType) - int(y.PatternType); c != 0 {
		return c
	}
	if c := strings.Compare(x.ResourceName, y.ResourceName); c != 0 {
		return c
	}
	if c := strings.Compare(x.Principal, y.Principal); c != 0 {
		return c
	}
	if c := strings.Compare(x.Host, y.Host); c != 0 {
		return c
	}
	if c := int(x.Operation) - int(y.Operation); c != 0 {
		return c
	}
	return int(x.Permission) - int(y.Permission)
}

// ACLs returns the image's ACLs (never nil).
func (img *Image) ACLs() *ACLs {
	if img.acls == nil {
		return emptyACLs
	}
	return img.acls
}

// ownACLs returns the ACL map this batch may modify.
func (b *builder) ownACLs() map[UUID]acl.Binding {
	if !b.aclsCopied {
		b.next.acls = &ACLs{byID: maps.Clone(b.next.ACLs().byID)}
		b.aclsCopied = true
	}
	b.keys.acls = true
	return b.next.acls.byID
}

func (b *builder) accessControlEntry(r *AccessControlEntryRecord) error {
	if r.ID.IsZero() {
		return fmt.Errorf("ACL with the zero id")
	}
	if err := r.Binding.Validate(); err != nil {
		return fmt.Errorf("ACL %s: %v", r.ID, err)
	}
	if _, ok := b.next.ACLs().byID[r.ID]; ok {
		return fmt.Errorf("ACL id %s already exists", r.ID)
	}
	b.ownACLs()[r.ID] = r.Binding
	return nil
}

func (b *builder) removeAccessControlEntry(r *RemoveAccessControlEntryRecord) error {
	if _, ok := b.next.ACLs().byID[r.ID]; !ok {
		return fmt.Errorf("remove unknown ACL id %s", r.ID)
	}
	delete(b.ownACLs(), r.ID)
	return nil
}

// aclRecords returns the records that rebuild the ACLs, in IDs order.
func (img *Image) aclRecords() []Record {
	var recs []Record
	a := img.ACLs()
	for _, id := range a.IDs() {
		recs = append(recs, &AccessControlEntryRecord{ID: id, Binding: a.byID[id]})
	}
	return recs
}
