package node

// End-to-end tests for the advertised APIs (and versions of them) that no
// other test drives through a real client: each request goes through
// franz-go (kadm, or a kmsg request issued by a kgo client at a pinned
// version) against a real broker. docs/api-coverage.md maps every
// advertised API key to the tests that cover it.

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// versionsAt returns franz-go's stable versions with key capped at max:
// with kgo.MaxVersions, the client sends key at max (or lower, if the
// broker's ceiling is lower).
func versionsAt(key kmsg.Key, max int16) *kversion.Versions {
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(int16(key), max)
	return vs
}

// versionsFrom is a kgo.MinVersions set holding only key at min: the client
// refuses to send key below min instead of downgrading.
func versionsFrom(key kmsg.Key, min int16) *kversion.Versions {
	vs := new(kversion.Versions)
	vs.SetMaxKeyVersion(int16(key), min)
	return vs
}

// brokerRequest sends req to broker id through cl, as-is (no metadata
// hijacking, no sharding), and fails the test on a transport error.
func brokerRequest[R kmsg.Response](t *testing.T, cl *kgo.Client, id int32, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Broker(int(id)).Request(ctxTimeout(t, 15*time.Second), req)
	if err != nil {
		t.Fatalf("%s to broker %d: %v", kmsg.NameForKey(req.Key()), id, err)
	}
	return resp.(R)
}

// TestAPIE2ETopicAdminVariants: CreateTopics and CreatePartitions with
// validate_only change nothing, Metadata answers v0 clients and lookups by
// topic id (v12), and DeleteTopics v6 deletes by topic id.
func TestAPIE2ETopicAdminVariants(t *testing.T) {
	tn := startNode(t, withAutoCreate(false))
	adm := tn.admin()
	ctx := ctxTimeout(t, 60*time.Second)
	id := tn.cfg.NodeID

	// CreateTopics validate_only: the answer describes the topic, which is
	// not created.
	vres, err := adm.ValidateCreateTopics(ctx, 3, 1, nil, "dry")
	if err != nil {
		t.Fatalf("ValidateCreateTopics: %v", err)
	}
	if r := vres["dry"]; r.Err != nil || r.NumPartitions != 3 || r.ReplicationFactor != 1 {
		t.Fatalf("ValidateCreateTopics(dry, 3, 1) = %+v, want no error, 3 partitions, RF 1", r)
	}
	vres, err = adm.ValidateCreateTopics(ctx, 1, 3, nil, "dry-rf3")
	if err != nil || !errors.Is(vres["dry-rf3"].Err, kerr.InvalidReplicationFactor) {
		t.Fatalf("ValidateCreateTopics(RF 3 on one broker) = (%+v, %v), want INVALID_REPLICATION_FACTOR", vres, err)
	}
	listed, err := adm.ListTopics(ctx, "dry")
	if err != nil || !errors.Is(listed["dry"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("after validate_only, ListTopics(dry) = (%+v, %v), want UNKNOWN_TOPIC_OR_PARTITION", listed, err)
	}

	// CreatePartitions validate_only: accepted, nothing added; a decrease
	// is refused.
	tn.createTopic("grow", 2, nil)
	pres, err := adm.ValidateCreatePartitions(ctx, 2, "grow")
	if err != nil || pres["grow"].Err != nil {
		t.Fatalf("ValidateCreatePartitions(grow, +2) = (%+v, %v), want success", pres, err)
	}
	pres, err = adm.ValidateUpdatePartitions(ctx, 1, "grow")
	if err != nil || !errors.Is(pres["grow"].Err, kerr.InvalidPartitions) {
		t.Fatalf("ValidateUpdatePartitions(grow, 1) = (%+v, %v), want INVALID_PARTITIONS", pres, err)
	}
	listed, err = adm.ListTopics(ctx, "grow")
	if err != nil || len(listed["grow"].Partitions) != 2 {
		t.Fatalf("after validate_only, grow has %d partitions (err %v), want 2", len(listed["grow"].Partitions), err)
	}
	topicID := listed["grow"].ID

	// Metadata v0, as an old client sends it: an empty topic list means
	// every topic.
	old := tn.client(kgo.MaxVersions(versionsAt(kmsg.Metadata, 0)))
	m0 := kmsg.NewPtrMetadataRequest()
	r0 := brokerRequest[*kmsg.MetadataResponse](t, old, id, m0)
	if r0.Version != 0 || len(r0.Brokers) != 1 || r0.Brokers[0].NodeID != id {
		t.Fatalf("Metadata v0: version %d, brokers %+v; want v0 and broker %d", r0.Version, r0.Brokers, id)
	}
	var names []string
	for _, tp := range r0.Topics {
		names = append(names, *tp.Topic)
		if *tp.Topic == "grow" && (tp.ErrorCode != 0 || len(tp.Partitions) != 2 || tp.Partitions[0].Leader != id) {
			t.Fatalf("Metadata v0 all topics: grow = %+v", tp)
		}
	}
	if !slices.Contains(names, "grow") {
		t.Fatalf("Metadata v0 with no topics listed %v, want every topic (grow among them)", names)
	}
	m0 = kmsg.NewPtrMetadataRequest()
	m0.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("grow")}, {Topic: kmsg.StringPtr("absent")}}
	r0 = brokerRequest[*kmsg.MetadataResponse](t, old, id, m0)
	if len(r0.Topics) != 2 || *r0.Topics[0].Topic != "grow" || r0.Topics[0].ErrorCode != 0 || len(r0.Topics[0].Partitions) != 2 ||
		*r0.Topics[1].Topic != "absent" || r0.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("Metadata v0 for [grow absent] = %+v, want grow with 2 partitions, absent UNKNOWN_TOPIC_OR_PARTITION", r0.Topics)
	}

	// Metadata v12 by topic id (null name): the name comes back; an
	// unknown id gets UNKNOWN_TOPIC_ID.
	cl := tn.client()
	var unknownID [16]byte
	unknownID[15] = 7
	m12 := kmsg.NewPtrMetadataRequest()
	m12.Topics = []kmsg.MetadataRequestTopic{{TopicID: topicID}, {TopicID: unknownID}}
	r12 := brokerRequest[*kmsg.MetadataResponse](t, cl, id, m12)
	if r12.Version != 12 || len(r12.Topics) != 2 {
		t.Fatalf("Metadata v%d by topic id: %d topics, want v12 and 2", r12.Version, len(r12.Topics))
	}
	if got := r12.Topics[0]; got.Topic == nil || *got.Topic != "grow" || got.TopicID != topicID || got.ErrorCode != 0 || len(got.Partitions) != 2 {
		t.Fatalf("Metadata v12 by grow's id = %+v, want grow with 2 partitions", got)
	}
	if got := r12.Topics[1]; got.ErrorCode != kerr.UnknownTopicID.Code || got.TopicID != unknownID {
		t.Fatalf("Metadata v12 by an unknown id = %+v, want UNKNOWN_TOPIC_ID", got)
	}

	// DeleteTopics v6 by topic id.
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TimeoutMillis = 15000
	del.Topics = []kmsg.DeleteTopicsRequestTopic{{TopicID: topicID}, {TopicID: unknownID}}
	dresp := brokerRequest[*kmsg.DeleteTopicsResponse](t, cl, id, del)
	if dresp.Version != 6 || len(dresp.Topics) != 2 {
		t.Fatalf("DeleteTopics v%d by id: %+v, want v6 with 2 topics", dresp.Version, dresp.Topics)
	}
	if got := dresp.Topics[0]; got.ErrorCode != 0 || got.Topic == nil || *got.Topic != "grow" || got.TopicID != topicID {
		t.Fatalf("DeleteTopics v6 by grow's id = %+v, want grow deleted", got)
	}
	if got := dresp.Topics[1]; got.ErrorCode != kerr.UnknownTopicID.Code || got.TopicID != unknownID {
		t.Fatalf("DeleteTopics v6 by an unknown id = %+v, want UNKNOWN_TOPIC_ID", got)
	}
	// NB: a fresh client, since kgo keeps a topic's metadata for 5s.
	fresh := tn.admin()
	waitFor(t, "grow to be gone", 10*time.Second, func() bool {
		listed, err := fresh.ListTopics(ctx, "grow")
		return err == nil && errors.Is(listed["grow"].Err, kerr.UnknownTopicOrPartition)
	})
}

