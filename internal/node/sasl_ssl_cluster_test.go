package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// brokerPlainJAAS gives the PLAIN users broker and admin, and makes this
// node log in to the others as broker: the bootstrap of a SASL-only
// cluster (SCRAM users live in the metadata log, which a node must reach
// before it could check one; PLAIN users live in the config).
const brokerPlainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="broker-secret" user_broker="broker-secret" user_admin="admin-secret";`

// saslSSLClusterArgs are the flags of one node of a cluster whose only
// listener is SASL_SSL, whose metadata quorum speaks mutual TLS and whose
// authorizer denies what no ACL allows.
func saslSSLClusterArgs(p testPKI, addr string) []string {
	return []string{"--listeners", "SASL_SSL://" + addr, "--tls-cert", p.broker, "--tls-ca", p.ca,
		"--controller-listener-names", "CONTROLLER", "--listener-security-protocol-map", "CONTROLLER:SSL",
		"--sasl-mechanisms", "PLAIN,SCRAM-SHA-512", "--sasl-mechanism-inter-broker", "PLAIN", "--sasl-jaas-config", brokerPlainJAAS,
		"--authorizer", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "--super-users", "User:broker;User:admin",
		"--allow-everyone-if-no-acl-found=false",
		"--offsets-topic-partitions", "3", "--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms"}
}

// replicaFetch sends a Fetch of topic's partition 0 from offset 0 that
// claims to come from replica id, straight to broker leader: v12 names the
// replica in ReplicaID, v15+ in ReplicaState (with the topic's id).
func replicaFetch(t *testing.T, c *kgo.Client, leader int32, version int16, topic string, topicID [16]byte, id int32) *kmsg.FetchResponse {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MaxBytes = version, 0, 1<<20
	if version >= 15 {
		req.ReplicaID = -1
		req.ReplicaState.ID, req.ReplicaState.Epoch = id, -1
	} else {
		req.ReplicaID = id
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := c.Broker(int(leader)).Request(ctxTimeout(t, 15*time.Second), pinnedRequest{req})
	if err != nil {
		t.Fatalf("Fetch v%d as replica %d: %v", version, id, err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		t.Fatalf("Fetch v%d as replica %d: %d topics in the answer, want one with one partition", version, id, len(fr.Topics))
	}
	return fr
}

// TestSASLSSLClusterWithACLsReplicatesAndFailsOver: three processes whose
// only listener is SASL_SSL (replication, forwarding and the controller
// channel authenticate with PLAIN over TLS as User:broker), the metadata
// quorum over mutual TLS, and the ACL authorizer on with super.users
// User:broker and User:admin. The admin creates a SCRAM user and an RF=3
// topic; the user is refused until granted ACLs, then produces acks=all
// and consumes in a group; after the partition leader is SIGKILLed writes
// go on, every acknowledged record is read back once and in order, the
// quorum still creates topics, and the user cannot fetch as a replica.
func TestSASLSSLClusterWithACLsReplicatesAndFailsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	p := newTestPKI(t)
	tc := startClusterWith(t, 3, func(_ int, addr string) []string { return saslSSLClusterArgs(p, addr) })
	tlsOpts := p.tlsOpts(t, "") // no client certificate: the principal comes from SASL
	withSASLSSL := func(m kgo.Opt, extra ...kgo.Opt) []kgo.Opt {
		return slices.Concat([]kgo.Opt{m}, tlsOpts, extra)
	}
	adminMech := kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())
	aliceMech := kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism())
	const topic = "secure-orders"

	// The admin (a PLAIN super user) creates the SCRAM user and the topic,
	// through node 2 (forwarded to the active controller unless it is it).
	admin := kadm.NewClient(kgoClient(t, tc.addrs[1], withSASLSSL(adminMech)...))
	waitFor(t, "the admin creating SCRAM user alice", 60*time.Second, func() bool {
		resps, err := admin.AlterUserSCRAMs(ctxTimeout(t, 10*time.Second), nil, []kadm.UpsertSCRAM{
			{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "alice-secret"}})
		return err == nil && resps["alice"].Err == nil
	})
	two := "2"
	waitFor(t, "the admin creating an RF=3 topic with min.insync.replicas=2", 60*time.Second, func() bool {
		r, err := admin.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, topic)
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	metaClients := map[string]*kgo.Client{}
	for _, addr := range tc.addrs {
		metaClients[addr] = kgoClient(t, addr, append(slices.Clip(tlsOpts), adminMech, kgo.RequestRetries(0))...)
	}
	leaderAndISR := func(addr string) (int32, []int32, [16]byte) {
		cl := metaClients[addr]
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := cl.SeedBrokers()[0].Request(ctxTimeout(t, 5*time.Second), req)
		if err != nil {
			return -1, nil, [16]byte{}
		}
		m := resp.(*kmsg.MetadataResponse)
		if len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != 1 {
			return -1, nil, [16]byte{}
		}
		pp := m.Topics[0].Partitions[0]
		return pp.Leader, pp.ISR, m.Topics[0].TopicID
	}
	waitFor(t, "a leader with all three replicas in sync (replication over SASL_SSL)", 60*time.Second, func() bool {
		l, isr, _ := leaderAndISR(tc.addrs[0])
		return l > 0 && len(isr) == 3
	})

	// alice logs in but may do nothing yet.
	aliceBare := kgoClient(t, tc.addrs[0], withSASLSSL(aliceMech, kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.ProducerLinger(0))...)
	if err := produceOnce(t, aliceBare, topic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice produce without ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	wantCode(t, "alice fetch without ACLs", fetchCode(t, aliceBare, topic, -1), kerr.TopicAuthorizationFailed)
	wantCode(t, "alice join without ACLs", joinCode(t, aliceBare, "alice-group"), kerr.GroupAuthorizationFailed)
	if got := metadataTopics(t, aliceBare, topic); got[topic] != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("alice Metadata(%s) without ACLs = %v, want TOPIC_AUTHORIZATION_FAILED", topic, got)
	}
	// Nor may she make users (ALTER on the cluster) or read them.
	resps, err := kadm.NewClient(aliceBare).AlterUserSCRAMs(ctxTimeout(t, 10*time.Second), nil, []kadm.UpsertSCRAM{
		{User: "mallory", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "pw"}})
	if err == nil {
		err = resps["mallory"].Err // kadm returns an authorization failure as the call's error
	}
	if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("alice AlterUserScramCredentials: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	describe := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	wantCode(t, "alice DescribeUserScramCredentials", request[*kmsg.DescribeUserSCRAMCredentialsResponse](t, aliceBare, describe).ErrorCode, kerr.ClusterAuthorizationFailed)

	// The admin grants Write and Read on the topic and Read on the group,
	// through node 3.
	admin3 := kadm.NewClient(kgoClient(t, tc.addrs[2], withSASLSSL(adminMech)...))
	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:alice").Topics(topic).Operations(kadm.OpWrite, kadm.OpRead),
		kadm.NewACLs().Allow("User:alice").Groups("alice-group").Operations(kadm.OpRead),
	} {
		results, err := admin3.CreateACLs(ctxTimeout(t, 30*time.Second), b)
		if err != nil || slices.ContainsFunc(results, func(r kadm.CreateACLsResult) bool { return r.Err != nil }) {
			t.Fatalf("CreateACLs via node 3: %+v, %v", results, err)
		}
	}

	// alice produces with acks=all (idempotent: Write on a topic allows
	// InitProducerId, KIP-679) and consumes, through the leader's failure.
	aliceOpts := slices.Concat(tlsOpts, []kgo.Opt{aliceMech})
	load := startHistoryLoad(t, tc.addrs, topic, aliceOpts...)
	load.waitAcked(t, "2,000 records acknowledged to alice", 2000)
	leader, _, topicID := leaderAndISR(tc.addrs[0])
	controller := controllerOfWith(metaClients[tc.addrs[0]])
	tc.nodes[leader-1].kill()
	survivors := slices.Delete(slices.Clone(tc.addrs), int(leader-1), int(leader))
	waitFor(t, "a new leader after the SIGKILL", 30*time.Second, func() bool {
		l, _, _ := leaderAndISR(survivors[0])
		return l > 0 && l != leader
	})
	load.waitAcked(t, "2,000 more acknowledgements under the new leader", 2000)
	newLeader, isr, _ := leaderAndISR(survivors[0])

	// The metadata quorum (mutual TLS) still works: a new topic, created
	// through the survivor that is not the active controller (so the
	// request is forwarded over SASL_SSL as User:broker), an ACL for it
	// and a write to it.
	var active int32
	waitFor(t, "an active controller among the survivors", 30*time.Second, func() bool {
		active = controllerOfWith(metaClients[survivors[0]])
		return active > 0 && active != leader
	})
	forwarder := survivors[0]
	if forwarder == tc.addrs[active-1] {
		forwarder = survivors[1]
	}
	const after = "after-failover"
	viaForwarder := kgoClient(t, forwarder, withSASLSSL(adminMech)...)
	waitFor(t, "creating an RF=2 topic after the SIGKILL through a node that forwards", 60*time.Second, func() bool {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = after, 1, 2
		req.Topics = append(req.Topics, rt)
		resp, err := viaForwarder.SeedBrokers()[0].Request(ctxTimeout(t, 15*time.Second), req)
		if err != nil {
			return false
		}
		code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
		return code == 0 || code == kerr.TopicAlreadyExists.Code
	})
	adminAfter := kadm.NewClient(kgoClient(t, survivors[0], withSASLSSL(adminMech, kgo.SeedBrokers(survivors...))...))
	if results, err := adminAfter.CreateACLs(ctxTimeout(t, 30*time.Second), kadm.NewACLs().Allow("User:alice").Topics(after).Operations(kadm.OpWrite)); err != nil ||
		slices.ContainsFunc(results, func(r kadm.CreateACLsResult) bool { return r.Err != nil }) {
		t.Fatalf("CreateACLs after the SIGKILL: %+v, %v", results, err)
	}
	aliceAfter := kgoClient(t, survivors[0], append(aliceOpts, kgo.SeedBrokers(survivors...), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err := produceOnce(t, aliceAfter, after); err != nil {
		t.Errorf("alice acks=all produce to %s after the SIGKILL: %v", after, err)
	}

	// Every acknowledged record is there once, in order.
	final := load.stopAndCheck(t, survivors[0], topic, append(aliceOpts, kgo.SeedBrokers(survivors...))...)
	if len(final[0]) < 4000 {
		t.Fatalf("read back %d records, want at least the 4,000 acknowledged", len(final[0]))
	}
	// alice's group (Read on the group) reads the same log.
	group := kgoClient(t, survivors[0], append(aliceOpts, kgo.SeedBrokers(survivors...), kgo.ConsumerGroup("alice-group"),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	var got int
	ctx := ctxTimeout(t, 60*time.Second)
	for got < len(final[0]) {
		fs := group.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("alice's group consumed %d of %d records", got, len(final[0]))
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("alice's group fetch %s[%d]: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != int64(got) || string(r.Value) != string(final[0][got].Value) {
				t.Fatalf("alice's group read offset %d %q, want offset %d %q", r.Offset, r.Value, got, final[0][got].Value)
			}
			got++
		})
	}

	// alice, authenticated and allowed to read the topic, claims to be a
	// replica: without CLUSTER_ACTION each partition is refused with
	// TOPIC_AUTHORIZATION_FAILED and no records (CVE-2018-1288).
	follower := isr[0]
	if follower == newLeader {
		follower = isr[1]
	}
	aliceRaw := kgoClient(t, survivors[0], append(aliceOpts, kgo.SeedBrokers(survivors...))...)
	for _, v := range []int16{12, 17} {
		fr := replicaFetch(t, aliceRaw, newLeader, v, topic, topicID, follower)
		pr := fr.Topics[0].Partitions[0]
		wantCode(t, fmt.Sprintf("alice Fetch v%d as replica %d", v, follower), pr.ErrorCode, kerr.TopicAuthorizationFailed)
		if fr.ErrorCode != 0 || len(pr.RecordBatches) != 0 || pr.HighWatermark != -1 {
			t.Errorf("alice Fetch v%d as replica %d: top-level %s, %d bytes of records, high watermark %d; want no error, no records, -1",
				v, follower, codeName(fr.ErrorCode), len(pr.RecordBatches), pr.HighWatermark)
		}
	}
	// The same request as a consumer returns records to alice, and as a
	// replica to a broker (CLUSTER_ACTION as a super user): the refusal is
	// the authorizer's.
	consumerFetch := replicaFetch(t, aliceRaw, newLeader, 17, topic, topicID, -1).Topics[0].Partitions[0]
	if consumerFetch.ErrorCode != 0 || len(consumerFetch.RecordBatches) == 0 {
		t.Errorf("alice Fetch v17 as a consumer: %s, %d bytes of records; want records", codeName(consumerFetch.ErrorCode), len(consumerFetch.RecordBatches))
	}
	brokerMech := kgo.SASL(plain.Auth{User: "broker", Pass: "broker-secret"}.AsMechanism())
	brokerRaw := kgoClient(t, survivors[0], withSASLSSL(brokerMech, kgo.SeedBrokers(survivors...))...)
	asBroker := replicaFetch(t, brokerRaw, newLeader, 12, topic, topicID, follower).Topics[0].Partitions[0]
	if asBroker.ErrorCode != 0 || len(asBroker.RecordBatches) == 0 {
		t.Errorf("User:broker Fetch v12 as replica %d: %s, %d bytes of records; want records", follower, codeName(asBroker.ErrorCode), len(asBroker.RecordBatches))
	}
	t.Logf("leader %d (controller %d) killed; new leader %d, ISR %v; %d records acknowledged, %d read back over SASL_SSL",
		leader, controller, newLeader, isr, load.acked.Load(), len(final[0]))
}

// controllerOfWith is the active controller's id as cl's seed broker's
// Metadata says, or -1.
func controllerOfWith(cl *kgo.Client) int32 {
	resp, err := cl.SeedBrokers()[0].Request(context.Background(), kmsg.NewPtrMetadataRequest())
	if err != nil {
		return -1
	}
	return resp.(*kmsg.MetadataResponse).ControllerID
}

// TestSASLClientListenerWithSSLBetweenBrokers: clients log in with SASL on
// a SASL_SSL listener while the brokers reach each other on an SSL
// listener (inter.broker.listener.name), authenticated by their
// certificates: the brokers' own clients must not start a SASL exchange
// there, which a listener without SASL refuses.
func TestSASLClientListenerWithSSLBetweenBrokers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	p := newTestPKI(t)
	tc := startClusterWith(t, 3, func(_ int, addr string) []string {
		return []string{"--listeners", "SASL_SSL://" + addr + ",INTERNAL://" + freePort(t),
			"--listener-security-protocol-map", "INTERNAL:SSL", "--inter-broker-listener-name", "INTERNAL",
			"--tls-cert", p.broker, "--tls-ca", p.ca, "--tls-client-auth", "requested",
			"--sasl-mechanisms", "PLAIN,SCRAM-SHA-512", "--sasl-jaas-config", brokerPlainJAAS, "--offsets-topic-partitions", "1"}
	})
	opts := append(p.tlsOpts(t, ""), kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0], opts...))
	waitFor(t, "an RF=3 topic", 60*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, nil, "mixed")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	waitFor(t, "all three replicas in sync (replication over the SSL listener)", 60*time.Second, func() bool {
		md, err := adm.Metadata(ctxTimeout(t, 10*time.Second), "mixed")
		return err == nil && len(md.Topics["mixed"].Partitions[0].ISR) == 3
	})
	pr := kgoClient(t, tc.addrs[1], append(slices.Clip(opts), kgo.DefaultProduceTopic("mixed"), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	for i := range 5 {
		if err := pr.ProduceSync(ctxTimeout(t, 30*time.Second), kgo.StringRecord(fmt.Sprint("r", i))).FirstErr(); err != nil {
			t.Fatalf("acks=all produce %d over SASL_SSL: %v", i, err)
		}
	}
}
