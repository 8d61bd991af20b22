package controller

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/raft"
)

// memQuorum is a single-voter quorum without raft: Propose applies the
// entry to the Loader at the next index at once.
type memQuorum struct {
	loader    *metadata.Loader
	mu        sync.Mutex
	index     uint64           // guarded by mu
	leader    bool             // guarded by mu
	observers map[int32]string // guarded by mu
}

func (q *memQuorum) Propose(_ context.Context, data []byte) (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.leader {
		return 0, &raft.NotLeaderError{LeaderID: -1}
	}
	q.index++
	return q.index, q.loader.Apply(q.index, data)
}

func (q *memQuorum) WaitReady(context.Context) error { return nil }

func (q *memQuorum) AddNonvoter(_ context.Context, id int32, addr string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.observers == nil {
		q.observers = map[int32]string{}
	}
	q.observers[id] = addr
	return nil
}

func (q *memQuorum) IsLeader() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.leader
}

func (q *memQuorum) setLeader(v bool) {
	q.mu.Lock()
	q.leader = v
	q.mu.Unlock()
}

// controllerNode is the id of the controller in lifecycle tests: a
// controller-only node, so every broker follows the KRaft rules.
const controllerNode = 100

// lifecycle runs a Controller on a memQuorum; create it inside a synctest
// bubble.
type lifecycle struct {
	*Controller
	t *testing.T
	q *memQuorum
}

func lifecycleConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.NodeID = controllerNode
	cfg.AutoLeaderRebalance = false
	cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Rand = rand.NewChaCha8([32]byte{7})
	return cfg
}

func startLifecycle(t *testing.T, opts ...func(*Config)) *lifecycle {
	t.Helper()
	loader := metadata.NewLoader(metadata.LoaderConfig{})
	q := &memQuorum{loader: loader, leader: true}
	cfg := lifecycleConfig(t)
	cfg.Quorum, cfg.Loader = q, loader
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &lifecycle{Controller: c, t: t, q: q}
}

// registerAndUnfence registers broker id and heartbeats it until
// unfenced.
func registerAndUnfence(t *testing.T, c *Controller, id int32, rack string) {
	t.Helper()
	ctx := t.Context()
	if err := c.RegisterBroker(ctx, BrokerRegistration{NodeID: id, Host: "localhost", Port: 9000 + id, Rack: rack}); err != nil {
		t.Fatalf("RegisterBroker(%d): %v", id, err)
	}
	b, _ := c.Image().Broker(id)
	if !b.Fenced && id != c.cfg.NodeID {
		t.Fatalf("broker %d registered unfenced, want fenced until its first heartbeat", id)
	}
	resp, err := c.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: id, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: int64(c.Image().Index())})
	if err != nil || resp.IsFenced || !resp.IsCaughtUp {
		t.Fatalf("BrokerHeartbeat(%d) = (%+v, %v), want caught up and unfenced", id, resp, err)
	}
}

// heartbeat sends a caught-up heartbeat for each broker.
func (l *lifecycle) heartbeat(ids ...int32) {
	l.t.Helper()
	for _, id := range ids {
		if _, err := l.beat(id, false); err != nil {
			l.t.Fatalf("BrokerHeartbeat(%d): %v", id, err)
		}
	}
}

func (l *lifecycle) beat(id int32, shutdown bool) (HeartbeatResponse, error) {
	b, _ := l.Image().Broker(id)
	return l.BrokerHeartbeat(l.t.Context(), HeartbeatRequest{
		BrokerID: id, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: int64(l.Image().Index()), WantShutDown: shutdown,
	})
}

// runFor heartbeats the given brokers every 2s for d.
func (l *lifecycle) runFor(d time.Duration, alive ...int32) {
	l.t.Helper()
	for elapsed := time.Duration(0); elapsed < d; elapsed += 2 * time.Second {
		time.Sleep(min(2*time.Second, d-elapsed))
		l.heartbeat(alive...)
	}
}

// createTopic creates a topic with manual assignments and returns its id.
func (l *lifecycle) createTopic(name string, configs map[string]string, assignment ...[]int32) metadata.UUID {
	l.t.Helper()
	a := map[int32][]int32{}
	for p, rs := range assignment {
		a[int32(p)] = rs
	}
	r := l.CreateTopics(l.t.Context(), []CreateTopic{{Name: name, NumPartitions: -1, ReplicationFactor: -1, Assignments: a, Configs: configs}}, false)
	if r[0].Err != nil {
		l.t.Fatalf("CreateTopics(%s): %v", name, r[0].Err)
	}
	return r[0].TopicID
}