// TestAPIE2EOffsetsAndLogDirs: ListOffsets' earliest-local (-4) and
// latest-tiered (-5) specs, OffsetForLeaderEpoch, and DescribeLogDirs, all
// through kadm.
func TestAPIE2EOffsetsAndLogDirs(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("lo", 2, nil)
	adm := tn.admin()
	ctx := ctxTimeout(t, 60*time.Second)
	p := tn.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	for i := range 10 {
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: "lo", Partition: 0, Value: []byte{byte('a' + i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	dres, err := adm.DeleteRecords(ctx, kadm.Offsets{"lo": {0: {Topic: "lo", Partition: 0, At: 4}}})
	if err != nil || dres["lo"][0].Err != nil {
		t.Fatalf("DeleteRecords(lo-0 before 4) = (%+v, %v)", dres, err)
	}

	// -4: the earliest offset on local disk, here the log start offset
	// (nothing is tiered). -5: the latest tiered offset, -1 as Kafka
	// answers when remote storage is off.
	local, err := adm.ListLocalLogStartOffsets(ctx, "lo")
	if err != nil {
		t.Fatalf("ListLocalLogStartOffsets: %v", err)
	}
	for part, want := range map[int32]int64{0: 4, 1: 0} {
		if o, _ := local.Lookup("lo", part); o.Err != nil || o.Offset != want {
			t.Errorf("ListOffsets(lo-%d, -4) = %d (err %v), want %d", part, o.Offset, o.Err, want)
		}
	}
	tiered, err := adm.ListLatestRemoteOffsets(ctx, "lo")
	if err != nil {
		t.Fatalf("ListLatestRemoteOffsets: %v", err)
	}
	for _, part := range []int32{0, 1} {
		if o, _ := tiered.Lookup("lo", part); o.Err != nil || o.Offset != -1 || o.Timestamp != -1 {
			t.Errorf("ListOffsets(lo-%d, -5) = offset %d ts %d (err %v), want -1 / -1", part, o.Offset, o.Timestamp, o.Err)
		}
	}

	// OffsetForLeaderEpoch: the current epoch ends at the log end offset;
	// an epoch newer than any known gets -1 / -1 (UNDEFINED_EPOCH).
	ends, err := adm.ListEndOffsets(ctx, "lo")
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	end0, _ := ends.Lookup("lo", 0)
	epoch := end0.LeaderEpoch
	if end0.Offset != 10 || epoch < 0 {
		t.Fatalf("ListEndOffsets(lo-0) = offset %d epoch %d, want 10 and a known epoch", end0.Offset, epoch)
	}
	oe, err := adm.OffsetForLeaderEpoch(ctx, kadm.OffsetForLeaderEpochRequest{"lo": {0: epoch, 1: epoch + 5}})
	if err != nil {
		t.Fatalf("OffsetForLeaderEpoch: %v", err)
	}
	if got := oe["lo"][0]; got.Err != nil || got.LeaderEpoch != epoch || got.EndOffset != 10 || got.NodeID != tn.cfg.NodeID {
		t.Errorf("OffsetForLeaderEpoch(lo-0, epoch %d) = %+v, want epoch %d ending at 10 from broker %d", epoch, got, epoch, tn.cfg.NodeID)
	}
	if got := oe["lo"][1]; got.Err != nil || got.LeaderEpoch != -1 || got.EndOffset != -1 {
		t.Errorf("OffsetForLeaderEpoch(lo-1, epoch %d) = %+v, want -1 / -1", epoch+5, got)
	}

	// DescribeLogDirs: one directory under the data dir, each hosted
	// partition with the size of its segment files.
	all, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatalf("DescribeAllLogDirs: %v", err)
	}
	dirs := all[tn.cfg.NodeID]
	if len(all) != 1 || len(dirs) != 1 {
		t.Fatalf("DescribeAllLogDirs = %+v, want one broker with one directory", all)
	}
	for _, d := range dirs {
		if d.Err != nil || !strings.HasPrefix(d.Dir, tn.cfg.DataDir) || d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
			t.Fatalf("log dir %+v: want no error, under %s, with volume sizes", d, tn.cfg.DataDir)
		}
		for _, part := range []int32{0, 1} {
			got, ok := d.Topics.Lookup("lo", part)
			want := segmentBytes(t, filepath.Join(d.Dir, "lo-"+string(rune('0'+part))))
			if !ok || got.Size != want || got.OffsetLag != 0 || got.IsFuture {
				t.Errorf("DescribeLogDirs lo-%d = %+v (found %v), want size %d (its segment files), lag 0", part, got, ok, want)
			}
		}
	}
	one, err := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{"lo": {1: {}}})
	if err != nil {
		t.Fatalf("DescribeAllLogDirs(lo-1): %v", err)
	}
	for _, d := range one[tn.cfg.NodeID] {
		if _, ok := d.Topics.Lookup("lo", 0); ok || len(d.Topics["lo"]) != 1 {
			t.Errorf("DescribeLogDirs(lo-1) described %+v, want lo-1 only", d.Topics)
		}
	}
}

