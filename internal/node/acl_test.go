package node

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/auth"
	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/kafkaapi"
)

// Until SASL authenticates connections, these tests give each request the
// principal named by its client id (Config.testPrincipalFor): "user-NAME"
// is User:NAME, another node's requests (kafkaapi.ForwardClientIDPrefix)
// are User:broker, anything else User:ANONYMOUS.
func principalOfClientID(clientID string) auth.Principal {
	switch {
	case strings.HasPrefix(clientID, "user-"):
		return auth.User(strings.TrimPrefix(clientID, "user-"))
	case strings.HasPrefix(clientID, kafkaapi.ForwardClientIDPrefix):
		return auth.User("broker")
	}
	return auth.Anonymous
}

func withTestPrincipals(c *Config) { c.testPrincipalFor = principalOfClientID }

// aclStatic is a node config with the authorizer on: User:admin and the
// brokers are super users, nothing else is allowed without an ACL.
func aclStatic(t *testing.T) config.Static {
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.AutoCreateTopics = false
	cfg.Authorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	cfg.SuperUsers = "User:admin;User:broker"
	return cfg
}

// as returns a client of addrs authenticated (by client id) as user.
func as(t *testing.T, user string, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.ClientID("user-" + user)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func request[R kmsg.Response](t *testing.T, c *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := c.Request(ctxTimeout(t, 15*time.Second), req)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	return resp.(R)
}

func produceOnce(t *testing.T, c *kgo.Client, topic string) error {
	t.Helper()
	return c.ProduceSync(ctxTimeout(t, 15*time.Second), &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}

func fetchCode(t *testing.T, c *kgo.Client, topic string, replicaID int32) int16 {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = 12, replicaID, 0, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.FetchResponse](t, c, pinnedRequest{req})
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func joinCode(t *testing.T, c *kgo.Client, group string) int16 {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = 5, group, 10000, 10000, "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	req.Protocols = append(req.Protocols, p)
	// NB: franz-go first finds the coordinator, which needs DESCRIBE on
	// the group; a refusal there comes back as the request's error.
	resp, err := c.Request(ctxTimeout(t, 15*time.Second), req)
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	if err != nil {
		t.Fatalf("JoinGroup: %v", err)
	}
	return resp.(*kmsg.JoinGroupResponse).ErrorCode
}

func createTopicCode(t *testing.T, c *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	req.Topics = append(req.Topics, rt)
	return request[*kmsg.CreateTopicsResponse](t, c, req).Topics[0].ErrorCode
}

func metadataTopics(t *testing.T, c *kgo.Client, names ...string) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	if names != nil {
		for _, n := range names {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(n)
			req.Topics = append(req.Topics, rt)
		}
	}
	out := map[string]int16{}
	for _, rt := range request[*kmsg.MetadataResponse](t, c, req).Topics {
		out[*rt.Topic] = rt.ErrorCode
	}
	return out
}

func codeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Errorf("%s: got %s, want %s", what, codeName(got), codeName(w))
	}
}

