package acl

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// Class names of authorization.class.name that turn the authorizer on.
// Kafka's two ACL authorizers share the semantics implemented here; the
// short name is Strata's.
var classNames = []string{
	"org.apache.kafka.metadata.authorizer.StandardAuthorizer",
	"kafka.security.authorizer.AclAuthorizer",
	"acl",
}

// EnabledBy reports whether authorizer.class.name value turns the ACL
// authorizer on: false for "", true for Kafka's StandardAuthorizer or
// AclAuthorizer or Strata's "acl", an error for any other class (an
// authorizer Strata does not have must not silently leave the cluster
// open).
func EnabledBy(className string) (bool, error) {
	className = strings.TrimSpace(className)
	if className == "" {
		return false, nil
	}
	if slices.Contains(classNames, className) {
		return true, nil
	}
	return false, fmt.Errorf("authorizer.class.name %q: Strata implements only the ACL authorizer (%s)", className, strings.Join(classNames, ", "))
}

// Config configures an Authorizer.
type Config struct {
	// SuperUsers are principals ("User:admin") allowed every operation on
	// every resource (Kafka's super.users).
	SuperUsers []string
	// AllowEveryoneIfNoACLFound allows an operation on a resource that no
	// ACL matches at all (allow.everyone.if.no.acl.found); false denies it.
	AllowEveryoneIfNoACLFound bool
}

