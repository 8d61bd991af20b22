package console_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/console"
)

type clusterResp struct {
	ClusterID    string `json:"cluster_id"`
	ControllerID int32  `json:"controller_id"`
	Brokers      []struct {
		NodeID int32  `json:"node_id"`
		Host   string `json:"host"`
		Port   int32  `json:"port"`
		Fenced bool   `json:"fenced"`
	} `json:"brokers"`
	Quorum *struct {
		LeaderID int32 `json:"leader_id"`
		Voters   []struct {
			ReplicaID int32 `json:"replica_id"`
		} `json:"voters"`
		Observers []any `json:"observers"`
	} `json:"quorum"`
	QuorumError string `json:"quorum_error"`
	Topics      int    `json:"topics"`
	Partitions  int    `json:"partitions"`
	Versions    []struct {
		NodeID   int32 `json:"node_id"`
		Features []struct {
			Name  string `json:"name"`
			Level int16  `json:"level"`
		} `json:"features"`
		APIs []struct {
			Key  int16  `json:"key"`
			Name string `json:"name"`
			Min  int16  `json:"min"`
			Max  int16  `json:"max"`
		} `json:"apis"`
	} `json:"versions"`
}

func TestAPICluster(t *testing.T) {
	e := newEnv(t)
	var c clusterResp
	e.ok("GET", "/console/api/cluster", nil, 200, &c)
	if c.ClusterID == "" || c.ControllerID != 1 {
		t.Errorf("cluster id %q controller %d, want an id and controller 1", c.ClusterID, c.ControllerID)
	}
	if len(c.Brokers) != 1 || c.Brokers[0].NodeID != 1 || c.Brokers[0].Fenced {
		t.Errorf("brokers %+v, want node 1 alive", c.Brokers)
	}
	if c.Quorum == nil || c.Quorum.LeaderID != 1 || len(c.Quorum.Voters) != 1 || c.Quorum.Voters[0].ReplicaID != 1 {
		t.Errorf("quorum %+v (error %q), want leader 1 and voter 1", c.Quorum, c.QuorumError)
	}
	if len(c.Versions) != 1 || c.Versions[0].NodeID != 1 {
		t.Fatalf("versions %+v, want broker 1", c.Versions)
	}
	v := c.Versions[0]
	i := slices.IndexFunc(v.APIs, func(a struct {
		Key  int16  `json:"key"`
		Name string `json:"name"`
		Min  int16  `json:"min"`
		Max  int16  `json:"max"`
	}) bool {
		return a.Key == 18
	})
	if i < 0 || v.APIs[i].Name != "ApiVersions" || v.APIs[i].Max < 3 {
		t.Errorf("ApiVersions entry %d of %+v, want ApiVersions up to v3+", i, v.APIs)
	}
	if !slices.ContainsFunc(v.Features, func(f struct {
		Name  string `json:"name"`
		Level int16  `json:"level"`
	}) bool {
		return f.Name == "metadata.version" && f.Level > 0
	}) {
		t.Errorf("features %+v lack a finalized metadata.version", v.Features)
	}
}

