package node

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTelemetryAPIsAreNotAdvertised pins how Strata answers KIP-714 client
// telemetry, as Kafka 4.4 does without a ClientTelemetryReceiver plugin:
// GetTelemetrySubscriptions (71) and PushTelemetry (72) are left out of
// ApiVersions, so Java clients 3.7+ never send them (their telemetry
// reporter stops on a broker that does not list them). A client that sends
// one anyway has its connection closed at once, as for every API Strata
// does not serve (Kafka closes the connection for APIs not enabled on a
// listener); the broker goes on serving.
func TestTelemetryAPIsAreNotAdvertised(t *testing.T) {
	tn := startNode(t)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 4
	req.ClientSoftwareName, req.ClientSoftwareVersion = "strata-test", "1"
	resp := dialRaw(t, tn.addr).send(req).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(kmsg.GetTelemetrySubscriptions) || k.ApiKey == int16(kmsg.PushTelemetry) {
			t.Errorf("ApiVersions advertises %s v%d-v%d; Kafka without a telemetry receiver does not", kmsg.Key(k.ApiKey).Name(), k.MinVersion, k.MaxVersion)
		}
	}

	get := kmsg.NewPtrGetTelemetrySubscriptionsRequest()
	push := kmsg.NewPtrPushTelemetryRequest()
	push.Metrics = []byte("metrics")
	for _, r := range []kmsg.Request{get, push} {
		t.Run(kmsg.Key(r.Key()).Name(), func(t *testing.T) {
			rc := dialRaw(t, tn.addr)
			rc.writeFrame(kmsg.NewRequestFormatter(kmsg.FormatterClientID("java-3.7")).AppendRequest(nil, r, 1))
			rc.expectClosed()
			stillServes(t, tn.addr)
		})
	}
}
