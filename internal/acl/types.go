package acl

import (
	"errors"
	"fmt"
	"strings"
)

// ResourceType is Kafka's org.apache.kafka.common.resource.ResourceType,
// numbered by its wire code.
type ResourceType int8

const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// PatternType is Kafka's PatternType (KIP-290). LITERAL and PREFIXED are
// the patterns an ACL has; ANY and MATCH only appear in filters.
type PatternType int8

const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operation is Kafka's AclOperation.
type Operation int8

const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
	OpTwoPhaseCommit  Operation = 15
)

// Permission is Kafka's AclPermissionType.
type Permission int8

const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1
	PermissionDeny    Permission = 2
	PermissionAllow   Permission = 3
)

// Names Kafka reserves.
const (
	// ClusterName is the name of the one Cluster resource.
	ClusterName = "kafka-cluster"
	// WildcardResource as a LITERAL resource name matches every name.
	WildcardResource = "*"
	// WildcardPrincipal matches every principal of type User.
	WildcardPrincipal = "User:*"
	// WildcardHost matches every client address.
	WildcardHost = "*"
)

var resourceNames = map[ResourceType]string{
	ResourceUnknown: "UNKNOWN", ResourceAny: "ANY", ResourceTopic: "TOPIC", ResourceGroup: "GROUP",
	ResourceCluster: "CLUSTER", ResourceTransactionalID: "TRANSACTIONAL_ID",
	ResourceDelegationToken: "DELEGATION_TOKEN", ResourceUser: "USER",
}

var patternNames = map[PatternType]string{
	PatternUnknown: "UNKNOWN", PatternAny: "ANY", PatternMatch: "MATCH", PatternLiteral: "LITERAL", PatternPrefixed: "PREFIXED",
}

var operationNames = map[Operation]string{
	OpUnknown: "UNKNOWN", OpAny: "ANY", OpAll: "ALL", OpRead: "READ", OpWrite: "WRITE", OpCreate: "CREATE",
	OpDelete: "DELETE", OpAlter: "ALTER", OpDescribe: "DESCRIBE", OpClusterAction: "CLUSTER_ACTION",
	OpDescribeConfigs: "DESCRIBE_CONFIGS", OpAlterConfigs: "ALTER_CONFIGS", OpIdempotentWrite: "IDEMPOTENT_WRITE",
	OpCreateTokens: "CREATE_TOKENS", OpDescribeTokens: "DESCRIBE_TOKENS", OpTwoPhaseCommit: "TWO_PHASE_COMMIT",
}

var permissionNames = map[Permission]string{
	PermissionUnknown: "UNKNOWN", PermissionAny: "ANY", PermissionDeny: "DENY", PermissionAllow: "ALLOW",
}

func name[K comparable](m map[K]string, k K, n int8) string {
	if s, ok := m[k]; ok {
		return s
	}
	return fmt.Sprintf("UNKNOWN(%d)", n)
}

func (t ResourceType) String() string { return name(resourceNames, t, int8(t)) }
func (t PatternType) String() string  { return name(patternNames, t, int8(t)) }
func (o Operation) String() string    { return name(operationNames, o, int8(o)) }
func (p Permission) String() string   { return name(permissionNames, p, int8(p)) }

// parseName looks s up in m without regard to case, '-' and '_'
// ("transactional-id", "TransactionalId" and "TRANSACTIONAL_ID" are one).
func parseName[K comparable](m map[K]string, what, s string) (K, error) {
	norm := func(v string) string {
		return strings.ToUpper(strings.NewReplacer("-", "", "_", "", " ", "").Replace(v))
	}
	want := norm(s)
	for k, v := range m {
		if norm(v) == want {
			return k, nil
		}
	}
	var zero K
	return zero, fmt.Errorf("unknown %s %q", what, s)
}

// ParseResourceType reads a resource type name (TOPIC, group,
// transactional-id...).
func ParseResourceType(s string) (ResourceType, error) {
	return parseName(resourceNames, "resource type", s)
}

// ParsePatternType reads a pattern type name (LITERAL, prefixed...).
func ParsePatternType(s string) (PatternType, error) {
	return parseName(patternNames, "pattern type", s)
}

// ParseOperation reads an operation name (READ, describe-configs...).
func ParseOperation(s string) (Operation, error) { return parseName(operationNames, "operation", s) }

// ParsePermission reads ALLOW or DENY (or ANY for filters).
func ParsePermission(s string) (Permission, error) {
	return parseName(permissionNames, "permission type", s)
}

// Binding is one ACL: a resource pattern and an access control entry
// (Kafka's AclBinding).
type Binding struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType
	// Principal is "Type:Name", e.g. "User:alice", or WildcardPrincipal.
	Principal string
	// Host is a client IP address or WildcardHost.
	Host       string
	Operation  Operation
	Permission Permission
}

func (b Binding) String() string {
	return fmt.Sprintf("(pattern=ResourcePattern(resourceType=%s, name=%s, patternType=%s), entry=(principal=%s, host=%s, operation=%s, permissionType=%s))",
		b.ResourceType, b.ResourceName, b.PatternType, b.Principal, b.Host, b.Operation, b.Permission)
}

