package group

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeTopics is a changeable topic table for Config.Topics.
type fakeTopics struct {
	mu sync.Mutex
	m  map[string]TopicInfo
}

// testTopicID is a deterministic id: the name's bytes, zero padded.
func testTopicID(name string) [16]byte {
	var id [16]byte
	copy(id[:], name)
	id[15] = byte(len(name))
	return id
}

func newFakeTopics(partitions map[string]int32) *fakeTopics {
	f := &fakeTopics{m: make(map[string]TopicInfo)}
	for name, n := range partitions {
		f.set(name, n)
	}
	return f
}

func (f *fakeTopics) set(name string, partitions int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[name] = TopicInfo{ID: testTopicID(name), Partitions: partitions}
}

func (f *fakeTopics) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, name)
}

func (f *fakeTopics) get() map[string]TopicInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.m)
}

// consumerConfig is testConfig with topics.
func consumerConfig(t *testing.T, topics *fakeTopics) Config {
	cfg := testConfig(t)
	cfg.Topics = topics.get
	return cfg
}

// consumer848 plays a KIP-848 consumer: it sends what a client sends and
// adopts each assignment it gets at once (revoking what it lost, taking
// what it gained).
type consumer848 struct {
	t        *testing.T
	c        *Coordinator
	group    string
	id       string
	epoch    int32
	version  int16
	instance *string
	topics   []string // nil when subscribing by regex
	regex    *string
	assignor *string
	owned    assignment
	// lost records partitions taken away from this consumer.
	lost assignment
}

func newConsumer848(t *testing.T, c *Coordinator, group, id string, topics ...string) *consumer848 {
	return &consumer848{t: t, c: c, group: group, id: id, version: 1, topics: topics, owned: assignment{}, lost: assignment{}}
}

func (m *consumer848) static(instanceID string) *consumer848 {
	m.instance = &instanceID
	return m
}

// fullRequest is the heartbeat a consumer sends when joining or after a
// change: every field set.
func (m *consumer848) fullRequest() *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = m.version
	req.Group = m.group
	req.MemberID = m.id
	req.MemberEpoch = m.epoch
	req.InstanceID = m.instance
	req.RebalanceTimeoutMillis = 30_000
	if m.regex != nil {
		req.SubscribedTopicRegex = m.regex
	} else {
		req.SubscribedTopicNames = slices.Clone(m.topics)
		if req.SubscribedTopicNames == nil {
			req.SubscribedTopicNames = []string{}
		}
	}
	req.ServerAssignor = m.assignor
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	for _, id := range m.owned.topicIDs() {
		rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
		rt.TopicID, rt.Partitions = id, slices.Clone(m.owned[id])
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// keepaliveRequest is a heartbeat with every optional field left out.
func (m *consumer848) keepaliveRequest() *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = m.version
	req.Group, req.MemberID, req.MemberEpoch = m.group, m.id, m.epoch
	return req
}

func (m *consumer848) send(req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	ctx := WithClientInfo(context.Background(), ClientInfo{ClientID: "client-" + m.id, ClientHost: "/10.0.0.1"})
	resp := m.c.ConsumerGroupHeartbeat(ctx, req)
	if resp.ErrorCode != 0 {
		return resp
	}
	if resp.MemberID != nil {
		m.id = *resp.MemberID
	}
	m.epoch = resp.MemberEpoch
	if resp.Assignment != nil {
		next := assignment{}
		for _, t := range resp.Assignment.Topics {
			if len(t.Partitions) > 0 {
				next[t.TopicID] = sortedUnique(slices.Clone(t.Partitions))
			}
		}
		m.lost = union(m.lost, subtract(m.owned, next))
		m.owned = next
	}
	return resp
}

// join sends the first heartbeat (epoch 0) and fails the test on an error.
func (m *consumer848) join() *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	m.epoch = 0
	m.owned = assignment{}
	resp := m.send(m.fullRequest())
	wantCode(m.t, fmt.Sprintf("ConsumerGroupHeartbeat join of %s", m.id), resp.ErrorCode, nil)
	return resp
}

// beat sends a full heartbeat and fails the test on an error.
func (m *consumer848) beat() *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	resp := m.send(m.fullRequest())
	wantCode(m.t, fmt.Sprintf("ConsumerGroupHeartbeat of %s at epoch %d", m.id, m.epoch), resp.ErrorCode, nil)
	return resp
}

