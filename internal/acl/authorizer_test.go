package acl

import (
	"fmt"
	"testing"
)

func allow(rt ResourceType, name string, pt PatternType, principal string, op Operation) Binding {
	return Binding{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: "*", Operation: op, Permission: PermissionAllow}
}

func deny(rt ResourceType, name string, pt PatternType, principal string, op Operation) Binding {
	b := allow(rt, name, pt, principal, op)
	b.Permission = PermissionDeny
	return b
}

var (
	alice = Request{Principal: "User:alice", Host: "10.0.0.1"}
	bob   = Request{Principal: "User:bob", Host: "10.0.0.2"}
)

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name     string
		bindings []Binding
		cfg      Config
		req      Request
		op       Operation
		rt       ResourceType
		resource string
		want     bool
	}{
		{name: "no acls denies by default", req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: false},
		{name: "no acls with allow.everyone allows", cfg: Config{AllowEveryoneIfNoACLFound: true}, req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: true},
		{name: "allow.everyone does not apply when an acl names the resource",
			bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:bob", OpRead)},
			cfg:      Config{AllowEveryoneIfNoACLFound: true}, req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: false},
		{name: "allow.everyone applies to another resource",
			bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:bob", OpRead)},
			cfg:      Config{AllowEveryoneIfNoACLFound: true}, req: alice, op: OpRead, rt: ResourceTopic, resource: "u", want: true},
		{name: "literal allow", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: true},
		{name: "literal allow is for that name only", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t2", want: false},
		{name: "literal allow is for that principal only", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)},
			req: bob, op: OpRead, rt: ResourceTopic, resource: "t", want: false},
		{name: "literal allow is for that resource type only", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)},
			req: alice, op: OpRead, rt: ResourceGroup, resource: "t", want: false},
		{name: "wildcard resource", bindings: []Binding{allow(ResourceTopic, "*", PatternLiteral, "User:alice", OpRead)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "anything", want: true},
		{name: "wildcard principal", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:*", OpWrite)},
			req: bob, op: OpWrite, rt: ResourceTopic, resource: "t", want: true},
		{name: "prefixed allow", bindings: []Binding{allow(ResourceTopic, "orders-", PatternPrefixed, "User:alice", OpWrite)},
			req: alice, op: OpWrite, rt: ResourceTopic, resource: "orders-eu", want: true},
		{name: "prefixed allow covers the prefix itself", bindings: []Binding{allow(ResourceTopic, "orders-", PatternPrefixed, "User:alice", OpWrite)},
			req: alice, op: OpWrite, rt: ResourceTopic, resource: "orders-", want: true},
		{name: "prefixed allow does not cover a shorter name", bindings: []Binding{allow(ResourceTopic, "orders-", PatternPrefixed, "User:alice", OpWrite)},
			req: alice, op: OpWrite, rt: ResourceTopic, resource: "orders", want: false},
		{name: "prefixed allow does not cover another prefix", bindings: []Binding{allow(ResourceTopic, "orders-", PatternPrefixed, "User:alice", OpWrite)},
			req: alice, op: OpWrite, rt: ResourceTopic, resource: "order-x", want: false},
		{name: "a literal * is not a prefix wildcard", bindings: []Binding{allow(ResourceTopic, "*", PatternPrefixed, "User:alice", OpWrite)},
			req: alice, op: OpWrite, rt: ResourceTopic, resource: "t", want: false},
		{name: "deny wins over allow", bindings: []Binding{
			allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead),
			deny(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: false},
		{name: "prefixed deny wins over literal allow", bindings: []Binding{
			allow(ResourceTopic, "secret-1", PatternLiteral, "User:alice", OpRead),
			deny(ResourceTopic, "secret-", PatternPrefixed, "User:alice", OpRead)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "secret-1", want: false},
		{name: "wildcard deny wins over literal allow", bindings: []Binding{
			allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead),
			deny(ResourceTopic, "*", PatternLiteral, "User:*", OpRead)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: false},
		{name: "deny ALL denies read", bindings: []Binding{
			allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead),
			deny(ResourceTopic, "t", PatternLiteral, "User:alice", OpAll)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: false},
		{name: "deny of another principal does not apply", bindings: []Binding{
			allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead),
			deny(ResourceTopic, "t", PatternLiteral, "User:bob", OpRead)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: true},
		{name: "deny read does not deny describe", bindings: []Binding{
			allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpDescribe),
			deny(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)},
			req: alice, op: OpDescribe, rt: ResourceTopic, resource: "t", want: true},
		{name: "allow ALL allows anything", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpAll)},
			req: alice, op: OpAlterConfigs, rt: ResourceTopic, resource: "t", want: true},
		{name: "read implies describe", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)},
			req: alice, op: OpDescribe, rt: ResourceTopic, resource: "t", want: true},
		{name: "write implies describe", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpWrite)},
			req: alice, op: OpDescribe, rt: ResourceTopic, resource: "t", want: true},
		{name: "delete implies describe", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpDelete)},
			req: alice, op: OpDescribe, rt: ResourceTopic, resource: "t", want: true},
		{name: "alter implies describe", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpAlter)},
			req: alice, op: OpDescribe, rt: ResourceTopic, resource: "t", want: true},
		{name: "create does not imply describe", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpCreate)},
			req: alice, op: OpDescribe, rt: ResourceTopic, resource: "t", want: false},
		{name: "alter configs implies describe configs", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpAlterConfigs)},
			req: alice, op: OpDescribeConfigs, rt: ResourceTopic, resource: "t", want: true},
		{name: "describe does not imply read", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpDescribe)},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: false},
		{name: "describe configs does not imply alter configs", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpDescribeConfigs)},
			req: alice, op: OpAlterConfigs, rt: ResourceTopic, resource: "t", want: false},
		{name: "super user needs no acl", cfg: Config{SuperUsers: []string{"User:admin"}},
			req: Request{Principal: "User:admin", Host: "1.2.3.4"}, op: OpClusterAction, rt: ResourceCluster, resource: ClusterName, want: true},
		{name: "super user ignores deny", cfg: Config{SuperUsers: []string{"User:admin"}},
			bindings: []Binding{deny(ResourceTopic, "*", PatternLiteral, "User:*", OpAll)},
			req:      Request{Principal: "User:admin", Host: "1.2.3.4"}, op: OpRead, rt: ResourceTopic, resource: "t", want: true},
		{name: "host must match", bindings: []Binding{{ResourceType: ResourceTopic, ResourceName: "t", PatternType: PatternLiteral,
			Principal: "User:alice", Host: "10.0.0.9", Operation: OpRead, Permission: PermissionAllow}},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: false},
		{name: "host matches", bindings: []Binding{{ResourceType: ResourceTopic, ResourceName: "t", PatternType: PatternLiteral,
			Principal: "User:alice", Host: "10.0.0.1", Operation: OpRead, Permission: PermissionAllow}},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: true},
		{name: "a deny from one host only", bindings: []Binding{
			allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead),
			{ResourceType: ResourceTopic, ResourceName: "t", PatternType: PatternLiteral, Principal: "User:alice", Host: "10.0.0.9", Operation: OpRead, Permission: PermissionDeny}},
			req: alice, op: OpRead, rt: ResourceTopic, resource: "t", want: true},
		{name: "java's IPv6 form matches go's", bindings: []Binding{{ResourceType: ResourceTopic, ResourceName: "t", PatternType: PatternLiteral,
			Principal: "User:alice", Host: "0:0:0:0:0:0:0:1", Operation: OpRead, Permission: PermissionAllow}},
			req: Request{Principal: "User:alice", Host: CanonicalHost("::1")}, op: OpRead, rt: ResourceTopic, resource: "t", want: true},
		{name: "cluster acl", bindings: []Binding{allow(ResourceCluster, ClusterName, PatternLiteral, "User:alice", OpCreate)},
			req: alice, op: OpCreate, rt: ResourceCluster, resource: ClusterName, want: true},
		{name: "transactional id prefixed", bindings: []Binding{allow(ResourceTransactionalID, "app-", PatternPrefixed, "User:alice", OpWrite)},
			req: alice, op: OpDescribe, rt: ResourceTransactionalID, resource: "app-1", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.cfg, tt.bindings)
			if got := a.Authorize(tt.req, tt.op, tt.rt, tt.resource); got != tt.want {
				t.Errorf("Authorize(%v, %s, %s, %q) = %v, want %v", tt.req, tt.op, tt.rt, tt.resource, got, tt.want)
			}
		})
	}
}