func (l *lifecycle) partition(topic string, p int32) metadata.PartitionInfo {
	l.t.Helper()
	t, ok := l.Image().TopicByName(topic)
	if !ok {
		l.t.Fatalf("topic %s is not in the image", topic)
	}
	pi, _ := t.Partition(p)
	return pi
}

func (l *lifecycle) wantPartition(topic string, want metadata.PartitionInfo) {
	l.t.Helper()
	if diff := cmp.Diff(want, l.partition(topic, want.Partition)); diff != "" {
		l.t.Errorf("%s-%d state (-want +got):\n%s", topic, want.Partition, diff)
	}
}

func (l *lifecycle) wantFenced(id int32, want bool) {
	l.t.Helper()
	b, ok := l.Image().Broker(id)
	if !ok || b.Fenced != want {
		l.t.Errorf("broker %d = %+v (registered %v), want fenced=%v", id, b, ok, want)
	}
}

func pi(p int32, replicas, isr []int32, leader, leaderEpoch, partitionEpoch int32) metadata.PartitionInfo {
	return metadata.PartitionInfo{Partition: p, Replicas: replicas, ISR: isr, Leader: leader, LeaderEpoch: leaderEpoch, PartitionEpoch: partitionEpoch}
}

func ids(v ...int32) []int32 { return v }

func infos(v ...int32) []metadata.BrokerInfo {
	out := make([]metadata.BrokerInfo, len(v))
	for i, id := range v {
		out[i] = metadata.BrokerInfo{NodeID: id}
	}
	return out
}

// threeBrokers registers and unfences brokers 1, 2, 3 and creates topic
// "t" with partitions led by 1, 2 and 3.
func threeBrokers(t *testing.T, opts ...func(*Config)) *lifecycle {
	l := startLifecycle(t, opts...)
	for _, id := range ids(1, 2, 3) {
		registerAndUnfence(t, l.Controller, id, "")
	}
	l.createTopic("t", nil, ids(1, 2, 3), ids(2, 3, 1), ids(3, 1, 2))
	l.wantPartition("t", pi(0, ids(1, 2, 3), ids(1, 2, 3), 1, 0, 0))
	return l
}

func TestBrokerRegistersFencedUntilCaughtUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLifecycle(t)
		ctx := t.Context()
		if err := l.RegisterBroker(ctx, BrokerRegistration{NodeID: 1, Host: "h", Port: 1}); err != nil {
			t.Fatalf("RegisterBroker: %v", err)
		}
		l.wantFenced(1, true)
		b, _ := l.Image().Broker(1)
		reg := int64(l.Image().Index())

		resp, err := l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: reg - 1})
		if want := (HeartbeatResponse{IsFenced: true}); err != nil || resp != want {
			t.Errorf("BrokerHeartbeat(behind) = (%+v, %v), want %+v", resp, err, want)
		}
		resp, err = l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: reg, WantFence: true})
		if want := (HeartbeatResponse{IsCaughtUp: true, IsFenced: true}); err != nil || resp != want {
			t.Errorf("BrokerHeartbeat(caught up, WantFence) = (%+v, %v), want %+v", resp, err, want)
		}
		resp, err = l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: reg})
		if want := (HeartbeatResponse{IsCaughtUp: true}); err != nil || resp != want {
			t.Errorf("BrokerHeartbeat(caught up) = (%+v, %v), want %+v", resp, err, want)
		}
		l.wantFenced(1, false)

		if _, err := l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch - 1}); !errors.Is(err, ErrStaleBrokerEpoch) {
			t.Errorf("BrokerHeartbeat(old epoch) = %v, want ErrStaleBrokerEpoch", err)
		}
		if _, err := l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 7, BrokerEpoch: 1}); !errors.Is(err, ErrBrokerNotRegistered) {
			t.Errorf("BrokerHeartbeat(unknown broker) = %v, want ErrBrokerNotRegistered", err)
		}
		// WantFence fences an unfenced broker.
		resp, err = l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: int64(l.Image().Index()), WantFence: true})
		if err != nil || !resp.IsFenced {
			t.Errorf("BrokerHeartbeat(WantFence) = (%+v, %v), want fenced", resp, err)
		}
		l.q.setLeader(false)
		if _, err := l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch}); !errors.Is(err, ErrNotController) {
			t.Errorf("BrokerHeartbeat on a follower = %v, want ErrNotController", err)
		}
	})
}