// leave sends epoch (-1 or -2).
func (m *consumer848) leave(epoch int32) *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	req := m.keepaliveRequest()
	req.MemberEpoch = epoch
	req.InstanceID = m.instance
	resp := m.c.ConsumerGroupHeartbeat(context.Background(), req)
	wantCode(m.t, fmt.Sprintf("ConsumerGroupHeartbeat leave (%d) of %s", epoch, m.id), resp.ErrorCode, nil)
	m.owned = assignment{}
	return resp
}

// checkDisjoint fails when two consumers own the same partition.
func checkDisjoint(t *testing.T, ms []*consumer848) {
	t.Helper()
	owner := make(map[topicPartition]string)
	for _, m := range ms {
		m.owned.each(func(id [16]byte, p int32) {
			tp := topicPartition{id, p}
			if o, dup := owner[tp]; dup {
				t.Fatalf("partition %x-%d owned by both %s and %s", id[:4], p, o, m.id)
			}
			owner[tp] = m.id
		})
	}
}

// converge heartbeats every consumer in turn, checking after each answer
// that no partition has two owners, until the group is Stable with every
// consumer owning its target. It returns the group's description.
func converge(t *testing.T, ms []*consumer848) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	for round := range 20 {
		for _, m := range ms {
			m.beat()
			checkDisjoint(t, ms)
		}
		d := describe848(t, ms[0].c, ms[0].group)
		if d.State != consumerStateStable || len(d.Members) != len(ms) {
			continue
		}
		done := true
		for _, m := range ms {
			dm := describedMember(d, m.id)
			if dm == nil || m.epoch != d.AssignmentEpoch || !m.owned.equal(fromDescribed(dm.TargetAssignment)) || !m.owned.equal(fromDescribed(dm.Assignment)) {
				done = false
			}
		}
		if done {
			t.Logf("converged after %d rounds at assignment epoch %d", round+1, d.AssignmentEpoch)
			return d
		}
	}
	d := describe848(t, ms[0].c, ms[0].group)
	t.Fatalf("group %s did not converge in 20 rounds: %+v", ms[0].group, d)
	return d
}

func describe848(t *testing.T, c *Coordinator, group string) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Version = 1
	req.Groups = []string{group}
	resp := c.ConsumerGroupDescribe(context.Background(), req)
	if len(resp.Groups) != 1 {
		t.Fatalf("ConsumerGroupDescribe(%q): %d groups, want 1", group, len(resp.Groups))
	}
	return resp.Groups[0]
}

func describedMember(d kmsg.ConsumerGroupDescribeResponseGroup, id string) *kmsg.ConsumerGroupDescribeResponseGroupMember {
	for i := range d.Members {
		if d.Members[i].MemberID == id {
			return &d.Members[i]
		}
	}
	return nil
}

func fromDescribed(a kmsg.Assignment) assignment {
	out := assignment{}
	for _, tp := range a.TopicPartitions {
		if len(tp.Partitions) > 0 {
			out[tp.TopicID] = sortedUnique(slices.Clone(tp.Partitions))
		}
	}
	return out
}

// parts builds an assignment from topic name → partitions.
func parts(m map[string][]int32) assignment {
	a := assignment{}
	for name, ps := range m {
		if len(ps) > 0 {
			a[testTopicID(name)] = sortedUnique(slices.Clone(ps))
		}
	}
	return a
}

// allPartitions is every partition of the named topics.
func allPartitions(topics *fakeTopics, names ...string) assignment {
	all := topics.get()
	a := assignment{}
	for _, name := range names {
		for p := range all[name].Partitions {
			a[all[name].ID] = append(a[all[name].ID], p)
		}
	}
	return a
}

func heartbeatCode(t *testing.T, c *Coordinator, req *kmsg.ConsumerGroupHeartbeatRequest) *kerr.Error {
	t.Helper()
	resp := c.ConsumerGroupHeartbeat(context.Background(), req)
	if resp.ErrorCode == 0 {
		return nil
	}
	return kerr.ErrorForCode(resp.ErrorCode).(*kerr.Error)
}