func TestAuthorizedOperations(t *testing.T) {
	a := New(Config{}, []Binding{
		allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead),
		allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpAlterConfigs),
	})
	got := a.AuthorizedOperations(alice, ResourceTopic, "t")
	want := int32(1<<OpRead | 1<<OpDescribe | 1<<OpAlterConfigs | 1<<OpDescribeConfigs)
	if got != want {
		t.Errorf("AuthorizedOperations(alice, topic t) = %b, want %b", got, want)
	}
	if got := a.AuthorizedOperations(bob, ResourceTopic, "t"); got != 0 {
		t.Errorf("AuthorizedOperations(bob, topic t) = %b, want 0", got)
	}
	if got, want := AllOperations(ResourceGroup), int32(1<<OpRead|1<<OpDescribe|1<<OpDelete); got != want {
		t.Errorf("AllOperations(group) = %b, want %b", got, want)
	}
}

func TestAuthorizeByResourceType(t *testing.T) {
	tests := []struct {
		name     string
		bindings []Binding
		cfg      Config
		want     bool
	}{
		{name: "nothing", want: false},
		{name: "allow.everyone without acls", cfg: Config{AllowEveryoneIfNoACLFound: true}, want: true},
		{name: "super user", cfg: Config{SuperUsers: []string{"User:alice"}}, want: true},
		{name: "a literal allow", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpWrite)}, want: true},
		{name: "a prefixed allow", bindings: []Binding{allow(ResourceTopic, "p", PatternPrefixed, "User:alice", OpWrite)}, want: true},
		{name: "another operation", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)}, want: false},
		{name: "no implication", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpWrite)}, want: true},
		{name: "allow ALL", bindings: []Binding{allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpAll)}, want: true},
		{name: "literal allow denied by same literal", bindings: []Binding{
			allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpWrite), deny(ResourceTopic, "t", PatternLiteral, "User:alice", OpWrite)}, want: false},
		{name: "literal allow denied by a prefix", bindings: []Binding{
			allow(ResourceTopic, "team-t", PatternLiteral, "User:alice", OpWrite), deny(ResourceTopic, "team-", PatternPrefixed, "User:*", OpWrite)}, want: false},
		{name: "prefixed allow under a shorter denied prefix", bindings: []Binding{
			allow(ResourceTopic, "team-a-", PatternPrefixed, "User:alice", OpWrite), deny(ResourceTopic, "team-", PatternPrefixed, "User:alice", OpWrite)}, want: false},
		{name: "prefixed allow over a longer denied prefix", bindings: []Binding{
			allow(ResourceTopic, "team-", PatternPrefixed, "User:alice", OpWrite), deny(ResourceTopic, "team-a-", PatternPrefixed, "User:alice", OpWrite)}, want: true},
		{name: "wildcard deny", bindings: []Binding{
			allow(ResourceTopic, "*", PatternLiteral, "User:alice", OpWrite), deny(ResourceTopic, "*", PatternLiteral, "User:alice", OpWrite)}, want: false},
		{name: "an allow on a group does not count", bindings: []Binding{allow(ResourceGroup, "g", PatternLiteral, "User:alice", OpWrite)}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.cfg, tt.bindings)
			if got := a.AuthorizeByResourceType(alice, OpWrite, ResourceTopic); got != tt.want {
				t.Errorf("AuthorizeByResourceType(alice, WRITE, TOPIC) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterMatches(t *testing.T) {
	str := func(s string) *string { return &s }
	lit := allow(ResourceTopic, "orders", PatternLiteral, "User:alice", OpRead)
	wild := allow(ResourceTopic, "*", PatternLiteral, "User:alice", OpRead)
	pre := allow(ResourceTopic, "ord", PatternPrefixed, "User:alice", OpRead)
	other := allow(ResourceGroup, "orders", PatternLiteral, "User:bob", OpWrite)
	all := []Binding{lit, wild, pre, other}
	any := Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}
	tests := []struct {
		name string
		give Filter
		want []Binding
	}{
		{name: "any matches all", give: any, want: all},
		{name: "literal name", give: Filter{ResourceType: ResourceTopic, ResourceName: str("orders"), PatternType: PatternLiteral, Operation: OpAny, Permission: PermissionAny},
			want: []Binding{lit}},
		{name: "any pattern with a name is exact", give: Filter{ResourceType: ResourceAny, ResourceName: str("orders"), PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny},
			want: []Binding{lit, other}},
		{name: "match takes wildcard and prefixes", give: Filter{ResourceType: ResourceTopic, ResourceName: str("orders"), PatternType: PatternMatch, Operation: OpAny, Permission: PermissionAny},
			want: []Binding{lit, wild, pre}},
		{name: "prefixed pattern type is exact", give: Filter{ResourceType: ResourceTopic, ResourceName: str("ord"), PatternType: PatternPrefixed, Operation: OpAny, Permission: PermissionAny},
			want: []Binding{pre}},
		{name: "principal", give: Filter{ResourceType: ResourceAny, PatternType: PatternAny, Principal: str("User:bob"), Operation: OpAny, Permission: PermissionAny},
			want: []Binding{other}},
		{name: "operation", give: Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpWrite, Permission: PermissionAny},
			want: []Binding{other}},
		{name: "permission", give: Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionDeny}},
		{name: "host", give: Filter{ResourceType: ResourceAny, PatternType: PatternAny, Host: str("1.1.1.1"), Operation: OpAny, Permission: PermissionAny}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Binding
			for _, b := range all {
				if tt.give.Matches(b) {
					got = append(got, b)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Matches(%+v) selected %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := allow(ResourceTopic, "t", PatternLiteral, "User:alice", OpRead)
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(%v) = %v, want nil", good, err)
	}
	tests := []struct {
		name string
		give func(*Binding)
	}{
		{"any resource type", func(b *Binding) { b.ResourceType = ResourceAny }},
		{"match pattern", func(b *Binding) { b.PatternType = PatternMatch }},
		{"any operation", func(b *Binding) { b.Operation = OpAny }},
		{"unknown operation code", func(b *Binding) { b.Operation = 42 }},
		{"any permission", func(b *Binding) { b.Permission = PermissionAny }},
		{"empty name", func(b *Binding) { b.ResourceName = "" }},
		{"principal without type", func(b *Binding) { b.Principal = "alice" }},
		{"empty host", func(b *Binding) { b.Host = "" }},
		{"cluster with another name", func(b *Binding) { b.ResourceType = ResourceCluster; b.ResourceName = "c" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good
			tt.give(&b)
			if err := b.Validate(); err == nil {
				t.Errorf("Validate(%v) = nil, want an error", b)
			}
		})
	}
	if err := (Filter{ResourceType: ResourceTopic, PatternType: PatternUnknown, Operation: OpAny, Permission: PermissionAny}).Validate(); err == nil {
		t.Errorf("Validate(filter with UNKNOWN pattern) = nil, want an error")
	}
}

func TestConfigParsing(t *testing.T) {
	got, err := ParseSuperUsers(" User:admin ;User:broker-1;; ")
	if err != nil || fmt.Sprint(got) != "[User:admin User:broker-1]" {
		t.Errorf("ParseSuperUsers = %v, %v; want [User:admin User:broker-1]", got, err)
	}
	if _, err := ParseSuperUsers("admin"); err == nil {
		t.Errorf("ParseSuperUsers(admin) = nil error, want one")
	}
	for give, want := range map[string]bool{"": false, "org.apache.kafka.metadata.authorizer.StandardAuthorizer": true,
		"kafka.security.authorizer.AclAuthorizer": true, "acl": true} {
		if got, err := EnabledBy(give); got != want || err != nil {
			t.Errorf("EnabledBy(%q) = %v, %v; want %v", give, got, err, want)
		}
	}
	if _, err := EnabledBy("com.example.MyAuthorizer"); err == nil {
		t.Errorf("EnabledBy(unknown class) = nil error, want one")
	}
	for _, s := range []string{"transactional-id", "TransactionalId", "TRANSACTIONAL_ID"} {
		if got, err := ParseResourceType(s); got != ResourceTransactionalID || err != nil {
			t.Errorf("ParseResourceType(%q) = %v, %v", s, got, err)
		}
	}
}

func BenchmarkAuthorize(b *testing.B) {
	var bindings []Binding
	for i := range 10000 {
		bindings = append(bindings, allow(ResourceTopic, fmt.Sprintf("topic-%d", i), PatternLiteral, fmt.Sprintf("User:u%d", i%100), OpRead))
		bindings = append(bindings, allow(ResourceTopic, fmt.Sprintf("team-%d-", i), PatternPrefixed, fmt.Sprintf("User:u%d", i%100), OpWrite))
	}
	a := New(Config{}, bindings)
	r := Request{Principal: "User:u7", Host: "10.0.0.1"}
	b.ReportAllocs()
	for b.Loop() {
		if !a.Authorize(r, OpDescribe, ResourceTopic, "team-7-orders") {
			b.Fatal("denied")
		}
	}
}