// ErrInvalid is the sentinel of a binding or filter that Kafka refuses
// (INVALID_REQUEST).
var ErrInvalid = errors.New("invalid ACL")

// Validate checks a new ACL as Kafka's controller does
// (AclControlManager.validateNewAcl) and its broker (the Cluster resource
// has one name).
func (b Binding) Validate() error {
	switch b.ResourceType {
	case ResourceTopic, ResourceGroup, ResourceCluster, ResourceTransactionalID, ResourceDelegationToken, ResourceUser:
	default:
		return fmt.Errorf("%w: invalid resourceType %s", ErrInvalid, b.ResourceType)
	}
	if b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed {
		return fmt.Errorf("%w: invalid patternType %s", ErrInvalid, b.PatternType)
	}
	if _, ok := operationNames[b.Operation]; !ok || b.Operation == OpUnknown || b.Operation == OpAny {
		return fmt.Errorf("%w: invalid operation %s", ErrInvalid, b.Operation)
	}
	if b.Permission != PermissionAllow && b.Permission != PermissionDeny {
		return fmt.Errorf("%w: invalid permissionType %s", ErrInvalid, b.Permission)
	}
	if b.ResourceName == "" {
		return fmt.Errorf("%w: resource name should not be empty", ErrInvalid)
	}
	if b.ResourceType == ResourceCluster && b.PatternType == PatternLiteral && b.ResourceName != ClusterName {
		return fmt.Errorf("%w: the only valid name for the CLUSTER resource is %s", ErrInvalid, ClusterName)
	}
	if i := strings.IndexByte(b.Principal, ':'); i <= 0 {
		return fmt.Errorf("%w: could not parse principal from `%s` (no colon is present separating the principal type from the principal name)", ErrInvalid, b.Principal)
	}
	if b.Host == "" {
		return fmt.Errorf("%w: host must not be empty", ErrInvalid)
	}
	return nil
}

// Filter selects ACLs (Kafka's AclBindingFilter). A nil string matches
// any value; ResourceAny, PatternAny, OpAny and PermissionAny match any
// value; PatternMatch matches every pattern that applies to
// ResourceName (literal equal, the literal wildcard, prefixes of it).
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// Validate refuses filters with an UNKNOWN element, as Kafka does.
func (f Filter) Validate() error {
	if f.ResourceType == ResourceUnknown || f.PatternType == PatternUnknown {
		return fmt.Errorf("%w: unknown patternFilter", ErrInvalid)
	}
	if f.Operation == OpUnknown || f.Permission == PermissionUnknown {
		return fmt.Errorf("%w: unknown entryFilter", ErrInvalid)
	}
	if _, ok := resourceNames[f.ResourceType]; !ok {
		return fmt.Errorf("%w: unknown patternFilter", ErrInvalid)
	}
	if _, ok := patternNames[f.PatternType]; !ok {
		return fmt.Errorf("%w: unknown patternFilter", ErrInvalid)
	}
	if _, ok := operationNames[f.Operation]; !ok {
		return fmt.Errorf("%w: unknown entryFilter", ErrInvalid)
	}
	if _, ok := permissionNames[f.Permission]; !ok {
		return fmt.Errorf("%w: unknown entryFilter", ErrInvalid)
	}
	return nil
}

// Matches reports whether b is selected by f, with Kafka's rules
// (ResourcePatternFilter.matches, AccessControlEntryFilter.matches).
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != b.PatternType {
		return false
	}
	if f.ResourceName != nil {
		name := *f.ResourceName
		if f.PatternType == PatternAny || f.PatternType == b.PatternType {
			if name != b.ResourceName {
				return false
			}
		} else { // MATCH
			switch b.PatternType {
			case PatternLiteral:
				if name != b.ResourceName && b.ResourceName != WildcardResource {
					return false
				}
			case PatternPrefixed:
				if !strings.HasPrefix(name, b.ResourceName) {
					return false
				}
			default:
				return false
			}
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	if f.Permission != PermissionAny && f.Permission != b.Permission {
		return false
	}
	return true
}

// SupportedOperations are the operations that apply to a resource type,
// as Kafka lists them for KIP-430's authorized operations.
func SupportedOperations(t ResourceType) []Operation {
	switch t {
	case ResourceTopic:
		return []Operation{OpRead, OpWrite, OpCreate, OpDescribe, OpDelete, OpAlter, OpDescribeConfigs, OpAlterConfigs}
	case ResourceGroup:
		return []Operation{OpRead, OpDescribe, OpDelete}
	case ResourceCluster:
		return []Operation{OpCreate, OpClusterAction, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite, OpAlter, OpDescribe}
	case ResourceTransactionalID:
		return []Operation{OpDescribe, OpWrite, OpTwoPhaseCommit}
	case ResourceDelegationToken:
		return []Operation{OpDescribe}
	case ResourceUser:
		return []Operation{OpCreateTokens, OpDescribeTokens}
	}
	return nil
}
