package kafkaapi

// DescribeLogDirs v1-v4 (KIP-113).
//   v1: no change. v2: flexible. v3 (KIP-784): top-level error
//   code. v4 (KIP-827): total and usable bytes of the directory's volume.
// One entry per log directory (log.dirs), in configured order. An offline
// directory is reported with KAFKA_STORAGE_ERROR and no partitions, as
// Kafka does. Null topics describe every partition hosted here; partitions
// not hosted here are left out, as in Kafka. Per partition: size is the
// sum of its segment files; offset lag is Kafka's max(HighWatermark -
// LogEndOffset, 0) for the current replica (0 on a leader, and on a
// follower too, whose high watermark never exceeds its log end offset),
// and, for the future replica of an AlterReplicaLogDirs move
// (is_future_key), how far it trails the current replica's log end offset.
// v5's is_cordoned is not served.

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
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
	wanted := func(tp storage.TopicPartition) bool { return want == nil || want[tp.Topic][tp.Partition] }
	if h.cfg.LogDirs == nil {
		// A handler without log directories (tests): one entry for
		// LogDir with every hosted partition.
		var rps []logDirReplica
		for _, p := range h.partitions.All() {
			if wanted(storage.TopicPartition{Topic: p.Topic, Partition: p.Index}) {
				rps = append(rps, h.currentReplica(p.Log()))
			}
		}
		resp.Dirs = append(resp.Dirs, h.logDirEntry(rc, req.Version, h.cfg.LogDir, rps))
		return done(resp)
	}
	for _, d := range h.cfg.LogDirs.Dirs() {
		if d.Err() != nil {
			dir := kmsg.NewDescribeLogDirsResponseDir()
			dir.Dir, dir.ErrorCode = d.Path(), kerr.KafkaStorageError.Code
			resp.Dirs = append(resp.Dirs, dir)
			continue
		}
		var rps []logDirReplica
		for _, l := range d.Logs() {
			if wanted(l.TopicPartition()) {
				rps = append(rps, h.currentReplica(l))
			}
		}
		for _, l := range d.FutureLogs() {
			tp := l.TopicPartition()
			if !wanted(tp) {
				continue
			}
			lag := int64(-1)
			if cur, ok := h.cfg.LogDirs.Log(tp); ok {
				lag = max(cur.LogEndOffset()-l.LogEndOffset(), 0)
			}
			rps = append(rps, logDirReplica{tp: tp, size: l.Size(), lag: lag, future: true})
		}
		resp.Dirs = append(resp.Dirs, h.logDirEntry(rc, req.Version, d.Path(), rps))
	}
	return done(resp)
}

// logDirReplica is one replica in a DescribeLogDirs answer.
type logDirReplica struct {
	tp        storage.TopicPartition
	size, lag int64
	future    bool
}

// currentReplica describes a partition's current log.
func (h *Handler) currentReplica(l *storage.Log) logDirReplica {
	tp := l.TopicPartition()
	r := logDirReplica{tp: tp, size: l.Size()}
	if p, ok := h.partitions.Get(tp.Topic, tp.Partition); ok && p.Log() == l {
		r.lag = max(p.HighWatermark()-l.LogEndOffset(), 0)
	}
	return r
}

// logDirEntry builds one directory's entry: replicas grouped by topic, in
// topic and partition order (a current replica before a future one).
func (h *Handler) logDirEntry(rc *reqCtx, version int16, path string, rps []logDirReplica) kmsg.DescribeLogDirsResponseDir {
	slices.SortFunc(rps, func(a, b logDirReplica) int {
		return cmp.Or(cmp.Compare(a.tp.Topic, b.tp.Topic), cmp.Compare(a.tp.Partition, b.tp.Partition), cmpBool(a.future, b.future))
	})
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = path
	for _, r := range rps {
		if n := len(dir.Topics); n == 0 || dir.Topics[n-1].Topic != r.tp.Topic {
			rt := kmsg.NewDescribeLogDirsResponseDirTopic()
			rt.Topic = r.tp.Topic
			dir.Topics = append(dir.Topics, rt)
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition, rp.Size, rp.OffsetLag, rp.IsFuture = r.tp.Partition, r.size, r.lag, r.future
		rt := &dir.Topics[len(dir.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	if version >= 4 && path != "" {
		total, usable, err := volumeBytes(path)
		if err != nil {
			// The sizes are informative; answer without them (-1).
			rc.log.Warn("statfs of the log directory", "dir", path, "err", err)
		} else {
			dir.TotalBytes, dir.UsableBytes = total, usable
		}
	}
	return dir
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