func TestDuplicateRegistrationWhileSessionLives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLifecycle(t)
		ctx := t.Context()
		registerAndUnfence(t, l.Controller, 1, "")
		other := BrokerRegistration{NodeID: 1, IncarnationID: metadata.UUID{1}, Host: "localhost", Port: 9001}
		if err := l.RegisterBroker(ctx, other); !errors.Is(err, ErrDuplicateBrokerRegistration) {
			t.Errorf("RegisterBroker(new incarnation, old one live) = %v, want ErrDuplicateBrokerRegistration", err)
		}
		// The same incarnation (a retried registration) is accepted.
		if err := l.RegisterBroker(ctx, BrokerRegistration{NodeID: 1, Host: "localhost", Port: 9001}); err != nil {
			t.Errorf("RegisterBroker(same incarnation) = %v, want nil", err)
		}
		l.wantFenced(1, true)
	})
}

func TestFenceOnMissedHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t)
		l.createTopic("solo", nil, ids(2))

		// Broker 2 falls silent; 1 and 3 keep heartbeating.
		l.runFor(8*time.Second, 1, 3)
		time.Sleep(500 * time.Millisecond)
		l.wantFenced(2, false)
		time.Sleep(time.Second)
		l.wantFenced(2, true)
		l.wantFenced(1, false)
		l.wantFenced(3, false)

		// Leaders move to the first ISR replica in replica order; 2 leaves
		// every ISR with other members; epochs bump as specified.
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(1, 3), 1, 0, 1))
		l.wantPartition("t", pi(1, ids(2, 3, 1), ids(3, 1), 3, 1, 1))
		l.wantPartition("t", pi(2, ids(3, 1, 2), ids(3, 1), 3, 0, 1))
		// A sole ISR member stays (KIP-841); the partition goes offline.
		l.wantPartition("solo", pi(0, ids(2), ids(2), -1, 1, 1))

		// Unfenced on its next heartbeat: it leads again where it is the
		// only one that can; elsewhere it waits for the leader's
		// AlterPartition.
		l.heartbeat(2)
		l.wantFenced(2, false)
		l.wantPartition("solo", pi(0, ids(2), ids(2), 2, 2, 2))
		l.wantPartition("t", pi(1, ids(2, 3, 1), ids(3, 1), 3, 1, 1))

		// Nobody is fenced while everyone heartbeats.
		l.runFor(30*time.Second, 1, 2, 3)
		for _, id := range ids(1, 2, 3) {
			l.wantFenced(id, false)
		}
	})
}

func TestUncleanElectionOnlyWhenEnabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t)
		ctx := t.Context()
		l.createTopic("clean", nil, ids(2, 1))
		l.createTopic("dirty", map[string]string{"unclean.leader.election.enable": "true"}, ids(2, 1))
		// The leader, 2, shrinks both ISRs to itself.
		for _, name := range []string{"clean", "dirty"} {
			tp, _ := l.Image().TopicByName(name)
			b, _ := l.Image().Broker(2)
			res, err := l.AlterPartition(ctx, AlterPartitionRequest{BrokerID: 2, BrokerEpoch: b.BrokerEpoch, Topics: []AlterPartitionTopic{{
				TopicID: tp.ID, Partitions: []AlterPartitionData{{Partition: 0, NewISR: ids(2)}},
			}}})
			if err != nil || res[0].Partitions[0].Err != nil {
				t.Fatalf("AlterPartition(%s, ISR [2]) = (%+v, %v)", name, res, err)
			}
		}
		l.runFor(10*time.Second, 1, 3)
		l.wantFenced(2, true)
		l.wantPartition("clean", pi(0, ids(2, 1), ids(2), -1, 1, 2))
		l.wantPartition("dirty", pi(0, ids(2, 1), ids(1), 1, 1, 2))

		// An unclean ElectLeaders elects 1 whatever the topic says.
		res, err := l.ElectLeaders(ctx, ElectionUnclean, []TopicPartitions{{Topic: "clean", Partitions: ids(0)}, {Topic: "dirty", Partitions: ids(0)}, {Topic: "nope", Partitions: ids(0)}})
		if err != nil {
			t.Fatalf("ElectLeaders(unclean): %v", err)
		}
		wantErrs := []error{nil, ErrElectionNotNeeded, ErrUnknownTopicOrPartition}
		for i, r := range res {
			if !errors.Is(r.Err, wantErrs[i]) || (wantErrs[i] == nil && r.Err != nil) {
				t.Errorf("ElectLeaders(unclean) result %d = %+v, want %v", i, r, wantErrs[i])
			}
		}
		l.wantPartition("clean", pi(0, ids(2, 1), ids(1), 1, 2, 3))
	})
}

func TestUncleanElectionClusterDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t, func(c *Config) { c.UncleanLeaderElection = true })
		l.createTopic("u", nil, ids(2, 1))
		l.createTopic("off", map[string]string{"unclean.leader.election.enable": "false"}, ids(2, 1))
		for _, name := range []string{"u", "off"} {
			tp, _ := l.Image().TopicByName(name)
			b, _ := l.Image().Broker(2)
			if _, err := l.AlterPartition(t.Context(), AlterPartitionRequest{BrokerID: 2, BrokerEpoch: b.BrokerEpoch, Topics: []AlterPartitionTopic{{
				TopicID: tp.ID, Partitions: []AlterPartitionData{{Partition: 0, NewISR: ids(2)}},
			}}}); err != nil {
				t.Fatalf("AlterPartition: %v", err)
			}
		}
		l.runFor(10*time.Second, 1, 3)
		l.wantPartition("u", pi(0, ids(2, 1), ids(1), 1, 1, 2))
		l.wantPartition("off", pi(0, ids(2, 1), ids(2), -1, 1, 2))
	})
}

func TestControlledShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t)
		ctx := t.Context()
		l.createTopic("solo", nil, ids(1))
		b, _ := l.Image().Broker(1)
		before := int64(l.Image().Index())
		resp, err := l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: before, WantShutDown: true})
		if err != nil || resp.ShouldShutDown {
			t.Fatalf("BrokerHeartbeat(WantShutDown, old offset) = (%+v, %v), want ShouldShutDown false until the broker saw the change", resp, err)
		}
		// Leaderships moved away and 1 left the ISRs with other members,
		// before the broker may go.
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3), 2, 1, 1))
		l.wantPartition("t", pi(1, ids(2, 3, 1), ids(2, 3), 2, 0, 1))
		l.wantPartition("t", pi(2, ids(3, 1, 2), ids(3, 2), 3, 0, 1))
		l.wantPartition("solo", pi(0, ids(1), ids(1), -1, 1, 1))
		if b, _ := l.Image().Broker(1); !b.InControlledShutdown || b.Fenced {
			t.Errorf("broker 1 = %+v, want in controlled shutdown, not fenced", b)
		}
		resp, err = l.beat(1, true)
		if err != nil || !resp.ShouldShutDown {
			t.Errorf("BrokerHeartbeat(WantShutDown, caught up) = (%+v, %v), want ShouldShutDown", resp, err)
		}
		// A broker in controlled shutdown cannot rejoin an ISR.
		b2, _ := l.Image().Broker(2)
		tp, _ := l.Image().TopicByName("t")
		res, err := l.AlterPartition(ctx, AlterPartitionRequest{BrokerID: 2, BrokerEpoch: b2.BrokerEpoch, Topics: []AlterPartitionTopic{{
			TopicID: tp.ID, Partitions: []AlterPartitionData{{Partition: 0, LeaderEpoch: 1, PartitionEpoch: 1, NewISR: ids(2, 3, 1)}},
		}}})
		if err != nil || !errors.Is(res[0].Partitions[0].Err, ErrIneligibleReplica) {
			t.Errorf("AlterPartition(add broker in controlled shutdown) = (%+v, %v), want ErrIneligibleReplica", res, err)
		}
		// It stops heartbeating and is fenced; it registers again and is
		// back to normal.
		l.runFor(10*time.Second, 2, 3)
		l.wantFenced(1, true)
		registerAndUnfence(t, l.Controller, 1, "")
		if b, _ := l.Image().Broker(1); b.InControlledShutdown || b.Fenced {
			t.Errorf("broker 1 after re-registration = %+v, want active", b)
		}
		l.wantPartition("solo", pi(0, ids(1), ids(1), 1, 2, 2))
	})
}

func TestAlterPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t)
		ctx := t.Context()
		tp, _ := l.Image().TopicByName("t")
		b1, _ := l.Image().Broker(1)
		alter := func(broker int32, epoch int64, topicID metadata.UUID, d AlterPartitionData) (AlterPartitionResult, error) {
			res, err := l.AlterPartition(ctx, AlterPartitionRequest{BrokerID: broker, BrokerEpoch: epoch, Topics: []AlterPartitionTopic{{
				TopicID: topicID, Partitions: []AlterPartitionData{d},
			}}})
			if err != nil {
				return AlterPartitionResult{}, err
			}
			return res[0].Partitions[0], nil
		}
		// Happy path: 1 (leader of t-0) shrinks the ISR, then expands it.
		got, err := alter(1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, NewISR: ids(1, 3)})
		want := AlterPartitionResult{Partition: 0, Leader: 1, ISR: ids(1, 3), PartitionEpoch: 1}
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Fatalf("AlterPartition(shrink) err %v, result (-want +got):\n%s", err, diff)
		}
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(1, 3), 1, 0, 1))
		got, err = alter(1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, PartitionEpoch: 1, NewISR: ids(1, 3, 2), NewISRBrokerEpochs: []int64{-1, -1, -1}})
		if err != nil || got.Err != nil || got.PartitionEpoch != 2 {
			t.Fatalf("AlterPartition(expand) = (%+v, %v), want partition epoch 2", got, err)
		}
		// The same ISR again changes nothing.
		got, err = alter(1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, PartitionEpoch: 2, NewISR: ids(1, 3, 2)})
		if err != nil || got.Err != nil || got.PartitionEpoch != 2 {
			t.Errorf("AlterPartition(unchanged ISR) = (%+v, %v), want partition epoch 2", got, err)
		}

		// Fence broker 3 to have an ineligible replica.
		l.runFor(10*time.Second, 1, 2)
		l.wantFenced(3, true)
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(1, 2), 1, 0, 3))
		b2, _ := l.Image().Broker(2)
		tests := []struct {
			name   string
			broker int32
			epoch  int64
			topic  metadata.UUID
			give   AlterPartitionData
			want   error
		}{
			{"not the leader", 2, b2.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, PartitionEpoch: 3, NewISR: ids(1, 2)}, ErrNotLeaderOrFollower},
			// t-2 moved from 3 to 1 at leader epoch 1.
			{"stale leader epoch", 1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 2, LeaderEpoch: 0, PartitionEpoch: 1, NewISR: ids(1, 2)}, ErrFencedLeaderEpoch},
			{"newer leader epoch", 1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, LeaderEpoch: 5, PartitionEpoch: 3, NewISR: ids(1, 2)}, ErrNotLeaderOrFollower},
			{"stale partition epoch", 1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, PartitionEpoch: 2, NewISR: ids(1)}, ErrInvalidUpdateVersion},
			{"fenced replica", 1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, PartitionEpoch: 3, NewISR: ids(1, 2, 3)}, ErrIneligibleReplica},
			{"stale member epoch", 1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, PartitionEpoch: 3, NewISR: ids(1, 2), NewISRBrokerEpochs: []int64{b1.BrokerEpoch, b2.BrokerEpoch - 1}}, ErrIneligibleReplica},
			{"unknown partition", 1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 9, NewISR: ids(1)}, ErrUnknownTopicOrPartition},
			{"unknown topic", 1, b1.BrokerEpoch, metadata.UUID{9}, AlterPartitionData{Partition: 0, NewISR: ids(1)}, ErrUnknownTopicID},
			{"leader left out", 1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, PartitionEpoch: 3, NewISR: ids(2)}, ErrInvalidRequest},
			{"not a replica", 1, b1.BrokerEpoch, tp.ID, AlterPartitionData{Partition: 0, PartitionEpoch: 3, NewISR: ids(1, 7)}, ErrInvalidRequest},
		}
		l.wantPartition("t", pi(2, ids(3, 1, 2), ids(1, 2), 1, 1, 1))
		for _, tt := range tests {
			got, err := alter(tt.broker, tt.epoch, tt.topic, tt.give)
			if err != nil || !errors.Is(got.Err, tt.want) {
				t.Errorf("%s: AlterPartition(%+v) = (%+v, %v), want %v", tt.name, tt.give, got, err, tt.want)
			}
		}
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(1, 2), 1, 0, 3))
		if _, err := alter(1, b1.BrokerEpoch+1, tp.ID, AlterPartitionData{Partition: 0, NewISR: ids(1)}); !errors.Is(err, ErrStaleBrokerEpoch) {
			t.Errorf("AlterPartition(stale broker epoch) = %v, want ErrStaleBrokerEpoch", err)
		}
		if _, err := alter(8, 1, tp.ID, AlterPartitionData{Partition: 0, NewISR: ids(1)}); !errors.Is(err, ErrBrokerNotRegistered) {
			t.Errorf("AlterPartition(unknown broker) = %v, want ErrBrokerNotRegistered", err)
		}
	})
}

func TestPreferredLeaderComesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t, func(c *Config) {
			c.AutoLeaderRebalance = true
			c.LeaderImbalanceCheckInterval = 30 * time.Second
		})
		ctx := t.Context()
		l.runFor(10*time.Second, 2, 3)
		l.wantFenced(1, true)
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3), 2, 1, 1))
		l.heartbeat(1)
		l.wantFenced(1, false)

		// Not in the ISR yet: the preferred leader is not available.
		res, err := l.ElectLeaders(ctx, ElectionPreferred, []TopicPartitions{{Topic: "t", Partitions: ids(0, 1)}})
		if err != nil || len(res) != 2 || !errors.Is(res[0].Err, ErrPreferredLeaderNotAvailable) || !errors.Is(res[1].Err, ErrElectionNotNeeded) {
			t.Errorf("ElectLeaders(preferred, 1 outside the ISR) = (%+v, %v), want PreferredLeaderNotAvailable, ElectionNotNeeded", res, err)
		}
		// The leader, 2, brings 1 back into the ISR.
		tp, _ := l.Image().TopicByName("t")
		b2, _ := l.Image().Broker(2)
		if _, err := l.AlterPartition(ctx, AlterPartitionRequest{BrokerID: 2, BrokerEpoch: b2.BrokerEpoch, Topics: []AlterPartitionTopic{{
			TopicID: tp.ID, Partitions: []AlterPartitionData{{Partition: 0, LeaderEpoch: 1, PartitionEpoch: 1, NewISR: ids(2, 3, 1)}},
		}}}); err != nil {
			t.Fatalf("AlterPartition: %v", err)
		}
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3, 1), 2, 1, 2))
		// The automatic check (every 30s) moves leadership back.
		l.runFor(32*time.Second, 1, 2, 3)
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3, 1), 1, 2, 3))
		// t-2 (3,1,2): 1 is out of its ISR, so it stays with 3.
		l.wantPartition("t", pi(2, ids(3, 1, 2), ids(3, 2), 3, 0, 1))
		res, err = l.ElectLeaders(ctx, ElectionPreferred, nil)
		if err != nil || len(res) != 0 {
			t.Errorf("ElectLeaders(preferred, all) = (%+v, %v), want no results (nothing needed)", res, err)
		}
	})
}

func TestElectPreferredLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t)
		ctx := t.Context()
		l.runFor(10*time.Second, 2, 3)
		// 1 comes back and rejoins t-0's ISR; no automatic rebalance.
		l.heartbeat(1)
		tp, _ := l.Image().TopicByName("t")
		b2, _ := l.Image().Broker(2)
		if _, err := l.AlterPartition(ctx, AlterPartitionRequest{BrokerID: 2, BrokerEpoch: b2.BrokerEpoch, Topics: []AlterPartitionTopic{{
			TopicID: tp.ID, Partitions: []AlterPartitionData{{Partition: 0, LeaderEpoch: 1, PartitionEpoch: 1, NewISR: ids(2, 3, 1)}},
		}}}); err != nil {
			t.Fatalf("AlterPartition: %v", err)
		}
		l.runFor(4*time.Second, 1, 2, 3)
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3, 1), 2, 1, 2))
		res, err := l.ElectLeaders(ctx, ElectionPreferred, nil)
		// t-1 and t-2 are led by their preferred replicas: left out.
		want := []ElectLeadersResult{{Topic: "t", Partition: 0}}
		if err != nil || len(res) != len(want) {
			t.Fatalf("ElectLeaders(preferred, all) = (%+v, %v), want %+v", res, err, want)
		}
		for i := range want {
			if res[i].Topic != want[i].Topic || res[i].Partition != want[i].Partition || !errors.Is(res[i].Err, want[i].Err) || (want[i].Err == nil) != (res[i].Err == nil) {
				t.Errorf("ElectLeaders result %d = %+v, want %+v", i, res[i], want[i])
			}
		}
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3, 1), 1, 2, 3))
		if _, err := l.ElectLeaders(ctx, 5, nil); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("ElectLeaders(type 5) = %v, want ErrInvalidRequest", err)
		}
	})
}

func TestReplicationFactorNeedsLiveBrokers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLifecycle(t)
		ctx := t.Context()
		registerAndUnfence(t, l.Controller, 1, "")
		registerAndUnfence(t, l.Controller, 2, "")
		// Registered but never heartbeated: fenced, not usable.
		if err := l.RegisterBroker(ctx, BrokerRegistration{NodeID: 3, Host: "h", Port: 3}); err != nil {
			t.Fatalf("RegisterBroker(3): %v", err)
		}
		r := l.CreateTopics(ctx, []CreateTopic{{Name: "x", NumPartitions: 1, ReplicationFactor: 3}}, false)
		if !errors.Is(r[0].Err, ErrInvalidReplicationFactor) {
			t.Errorf("CreateTopics(RF 3, 2 live brokers) = %v, want ErrInvalidReplicationFactor", r[0].Err)
		}
		l.heartbeat(3)
		r = l.CreateTopics(ctx, []CreateTopic{{Name: "x", NumPartitions: 1, ReplicationFactor: 3}}, false)
		if r[0].Err != nil {
			t.Errorf("CreateTopics(RF 3, 3 live brokers) = %v, want success", r[0].Err)
		}
		cp := l.CreatePartitions(ctx, []CreatePartitions{{Name: "x", Count: 2}}, false)
		if cp[0].Err != nil {
			t.Errorf("CreatePartitions(x to 2) = %v", cp[0].Err)
		}
		l.runFor(10*time.Second, 1, 2)
		cp = l.CreatePartitions(ctx, []CreatePartitions{{Name: "x", Count: 3}}, false)
		if !errors.Is(cp[0].Err, ErrInvalidReplicationFactor) {
			t.Errorf("CreatePartitions(RF 3, 3 fenced) = %v, want ErrInvalidReplicationFactor", cp[0].Err)
		}
	})
}