// ParseSuperUsers splits Kafka's super.users: principals separated by
// semicolons ("User:admin;User:broker"). Empty elements are skipped.
func ParseSuperUsers(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if i := strings.IndexByte(p, ':'); i <= 0 || i == len(p)-1 {
			return nil, fmt.Errorf("super.users: %q is not a principal Type:Name", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// entry is the part of a binding matched after its resource pattern.
type entry struct {
	principal  string
	host       string // canonical IP form, or WildcardHost
	op         Operation
	permission Permission
}

// typeIndex holds the ACLs of one resource type: literal ACLs by name
// (the wildcard "*" among them) and prefixed ACLs by prefix, with the
// distinct prefix lengths so that a lookup tries only those.
type typeIndex struct {
	literal    map[string][]entry
	prefixed   map[string][]entry
	prefixLens []int // ascending
}

// Authorizer decides whether a principal may perform an operation on a
// resource, with Kafka's semantics (StandardAuthorizer, AclAuthorizer):
// super users may do everything; otherwise a DENY ACL matching the
// principal (or User:*), the client host (or *) and the operation (or
// ALL) denies; else an ALLOW ACL whose operation is the one asked, ALL, or
// one implying it (READ, WRITE, DELETE and ALTER imply DESCRIBE;
// ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows; else, when no ACL at all
// applies to the resource, AllowEveryoneIfNoACLFound decides; else it is
// denied. ACLs apply to a resource when they are LITERAL with its name or
// "*", or PREFIXED with a prefix of its name.
//
// An Authorizer never changes once built; any goroutine may use it.
type Authorizer struct {
	allowEveryone bool
	superUsers    map[string]bool
	types         map[ResourceType]*typeIndex
	n             int
}

// New indexes bindings; invalid ones (which the controller never commits)
// are skipped.
func New(cfg Config, bindings []Binding) *Authorizer {
	a := &Authorizer{allowEveryone: cfg.AllowEveryoneIfNoACLFound, superUsers: map[string]bool{}, types: map[ResourceType]*typeIndex{}}
	for _, s := range cfg.SuperUsers {
		a.superUsers[s] = true
	}
	for _, b := range bindings {
		if b.Validate() != nil {
			continue
		}
		idx := a.types[b.ResourceType]
		if idx == nil {
			idx = &typeIndex{literal: map[string][]entry{}, prefixed: map[string][]entry{}}
			a.types[b.ResourceType] = idx
		}
		e := entry{principal: b.Principal, host: CanonicalHost(b.Host), op: b.Operation, permission: b.Permission}
		if b.PatternType == PatternLiteral {
			idx.literal[b.ResourceName] = append(idx.literal[b.ResourceName], e)
		} else {
			idx.prefixed[b.ResourceName] = append(idx.prefixed[b.ResourceName], e)
			if !slices.Contains(idx.prefixLens, len(b.ResourceName)) {
				idx.prefixLens = append(idx.prefixLens, len(b.ResourceName))
			}
		}
		a.n++
	}
	for _, idx := range a.types {
		slices.Sort(idx.prefixLens)
	}
	return a
}

// Len is the number of ACLs indexed.
func (a *Authorizer) Len() int { return a.n }

// CanonicalHost returns the form hosts are compared in: an IP address as
// Go prints it (so "0:0:0:0:0:0:0:1", Java's form, equals "::1"; an
// IPv4-mapped address is plain IPv4), anything else unchanged.
func CanonicalHost(h string) string {
	if h == WildcardHost {
		return h
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return h
}

// Request is who asks: the principal ("User:alice") and the client's IP
// address in CanonicalHost form.
type Request struct {
	Principal string
	Host      string
}

// IsSuperUser reports whether r's principal is a super user.
func (a *Authorizer) IsSuperUser(r Request) bool { return a.superUsers[r.Principal] }

// implies reports whether an ACL for operation have grants want.
func implies(have, want Operation) bool {
	if have == want || have == OpAll {
		return true
	}
	switch want {
	case OpDescribe:
		return have == OpRead || have == OpWrite || have == OpDelete || have == OpAlter
	case OpDescribeConfigs:
		return have == OpAlterConfigs
	}
	return false
}

func (e *entry) matches(r Request) bool {
	return (e.principal == r.Principal || e.principal == WildcardPrincipal) && (e.host == r.Host || e.host == WildcardHost)
}

// Authorize decides whether r may perform op on the resource of type t
// named name.
func (a *Authorizer) Authorize(r Request, op Operation, t ResourceType, name string) bool {
	if a.superUsers[r.Principal] {
		return true
	}
	idx := a.types[t]
	if idx == nil {
		return a.allowEveryone
	}
	found, allowed := false, false
	// check scans one bucket; it reports a matching DENY, which wins.
	check := func(es []entry) bool {
		if len(es) == 0 {
			return false
		}
		found = true
		for i := range es {
			e := &es[i]
			if !e.matches(r) {
				continue
			}
			if e.permission == PermissionDeny {
				if e.op == op || e.op == OpAll {
					return true
				}
			} else if implies(e.op, op) {
				allowed = true
			}
		}
		return false
	}
	if check(idx.literal[name]) {
		return false
	}
	if name != WildcardResource && check(idx.literal[WildcardResource]) {
		return false
	}
	for _, n := range idx.prefixLens {
		if n > len(name) {
			break
		}
		if check(idx.prefixed[name[:n]]) {
			return false
		}
	}
	if allowed {
		return true
	}
	return !found && a.allowEveryone
}

// AuthorizedOperations returns KIP-430's bit field of the operations r
// may perform on the resource: bit i is set for the operation with code
// i, among SupportedOperations(t).
func (a *Authorizer) AuthorizedOperations(r Request, t ResourceType, name string) int32 {
	var bits int32
	for _, op := range SupportedOperations(t) {
		if a.Authorize(r, op, t, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// AllOperations is AuthorizedOperations without an authorizer: every
// operation the resource type supports.
func AllOperations(t ResourceType) int32 {
	var bits int32
	for _, op := range SupportedOperations(t) {
		bits |= 1 << op
	}
	return bits
}

// AuthorizeByResourceType reports whether r may perform op on at least
// one resource of type t (KIP-679; Kafka's Authorizer.authorizeByResourceType):
// a super user may; a LITERAL wildcard DENY denies; otherwise an ALLOW for
// op (or ALL) on the wildcard, or on a literal name or prefix that no DENY
// literal of the same name or DENY prefix of it covers, allows. Operations
// are matched exactly, without implications, as in Kafka.
func (a *Authorizer) AuthorizeByResourceType(r Request, op Operation, t ResourceType) bool {
	// As Kafka: a resource no ACL names covers super users and
	// AllowEveryoneIfNoACLFound.
	if a.Authorize(r, op, t, "hardcode") {
		return true
	}
	idx := a.types[t]
	if idx == nil {
		return false
	}
	relevant := func(e *entry) bool { return e.matches(r) && (e.op == op || e.op == OpAll) }
	denyLiteral, denyPrefix := map[string]bool{}, map[string]bool{}
	for name, es := range idx.literal {
		for i := range es {
			if relevant(&es[i]) && es[i].permission == PermissionDeny {
				if name == WildcardResource {
					return false
				}
				denyLiteral[name] = true
			}
		}
	}
	for name, es := range idx.prefixed {
		for i := range es {
			if relevant(&es[i]) && es[i].permission == PermissionDeny {
				denyPrefix[name] = true
			}
		}
	}
	dominated := func(name string) bool {
		for p := range denyPrefix {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	for name, es := range idx.literal {
		for i := range es {
			if !relevant(&es[i]) || es[i].permission != PermissionAllow {
				continue
			}
			if name == WildcardResource {
				return true
			}
			if !denyLiteral[name] && !dominated(name) {
				return true
			}
		}
	}
	for name, es := range idx.prefixed {
		for i := range es {
			if relevant(&es[i]) && es[i].permission == PermissionAllow && !dominated(name) {
				return true
			}
		}
	}
	return false
}
