package node

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/storage"
)

// onLogDirOffline runs (on the log directories' Run goroutine) when a log
// directory fails: the partitions in it stop replicating and leading here
// (their logs already refuse reads and writes, so clients get
// KAFKA_STORAGE_ERROR), their coordinator shards unload, and the heartbeat
// loop tells the controller at once, which moves their leadership to other
// replicas. The other directories keep serving (Kafka's JBOD).
func (n *Node) onLogDirOffline(d *storage.LogDir) {
	n.reconcileMu.Lock()
	offline := 0
	for _, p := range n.parts.All() {
		l, ok := d.Log(storage.TopicPartition{Topic: p.Topic, Partition: p.Index})
		if !ok || l != p.Log() {
			continue
		}
		offline++
		if c := n.coordinatorOf(p.Topic); c != nil {
			c.Unload(p.Index)
		}
		n.replicas.Unfollow(p)
		n.replicas.Unlead(p)
	}
	n.reconcileMu.Unlock()
	n.log.Error("log directory offline: its partitions are offline on this broker until it restarts",
		"dir", d.Path(), "directory_id", d.ID().String(), "partitions", offline, "err", d.Err())
	select {
	case n.heartbeatNow <- struct{}{}:
	default:
	}
}

// onCorruptLog runs when storage finds a corrupt batch in l, or a read
// meets one (on that reader's or the scrubber's goroutine; it must not
// block). A follower's fetcher repairs it: it truncates the log to the
// corrupt batch and fetches the rest again from the leader. A replica this
// broker leads cannot be repaired here, and must not serve what it lost:
// its directory goes offline, as for any storage error, so the controller
// moves the leadership to an in-sync replica, whose copy is intact
// (followers check every batch's CRC when they append it).
func (n *Node) onCorruptLog(l *storage.Log) {
	tp := l.TopicPartition()
	p, ok := n.parts.Get(tp.Topic, tp.Partition)
	if !ok || p.Log() != l || !p.IsLeader() {
		return // followed (the fetcher repairs it), or not a current replica
	}
	if n.logDirs == nil {
		return
	}
	if d, ok := n.logDirs.DirOf(tp); ok && d.Err() == nil {
		d.Fail(fmt.Errorf("%s: corrupt batch at offset %d in the log this broker leads", tp, l.CorruptOffset()))
	}
}

// offlineLogDirs returns the ids of the offline log directories and the
// assignment of the replicas in them, for the heartbeat.
func (n *Node) offlineLogDirs() ([]metadata.UUID, []controller.DirAssignment) {
	if n.logDirs == nil {
		return nil, nil
	}
	var ids []metadata.UUID
	var dirs []controller.DirAssignment
	for _, d := range n.logDirs.Dirs() {
		if d.Err() == nil {
			continue
		}
		a := controller.DirAssignment{Dir: metadata.UUID(d.ID())}
		for _, l := range d.Logs() {
			a.Partitions = append(a.Partitions, controller.ReplicaRef{TopicID: metadata.UUID(l.TopicID()), Partition: l.TopicPartition().Partition})
		}
		ids = append(ids, a.Dir)
		dirs = append(dirs, a)
	}
	return ids, dirs
}

// logDirMover moves partition replicas between this broker's log
// directories (AlterReplicaLogDirs): for each move it fills a future log in
// the target directory from the current log while the partition serves,
// then swaps them (partition.SwapLog) and deletes the old log, as Kafka's
// ReplicaAlterLogDirsThread does. Run is its one goroutine; Move hands it
// work.
type logDirMover struct {
	n    *Node
	wake chan struct{} // buffer 1: a move was added

	mu    sync.Mutex
	moves map[storage.TopicPartition]*logDirMove // guarded by mu

	// beforeSwap, for tests, runs on Run's goroutine when a future log
	// has caught up, before the swap; nil in production.
	beforeSwap atomic.Pointer[func(storage.TopicPartition)]
}

type logDirMove struct {
	p      *partition.Partition
	future *storage.Log
}

func newLogDirMover(n *Node) *logDirMover {
	return &logDirMover{n: n, wake: make(chan struct{}, 1), moves: map[storage.TopicPartition]*logDirMove{}}
}