func TestRackAwarePlacement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLifecycle(t)
		ctx := t.Context()
		racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
		for id := int32(1); id <= 6; id++ {
			registerAndUnfence(t, l.Controller, id, racks[id])
		}
		r := l.CreateTopics(ctx, []CreateTopic{{Name: "r", NumPartitions: 12, ReplicationFactor: 3}}, false)
		if r[0].Err != nil {
			t.Fatalf("CreateTopics: %v", r[0].Err)
		}
		tp, _ := l.Image().TopicByName("r")
		leaders, replicas := map[int32]int{}, map[int32]int{}
		for _, p := range tp.Partitions {
			seen := map[string]bool{}
			for _, b := range p.Replicas {
				seen[racks[b]] = true
				replicas[b]++
			}
			if len(seen) != 3 {
				t.Errorf("partition %d replicas %v span racks %v, want all 3", p.Partition, p.Replicas, seen)
			}
			if p.Leader != p.Replicas[0] {
				t.Errorf("partition %d leader %d, want the first replica %d", p.Partition, p.Leader, p.Replicas[0])
			}
			leaders[p.Leader]++
		}
		for id := int32(1); id <= 6; id++ {
			if leaders[id] != 2 || replicas[id] != 6 {
				t.Errorf("broker %d leads %d and hosts %d of 12x3 replicas, want 2 and 6", id, leaders[id], replicas[id])
			}
		}
		// Uneven racks: every partition still spans both racks.
		out, err := l.place([]metadata.BrokerInfo{{NodeID: 1, Rack: "a"}, {NodeID: 2, Rack: "a"}, {NodeID: 3, Rack: "a"}, {NodeID: 4, Rack: "b"}}, 8, 2, 0)
		if err != nil {
			t.Fatalf("place: %v", err)
		}
		for p, rs := range out {
			if (rs[0] == 4) == (rs[1] == 4) {
				t.Errorf("partition %d replicas %v, want one on rack b", p, rs)
			}
		}
	})
}

func TestLocalBrokerStaysLiveWithoutHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLifecycle(t, func(c *Config) { c.NodeID = 1 })
		ctx := t.Context()
		if err := l.RegisterBroker(ctx, BrokerRegistration{NodeID: 1, Host: "localhost", Port: 9092}); err != nil {
			t.Fatalf("RegisterBroker: %v", err)
		}
		l.wantFenced(1, false)
		l.createTopic("t", nil, ids(1))
		time.Sleep(time.Minute)
		l.wantFenced(1, false)
		l.wantPartition("t", pi(0, ids(1), ids(1), 1, 0, 0))
		// A restart re-registers it; nothing moves.
		if err := l.RegisterBroker(ctx, BrokerRegistration{NodeID: 1, Host: "localhost", Port: 9092}); err != nil {
			t.Fatalf("RegisterBroker again: %v", err)
		}
		l.wantPartition("t", pi(0, ids(1), ids(1), 1, 0, 0))
		// Its heartbeats are served: controlled shutdown works.
		resp, err := l.beat(1, true)
		if err != nil || resp.ShouldShutDown {
			t.Errorf("BrokerHeartbeat(local, WantShutDown) = (%+v, %v), want ShouldShutDown false until it saw the change", resp, err)
		}
		resp, err = l.beat(1, true)
		if err != nil || !resp.ShouldShutDown {
			t.Errorf("BrokerHeartbeat(local, WantShutDown) = (%+v, %v), want ShouldShutDown", resp, err)
		}
		l.wantPartition("t", pi(0, ids(1), ids(1), -1, 1, 1))
	})
}

// TestNewActiveControllerRestartsClocks restarts the controller on the
// same raft directory: broker sessions start afresh, so nobody is fenced
// at once, and only the broker that stays silent is fenced later.
func TestNewActiveControllerRestartsClocks(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		h := startRaft(t, dir)
		for _, id := range ids(1, 2, 3) {
			registerAndUnfence(t, h.Controller, id, "")
		}
		if r := h.CreateTopics(t.Context(), []CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: ids(3, 1, 2)}, NumPartitions: -1, ReplicationFactor: -1}}, false); r[0].Err != nil {
			t.Fatalf("CreateTopics: %v", r[0].Err)
		}
		h.stop()

		// Down for longer than a session: the new controller must not
		// count that against the brokers.
		time.Sleep(time.Minute)
		h = startRaft(t, dir)
		l := &lifecycle{Controller: h.Controller, t: t}
		l.wantFenced(1, false)
		for _, id := range ids(1, 2, 3) {
			l.wantFenced(id, false)
		}
		l.runFor(8*time.Second, 1, 2)
		for _, id := range ids(1, 2, 3) {
			l.wantFenced(id, false)
		}
		l.runFor(2*time.Second, 1, 2)
		l.wantFenced(3, true)
		l.wantFenced(1, false)
		l.wantFenced(2, false)
		l.wantPartition("t", pi(0, ids(3, 1, 2), ids(1, 2), 1, 1, 1))
	})
}

