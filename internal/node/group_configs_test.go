package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/config"
)

// lowGroupBounds lets group configs go below Kafka's 45s minimum session
// timeout, so the tests can watch a session expire.
var lowGroupBounds = map[string]string{
	"group.consumer.min.session.timeout.ms":    "1000",
	"group.consumer.min.heartbeat.interval.ms": "200",
}

// alterGroupConfigs sends IncrementalAlterConfigs for group to broker id
// (-1: any) and returns the resource's error.
func alterGroupConfigs(ctx context.Context, cl *kgo.Client, broker int32, group string, kv ...string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for i := 0; i+1 < len(kv); i += 2 {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = kv[i], kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(kv[i+1])
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = append(req.Resources, rr)
	var resp kmsg.Response
	var err error
	if broker < 0 {
		resp, err = cl.Request(ctx, req)
	} else {
		resp, err = cl.Broker(int(broker)).Request(ctx, req)
	}
	if err != nil {
		return err
	}
	r := resp.(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return fmt.Errorf("%w: %s", err, deref(r.ErrorMessage))
	}
	return nil
}

// groupConfigOn describes one group config on broker id.
func groupConfigOn(ctx context.Context, cl *kgo.Client, broker int32, group, name string) (string, kmsg.ConfigSource, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeGroupConfig, group, []string{name}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, cl.Broker(int(broker)))
	if err != nil {
		return "", 0, err
	}
	r := resp.Resources[0]
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return "", 0, err
	}
	if len(r.Configs) != 1 {
		return "", 0, fmt.Errorf("%d configs described, want 1", len(r.Configs))
	}
	return deref(r.Configs[0].Value), r.Configs[0].Source, nil
}

// joinConsumerGroup sends a KIP-848 joining heartbeat to group's
// coordinator, retrying while the coordinator loads; it returns the
// coordinator, member id, epoch and the heartbeat interval it was given.
func joinConsumerGroup(t *testing.T, cl *kgo.Client, group, topic string) (coord int32, member string, epoch, intervalMs int32) {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	waitFor(t, "a consumer group member to join "+group, 30*time.Second, func() bool {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey, fc.CoordinatorKeys = group, []string{group}
		fr, err := fc.RequestWith(ctx, cl)
		if err != nil || len(fr.Coordinators) != 1 || fr.Coordinators[0].ErrorCode != 0 {
			return false
		}
		coord = fr.Coordinators[0].NodeID
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.MemberEpoch = group, "m-"+group, 0
		req.RebalanceTimeoutMillis = 30000
		req.SubscribedTopicNames = []string{topic}
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		resp, err := req.RequestWith(ctx, cl.Broker(int(coord)))
		if err != nil || resp.ErrorCode != 0 {
			return false
		}
		member, epoch, intervalMs = deref(resp.MemberID), resp.MemberEpoch, resp.HeartbeatIntervalMillis
		return true
	})
	return coord, member, epoch, intervalMs
}

// beatConsumerGroup sends a keep-alive heartbeat and returns its error.
func beatConsumerGroup(ctx context.Context, cl *kgo.Client, coord int32, group, member string, epoch int32) error {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.MemberID, req.MemberEpoch = group, member, epoch
	resp, err := req.RequestWith(ctx, cl.Broker(int(coord)))
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

// checkGroupConfigApplied sets consumer.session.timeout.ms=2000 and
// consumer.heartbeat.interval.ms=500 on a group through broker via, and
// checks that every broker describes them and that the coordinator gives
// members that interval and expires them after 2s of silence (the broker
// default is 45s).
func checkGroupConfigApplied(t *testing.T, cl *kgo.Client, via int32, brokers []int32, topic string) {
	ctx := ctxTimeout(t, 60*time.Second)
	const group = "cfg-group"
	if err := alterGroupConfigs(ctx, cl, via, group, "consumer.session.timeout.ms", "500"); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("consumer.session.timeout.ms=500 below group.consumer.min.session.timeout.ms=1000: %v, want INVALID_CONFIG", err)
	}
	if err := alterGroupConfigs(ctx, cl, via, group, "consumer.session.timeout.ms", "2000", "consumer.heartbeat.interval.ms", "500"); err != nil {
		t.Fatalf("IncrementalAlterConfigs(group %s) through broker %d: %v", group, via, err)
	}
	for _, b := range brokers {
		waitFor(t, fmt.Sprintf("broker %d to describe the group config", b), 10*time.Second, func() bool {
			v, src, err := groupConfigOn(ctx, cl, b, group, "consumer.session.timeout.ms")
			return err == nil && v == "2000" && src == kmsg.ConfigSourceGroupConfig
		})
		v, src, err := groupConfigOn(ctx, cl, b, "other-group", "consumer.session.timeout.ms")
		if err != nil || v != "45000" || src != kmsg.ConfigSourceDefaultConfig {
			t.Errorf("broker %d: consumer.session.timeout.ms of a group without overrides = (%q, %s, %v), want 45000 DEFAULT_CONFIG", b, v, src, err)
		}
	}
	coord, member, epoch, interval := joinConsumerGroup(t, cl, group, topic)
	if interval != 500 {
		t.Errorf("heartbeat interval given by coordinator %d = %dms, want the group's 500", coord, interval)
	}
	if err := beatConsumerGroup(ctx, cl, coord, group, member, epoch); err != nil {
		t.Fatalf("heartbeat of a fresh member: %v", err)
	}
	time.Sleep(3 * time.Second) // past the group's 2s session, far from the broker's 45s
	if err := beatConsumerGroup(ctx, cl, coord, group, member, epoch); !errors.Is(err, kerr.UnknownMemberID) {
		t.Errorf("heartbeat after 3s of silence with consumer.session.timeout.ms=2000: %v, want UNKNOWN_MEMBER_ID", err)
	}
}

func TestGroupConfigAppliedByCoordinator(t *testing.T) {
	tn := startNode(t, func(s *config.Static) { s.KafkaProps = lowGroupBounds })
	tn.createTopic("gc", 1, nil)
	checkGroupConfigApplied(t, tn.client(), 1, []int32{1}, "gc")
}

// TestGroupConfigOnThreeNodes alters a group config through a node that is
// not the active controller (the request is forwarded) and checks that
// every node describes it and the group's coordinator applies it. The
// bounds come from a Kafka server.properties given with --config.
func TestGroupConfigOnThreeNodes(t *testing.T) {
	props := filepath.Join(t.TempDir(), "server.properties")
	text := ""
	for k, v := range lowGroupBounds {
		text += k + "=" + v + "\n"
	}
	if err := os.WriteFile(props, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	tc := startCluster(t, 3, "--config", props)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxTimeout(t, 30*time.Second)
	var ctrl int32
	waitFor(t, "an active controller", 30*time.Second, func() bool {
		ctrl = controllerOf(t, tc.addrs[0])
		return ctrl > 0
	})
	via := ctrl%3 + 1 // a node that is not the controller
	waitFor(t, "a topic to be created", 30*time.Second, func() bool {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "gc3", 1, 3
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		return err == nil && (resp.Topics[0].ErrorCode == 0 || resp.Topics[0].ErrorCode == kerr.TopicAlreadyExists.Code)
	})
	checkGroupConfigApplied(t, cl, via, []int32{1, 2, 3}, "gc3")
}
