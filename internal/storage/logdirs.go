package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// ErrNoOnlineLogDir: every log directory is offline, so a new partition
// has nowhere to go.
var ErrNoOnlineLogDir = errors.New("no online log directory")

// LogDirs is a broker's log directories (log.dirs, Kafka's JBOD): it places
// new partitions on the online directory holding the fewest, finds the
// directory of each partition, moves partitions between directories
// (AlterReplicaLogDirs) and keeps the others serving when one fails.
//
// Lock order: placeMu, then a LogDir's mu.
type LogDirs struct {
	dirs   []*LogDir // set in OpenLogDirs, never changed; in configured order
	logger *slog.Logger

	// placeMu serialises what decides or changes which directory holds a
	// partition: creation, deletion, future logs and their promotion.
	placeMu sync.Mutex
}

// OpenLogDirs opens every directory of cfgs (see OpenLogDir). A directory
// that fails to open is kept as offline, as Kafka does, unless all fail.
// Then it settles moves a crash interrupted: a partition found in two
// directories keeps the copy whose move had committed (see
// LogDir.promoteFuture) and the other is deleted.
func OpenLogDirs(cfgs []Config) (*LogDirs, error) {
	if len(cfgs) == 0 {
		return nil, errors.New("open log dirs: none configured")
	}
	ds := &LogDirs{logger: cfgs[0].Logger}
	if ds.logger == nil {
		ds.logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	online := 0
	seen := map[DirID]string{}
	for _, cfg := range cfgs {
		d, err := OpenLogDir(cfg)
		if err != nil {
			ds.logger.Error("log dir offline: it could not be opened", "dir", cfg.Dir, "err", err)
			errs = append(errs, err)
			d = offlineLogDir(cfg, err)
		} else {
			online++
			if other, dup := seen[d.ID()]; dup {
				ds.dirs = append(ds.dirs, d)
				ds.closeAll()
				return nil, fmt.Errorf("open log dirs: %s and %s have the same directory.id %s in meta.properties", other, cfg.Dir, d.ID())
			}
			seen[d.ID()] = cfg.Dir
		}
		ds.dirs = append(ds.dirs, d)
	}
	if online == 0 {
		return nil, fmt.Errorf("open log dirs: every log directory failed: %w", errors.Join(errs...))
	}
	if err := ds.settleMoves(); err != nil {
		ds.closeAll()
		return nil, err
	}
	return ds, nil
}

func (ds *LogDirs) closeAll() {
	for _, d := range ds.dirs {
		_ = d.Close()
	}
}

// settleMoves resolves partitions found in more than one directory.
func (ds *LogDirs) settleMoves() error {
	where := map[TopicPartition][]*LogDir{}
	for _, d := range ds.dirs {
		for _, l := range d.Logs() {
			where[l.tp] = append(where[l.tp], d)
		}
	}
	for tp, dirs := range where {
		keep := dirs[0]
		for _, d := range dirs {
			if d.isPromoted(tp) {
				keep = d
				break
			}
		}
		for _, d := range dirs {
			if d == keep {
				continue
			}
			ds.logger.Info("deleting the source log of a completed log dir move", "topic", tp.Topic, "partition", tp.Partition, "dir", d.Path(), "kept", keep.Path())
			if err := d.DeleteLog(tp); err != nil {
				return fmt.Errorf("settle move of %s: %w", tp, err)
			}
		}
		if err := keep.clearPromoted(tp); err != nil {
			return err
		}
	}
	return nil
}

// Dirs returns the directories in configured order.
func (ds *LogDirs) Dirs() []*LogDir { return ds.dirs }

// Dir returns the directory with the given path.
func (ds *LogDirs) Dir(path string) (*LogDir, bool) {
	for _, d := range ds.dirs {
		if d.Path() == path {
			return d, true
		}
	}
	return nil, false
}

// DirOf returns the directory holding tp's current log.
func (ds *LogDirs) DirOf(tp TopicPartition) (*LogDir, bool) {
	for _, d := range ds.dirs {
		if _, ok := d.Log(tp); ok {
			return d, true
		}
	}
	return nil, false
}

// Log returns tp's current log, wherever it is.
func (ds *LogDirs) Log(tp TopicPartition) (*Log, bool) {
	for _, d := range ds.dirs {
		if l, ok := d.Log(tp); ok {
			return l, true
		}
	}
	return nil, false
}

// Logs returns every current log of every directory.
func (ds *LogDirs) Logs() []*Log {
	var out []*Log
	for _, d := range ds.dirs {
		out = append(out, d.Logs()...)
	}
	return out
}

// FutureLog returns tp's future log and its directory while a move of tp
// is under way.
func (ds *LogDirs) FutureLog(tp TopicPartition) (*Log, *LogDir, bool) {
	for _, d := range ds.dirs {
		d.mu.Lock()
		l, ok := d.mu.futures[tp]
		d.mu.Unlock()
		if ok {
			return l, d, true
		}
	}
	return nil, nil, false
}

// CreateLog returns tp's log, creating it if no directory holds it (see
// LogDir.CreateLog). A new log goes to the online directory with the
// fewest logs, the first of them on a tie (Kafka's placement). A log in an
// offline directory is not recreated elsewhere: the error is the
// directory's failure (ErrStorageFailed).
func (ds *LogDirs) CreateLog(tp TopicPartition, topicID [16]byte, cfg LogConfig) (*Log, error) {
	ds.placeMu.Lock()
	defer ds.placeMu.Unlock()
	if d, ok := ds.DirOf(tp); ok {
		return d.CreateLog(tp, topicID, cfg)
	}
	var best *LogDir
	bestN := 0
	for _, d := range ds.dirs {
		if d.Err() != nil {
			continue
		}
		if n := d.NumLogs(); best == nil || n < bestN {
			best, bestN = d, n
		}
	}
	if best == nil {
		return nil, fmt.Errorf("create log %s: %w", tp, ErrNoOnlineLogDir)
	}
	return best.CreateLog(tp, topicID, cfg)
}

// DeleteLog deletes tp's log, and its future log if a move is under way.
func (ds *LogDirs) DeleteLog(tp TopicPartition) error {
	ds.placeMu.Lock()
	defer ds.placeMu.Unlock()
	var errs []error
	if f, fd, ok := ds.FutureLog(tp); ok {
		errs = append(errs, fd.dropFutureLog(f))
	}
	if d, ok := ds.DirOf(tp); ok {
		errs = append(errs, d.DeleteLog(tp))
	}
	return errors.Join(errs...)
}

// CreateFutureLog creates the future log of a move of tp into target,
// empty and starting at startOffset (the current log's start offset).
func (ds *LogDirs) CreateFutureLog(tp TopicPartition, target *LogDir, startOffset int64) (*Log, error) {
	ds.placeMu.Lock()
	defer ds.placeMu.Unlock()
	cur, ok := ds.DirOf(tp)
	if !ok {
		return nil, fmt.Errorf("create future log %s: no current log", tp)
	}
	if cur == target {
		return nil, fmt.Errorf("create future log %s: already in %s", tp, target.Path())
	}
	if _, _, ok := ds.FutureLog(tp); ok {
		return nil, fmt.Errorf("create future log %s: a move is under way", tp)
	}
	l, _ := cur.Log(tp)
	return target.createFutureLog(tp, l.TopicID(), l.Config(), startOffset)
}

// DropFutureLog deletes an abandoned future log.
func (ds *LogDirs) DropFutureLog(future *Log) error {
	ds.placeMu.Lock()
	defer ds.placeMu.Unlock()
	for _, d := range ds.dirs {
		if err := d.dropFutureLog(future); err != nil {
			return err
		}
	}
	return nil
}

// PromoteFuture completes a move: future becomes tp's current log in its
// directory and the previous current log is closed and deleted. The caller
// stops appends to the current log around it (partition.SwapLog), having
// made future hold everything the current log holds.
func (ds *LogDirs) PromoteFuture(future *Log) error {
	ds.placeMu.Lock()
	defer ds.placeMu.Unlock()
	tp := future.tp
	var target *LogDir
	for _, d := range ds.dirs {
		d.mu.Lock()
		if d.mu.futures[tp] == future {
			target = d
		}
		d.mu.Unlock()
	}
	if target == nil {
		return fmt.Errorf("promote future log %s: not a future log", tp)
	}
	source, ok := ds.DirOf(tp)
	if !ok {
		return fmt.Errorf("promote future log %s: no current log", tp)
	}
	if err := target.promoteFuture(future); err != nil {
		return err
	}
	// From here the move has committed: a crash leaves both logs and the
	// next open keeps the promoted one.
	if err := source.DeleteLog(tp); err != nil {
		ds.logger.Warn("deleting the source log of a log dir move", "topic", tp.Topic, "partition", tp.Partition, "dir", source.Path(), "err", err)
		return nil
	}
	if err := target.clearPromoted(tp); err != nil {
		ds.logger.Warn("clearing the promoted marker of a log dir move", "topic", tp.Topic, "partition", tp.Partition, "err", err)
	}
	return nil
}

// Run runs every directory's background work (LogDir.Run) until ctx ends.
// When a directory is or goes offline, onOffline is called with it (on
// Run's goroutine) and the others go on; Run returns the failure when the
// last online directory fails, as Kafka stops a broker with no online log
// directory. It returns nil when ctx ends.
func (ds *LogDirs) Run(ctx context.Context, onOffline func(*LogDir)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		d   *LogDir
		err error
	}
	results := make(chan result, len(ds.dirs)) // one per directory: never blocks
	running := 0
	for _, d := range ds.dirs {
		// NB: a directory that failed before Run (at open, or since)
		// returns its failure at once and is reported like the others.
		running++
		go func() { results <- result{d, d.Run(ctx)} }()
	}
	var last error
	allOffline := false
	for ; running > 0; running-- {
		r := <-results
		if r.err == nil {
			continue // ctx ended
		}
		last = r.err
		if onOffline != nil {
			onOffline(r.d)
		}
		if !ds.anyOnline() {
			allOffline = true
			cancel()
		}
	}
	if allOffline {
		return fmt.Errorf("every log directory is offline: %w", last)
	}
	return nil
}

func (ds *LogDirs) anyOnline() bool {
	for _, d := range ds.dirs {
		if d.Err() == nil {
			return true
		}
	}
	return false
}

// Close closes every directory (see LogDir.Close).
func (ds *LogDirs) Close() error {
	var errs []error
	for _, d := range ds.dirs {
		if err := d.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