// startRaft runs a controller (node 100, no local broker) on a real
// single-voter raft in dir.
func startRaft(t *testing.T, dir string) *harness {
	t.Helper()
	cfg := lifecycleConfig(t)
	loader := metadata.NewLoader(metadata.LoaderConfig{Logger: cfg.Logger})
	rcfg := raft.DefaultConfig()
	rcfg.NodeID = controllerNode
	rcfg.Dir = dir
	rcfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rn, err := raft.New(rcfg, loader)
	if err != nil {
		t.Fatalf("raft.New: %v", err)
	}
	cfg.Quorum, cfg.Loader = rn, loader
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{Controller: c, node: rn, cancel: cancel, t: t}
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		if err := rn.Run(ctx); err != nil {
			t.Errorf("raft Run: %v", err)
		}
	}()
	go func() {
		defer h.wg.Done()
		if err := c.Run(ctx); err != nil {
			t.Errorf("controller Run: %v", err)
		}
	}()
	t.Cleanup(h.stop)
	if err := rn.WaitReady(t.Context()); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return h
}

func TestBrokerOnlyRegistrationAddsObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLifecycle(t)
		if err := l.RegisterBroker(t.Context(), BrokerRegistration{NodeID: 5, Host: "h", Port: 9092, RaftAddr: "h:9093"}); err != nil {
			t.Fatalf("RegisterBroker: %v", err)
		}
		l.q.mu.Lock()
		got := l.q.observers[5]
		l.q.mu.Unlock()
		if got != "h:9093" {
			t.Errorf("observer 5 added at %q, want h:9093", got)
		}
		if _, ok := l.Image().Broker(5); !ok {
			t.Errorf("broker 5 is not registered")
		}
	})
}

// reportingQuorum is a memQuorum that also reports the quorum leader, as
// raft.Node does.
type reportingQuorum struct {
	*memQuorum
	mu     sync.Mutex
	leader int32 // guarded by mu; -1: none known
}

func (q *reportingQuorum) Leader() (int32, string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.leader, ""
}

func (q *reportingQuorum) setLeaderID(id int32) {
	q.mu.Lock()
	q.leader = id
	q.mu.Unlock()
}

// TestPreviousControllersBrokerIsFencedSooner: a node that becomes the
// active controller gives every broker a full session, except the broker
// on the node that led the quorum before it, which most likely died with
// it: that one is fenced after two heartbeat intervals unless it
// heartbeats (issue 9).
func TestPreviousControllersBrokerIsFencedSooner(t *testing.T) {
	for _, alive := range []bool{false, true} {
		t.Run(map[bool]string{false: "previous controller died", true: "previous controller lives"}[alive], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rq *reportingQuorum
				l := threeBrokers(t, func(c *Config) {
					rq = &reportingQuorum{memQuorum: c.Quorum.(*memQuorum), leader: -1}
					c.Quorum = rq
				})
				// Broker 1's node wins the quorum's leadership for a while;
				// this node follows and sees it lead.
				l.q.setLeader(false)
				rq.setLeaderID(1)
				time.Sleep(3 * time.Second)
				// Then it dies: no leader for a moment, then this node leads.
				rq.setLeaderID(-1)
				time.Sleep(2 * time.Second)
				l.q.setLeader(true)
				rq.setLeaderID(controllerNode)
				beating := ids(2, 3)
				if alive {
					beating = ids(1, 2, 3)
				}
				l.runFor(2*time.Second, beating...) // activates (first heartbeat) and beats once
				l.wantFenced(1, false)
				l.runFor(2*time.Second, beating...)
				time.Sleep(1500 * time.Millisecond)
				l.wantFenced(1, !alive) // grace: 2 heartbeat intervals (4s)
				l.wantFenced(2, false)
				l.wantFenced(3, false)
				if !alive {
					// Its leadership moved with the fencing.
					l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3), 2, 1, 1))
				}
				// Everyone else keeps the full session.
				l.runFor(10*time.Second, beating...)
				l.wantFenced(2, false)
				l.wantFenced(3, false)
				l.wantFenced(1, !alive)
			})
		})
	}
}