func TestACLAuthorization(t *testing.T) {
	tn := startNodeWith(t, aclStatic(t), withTestPrincipals)
	addrs := []string{tn.addr}
	admin := kadm.NewClient(as(t, "admin", addrs))
	ctx := ctxTimeout(t, 60*time.Second)
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatalf("admin CreateTopic: %v", err)
	}
	if err := produceOnce(t, as(t, "admin", addrs), "orders"); err != nil {
		t.Fatalf("admin produce: %v", err)
	}
	alice := as(t, "alice", addrs, kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.ProducerLinger(0))

	// Without ACLs.
	if err := produceOnce(t, alice, "orders"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice produce without ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	wantCode(t, "alice fetch without ACLs", fetchCode(t, alice, "orders", -1), kerr.TopicAuthorizationFailed)
	wantCode(t, "alice join without ACLs", joinCode(t, alice, "g"), kerr.GroupAuthorizationFailed)
	wantCode(t, "alice CreateTopics without CREATE", createTopicCode(t, alice, "alice-topic"), kerr.TopicAuthorizationFailed)
	if got := metadataTopics(t, alice); len(got) != 0 {
		t.Errorf("alice Metadata(all topics) = %v, want none listed", got)
	}
	if got := metadataTopics(t, alice, "orders"); got["orders"] != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("alice Metadata(orders) = %v, want TOPIC_AUTHORIZATION_FAILED", got)
	}
	// A client that says it is a replica must be allowed CLUSTER_ACTION
	// (CVE-2018-1288); Kafka answers TOPIC_AUTHORIZATION_FAILED.
	wantCode(t, "alice fetch as replica 7", fetchCode(t, alice, "orders", 7), kerr.TopicAuthorizationFailed)
	elect := kmsg.NewPtrElectLeadersRequest()
	elect.Version, elect.TimeoutMillis = 2, 5000
	wantCode(t, "alice ElectLeaders", request[*kmsg.ElectLeadersResponse](t, alice, elect).ErrorCode, kerr.ClusterAuthorizationFailed)
	describeACLs := kmsg.NewPtrDescribeACLsRequest()
	describeACLs.ResourceType, describeACLs.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	describeACLs.Operation, describeACLs.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	wantCode(t, "alice DescribeACLs", request[*kmsg.DescribeACLsResponse](t, alice, describeACLs).ErrorCode, kerr.ClusterAuthorizationFailed)
	initPID := kmsg.NewPtrInitProducerIDRequest()
	initPID.Version = 4
	wantCode(t, "alice idempotent InitProducerId", request[*kmsg.InitProducerIDResponse](t, alice, initPID).ErrorCode, kerr.ClusterAuthorizationFailed)

	// Grant through kadm; no restart.
	grants := []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpWrite, kadm.OpRead),
		kadm.NewACLs().Allow("User:alice").Groups("g").Operations(kadm.OpRead),
		kadm.NewACLs().Allow("User:alice").Topics("alice-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpCreate),
	}
	for _, b := range grants {
		results, err := admin.CreateACLs(ctx, b)
		if err != nil {
			t.Fatalf("CreateACLs: %v", err)
		}
		for _, r := range results {
			if r.Err != nil {
				t.Fatalf("CreateACLs result %+v", r)
			}
		}
	}
	described, err := admin.DescribeACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().AnyResource().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	var ds []string
	for _, d := range described {
		if d.Err != nil {
			t.Fatalf("DescribeACLs(alice) filter error: %v", d.Err)
		}
		for _, a := range d.Described {
			ds = append(ds, fmt.Sprintf("%s %s %s %s %s", a.Type, a.Pattern, a.Name, a.Operation, a.Permission))
		}
	}
	slices.Sort(ds)
	want := []string{"GROUP LITERAL g READ ALLOW", "TOPIC LITERAL orders READ ALLOW", "TOPIC LITERAL orders WRITE ALLOW", "TOPIC PREFIXED alice- CREATE ALLOW"}
	if err != nil || !slices.Equal(ds, want) {
		t.Fatalf("DescribeACLs(alice) = %q, %v; want %q", ds, err, want)
	}

	if err := produceOnce(t, alice, "orders"); err != nil {
		t.Errorf("alice produce with WRITE: %v", err)
	}
	wantCode(t, "alice fetch with READ", fetchCode(t, alice, "orders", -1), nil)
	wantCode(t, "alice join with READ on the group", joinCode(t, alice, "g"), kerr.MemberIDRequired)
	wantCode(t, "alice CreateTopics with a prefixed CREATE", createTopicCode(t, alice, "alice-topic"), nil)
	wantCode(t, "alice CreateTopics outside the prefix", createTopicCode(t, alice, "bob-topic"), kerr.TopicAuthorizationFailed)
	if got := metadataTopics(t, alice); len(got) != 1 || got["orders"] != 0 {
		// alice-topic: CREATE does not imply DESCRIBE.
		t.Errorf("alice Metadata(all topics) with ACLs = %v, want only orders", got)
	}
	wantCode(t, "alice fetch as replica 7 with READ", fetchCode(t, alice, "orders", 7), kerr.TopicAuthorizationFailed)
	// KIP-679: WRITE on some topic allows an idempotent producer.
	wantCode(t, "alice idempotent InitProducerId with WRITE on a topic", request[*kmsg.InitProducerIDResponse](t, alice, initPID).ErrorCode, nil)

	// A consumer group end to end.
	consumer := as(t, "alice", addrs, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got int
	for got < 2 {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 2 records as alice in group g: %v", got, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		got += len(fs.Records())
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Errorf("alice commit in group g: %v", err)
	}

	// Deny wins over allow.
	if _, err := admin.CreateACLs(ctx, kadm.NewACLs().Deny("User:alice").Topics("orders").Operations(kadm.OpWrite)); err != nil {
		t.Fatalf("CreateACLs(deny): %v", err)
	}
	if err := produceOnce(t, alice, "orders"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice produce with a DENY: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// Delete every ACL of alice: back to nothing.
	deleted, err := admin.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().Deny("User:alice").DenyHosts().AnyResource().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil {
		t.Fatalf("DeleteACLs: %v", err)
	}
	n := 0
	for _, d := range deleted {
		n += len(d.Deleted)
	}
	if n != 5 {
		t.Errorf("DeleteACLs removed %d ACLs, want 5: %+v", n, deleted)
	}
	wantCode(t, "alice fetch after DeleteAcls", fetchCode(t, alice, "orders", -1), kerr.TopicAuthorizationFailed)
}

// TestACLAllowEveryoneIfNoACLFound: with allow.everyone.if.no.acl.found,
// resources no ACL names stay open and an ACL closes its resource to
// everyone else.
func TestACLAllowEveryoneIfNoACLFound(t *testing.T) {
	cfg := aclStatic(t)
	cfg.AllowEveryoneIfNoACLFound = true
	tn := startNodeWith(t, cfg, withTestPrincipals)
	addrs := []string{tn.addr}
	admin := kadm.NewClient(as(t, "admin", addrs))
	ctx := ctxTimeout(t, 60*time.Second)
	for _, topic := range []string{"open", "closed"} {
		if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatalf("CreateTopic %s: %v", topic, err)
		}
	}
	if _, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:bob").Topics("closed").Operations(kadm.OpWrite)); err != nil {
		t.Fatalf("CreateACLs: %v", err)
	}
	alice := as(t, "alice", addrs, kgo.DisableIdempotentWrite(), kgo.RecordRetries(0))
	if err := produceOnce(t, alice, "open"); err != nil {
		t.Errorf("alice produce to a topic without ACLs: %v", err)
	}
	if err := produceOnce(t, alice, "closed"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice produce to a topic with bob's ACL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

// TestACLsWithoutAuthorizer: without authorizer.class.name the ACL APIs
// answer SECURITY_DISABLED, as Kafka does, and everything stays allowed.
func TestACLsWithoutAuthorizer(t *testing.T) {
	tn := startNode(t)
	_, err := tn.admin().CreateACLs(ctxTimeout(t, 10*time.Second), kadm.NewACLs().Allow("User:alice").Topics("t").Operations(kadm.OpRead))
	if !errors.Is(err, kerr.SecurityDisabled) {
		results, _ := tn.admin().CreateACLs(ctxTimeout(t, 10*time.Second), kadm.NewACLs().Allow("User:alice").Topics("t").Operations(kadm.OpRead))
		if len(results) != 1 || !errors.Is(results[0].Err, kerr.SecurityDisabled) {
			t.Errorf("CreateACLs without an authorizer: %v / %+v, want SECURITY_DISABLED", err, results)
		}
	}
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	wantCode(t, "DescribeACLs without an authorizer", request[*kmsg.DescribeACLsResponse](t, tn.client(), req).ErrorCode, kerr.SecurityDisabled)
}

// TestACLsOnThreeNodes: an ACL created through one node of a three-node
// cluster applies on every node, including to admin requests forwarded to
// the active controller, which are authorized as their client.
func TestACLsOnThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	var listen, raft []string
	for range 3 {
		listen, raft = append(listen, freePort(t)), append(raft, freePort(t))
	}
	var voters []string
	for i := range 3 {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raft[i]))
	}
	var nodes []*testNode
	for i := range 3 {
		cfg := aclStatic(t)
		cfg.NodeID, cfg.Listen, cfg.ControllerListen = int32(i+1), listen[i], raft[i]
		cfg.ControllerVoters = strings.Join(voters, ",")
		cfg.OffsetsTopicPartitions = 3
		nodes = append(nodes, launchNode(t, cfg, withTestPrincipals))
	}
	for _, n := range nodes {
		n.waitReady()
	}
	ctx := ctxTimeout(t, 120*time.Second)
	admin := kadm.NewClient(as(t, "admin", listen))
	waitFor(t, "creating an RF=3 topic", 60*time.Second, func() bool {
		r, err := admin.CreateTopic(ctxTimeout(t, 10*time.Second), 3, 3, nil, "shared")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})

	// alice asks each node; a node that is not the active controller
	// forwards, and the refusal is still alice's.
	for i, addr := range listen {
		alice := as(t, "alice", []string{addr})
		wantCode(t, fmt.Sprintf("alice CreateTopics via node %d", i+1), createTopicCode(t, alice, fmt.Sprintf("alice-%d", i)), kerr.TopicAuthorizationFailed)
		if got := metadataTopics(t, alice, "shared"); got["shared"] != kerr.TopicAuthorizationFailed.Code {
			t.Errorf("alice Metadata(shared) via node %d = %v, want TOPIC_AUTHORIZATION_FAILED", i+1, got)
		}
	}

	// Grant through node 2 only.
	node2 := kadm.NewClient(as(t, "admin", []string{listen[1]}))
	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:alice").Topics("shared").Operations(kadm.OpWrite, kadm.OpRead),
		kadm.NewACLs().Allow("User:alice").Topics("alice-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpCreate),
	} {
		results, err := node2.CreateACLs(ctx, b)
		if err != nil || slices.ContainsFunc(results, func(r kadm.CreateACLsResult) bool { return r.Err != nil }) {
			t.Fatalf("CreateACLs via node 2: %+v, %v", results, err)
		}
	}
	for i, addr := range listen {
		alice := as(t, "alice", []string{addr})
		if got := metadataTopics(t, alice, "shared"); got["shared"] != 0 {
			t.Errorf("alice Metadata(shared) via node %d after the grant = %v, want it described", i+1, got)
		}
		wantCode(t, fmt.Sprintf("alice CreateTopics via node %d after the grant", i+1), createTopicCode(t, alice, fmt.Sprintf("alice-%d", i)), nil)
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		resp := request[*kmsg.DescribeACLsResponse](t, as(t, "admin", []string{addr}), req)
		if resp.ErrorCode != 0 || len(resp.Resources) != 2 {
			t.Errorf("DescribeACLs via node %d = %s, %d resources; want 2 resources", i+1, codeName(resp.ErrorCode), len(resp.Resources))
		}
	}
	producer := as(t, "alice", listen, kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(3) {
		r := &kgo.Record{Topic: "shared", Partition: p, Value: []byte("x")}
		if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Errorf("alice produce to shared[%d]: %v", p, err)
		}
	}
}

