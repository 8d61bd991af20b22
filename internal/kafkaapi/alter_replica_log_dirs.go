package kafkaapi

// AlterReplicaLogDirs v1-v2 (KIP-113): move replicas hosted on this broker
// between its log directories. v1: no change (v0 was removed in Kafka 4.0,
// KIP-896). v2: flexible.
// Per partition, as Kafka answers: a directory that is not one of the
// broker's gives LOG_DIR_NOT_FOUND; an offline target directory, an
// offline partition, or any offline directory (no future log is created
// then) KAFKA_STORAGE_ERROR; a partition with no replica here
// REPLICA_NOT_AVAILABLE. Otherwise the move starts and the answer is
// NONE: the replica is copied to a future log in the target directory
// (DescribeLogDirs shows it with is_future_key), which replaces the current
// one once it has caught up. A partition named twice in one request gets
// the last directory, as in Kafka.
// Deliberate differences: Kafka remembers the directory asked for a
// replica that does not exist yet and creates it there later; Strata
// answers REPLICA_NOT_AVAILABLE and remembers nothing. A move cut short
// by a restart is abandoned (Kafka resumes it).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

// ReplicaMover moves replicas between this broker's log directories.
type ReplicaMover interface {
	Move(tp storage.TopicPartition, dir string) error
}

// SetReplicaMover gives the handler the broker's replica mover. Call it
// before serving.
func (h *Handler) SetReplicaMover(m ReplicaMover) { h.mover = m }

func (h *Handler) alterReplicaLogDirs(rc *reqCtx, req *kmsg.AlterReplicaLogDirsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	var order []storage.TopicPartition
	dest := map[storage.TopicPartition]string{}
	for _, d := range req.Dirs {
		for _, t := range d.Topics {
			for _, p := range t.Partitions {
				tp := storage.TopicPartition{Topic: t.Topic, Partition: p}
				if _, seen := dest[tp]; !seen {
					order = append(order, tp)
				}
				dest[tp] = d.Dir
			}
		}
	}
	byTopic := map[string]int{}
	for _, tp := range order {
		code := h.alterReplicaLogDir(rc, tp, dest[tp])
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[tp.Topic] = i
			rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
			rt.Topic = tp.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
		rp.Partition, rp.ErrorCode = tp.Partition, code
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return done(resp)
}

func (h *Handler) alterReplicaLogDir(rc *reqCtx, tp storage.TopicPartition, dir string) int16 {
	if h.cfg.LogDirs == nil || h.mover == nil {
		return kerr.LogDirNotFound.Code
	}
	d, ok := h.cfg.LogDirs.Dir(dir)
	if !ok {
		return kerr.LogDirNotFound.Code
	}
	if d.Err() != nil {
		return kerr.KafkaStorageError.Code
	}
	if _, ok := h.partitions.Get(tp.Topic, tp.Partition); !ok {
		return kerr.ReplicaNotAvailable.Code
	}
	if err := h.mover.Move(tp, dir); err != nil {
		if errors.Is(err, storage.ErrStorageFailed) {
			return kerr.KafkaStorageError.Code
		}
		rc.log.Warn("AlterReplicaLogDirs", "topic", tp.Topic, "partition", tp.Partition, "dir", dir, "err", err)
		return kerr.KafkaStorageError.Code
	}
	return 0
}