// segmentBytes sums the sizes of the .log files in a partition directory.
func segmentBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read partition dir: %v", err)
	}
	var n int64
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// TestAPIE2EGroupAdmin drives the group admin APIs through kadm against
// four groups: two that only hold committed offsets (Empty), a classic
// group and a KIP-848 consumer group, each with one live member. ListGroups
// with state (v4) and type (v5) filters, DescribeGroups (v5),
// ConsumerGroupDescribe, OffsetFetch for several groups at once (v8+),
// OffsetDelete, DeleteGroups and LeaveGroup by instance id answer exactly
// as Kafka does.
func TestAPIE2EGroupAdmin(t *testing.T) {
	tn := startNode(t, withFastGroups())
	tn.createTopic("ga", 2, nil)
	tn.createTopic("other", 1, nil)
	produceToPartitions(t, tn, "ga", 2, 5, "r")
	adm := tn.admin()
	ctx := ctxTimeout(t, 90*time.Second)

	commit := func(group string, offsets map[string]map[int32]int64) {
		t.Helper()
		os := make(kadm.Offsets)
		for topic, ps := range offsets {
			for p, at := range ps {
				os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
			}
		}
		if err := adm.CommitAllOffsets(ctx, group, os); err != nil {
			t.Fatalf("CommitOffsets(%s): %v", group, err)
		}
	}
	commit("g-idle", map[string]map[int32]int64{"ga": {0: 3, 1: 5}, "other": {0: 0}})
	commit("g-idle2", map[string]map[int32]int64{"ga": {0: 1}})

	stop := make(chan struct{})
	var mu sync.Mutex
	var got []*kgo.Record
	classic, consumer := newAssignments(), newAssignments()
	wgs := []*sync.WaitGroup{
		pollInto(t, groupMember(t, tn, "g-classic", "ga", classic, kgo.Balancers(kgo.RangeBalancer())), stop, &mu, &got),
		pollInto(t, groupMember(t, tn, "g-848", "ga", consumer, kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer()), stop, &mu, &got),
	}
	defer func() {
		close(stop)
		for _, wg := range wgs {
			wg.Wait()
		}
	}()
	waitFor(t, "each live member to own both partitions", 30*time.Second, func() bool {
		return slices.Equal(classic.get(), []int32{0, 1}) && slices.Equal(consumer.get(), []int32{0, 1})
	})

	// ListGroups: every group, then by state (v4), then by type (v5).
	type listed struct{ state, protocolType string }
	want := map[string]listed{
		"g-idle": {"Empty", ""}, "g-idle2": {"Empty", ""},
		"g-classic": {"Stable", "consumer"}, "g-848": {"Stable", "consumer"},
	}
	var last kadm.ListedGroups
	defer func() {
		if t.Failed() {
			t.Logf("last ListGroups answer: %+v", last)
		}
	}()
	waitFor(t, "ListGroups to show both live groups Stable", 15*time.Second, func() bool {
		ls, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatalf("ListGroups: %v", err)
		}
		last = ls
		if len(ls) != len(want) {
			return false
		}
		for g, w := range want {
			if l, ok := ls[g]; !ok || l.State != w.state || l.ProtocolType != w.protocolType || l.Coordinator != tn.cfg.NodeID {
				return false
			}
		}
		return true
	})
	v5 := kadm.NewClient(tn.client(kgo.MinVersions(versionsFrom(kmsg.ListGroups, 5))))
	for _, tt := range []struct {
		name   string
		types  []string
		states []string
		want   []string
	}{
		{"state Empty", nil, []string{"Empty"}, []string{"g-idle", "g-idle2"}},
		{"state Stable", nil, []string{"Stable"}, []string{"g-848", "g-classic"}},
		{"states Stable and Empty", nil, []string{"Stable", "Empty"}, []string{"g-848", "g-classic", "g-idle", "g-idle2"}},
		{"state Dead", nil, []string{"Dead"}, []string{}},
		{"type consumer", []string{"consumer"}, nil, []string{"g-848"}},
		{"type classic", []string{"classic"}, nil, []string{"g-classic", "g-idle", "g-idle2"}},
		{"type classic, state Stable", []string{"classic"}, []string{"Stable"}, []string{"g-classic"}},
	} {
		ls, err := v5.ListGroupsByType(ctx, tt.types, tt.states...)
		if err != nil {
			t.Fatalf("%s: ListGroups: %v", tt.name, err)
		}
		if got := ls.Groups(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ListGroups(types %v, states %v) = %v, want %v", tt.name, tt.types, tt.states, got, tt.want)
		}
	}

	// DescribeGroups at the newest version both sides speak (v5): the
	// classic group's member and assignment, an Empty group, and an
	// unknown group (Dead, no error, before v6).
	dg, err := adm.DescribeGroups(ctx, "g-classic", "g-idle", "g-nope")
	if err != nil {
		t.Fatalf("DescribeGroups: %v", err)
	}
	if g := dg["g-classic"]; g.Err != nil || g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol != "range" ||
		len(g.Members) != 1 || g.Members[0].ClientID != "kgo" || !strings.HasPrefix(g.Members[0].ClientHost, "/127.0.0.1") ||
		!maps.Equal(g.AssignedPartitions()["ga"], map[int32]struct{}{0: {}, 1: {}}) {
		t.Errorf("DescribeGroups(g-classic) = %+v, want Stable range group, one kgo member from /127.0.0.1 owning ga-0 and ga-1", g)
	}
	if g := dg["g-idle"]; g.Err != nil || g.State != "Empty" || len(g.Members) != 0 {
		t.Errorf("DescribeGroups(g-idle) = %+v, want Empty without members", g)
	}
	if g := dg["g-nope"]; g.Err != nil || g.State != "Dead" || len(g.Members) != 0 {
		t.Errorf("DescribeGroups(g-nope) = %+v, want Dead without error", g)
	}

	// ConsumerGroupDescribe: the consumer group's member, its subscription
	// and assignment; a classic group is not a consumer group.
	cg, err := adm.DescribeConsumerGroups(ctx, "g-848", "g-classic")
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) {
			t.Fatalf("DescribeConsumerGroups: %v", err)
		}
	}
	if g := cg["g-848"]; g.Err != nil || g.State != "Stable" || g.Epoch < 1 || g.AssignmentEpoch != g.Epoch || g.AssignorName != "range" ||
		len(g.Members) != 1 || !slices.Equal(g.Members[0].SubscribedTopics, []string{"ga"}) || g.Members[0].ClientID != "kgo" ||
		!maps.Equal(g.Members[0].Assignment["ga"], map[int32]struct{}{0: {}, 1: {}}) {
		t.Errorf("DescribeConsumerGroups(g-848) = %+v, want Stable, assignor range, one member subscribed to ga owning ga-0 and ga-1", g)
	}
	if g := cg["g-classic"]; !errors.Is(g.Err, kerr.GroupIDNotFound) {
		t.Errorf("DescribeConsumerGroups(g-classic) error = %v, want GROUP_ID_NOT_FOUND", g.Err)
	}

	// OffsetFetch v8+: several groups in one request.
	many := kadm.NewClient(tn.client(kgo.MinVersions(versionsFrom(kmsg.OffsetFetch, 8))))
	fetched := many.FetchManyOffsets(ctx, "g-idle", "g-idle2", "g-nope")
	for _, tt := range []struct {
		group string
		want  map[string]map[int32]int64
	}{
		{"g-idle", map[string]map[int32]int64{"ga": {0: 3, 1: 5}, "other": {0: 0}}},
		{"g-idle2", map[string]map[int32]int64{"ga": {0: 1}}},
		{"g-nope", map[string]map[int32]int64{}},
	} {
		r := fetched[tt.group]
		if r.Err != nil {
			t.Errorf("OffsetFetch(%s) in a multi-group request: %v", tt.group, r.Err)
			continue
		}
		if got := committedAt(r.Fetched); !maps.EqualFunc(got, tt.want, maps.Equal) {
			t.Errorf("OffsetFetch(%s) in a multi-group request = %v, want %v", tt.group, got, tt.want)
		}
	}

	// OffsetDelete: an Empty group's offsets go; a group whose members
	// subscribe to the topic refuses per partition; an unknown group is
	// refused as a whole.
	del, err := adm.DeleteOffsets(ctx, "g-idle", kadm.TopicsSet{"ga": {0: {}}, "other": {0: {}}})
	if err != nil || del["ga"][0] != nil || del["other"][0] != nil {
		t.Fatalf("DeleteOffsets(g-idle, ga-0 other-0) = (%v, %v), want both deleted", del, err)
	}
	left, err := adm.FetchOffsets(ctx, "g-idle")
	if err != nil {
		t.Fatalf("FetchOffsets(g-idle): %v", err)
	}
	if got, want := committedAt(left), map[string]map[int32]int64{"ga": {1: 5}}; !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("after OffsetDelete, g-idle commits %v, want %v", got, want)
	}
	for _, g := range []string{"g-classic", "g-848"} {
		del, err = adm.DeleteOffsets(ctx, g, kadm.TopicsSet{"ga": {0: {}}, "other": {0: {}}})
		if err != nil || !errors.Is(del["ga"][0], kerr.GroupSubscribedToTopic) || del["other"][0] != nil {
			t.Errorf("DeleteOffsets(%s, ga-0 other-0) = (%v, %v), want GROUP_SUBSCRIBED_TO_TOPIC for ga-0 only", g, del, err)
		}
	}
	if _, err := adm.DeleteOffsets(ctx, "g-nope", kadm.TopicsSet{"ga": {0: {}}}); !errors.Is(err, kerr.GroupIDNotFound) {
		t.Errorf("DeleteOffsets(g-nope) error = %v, want GROUP_ID_NOT_FOUND", err)
	}

	// DeleteGroups: Empty groups go with their offsets; groups with
	// members and unknown groups are refused.
	dels, err := adm.DeleteGroups(ctx, "g-idle", "g-classic", "g-848", "g-nope")
	if err != nil {
		t.Fatalf("DeleteGroups: %v", err)
	}
	for g, want := range map[string]error{"g-idle": nil, "g-classic": kerr.NonEmptyGroup, "g-848": kerr.NonEmptyGroup, "g-nope": kerr.GroupIDNotFound} {
		if got := dels[g].Err; !errors.Is(got, want) || (want == nil && got != nil) {
			t.Errorf("DeleteGroups(%s) = %v, want %v", g, got, want)
		}
	}
	ls, err := adm.ListGroups(ctx)
	if err != nil || !slices.Equal(ls.Groups(), []string{"g-848", "g-classic", "g-idle2"}) {
		t.Errorf("after DeleteGroups, ListGroups = (%v, %v), want [g-848 g-classic g-idle2]", ls.Groups(), err)
	}
	if left, err := adm.FetchOffsets(ctx, "g-idle"); err != nil || len(committedAt(left)) != 0 {
		t.Errorf("after DeleteGroups, FetchOffsets(g-idle) = (%v, %v), want nothing committed", committedAt(left), err)
	}

	// LeaveGroup by instance id (KIP-345): a static member that stopped
	// without leaving (its session is 60s) is removed at once; an unknown
	// instance id gets UNKNOWN_MEMBER_ID.
	sc, err := kgo.NewClient(kgo.SeedBrokers(tn.addr), kgo.ConsumerGroup("g-static"), kgo.ConsumeTopics("other"),
		kgo.InstanceID("static-1"), kgo.SessionTimeout(60*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stopStatic := make(chan struct{})
	wgStatic := pollInto(t, sc, stopStatic, &mu, &got)
	waitFor(t, "the static member to join g-static", 30*time.Second, func() bool {
		d, err := adm.DescribeGroups(ctx, "g-static")
		return err == nil && d["g-static"].State == "Stable" && len(d["g-static"].Members) == 1
	})
	close(stopStatic)
	wgStatic.Wait()
	sc.Close() // NB: a static member does not send LeaveGroup when it closes
	if d, err := adm.DescribeGroups(ctx, "g-static"); err != nil || len(d["g-static"].Members) != 1 {
		t.Fatalf("after the static member closed, DescribeGroups(g-static) = (%+v, %v), want it still a member", d, err)
	}
	left2, err := adm.LeaveGroup(ctx, kadm.LeaveGroup("g-static").InstanceIDs("static-1", "static-absent"))
	if err != nil || left2["static-1"].Err != nil || !errors.Is(left2["static-absent"].Err, kerr.UnknownMemberID) {
		t.Fatalf("LeaveGroup(g-static, [static-1 static-absent]) = (%+v, %v), want static-1 removed, static-absent UNKNOWN_MEMBER_ID", left2, err)
	}
	if d, err := adm.DescribeGroups(ctx, "g-static"); err != nil || d["g-static"].State != "Empty" || len(d["g-static"].Members) != 0 {
		t.Errorf("after LeaveGroup, DescribeGroups(g-static) = (%+v, %v), want Empty", d, err)
	}
}

// committedAt flattens fetched offsets to topic -> partition -> offset,
// leaving out partitions with nothing committed (-1).
func committedAt(os kadm.OffsetResponses) map[string]map[int32]int64 {
	out := make(map[string]map[int32]int64)
	os.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = make(map[int32]int64)
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out
}

// TestAPIE2ETransactionVersion1Offsets: a client capped at Kafka 3.9's
// versions runs transactions under transaction version 1, so its
// consume-transform-produce session adds the group to the transaction
// with AddOffsetsToTxn (and partitions with AddPartitionsToTxn) before
// TxnOffsetCommit; the offsets and the output commit together.
func TestAPIE2ETransactionVersion1Offsets(t *testing.T) {
	tn := startNode(t, withTxnPartitions(3), withFastGroups())
	tn.createTopic("t1-in", 1, nil)
	tn.createTopic("t1-out", 1, nil)
	ctx := ctxTimeout(t, 90*time.Second)
	in := tn.client(kgo.DefaultProduceTopic("t1-in"))
	var want []string
	for i := range 10 {
		v := "in-" + string(rune('a'+i))
		want = append(want, v)
		if err := in.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	hook := &requestKeys{}
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(tn.addr), kgo.MaxVersions(kversion.V3_9_0()),
		kgo.TransactionalID("t1-copy"), kgo.ConsumerGroup("t1-group"), kgo.ConsumeTopics("t1-in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets(),
		kgo.DefaultProduceTopic("t1-out"), kgo.WithHooks(hook))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	copied := 0
	for copied < len(want) {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := sess.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("copied %d of %d", copied, len(want))
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			sess.Produce(ctx, &kgo.Record{Value: r.Value}, nil)
		})
		if ok, err := sess.End(ctx, kgo.TryCommit); err != nil || !ok {
			t.Fatalf("End(commit) = %v, %v", ok, err)
		}
		copied += n
	}
	for _, k := range []kmsg.Key{kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.TxnOffsetCommit, kmsg.EndTxn} {
		if hook.count(k) == 0 {
			t.Errorf("the session sent no %s under transaction version 1", kmsg.NameForKey(int16(k)))
		}
	}
	if got := valuesOf(t, tn.addr, "t1-out", len(want), kgo.ReadCommitted()); !slices.Equal(got[0], want) {
		t.Errorf("read_committed t1-out = %v, want %v", got, want)
	}
	offs, err := tn.admin().FetchOffsets(ctx, "t1-group")
	if err != nil {
		t.Fatalf("FetchOffsets(t1-group): %v", err)
	}
	if o, ok := offs.Lookup("t1-in", 0); !ok || o.At != int64(len(want)) {
		t.Errorf("t1-group committed %+v, want offset %d", o, len(want))
	}
}

