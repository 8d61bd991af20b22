package kafkaapi

// DescribeLogDirs v1-v4 (KIP-113).
//   v1: no change. v2: flexible. v3 (KIP-784): top-level error
//   code. v4 (KIP-827): total and usable bytes of the directory's volume.
// A Strata broker has one log directory (Config.LogDir), so the answer has
// one entry. Null topics describe every partition hosted here; partitions
// not hosted here are left out, as in Kafka. Per partition: size is the
// sum of its segment files; offset lag is Kafka's max(HighWatermark -
// LogEndOffset, 0), which is 0 on a leader and, since a follower's high
// watermark never exceeds its log end offset, 0 on a follower too; there are
// no future (is_future) replicas because reassignment between directories
// does not exist here. v5's is_cordoned is not served.

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) describeLogDirs(rc *reqCtx, req *kmsg.DescribeLogDirsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var want map[string]map[int32]bool // nil: every partition
	if req.Topics != nil {
		want = make(map[string]map[int32]bool, len(req.Topics))
		for _, t := range req.Topics {
			ps := want[t.Topic]
			if ps == nil {
				ps = make(map[int32]bool, len(t.Partitions))
				want[t.Topic] = ps
			}
			for _, p := range t.Partitions {
				ps[p] = true
			}
		}
	}
	var parts []*partition.Partition
	for _, p := range h.partitions.All() {
		if want == nil || want[p.Topic][p.Index] {
			parts = append(parts, p)
		}
	}
	slices.SortFunc(parts, func(a, b *partition.Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Index, b.Index))
	})
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = h.cfg.LogDir
	for _, p := range parts {
		if n := len(dir.Topics); n == 0 || dir.Topics[n-1].Topic != p.Topic {
			rt := kmsg.NewDescribeLogDirsResponseDirTopic()
			rt.Topic = p.Topic
			dir.Topics = append(dir.Topics, rt)
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition = p.Index
		rp.Size = p.Log().Size()
		rp.OffsetLag = max(p.HighWatermark()-p.LogEndOffset(), 0)
		rt := &dir.Topics[len(dir.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	if req.Version >= 4 && h.cfg.LogDir != "" {
		total, usable, err := volumeBytes(h.cfg.LogDir)
		if err != nil {
			// The sizes are informative; answer without them (-1).
			rc.log.Warn("statfs of the log directory", "dir", h.cfg.LogDir, "err", err)
		} else {
			dir.TotalBytes, dir.UsableBytes = total, usable
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return done(resp)
}
