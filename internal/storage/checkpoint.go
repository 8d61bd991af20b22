package storage

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/storage/vfs"
)

// File names in a log directory and in a partition directory.
const (
	cleanShutdownFile         = ".kafka_cleanshutdown"
	recoveryPointFile         = "recovery-point-offset-checkpoint"
	logStartOffsetFile        = "log-start-offset-checkpoint"
	cleanerCheckpointFile     = "cleaner-offset-checkpoint"
	highWatermarkFile         = "replication-offset-checkpoint"
	leaderEpochCheckpointFile = "leader-epoch-checkpoint"
	partitionMetadataFile     = "partition.metadata"
	tmpSuffix                 = ".tmp"
)

// writeFileAtomic replaces path with data: it writes path.tmp, fsyncs it,
// renames it over path and fsyncs the directory, so a crash leaves either
// the old file or the new one.
func writeFileAtomic(fsys vfs.FS, path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, werr)
	}
	if failpoint.Inject(failpoint.CheckpointBeforeRename) {
		return failpoint.Error(failpoint.CheckpointBeforeRename)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if failpoint.Inject(failpoint.CheckpointAfterRename) {
		return failpoint.Error(failpoint.CheckpointAfterRename)
	}
	return syncDir(fsys, filepath.Dir(path))
}

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a crash.
func syncDir(fsys vfs.FS, dir string) error {
	d, err := fsys.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// checkpointLines splits a Kafka text checkpoint into its entry lines after
// checking the version (0) and count lines.
func checkpointLines(b []byte) ([]string, error) {
	text := string(b)
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("%w: checkpoint does not end with a newline", ErrCorruptLog)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("%w: checkpoint has %d lines, want version and count", ErrCorruptLog, len(lines))
	}
	if lines[0] != "0" {
		return nil, fmt.Errorf("%w: checkpoint version %q, want 0", ErrCorruptLog, lines[0])
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: checkpoint count %q", ErrCorruptLog, lines[1])
	}
	if n != len(lines)-2 {
		return nil, fmt.Errorf("%w: checkpoint count %d but %d entries", ErrCorruptLog, n, len(lines)-2)
	}
	return lines[2:], nil
}

// encodeOffsetCheckpoint renders Kafka's offset checkpoint text format:
//
//	0
//	<count>
//	<topic> <partition> <offset>
//	...
//
// Entries are sorted so the output is deterministic.
func encodeOffsetCheckpoint(m map[TopicPartition]int64) []byte {
	tps := make([]TopicPartition, 0, len(m))
	for tp := range m {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, compareTopicPartition)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "0\n%d\n", len(tps))
	for _, tp := range tps {
		fmt.Fprintf(&buf, "%s %d %d\n", tp.Topic, tp.Partition, m[tp])
	}
	return buf.Bytes()
}

func compareTopicPartition(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// decodeOffsetCheckpoint parses encodeOffsetCheckpoint's format.
func decodeOffsetCheckpoint(b []byte) (map[TopicPartition]int64, error) {
	lines, err := checkpointLines(b)
	if err != nil {
		return nil, err
	}
	m := make(map[TopicPartition]int64, len(lines))
	for _, line := range lines {
		f := strings.Split(line, " ")
		if len(f) != 3 || !validTopicName(f[0]) {
			return nil, fmt.Errorf("%w: checkpoint entry %q", ErrCorruptLog, line)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || p < 0 || off < 0 {
			return nil, fmt.Errorf("%w: checkpoint entry %q", ErrCorruptLog, line)
		}
		tp := TopicPartition{Topic: f[0], Partition: int32(p)}
		if _, dup := m[tp]; dup {
			return nil, fmt.Errorf("%w: checkpoint lists %s twice", ErrCorruptLog, tp)
		}
		m[tp] = off
	}
	return m, nil
}

// readOffsetCheckpoint reads a checkpoint file; a missing file is empty.
func readOffsetCheckpoint(fsys vfs.FS, path string) (map[TopicPartition]int64, error) {
	b, err := vfs.ReadFile(fsys, path)
	if errors.Is(err, os.ErrNotExist) {
		return map[TopicPartition]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	m, err := decodeOffsetCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// validTopicName reports whether s is a legal Kafka topic name: 1-249 of
// [a-zA-Z0-9._-], not "." or "..".
func validTopicName(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// epochEntry is one leader epoch and the first offset written in it.
type epochEntry struct {
	Epoch       int32
	StartOffset int64
}

// encodeEpochCheckpoint renders Kafka's leader-epoch-checkpoint format:
//
//	0
//	<count>
//	<epoch> <start offset>
//	...
func encodeEpochCheckpoint(entries []epochEntry) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "0\n%d\n", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&buf, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return buf.Bytes()
}

// decodeEpochCheckpoint parses encodeEpochCheckpoint's format. Epochs and
// start offsets must both increase strictly.
func decodeEpochCheckpoint(b []byte) ([]epochEntry, error) {
	lines, err := checkpointLines(b)
	if err != nil {
		return nil, err
	}
	entries := make([]epochEntry, 0, len(lines))
	for _, line := range lines {
		f := strings.Split(line, " ")
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: epoch entry %q", ErrCorruptLog, line)
		}
		epoch, err1 := strconv.ParseInt(f[0], 10, 32)
		start, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || start < 0 {
			return nil, fmt.Errorf("%w: epoch entry %q", ErrCorruptLog, line)
		}
		e := epochEntry{Epoch: int32(epoch), StartOffset: start}
		if n := len(entries); n > 0 && (e.Epoch <= entries[n-1].Epoch || e.StartOffset <= entries[n-1].StartOffset) {
			return nil, fmt.Errorf("%w: epoch entry %q does not follow %d %d", ErrCorruptLog, line, entries[n-1].Epoch, entries[n-1].StartOffset)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// encodePartitionMetadata renders Kafka's partition.metadata file:
//
//	version: 0
//	topic_id: <22 characters of unpadded URL-safe base64>
func encodePartitionMetadata(topicID [16]byte) []byte {
	return fmt.Appendf(nil, "version: 0\ntopic_id: %s\n", base64.RawURLEncoding.EncodeToString(topicID[:]))
}

// decodePartitionMetadata parses encodePartitionMetadata's format.
func decodePartitionMetadata(b []byte) ([16]byte, error) {
	var id [16]byte
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) != "version: 0" {
		return id, fmt.Errorf("%w: partition metadata %q", ErrCorruptLog, b)
	}
	v, ok := strings.CutPrefix(lines[1], "topic_id: ")
	if !ok {
		return id, fmt.Errorf("%w: partition metadata %q", ErrCorruptLog, b)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(raw) != 16 {
		return id, fmt.Errorf("%w: partition metadata topic id %q", ErrCorruptLog, v)
	}
	copy(id[:], raw)
	return id, nil
}