// TestAPIE2EControllerAPIsOnThreeNodes drives, through franz-go, the APIs
// that only mean something on a cluster, on three combined nodes:
// DescribeCluster (with endpoint types), DescribeQuorum, ElectLeaders,
// and, from brokers that are not the active controller, the broker-to-
// controller APIs over the Kafka listener: BrokerRegistration and
// BrokerHeartbeat (all three brokers registered and unfenced),
// AllocateProducerIDs (InitProducerID answered by each broker), and
// AlterPartition (a reassignment led by such a broker completes only when
// its ISR expansion reaches the controller).
func TestAPIE2EControllerAPIsOnThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "1", "--replica-lag-time-max", "2s")
	cl := kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...))
	adm := kadm.NewClient(cl)
	ctx := ctxTimeout(t, 3*time.Minute)
	all := []int32{1, 2, 3}

	waitFor(t, "every broker's metadata to list three brokers", 30*time.Second, func() bool {
		for _, addr := range tc.addrs {
			req := kmsg.NewPtrMetadataRequest()
			if len(metadataFrom(t, addr, req).Brokers) != 3 {
				return false
			}
		}
		return true
	})

	// DescribeCluster, to each broker: the three registered brokers and
	// their listeners, and one controller id.
	describeCluster := func(id int32, endpointType int8) *kmsg.DescribeClusterResponse {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.EndpointType = endpointType
		return brokerRequest[*kmsg.DescribeClusterResponse](t, cl, id, req)
	}
	waitFor(t, "every broker to describe three unfenced brokers", 30*time.Second, func() bool {
		for _, id := range all {
			var ids []int32
			for _, b := range describeCluster(id, 1).Brokers {
				ids = append(ids, b.NodeID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, all) {
				return false
			}
		}
		return true
	})
	controller := int32(-1)
	for _, id := range all {
		r := describeCluster(id, 1)
		if r.Version != 2 || r.ErrorCode != 0 || r.EndpointType != 1 || r.ClusterID == "" || r.ControllerID < 1 || r.ControllerID > 3 {
			t.Fatalf("DescribeCluster v%d to broker %d = %+v", r.Version, id, r)
		}
		if controller != -1 && r.ControllerID != controller {
			t.Fatalf("brokers name controllers %d and %d", controller, r.ControllerID)
		}
		controller = r.ControllerID
		for _, b := range r.Brokers {
			if want := tc.addrs[b.NodeID-1]; b.Host+":"+itoa(b.Port) != want || b.IsFenced {
				t.Errorf("DescribeCluster from %d lists broker %d at %s:%d (fenced %v), want %s unfenced", id, b.NodeID, b.Host, b.Port, b.IsFenced, want)
			}
		}
		if r := describeCluster(id, 2); r.ErrorCode != kerr.MismatchedEndpointType.Code || len(r.Brokers) != 0 {
			t.Errorf("DescribeCluster(controllers) to broker %d = code %d, %d brokers; want MISMATCHED_ENDPOINT_TYPE", id, r.ErrorCode, len(r.Brokers))
		}
		if r := describeCluster(id, 3); r.ErrorCode != kerr.UnsupportedEndpointType.Code {
			t.Errorf("DescribeCluster(endpoint type 3) to broker %d = code %d, want UNSUPPORTED_ENDPOINT_TYPE", id, r.ErrorCode)
		}
	}
	var others []int32 // brokers that are not the active controller
	for _, id := range all {
		if id != controller {
			others = append(others, id)
		}
	}

	// DescribeQuorum, sent to a broker that forwards it to the active
	// controller: the controller leads, all three vote, each with its
	// Kafka listener (v2).
	qreq := kmsg.NewPtrDescribeQuorumRequest()
	qreq.Topics = []kmsg.DescribeQuorumRequestTopic{{Topic: "__cluster_metadata", Partitions: []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}, {Partition: 1}}}}
	q := brokerRequest[*kmsg.DescribeQuorumResponse](t, cl, others[0], qreq)
	if q.Version != 2 || q.ErrorCode != 0 || len(q.Topics) != 1 || len(q.Topics[0].Partitions) != 2 {
		t.Fatalf("DescribeQuorum v%d = %+v", q.Version, q)
	}
	qp := q.Topics[0].Partitions[0]
	var voters []int32
	for _, v := range qp.CurrentVoters {
		voters = append(voters, v.ReplicaID)
	}
	slices.Sort(voters)
	if qp.ErrorCode != 0 || qp.LeaderID != controller || qp.LeaderEpoch < 1 || qp.HighWatermark < 1 || !slices.Equal(voters, all) || len(qp.Observers) != 0 {
		t.Errorf("DescribeQuorum(__cluster_metadata-0) = %+v, want leader %d, voters %v, no observers", qp, controller, all)
	}
	if code := q.Topics[0].Partitions[1].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("DescribeQuorum(__cluster_metadata-1) code %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
	}
	nodes := map[int32]string{}
	for _, n := range q.Nodes {
		if len(n.Listeners) == 1 {
			nodes[n.NodeID] = n.Listeners[0].Host + ":" + itoa(int32(n.Listeners[0].Port))
		}
	}
	if want := map[int32]string{1: tc.addrs[0], 2: tc.addrs[1], 3: tc.addrs[2]}; !maps.Equal(nodes, want) {
		t.Errorf("DescribeQuorum nodes %v, want %v", nodes, want)
	}

	// InitProducerID without a transactional id, to each broker: each
	// allocates its producer ids in a block the controller hands out
	// (AllocateProducerIDs, over the wire from the two other brokers).
	pids := map[int64]int32{}
	for _, id := range all {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionTimeoutMillis = 60000
		r := brokerRequest[*kmsg.InitProducerIDResponse](t, cl, id, req)
		if r.ErrorCode != 0 || r.ProducerID < 0 || r.ProducerEpoch != 0 {
			t.Fatalf("InitProducerID to broker %d = %+v", id, r)
		}
		if prev, dup := pids[r.ProducerID]; dup {
			t.Fatalf("brokers %d and %d both handed out producer id %d", prev, id, r.ProducerID)
		}
		pids[r.ProducerID] = id
	}

	// ElectLeaders.
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "el", -1, -1
	ct.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1, 2, 3}}, {Partition: 1, Replicas: []int32{2, 3, 1}}}
	create.Topics = append(create.Topics, ct)
	if cr, err := create.RequestWith(ctx, cl); err != nil || cr.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreateTopics(el) = (%+v, %v)", cr, err)
	}
	waitFor(t, "el's partitions to have full ISRs", 30*time.Second, func() bool {
		for p := range int32(2) {
			if l, isr := leaderOf(t, tc.addrs[0], "el", p); l != p+1 || len(isr) != 3 {
				return false
			}
		}
		return true
	})
	elect := func(how kadm.ElectLeadersHow, s kadm.TopicsSet) map[string]map[int32]error {
		t.Helper()
		res, err := adm.ElectLeaders(ctx, how, s)
		if err != nil {
			t.Fatalf("ElectLeaders(%d, %v): %v", how, s, err)
		}
		out := map[string]map[int32]error{}
		for topic, ps := range res {
			out[topic] = map[int32]error{}
			for p, r := range ps {
				out[topic][p] = r.Err
			}
		}
		return out
	}
	sameErrs := func(a, b map[int32]error) bool { return maps.EqualFunc(a, b, func(x, y error) bool { return x == y }) }
	for _, tt := range []struct {
		name string
		how  kadm.ElectLeadersHow
		give kadm.TopicsSet
		want map[string]map[int32]error
	}{
		{"preferred leaders lead", kadm.ElectPreferredReplica, kadm.TopicsSet{"el": {0: {}, 1: {}}},
			map[string]map[int32]error{"el": {0: kerr.ElectionNotNeeded, 1: kerr.ElectionNotNeeded}}},
		{"unclean with a live leader", kadm.ElectLiveReplica, kadm.TopicsSet{"el": {0: {}}},
			map[string]map[int32]error{"el": {0: kerr.ElectionNotNeeded}}},
		{"unknown partition", kadm.ElectPreferredReplica, kadm.TopicsSet{"el": {7: {}}, "nope": {0: {}}},
			map[string]map[int32]error{"el": {7: kerr.UnknownTopicOrPartition}, "nope": {0: kerr.UnknownTopicOrPartition}}},
		{"every partition, none needed", kadm.ElectPreferredReplica, nil, map[string]map[int32]error{}},
	} {
		if got := elect(tt.how, tt.give); !maps.EqualFunc(got, tt.want, sameErrs) {
			t.Errorf("%s: ElectLeaders = %v, want %v", tt.name, got, tt.want)
		}
	}
	// Reordering el-0's replicas to [3 2 1] keeps leader 1 (in sync); a
	// preferred election over every partition then moves it to 3 and
	// reports only el-0.
	var reorder kadm.AlterPartitionAssignmentsReq
	reorder.Assign("el", 0, []int32{3, 2, 1})
	if res, err := adm.AlterPartitionAssignments(ctx, reorder); err != nil || res["el"][0].Err != nil {
		t.Fatalf("AlterPartitionAssignments(el-0 -> [3 2 1]) = (%+v, %v)", res, err)
	}
	waitFor(t, "el-0's replicas to read [3 2 1] on every broker", 10*time.Second, func() bool {
		for _, addr := range tc.addrs {
			if r, _ := replicasOf(t, addr, "el", 0); !slices.Equal(r, []int32{3, 2, 1}) {
				return false
			}
		}
		return true
	})
	if l, _ := leaderOf(t, tc.addrs[0], "el", 0); l != 1 {
		t.Fatalf("after reordering el-0's replicas its leader is %d, want 1 still", l)
	}
	if got, want := elect(kadm.ElectPreferredReplica, nil), (map[string]map[int32]error{"el": {0: nil}}); !maps.EqualFunc(got, want, sameErrs) {
		t.Fatalf("ElectLeaders(preferred, every partition) = %v, want %v", got, want)
	}
	waitFor(t, "every broker to see 3 lead el-0", 10*time.Second, func() bool {
		for _, addr := range tc.addrs {
			if l, _ := leaderOf(t, addr, "el", 0); l != 3 {
				return false
			}
		}
		return true
	})

	// AlterPartition: a partition led by a broker that is not the active
	// controller gains a replica; the reassignment completes only once
	// the leader's ISR expansion (AlterPartition, over the wire) commits.
	leader, follower := others[0], others[1]
	create = kmsg.NewPtrCreateTopicsRequest()
	ct = kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "ap", -1, -1
	ct.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{leader}}}
	create.Topics = append(create.Topics, ct)
	if cr, err := create.RequestWith(ctx, cl); err != nil || cr.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreateTopics(ap) = (%+v, %v)", cr, err)
	}
	p := kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...), kgo.DefaultProduceTopic("ap"))
	for i := range 20 {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce to ap: %v", err)
		}
	}
	var grow kadm.AlterPartitionAssignmentsReq
	grow.Assign("ap", 0, []int32{leader, follower})
	if res, err := adm.AlterPartitionAssignments(ctx, grow); err != nil || res["ap"][0].Err != nil {
		t.Fatalf("AlterPartitionAssignments(ap-0 -> [%d %d]) = (%+v, %v)", leader, follower, res, err)
	}
	waitFor(t, "ap-0's ISR to include the new replica", 30*time.Second, func() bool {
		r, isr := replicasOf(t, tc.addrs[controller-1], "ap", 0)
		slices.Sort(isr)
		want := []int32{leader, follower}
		slices.Sort(want)
		return slices.Equal(r, []int32{leader, follower}) && slices.Equal(isr, want)
	})
	ongoing, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"ap": {0: {}}, "el": {0: {}}})
	if err != nil || len(ongoing.Sorted()) != 0 {
		t.Errorf("ListPartitionReassignments after both completed = (%v, %v), want none", ongoing, err)
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestAPIE2EKafkaPythonAdmin runs test/compat/admin_python.py: kafka-python's
// KafkaAdminClient, at the versions it picks, creates topics and
// partitions (validate_only first), describes the cluster and the topic,
// lists, describes and deletes a consumer group a kafka-python consumer
// used, fetches its offsets, and deletes the topic. Skipped when
// kafka-python is not installed.
func TestAPIE2EKafkaPythonAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Python client")
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if out, err := exec.Command(py, "-c", "import kafka").CombinedOutput(); err != nil {
		t.Skipf("kafka-python not installed: %s", strings.TrimSpace(string(out)))
	}
	tn := startNode(t, withFastGroups())
	ctx := ctxTimeout(t, 2*time.Minute)
	out, err := exec.CommandContext(ctx, py, "../../test/compat/admin_python.py", "--bootstrap", tn.addr,
		"--broker-id", strconv.Itoa(int(tn.cfg.NodeID)), "--topic", "py-admin", "--group", "py-group").CombinedOutput()
	t.Logf("admin_python.py:\n%s", out)
	if err != nil {
		t.Fatalf("admin_python.py: %v", err)
	}
	if n := strings.Count(string(out), "PASS:"); n != 14 || strings.Contains(string(out), "FAIL:") {
		t.Fatalf("admin_python.py passed %d checks, want 14 and no failure", n)
	}
}