// TestACLCLI runs `strata acl create|list|delete` against a node with the
// authorizer on (the CLI's client id makes it User:ANONYMOUS here, a super
// user of this test).
func TestACLCLI(t *testing.T) {
	cfg := aclStatic(t)
	cfg.SuperUsers += ";User:ANONYMOUS"
	tn := startNodeWith(t, cfg, withTestPrincipals)
	b := "--bootstrap=" + tn.addr
	out, err := runCLI(t, "acl", "create", "--allow-principal", "User:alice", "--operation", "Read", "--operation", "Describe", "--topic", "orders", b)
	if err != nil {
		t.Fatalf("acl create: %v\n%s", err, out)
	}
	if want := "created ACL ALLOW READ to User:alice from host * on LITERAL TOPIC \"orders\"\ncreated ACL ALLOW DESCRIBE to User:alice from host * on LITERAL TOPIC \"orders\"\n"; out != want {
		t.Errorf("acl create output:\n%s\nwant:\n%s", out, want)
	}
	if out, err := runCLI(t, "acl", "create", "--deny-principal", "User:bob", "--operation", "All", "--group", "app-", "--resource-pattern-type", "prefixed", b); err != nil {
		t.Fatalf("acl create prefixed deny: %v\n%s", err, out)
	}
	out, err = runCLI(t, "acl", "list", b)
	if err != nil {
		t.Fatalf("acl list: %v", err)
	}
	wantRows := []string{
		`TOPIC +LITERAL +orders +User:alice +\* +READ +ALLOW`,
		`TOPIC +LITERAL +orders +User:alice +\* +DESCRIBE +ALLOW`,
		`GROUP +PREFIXED +app- +User:bob +\* +ALL +DENY`,
	}
	for _, re := range wantRows {
		if !regexp.MustCompile(`(?m)^` + re + ` *$`).MatchString(out) {
			t.Errorf("acl list output:\n%s\nhas no row matching %s", out, re)
		}
	}
	out, err = runCLI(t, "acl", "list", "--group", "app-7", "--resource-pattern-type", "match", b)
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, "User:bob") {
		t.Errorf("acl list --group app-7 --resource-pattern-type match: %v\n%s\nwant only bob's prefixed deny", err, out)
	}
	if _, err := runCLI(t, "acl", "delete", b); err == nil {
		t.Errorf("acl delete without filters: want an error asking for --all")
	}
	out, err = runCLI(t, "acl", "delete", "--principal", "User:alice", b)
	if err != nil || strings.Count(out, "deleted ACL") != 2 {
		t.Errorf("acl delete --principal User:alice: %v\n%s\nwant two ACLs deleted", err, out)
	}
	out, err = runCLI(t, "acl", "list", b)
	if err != nil || strings.Contains(out, "User:alice") || !strings.Contains(out, "User:bob") {
		t.Errorf("acl list after delete: %v\n%s\nwant only bob's ACL", err, out)
	}
	if _, err := runCLI(t, "acl", "create", "--allow-principal", "alice", "--operation", "Read", "--topic", "t", b); err == nil || !strings.Contains(err.Error(), "principal") {
		t.Errorf("acl create with principal alice: %v, want a principal error", err)
	}
	// A non-super user may not list ACLs.
	alice := as(t, "alice", []string{tn.addr})
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	wantCode(t, "alice DescribeACLs", request[*kmsg.DescribeACLsResponse](t, alice, req).ErrorCode, kerr.ClusterAuthorizationFailed)
}