// Move starts moving tp's replica to the log directory at path. A replica
// already there is left alone (and a move elsewhere under way is
// cancelled); a move to another directory replaces one under way.
func (m *logDirMover) Move(tp storage.TopicPartition, path string) error {
	ds := m.n.logDirs
	target, ok := ds.Dir(path)
	if !ok {
		return fmt.Errorf("%s is not a log directory of this broker", path)
	}
	if err := target.Err(); err != nil {
		return err
	}
	// As Kafka: no future log while a directory is offline, so that a
	// partition never has future logs in two directories.
	for _, d := range ds.Dirs() {
		if err := d.Err(); err != nil {
			return fmt.Errorf("log dir %s is offline: %w", d.Path(), err)
		}
	}
	p, ok := m.n.parts.Get(tp.Topic, tp.Partition)
	if !ok {
		return fmt.Errorf("no replica of %s on this broker", tp)
	}
	if p.Log().Offline() {
		return fmt.Errorf("partition %s is offline: %w", tp, storage.ErrStorageFailed)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if mv, ok := m.moves[tp]; ok {
		if f, fd, ok := ds.FutureLog(tp); ok && f == mv.future && fd == target {
			return nil // already moving there
		}
		delete(m.moves, tp)
		if err := ds.DropFutureLog(mv.future); err != nil {
			return err
		}
	}
	if cur, ok := ds.DirOf(tp); ok && cur == target {
		return nil
	}
	future, err := ds.CreateFutureLog(tp, target, p.Log().LogStartOffset())
	if err != nil {
		return err
	}
	m.moves[tp] = &logDirMove{p: p, future: future}
	m.n.log.Info("moving replica to another log directory", "topic", tp.Topic, "partition", tp.Partition, "dir", path)
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// moveChunkBytes is how much one step of a move copies before the mover
// turns to the next move.
const moveChunkBytes = 4 << 20

// Run copies until ctx ends; moves left unfinished are abandoned (their
// future logs are removed at the next start).
func (m *logDirMover) Run(ctx context.Context) error {
	for {
		m.mu.Lock()
		pending := make(map[storage.TopicPartition]*logDirMove, len(m.moves))
		for tp, mv := range m.moves {
			pending[tp] = mv
		}
		m.mu.Unlock()
		if len(pending) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-m.wake:
				continue
			}
		}
		for tp, mv := range pending {
			if ctx.Err() != nil {
				return nil
			}
			m.step(tp, mv)
		}
	}
}

// step copies one chunk of a move, and swaps the logs once the future log
// has caught up.
func (m *logDirMover) step(tp storage.TopicPartition, mv *logDirMove) {
	caughtUp, err := mv.p.CopyToFuture(mv.future, moveChunkBytes)
	if err == nil && caughtUp {
		if hook := m.beforeSwap.Load(); hook != nil {
			(*hook)(tp)
		}
		start := time.Now()
		err = mv.p.SwapLog(mv.future, func() error { return m.n.logDirs.PromoteFuture(mv.future) })
		if err == nil {
			m.finish(tp, mv, nil)
			m.n.log.Info("replica moved to another log directory", "topic", tp.Topic, "partition", tp.Partition,
				"dir", m.dirOf(tp), "log_end_offset", mv.future.LogEndOffset(), "swap", time.Since(start).Round(time.Microsecond))
			return
		}
	}
	if err != nil {
		m.n.log.Warn("log directory move abandoned", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		m.finish(tp, mv, err)
	}
}

// finish forgets mv, removing its future log if the move failed.
func (m *logDirMover) finish(tp storage.TopicPartition, mv *logDirMove, failed error) {
	m.mu.Lock()
	if m.moves[tp] == mv {
		delete(m.moves, tp)
	}
	m.mu.Unlock()
	if failed != nil {
		if err := m.n.logDirs.DropFutureLog(mv.future); err != nil {
			m.n.log.Warn("removing the future log of an abandoned move", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
	}
}

func (m *logDirMover) dirOf(tp storage.TopicPartition) string {
	if d, ok := m.n.logDirs.DirOf(tp); ok {
		return d.Path()
	}
	return ""
}