type topicSummary struct {
	Name              string `json:"name"`
	Internal          bool   `json:"internal"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	StartOffsets      int64  `json:"start_offsets"`
	EndOffsets        int64  `json:"end_offsets"`
	SizeBytes         int64  `json:"size_bytes"`
}

type topicDetail struct {
	Name       string `json:"name"`
	Partitions []struct {
		Partition      int32   `json:"partition"`
		Leader         int32   `json:"leader"`
		Replicas       []int32 `json:"replicas"`
		ISR            []int32 `json:"isr"`
		LogStartOffset int64   `json:"log_start_offset"`
		HighWatermark  int64   `json:"high_watermark"`
		SizeBytes      int64   `json:"size_bytes"`
	} `json:"partitions"`
	Configs    []configEntry `json:"configs"`
	ConfigsErr string        `json:"configs_error"`
}

type configEntry struct {
	Name   string  `json:"name"`
	Value  *string `json:"value"`
	Source string  `json:"source"`
}

func findConfig(cs []configEntry, name string) configEntry {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return configEntry{}
}

func TestAPITopics(t *testing.T) {
	e := newEnv(t)
	var created map[string]any
	e.ok("POST", "/console/api/topics", map[string]any{"name": "orders", "partitions": 3, "configs": map[string]string{"retention.ms": "3600000"}}, 201, &created)
	if created["name"] != "orders" || created["partitions"] != float64(3) || created["replication_factor"] != float64(1) {
		t.Errorf("create answered %v", created)
	}

	ae := e.fails("POST", "/console/api/topics", map[string]any{"name": "orders", "partitions": 3}, 409)
	if ae.Code != "TOPIC_ALREADY_EXISTS" {
		t.Errorf("second create: code %q, want TOPIC_ALREADY_EXISTS", ae.Code)
	}
	e.fails("POST", "/console/api/topics", map[string]any{"name": "bad/name"}, 400)
	e.fails("POST", "/console/api/topics", map[string]any{"name": ""}, 400)
	e.fails("POST", "/console/api/topics", map[string]any{"name": strings.Repeat("x", 250)}, 400)
	e.fails("POST", "/console/api/topics", map[string]any{"name": "neg", "partitions": -2}, 400)
	ae = e.fails("POST", "/console/api/topics", map[string]any{"name": "badcfg", "configs": map[string]string{"retention.ms": "soon"}}, 400)
	if ae.Code != "INVALID_CONFIG" {
		t.Errorf("create with a bad config: code %q, want INVALID_CONFIG (%s)", ae.Code, ae.Error)
	}

	e.produce(&kgo.Record{Topic: "orders", Partition: 1, Value: []byte("a")}, &kgo.Record{Topic: "orders", Partition: 1, Value: []byte("b")})

	var list []topicSummary
	e.ok("GET", "/console/api/topics", nil, 200, &list)
	if len(list) != 1 || list[0].Name != "orders" || list[0].Partitions != 3 || list[0].ReplicationFactor != 1 || list[0].EndOffsets != 2 || list[0].StartOffsets != 0 {
		t.Errorf("topics %+v, want orders with 3 partitions, RF 1, end offsets 2", list)
	}
	if len(list) == 1 && list[0].SizeBytes <= 0 {
		t.Errorf("orders size %d, want the bytes of its two records", list[0].SizeBytes)
	}
	e.ok("GET", "/console/api/topics?internal=true", nil, 200, &list)
	for _, s := range list {
		if strings.HasPrefix(s.Name, "__") != s.Internal {
			t.Errorf("topic %s: internal %v", s.Name, s.Internal)
		}
	}
	if !slices.ContainsFunc(list, func(s topicSummary) bool { return s.Name == "orders" }) {
		t.Errorf("topics with internal=true lack orders: %+v", list)
	}

	var d topicDetail
	e.ok("GET", "/console/api/topics/orders", nil, 200, &d)
	if len(d.Partitions) != 3 {
		t.Fatalf("orders has %d partitions, want 3", len(d.Partitions))
	}
	for i, p := range d.Partitions {
		wantHW := int64(0)
		if i == 1 {
			wantHW = 2
		}
		if p.Partition != int32(i) || p.Leader != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) || p.LogStartOffset != 0 || p.HighWatermark != wantHW {
			t.Errorf("partition %d: %+v, want leader 1, replicas [1], ISR [1], offsets [0, %d)", i, p, wantHW)
		}
	}
	if d.Partitions[1].SizeBytes <= 0 {
		t.Errorf("partition 1 size %d, want > 0", d.Partitions[1].SizeBytes)
	}
	if c := findConfig(d.Configs, "retention.ms"); c.Value == nil || *c.Value != "3600000" || c.Source != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("retention.ms %+v, want 3600000 from DYNAMIC_TOPIC_CONFIG (configs error %q)", c, d.ConfigsErr)
	}

	// Add partitions.
	e.ok("POST", "/console/api/topics/orders/partitions", map[string]any{"count": 5}, 200, nil)
	e.ok("GET", "/console/api/topics/orders", nil, 200, &d)
	if len(d.Partitions) != 5 {
		t.Errorf("after adding: %d partitions, want 5", len(d.Partitions))
	}
	e.fails("POST", "/console/api/topics/orders/partitions", map[string]any{"count": 2}, 400)
	e.fails("POST", "/console/api/topics/orders/partitions", map[string]any{"count": 5}, 400)
	e.fails("POST", "/console/api/topics/nope/partitions", map[string]any{"count": 5}, 404)

	// Edit configs.
	var altered struct {
		Configs []configEntry `json:"configs"`
	}
	e.ok("PATCH", "/console/api/topics/orders/configs", map[string]any{"set": map[string]string{"cleanup.policy": "compact"}, "delete": []string{"retention.ms"}}, 200, &altered)
	if c := findConfig(altered.Configs, "cleanup.policy"); c.Value == nil || *c.Value != "compact" || c.Source != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("cleanup.policy after set: %+v", c)
	}
	if c := findConfig(altered.Configs, "retention.ms"); c.Source == "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("retention.ms after delete: %+v, want the default back", c)
	}
	rcs, err := e.adm.DescribeTopicConfigs(e.ctx(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("orders", nil)
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != "compact" {
			t.Errorf("the cluster says cleanup.policy=%q, want compact", c.MaybeValue())
		}
	}
	ae = e.fails("PATCH", "/console/api/topics/orders/configs", map[string]any{"set": map[string]string{"retention.ms": "soon"}}, 400)
	if ae.Code != "INVALID_CONFIG" {
		t.Errorf("bad config value: code %q, want INVALID_CONFIG", ae.Code)
	}
	e.fails("PATCH", "/console/api/topics/orders/configs", map[string]any{}, 400)
	e.fails("PATCH", "/console/api/topics/orders/configs", map[string]any{"set": map[string]string{"a": "1"}, "delete": []string{"a"}}, 400)
	e.fails("PATCH", "/console/api/topics/nope/configs", map[string]any{"set": map[string]string{"cleanup.policy": "compact"}}, 404)

	// Offsets for throughput charts.
	var offs struct {
		TimeMs int64 `json:"time_ms"`
		Topics []struct {
			Topic      string `json:"topic"`
			EndOffsets int64  `json:"end_offsets"`
			Partitions int    `json:"partitions"`
		} `json:"topics"`
	}
	e.ok("GET", "/console/api/offsets", nil, 200, &offs)
	i := slices.IndexFunc(offs.Topics, func(o struct {
		Topic      string `json:"topic"`
		EndOffsets int64  `json:"end_offsets"`
		Partitions int    `json:"partitions"`
	}) bool {
		return o.Topic == "orders"
	})
	if i < 0 || offs.Topics[i].EndOffsets != 2 || offs.Topics[i].Partitions != 5 || offs.TimeMs <= 0 {
		t.Errorf("offsets %+v, want orders at 2 over 5 partitions", offs)
	}

	// Delete.
	e.ok("DELETE", "/console/api/topics/orders", nil, 200, nil)
	if ae := e.fails("GET", "/console/api/topics/orders", nil, 404); !strings.Contains(ae.Error, "orders") {
		t.Errorf("404 error %q does not name the topic", ae.Error)
	}
	e.fails("DELETE", "/console/api/topics/orders", nil, 404)
}

type browseResp struct {
	Topic   string `json:"topic"`
	Records []struct {
		Partition      int32  `json:"partition"`
		Offset         int64  `json:"offset"`
		TimestampMs    int64  `json:"timestamp_ms"`
		Key            []byte `json:"key"`
		KeySize        int    `json:"key_size"`
		Value          []byte `json:"value"`
		ValueSize      int    `json:"value_size"`
		ValueTruncated bool   `json:"value_truncated"`
		Headers        []struct {
			Key   string `json:"key"`
			Value []byte `json:"value"`
		} `json:"headers"`
	} `json:"records"`
	Partitions []struct {
		Partition  int32 `json:"partition"`
		EndOffset  int64 `json:"end_offset"`
		FromOffset int64 `json:"from_offset"`
		NextOffset int64 `json:"next_offset"`
	} `json:"partitions"`
	Truncated bool `json:"truncated"`
}

func (b browseResp) offsets() []int64 {
	var out []int64
	for _, r := range b.Records {
		out = append(out, r.Offset)
	}
	return out
}

func TestAPIMessages(t *testing.T) {
	e := newEnv(t)
	e.ok("POST", "/console/api/topics", map[string]any{"name": "events", "partitions": 2}, 201, nil)

	// Produce through the console: text with headers, a null key, binary
	// bytes as base64.
	type produced struct {
		Partition int32 `json:"partition"`
		Offset    int64 `json:"offset"`
		Timestamp int64 `json:"timestamp_ms"`
	}
	var p produced
	e.ok("POST", "/console/api/topics/events/records", map[string]any{"partition": 1, "key": "k0", "value": `{"n":0}`, "headers": []map[string]any{{"key": "src", "value": "test"}}}, 201, &p)
	if p.Partition != 1 || p.Offset != 0 {
		t.Errorf("first record at %+v, want partition 1 offset 0", p)
	}
	e.ok("POST", "/console/api/topics/events/records", map[string]any{"partition": 1, "value": "no key"}, 201, &p)
	if p.Partition != 1 || p.Offset != 1 {
		t.Errorf("second record at %+v, want partition 1 offset 1", p)
	}
	bin := []byte{0, 1, 2, 0xff, 0xfe}
	e.ok("POST", "/console/api/topics/events/records", map[string]any{"partition": 1, "encoding": "base64", "key": base64.StdEncoding.EncodeToString([]byte("bk")), "value": base64.StdEncoding.EncodeToString(bin)}, 201, &p)
	if p.Offset != 2 {
		t.Errorf("third record at offset %d, want 2", p.Offset)
	}
	thirdTs := p.Timestamp
	big := strings.Repeat("v", 100<<10)
	e.ok("POST", "/console/api/topics/events/records", map[string]any{"partition": 1, "value": big}, 201, &p)
	// Keyed without a partition: placed by the key's hash (any partition).
	e.ok("POST", "/console/api/topics/events/records", map[string]any{"key": "x", "value": "y"}, 201, &p)
	if p.Partition < 0 || p.Partition > 1 {
		t.Errorf("keyed record at partition %d", p.Partition)
	}

	e.fails("POST", "/console/api/topics/nope/records", map[string]any{"value": "x"}, 404)
	e.fails("POST", "/console/api/topics/events/records", map[string]any{"partition": 7, "value": "x"}, 404)
	e.fails("POST", "/console/api/topics/events/records", map[string]any{"partition": -1, "value": "x"}, 400)
	e.fails("POST", "/console/api/topics/events/records", map[string]any{"encoding": "base64", "value": "%%%"}, 400)
	e.fails("POST", "/console/api/topics/events/records", map[string]any{"encoding": "rot13", "value": "x"}, 400)
	e.fails("POST", "/console/api/topics/events/records", map[string]any{"value": "x", "headers": []map[string]any{{"key": ""}}}, 400)

	var b browseResp
	e.ok("GET", "/console/api/topics/events/messages?partition=1&from=earliest", nil, 200, &b)
	if got := b.offsets(); !slices.Equal(got, []int64{0, 1, 2, 3}) {
		t.Fatalf("partition 1 from earliest: offsets %v, want [0 1 2 3]", got)
	}
	r0 := b.Records[0]
	if string(r0.Key) != "k0" || string(r0.Value) != `{"n":0}` || len(r0.Headers) != 1 || r0.Headers[0].Key != "src" || string(r0.Headers[0].Value) != "test" {
		t.Errorf("record 0: %+v", r0)
	}
	if b.Records[1].Key != nil || string(b.Records[1].Value) != "no key" {
		t.Errorf("record 1: key %v value %q, want a null key", b.Records[1].Key, b.Records[1].Value)
	}
	if string(b.Records[2].Key) != "bk" || string(b.Records[2].Value) != string(bin) {
		t.Errorf("record 2: key %q value %v, want bk and %v", b.Records[2].Key, b.Records[2].Value, bin)
	}
	r3 := b.Records[3]
	if !r3.ValueTruncated || r3.ValueSize != 100<<10 || len(r3.Value) != 64<<10 || string(r3.Value) != big[:64<<10] {
		t.Errorf("record 3: truncated %v size %d len %d, want the first 64 KiB of 100 KiB", r3.ValueTruncated, r3.ValueSize, len(r3.Value))
	}

	e.ok("GET", "/console/api/topics/events/messages?partition=1&from=offset&offset=1&limit=2", nil, 200, &b)
	if got := b.offsets(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("from offset 1 limit 2: %v, want [1 2]", got)
	}
	if len(b.Partitions) != 1 || b.Partitions[0].FromOffset != 1 || b.Partitions[0].NextOffset != 3 {
		t.Errorf("partitions %+v, want from 1 next 3", b.Partitions)
	}
	e.ok("GET", "/console/api/topics/events/messages?partition=1&from=latest&limit=2", nil, 200, &b)
	if got := b.offsets(); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("latest 2: %v, want [2 3]", got)
	}
	e.ok("GET", "/console/api/topics/events/messages?partition=1&from=timestamp&timestamp="+time.UnixMilli(thirdTs).UTC().Format(time.RFC3339Nano), nil, 200, &b)
	if got := b.offsets(); len(got) == 0 || got[0] > 2 || !slices.Contains(got, 2) {
		t.Errorf("from the third record's time: %v, want it to start at or before offset 2 and hold 2", got)
	}
	// The byte budget stops the browse after the record that spends it.
	e.ok("GET", "/console/api/topics/events/messages?partition=1&from=earliest&max_bytes=10", nil, 200, &b)
	if got := b.offsets(); !slices.Equal(got, []int64{0}) || !b.Truncated {
		t.Errorf("max_bytes=10: offsets %v truncated %v, want [0] and truncated", got, b.Truncated)
	}
	// Every partition: the keyed record plus partition 1's four.
	e.ok("GET", "/console/api/topics/events/messages?from=earliest", nil, 200, &b)
	if len(b.Records) != 5 || len(b.Partitions) != 2 {
		t.Errorf("all partitions: %d records over %d partitions, want 5 over 2", len(b.Records), len(b.Partitions))
	}
	for i := 1; i < len(b.Records); i++ {
		if b.Records[i].TimestampMs < b.Records[i-1].TimestampMs {
			t.Errorf("all partitions: records not in time order: %+v", b.offsets())
		}
	}
	// read_committed reads the same non-transactional records.
	e.ok("GET", "/console/api/topics/events/messages?partition=1&from=earliest&isolation=read_committed&limit=3", nil, 200, &b)
	if got := b.offsets(); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Errorf("read_committed: %v, want [0 1 2]", got)
	}
	// An empty partition answers no records.
	e.ok("GET", "/console/api/topics/events/messages?partition=0&from=offset&offset=5", nil, 200, &b)
	if len(b.Records) != 0 {
		t.Errorf("partition 0 past its end: %d records", len(b.Records))
	}

	for _, q := range []string{
		"partition=x", "partition=-1", "from=middle", "from=offset", "from=offset&offset=-3",
		"from=timestamp", "from=timestamp&timestamp=yesterday", "limit=0", "limit=501", "limit=ten",
		"max_bytes=0", "max_bytes=99999999", "isolation=serializable",
	} {
		e.fails("GET", "/console/api/topics/events/messages?"+q, nil, 400)
	}
	e.fails("GET", "/console/api/topics/nope/messages", nil, 404)
	e.fails("GET", "/console/api/topics/events/messages?partition=9", nil, 404)
}

type groupsResp struct {
	Groups []struct {
		Group   string   `json:"group"`
		Type    string   `json:"type"`
		State   string   `json:"state"`
		Members int      `json:"members"`
		Topics  []string `json:"topics"`
		Lag     int64    `json:"lag"`
		Error   string   `json:"error"`
	} `json:"groups"`
}

type groupResp struct {
	Group   string `json:"group"`
	Type    string `json:"type"`
	State   string `json:"state"`
	Members []struct {
		MemberID    string `json:"member_id"`
		Assignments []struct {
			Topic      string  `json:"topic"`
			Partitions []int32 `json:"partitions"`
		} `json:"assignments"`
	} `json:"members"`
	Offsets []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Committed int64  `json:"committed"`
		EndOffset int64  `json:"end_offset"`
		Lag       int64  `json:"lag"`
		MemberID  string `json:"member_id"`
	} `json:"offsets"`
	Lag int64 `json:"lag"`
}

type resetResp struct {
	DryRun    bool `json:"dry_run"`
	Committed bool `json:"committed"`
	Rows      []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Current   int64  `json:"current"`
		New       int64  `json:"new"`
		Error     string `json:"error"`
	} `json:"rows"`
}

func TestAPIGroups(t *testing.T) {
	e := newEnv(t)
	e.ok("POST", "/console/api/topics", map[string]any{"name": "pay", "partitions": 2}, 201, nil)
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: "pay", Partition: 0, Value: []byte{byte('a' + i)}})
	}
	recs = append(recs, &kgo.Record{Topic: "pay", Partition: 1, Value: []byte("z")})
	e.produce(recs...)
	// An inactive group with commits: 2 of 5 on partition 0, 1 of 1 on 1.
	offs := make(kadm.Offsets)
	offs.Add(kadm.Offset{Topic: "pay", Partition: 0, At: 2, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "pay", Partition: 1, At: 1, LeaderEpoch: -1})
	if err := e.adm.CommitAllOffsets(e.ctx(), "billing", offs); err != nil {
		t.Fatalf("commit: %v", err)
	}

	var gs groupsResp
	e.ok("GET", "/console/api/groups", nil, 200, &gs)
	if len(gs.Groups) != 1 {
		t.Fatalf("groups %+v, want billing", gs.Groups)
	}
	if g := gs.Groups[0]; g.Group != "billing" || g.Type != "classic" || g.State != "Empty" || g.Members != 0 || !slices.Equal(g.Topics, []string{"pay"}) || g.Lag != 3 || g.Error != "" {
		t.Errorf("billing %+v, want classic Empty, 0 members, topics [pay], lag 3", g)
	}

	var g groupResp
	e.ok("GET", "/console/api/groups/billing", nil, 200, &g)
	if g.State != "Empty" || g.Lag != 3 || len(g.Offsets) != 2 {
		t.Fatalf("billing detail %+v, want Empty with lag 3 over 2 partitions", g)
	}
	if o := g.Offsets[0]; o.Topic != "pay" || o.Partition != 0 || o.Committed != 2 || o.EndOffset != 5 || o.Lag != 3 {
		t.Errorf("pay/0 %+v, want committed 2 end 5 lag 3", o)
	}
	if o := g.Offsets[1]; o.Partition != 1 || o.Committed != 1 || o.EndOffset != 1 || o.Lag != 0 {
		t.Errorf("pay/1 %+v, want committed 1 end 1 lag 0", o)
	}
	e.fails("GET", "/console/api/groups/nope", nil, 404)

	// Preview: nothing is committed.
	var rr resetResp
	e.ok("POST", "/console/api/groups/billing/reset-offsets", map[string]any{"all_topics": true, "to": "earliest", "dry_run": true}, 200, &rr)
	if !rr.DryRun || rr.Committed || len(rr.Rows) != 2 || rr.Rows[0].Current != 2 || rr.Rows[0].New != 0 || rr.Rows[1].Current != 1 || rr.Rows[1].New != 0 {
		t.Errorf("preview %+v, want pay/0 2→0 and pay/1 1→0, not committed", rr)
	}
	committed := func() (int64, int64) {
		t.Helper()
		os, err := e.adm.FetchOffsets(e.ctx(), "billing")
		if err != nil {
			t.Fatalf("fetch offsets: %v", err)
		}
		o0, _ := os.Lookup("pay", 0)
		o1, _ := os.Lookup("pay", 1)
		return o0.At, o1.At
	}
	if a, b := committed(); a != 2 || b != 1 {
		t.Errorf("after the preview the group has %d, %d committed, want 2, 1", a, b)
	}
	// Apply to one partition of one topic.
	e.ok("POST", "/console/api/groups/billing/reset-offsets", map[string]any{"topics": []map[string]any{{"topic": "pay", "partitions": []int{0}}}, "to": "offset", "offset": 4}, 200, &rr)
	if rr.DryRun || !rr.Committed || len(rr.Rows) != 1 || rr.Rows[0].New != 4 || rr.Rows[0].Current != 2 {
		t.Errorf("reset pay/0 to 4: %+v", rr)
	}
	if a, b := committed(); a != 4 || b != 1 {
		t.Errorf("after the reset the group has %d, %d committed, want 4, 1", a, b)
	}
	// Shift is clamped into [log start, high watermark].
	e.ok("POST", "/console/api/groups/billing/reset-offsets", map[string]any{"all_topics": true, "to": "shift", "shift": 100}, 200, &rr)
	if len(rr.Rows) != 2 || rr.Rows[0].New != 5 || rr.Rows[1].New != 1 {
		t.Errorf("shift +100: %+v, want 5 and 1", rr.Rows)
	}
	e.ok("POST", "/console/api/groups/billing/reset-offsets", map[string]any{"all_topics": true, "to": "timestamp", "timestamp": "0"}, 200, &rr)
	if len(rr.Rows) != 2 || rr.Rows[0].New != 0 || rr.Rows[1].New != 0 {
		t.Errorf("to time 0: %+v, want 0 and 0", rr.Rows)
	}
	e.ok("GET", "/console/api/groups/billing", nil, 200, &g)
	if g.Lag != 6 {
		t.Errorf("lag after resetting to the start: %d, want 6", g.Lag)
	}

	for _, body := range []map[string]any{
		{"all_topics": true, "to": "sideways"},
		{"to": "earliest"},
		{"all_topics": true, "topics": []map[string]any{{"topic": "pay"}}, "to": "earliest"},
		{"all_topics": true, "to": "offset", "offset": -1},
		{"all_topics": true, "to": "timestamp", "timestamp": "soon"},
		{"topics": []map[string]any{{"topic": ""}}, "to": "earliest"},
		{"topics": []map[string]any{{"topic": "pay", "partitions": []int{-1}}}, "to": "earliest"},
	} {
		e.fails("POST", "/console/api/groups/billing/reset-offsets", body, 400)
	}
	e.fails("POST", "/console/api/groups/billing/reset-offsets", map[string]any{"topics": []map[string]any{{"topic": "nope"}}, "to": "earliest"}, 404)
	e.fails("POST", "/console/api/groups/billing/reset-offsets", map[string]any{"topics": []map[string]any{{"topic": "pay", "partitions": []int{7}}}, "to": "earliest"}, 404)
	// A group with nothing committed cannot reset "all topics".
	e.fails("POST", "/console/api/groups/fresh/reset-offsets", map[string]any{"all_topics": true, "to": "earliest"}, 400)

	// An active member: the group is described with it, and resets are
	// refused.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumerGroup("live"), kgo.ConsumeTopics("pay"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	ctx := e.ctx()
	got := 0
	for got < 6 {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 6: %v", got, ctx.Err())
		}
		got += len(fs.Records())
	}
	var live groupResp
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.ok("GET", "/console/api/groups/live", nil, 200, &live)
		if live.State == "Stable" && len(live.Members) == 1 && len(live.Members[0].Assignments) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group live never showed one stable member with an assignment: %+v", live)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if a := live.Members[0].Assignments[0]; a.Topic != "pay" || !slices.Equal(a.Partitions, []int32{0, 1}) {
		t.Errorf("live member assignment %+v, want pay [0 1]", a)
	}
	ae := e.fails("POST", "/console/api/groups/live/reset-offsets", map[string]any{"all_topics": true, "to": "earliest", "dry_run": true}, 409)
	if !strings.Contains(ae.Error, "Stable") {
		t.Errorf("409 error %q does not say the group is Stable", ae.Error)
	}
	ae = e.fails("DELETE", "/console/api/groups/live", nil, 409)
	if ae.Code != "NON_EMPTY_GROUP" {
		t.Errorf("deleting a live group: code %q, want NON_EMPTY_GROUP", ae.Code)
	}

	// A KIP-848 group (ConsumerGroupDescribe).
	kip848, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumerGroup("live848"), kgo.ConsumeTopics("pay"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ServerSideBalancer())
	if err != nil {
		t.Fatal(err)
	}
	defer kip848.Close()
	for got := 0; got < 6; {
		fs := kip848.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("KIP-848 consumer read %d of 6: %v", got, ctx.Err())
		}
		got += len(fs.Records())
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		e.ok("GET", "/console/api/groups/live848", nil, 200, &live)
		if live.Type == "consumer" && live.State == "Stable" && len(live.Members) == 1 && len(live.Members[0].Assignments) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group live848 never showed one stable KIP-848 member with an assignment: %+v", live)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if a := live.Members[0].Assignments[0]; a.Topic != "pay" || !slices.Equal(a.Partitions, []int32{0, 1}) {
		t.Errorf("live848 member assignment %+v, want pay [0 1]", a)
	}
	e.ok("GET", "/console/api/groups", nil, 200, &gs)
	types := map[string]string{}
	for _, g := range gs.Groups {
		types[g.Group] = g.Type
	}
	if types["live848"] != "consumer" || types["live"] != "classic" || types["billing"] != "classic" {
		t.Errorf("group types %v, want live848 consumer, live and billing classic", types)
	}

	e.ok("DELETE", "/console/api/groups/billing", nil, 200, nil)
	e.fails("GET", "/console/api/groups/billing", nil, 404)
	e.fails("DELETE", "/console/api/groups/billing", nil, 404)
}

func TestAPIStatusForUnreachableCluster(t *testing.T) {
	// A port nothing listens on: requests fail within the request timeout
	// with a JSON 502/504 instead of hanging.
	e := newEnvFor(t, "127.0.0.1:1", func(c *consoleConfig) { c.RequestTimeout = 2 * time.Second })
	start := time.Now()
	r := e.do("GET", "/console/api/cluster", nil)
	if r.status != http.StatusBadGateway && r.status != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 502 or 504; body %s", r.status, r.body)
	}
	e.checkErr("GET /console/api/cluster", r, r.status)
	t.Logf("unreachable cluster answered %d after %s", r.status, time.Since(start))
}

// muxMounter is a Mounter over a ServeMux, as the HTTP listener has.
type muxMounter struct{ *http.ServeMux }

func (m muxMounter) Mount(pattern string, h http.Handler) { m.Handle(pattern, h) }

func TestMountOnServeMux(t *testing.T) {
	e := newEnvFor(t, "127.0.0.1:1")
	mux := muxMounter{http.NewServeMux()}
	mux.Handle("/metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }))
	e.console.MountOn(mux)
	for _, c := range []struct {
		path   string
		status int
		has    string
	}{
		{"/", http.StatusFound, ""},
		{"/console", http.StatusFound, ""},
		{"/console/", http.StatusOK, "Strata console"},
		{"/console/api/nope", http.StatusNotFound, `"error"`},
		{"/metrics", http.StatusOK, "metrics"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:9644"+c.path, nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.has) {
			t.Errorf("GET %s: %d %.60q, want %d with %q", c.path, rec.Code, rec.Body.String(), c.status, c.has)
		}
	}
}

// TestConsoleAnswersOnlyItsOwnNames: a request whose Host is a DNS name the
// console was not given is refused with 403 (DNS rebinding), whatever the
// path; IP addresses, localhost and the allowed names are served.
func TestConsoleAnswersOnlyItsOwnNames(t *testing.T) {
	for _, tt := range []struct {
		allowed []string
		host    string
		want    int
	}{
		{nil, "127.0.0.1:9645", http.StatusFound},
		{nil, "[::1]:9645", http.StatusFound},
		{nil, "10.1.2.3", http.StatusFound},
		{nil, "localhost:9645", http.StatusFound},
		{nil, "LOCALHOST.:9645", http.StatusFound},
		{nil, "app.localhost", http.StatusFound},
		{nil, "attacker.example:9645", http.StatusForbidden},
		{nil, "localhost.attacker.example", http.StatusForbidden},
		{nil, "", http.StatusBadRequest},
		{[]string{"broker1.internal"}, "BROKER1.internal:9644", http.StatusFound},
		{[]string{"broker1.internal."}, "broker1.internal", http.StatusFound},
		{[]string{"broker1.internal"}, "broker2.internal:9644", http.StatusForbidden},
		{[]string{"*"}, "anything.example", http.StatusFound},
	} {
		c, err := console.New(console.Config{Bootstrap: []string{"127.0.0.1:1"}, AllowedHosts: tt.allowed, RequestTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/", "/console/api/topics"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, req)
			want := tt.want
			if want == http.StatusFound && path != "/" {
				want = -1 // served: whatever the (unreachable) cluster gives
			}
			if want >= 0 && rec.Code != want || want < 0 && (rec.Code == http.StatusForbidden || rec.Code == http.StatusBadRequest) {
				t.Errorf("allowed %q, Host %q, GET %s: %d %s; want %d", tt.allowed, tt.host, path, rec.Code, rec.Body.String(), tt.want)
			}
			if rec.Code == http.StatusForbidden && !strings.Contains(rec.Body.String(), "DNS rebinding") {
				t.Errorf("Host %q: 403 without the reason: %s", tt.host, rec.Body.String())
			}
		}
		c.Close()
	}
}
