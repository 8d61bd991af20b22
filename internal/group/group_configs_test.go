package group

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestConsumerGroupFollowsGroupConfigs checks that a group's
// consumer.heartbeat.interval.ms and consumer.session.timeout.ms (config
// resource type 32) replace the broker's defaults for that group only, and
// that a change applies from the next heartbeat.
func TestConsumerGroupFollowsGroupConfigs(t *testing.T) {
	bubble(t, func(t *testing.T) {
		var mu sync.Mutex
		overrides := map[string]map[string]string{
			"short": {"consumer.session.timeout.ms": "10000", "consumer.heartbeat.interval.ms": "2000"},
		}
		cfg := consumerConfig(t, newFakeTopics(map[string]int32{"a": 2}))
		cfg.GroupConfigs = func(group string) map[string]string {
			mu.Lock()
			defer mu.Unlock()
			return overrides[group]
		}
		c := startCoordinator(t, cfg, &memLog{})
		short := newConsumer848(t, c, "short", "s", "a")
		plain := newConsumer848(t, c, "plain", "p", "a")
		if got := short.join().HeartbeatIntervalMillis; got != 2000 {
			t.Errorf("heartbeat interval of a group with consumer.heartbeat.interval.ms=2000 = %d, want 2000", got)
		}
		if got := plain.join().HeartbeatIntervalMillis; got != int32(cfg.ConsumerGroupHeartbeatInterval.Milliseconds()) {
			t.Errorf("heartbeat interval of a group without overrides = %d, want the broker's %v", got, cfg.ConsumerGroupHeartbeatInterval)
		}

		// 11s of silence: past the group's 10s session, well within the
		// broker's 45s.
		advance(11 * time.Second)
		if code := heartbeatCode(t, c, short.fullRequest()); code != kerr.UnknownMemberID {
			t.Errorf("heartbeat after 11s silence with consumer.session.timeout.ms=10000 = %v, want UNKNOWN_MEMBER_ID", code)
		}
		if code := heartbeatCode(t, c, plain.fullRequest()); code != nil {
			t.Errorf("heartbeat after 11s silence with the broker's 45s session = %v, want none", code)
		}

		// A changed interval is given from the next heartbeat on.
		mu.Lock()
		overrides["plain"] = map[string]string{"consumer.heartbeat.interval.ms": "3000"}
		mu.Unlock()
		if got := plain.beat().HeartbeatIntervalMillis; got != 3000 {
			t.Errorf("heartbeat interval after setting consumer.heartbeat.interval.ms=3000 = %d, want 3000", got)
		}
	})
}
