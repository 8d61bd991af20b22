package storage

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// Index entry sizes (Kafka's formats).
const (
	offsetEntrySize = 8  // relative offset uint32, position uint32
	timeEntrySize   = 12 // timestamp int64, relative offset uint32
)

// offsetEntry maps the last offset of a batch (relative to the segment's base
// offset) to the batch's byte position in the segment file.
type offsetEntry struct {
	RelOffset uint32
	Position  uint32
}

// timeEntry records that the largest timestamp in the segment up to the
// batch ending at RelOffset is Timestamp, and that all batches before that
// batch have smaller timestamps.
type timeEntry struct {
	Timestamp int64
	RelOffset uint32
}

func appendOffsetEntry(b []byte, e offsetEntry) []byte {
	b = binary.BigEndian.AppendUint32(b, e.RelOffset)
	return binary.BigEndian.AppendUint32(b, e.Position)
}

func appendTimeEntry(b []byte, e timeEntry) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(e.Timestamp))
	return binary.BigEndian.AppendUint32(b, e.RelOffset)
}

func parseOffsetEntry(b []byte) offsetEntry {
	return offsetEntry{RelOffset: binary.BigEndian.Uint32(b), Position: binary.BigEndian.Uint32(b[4:])}
}

func parseTimeEntry(b []byte) timeEntry {
	return timeEntry{Timestamp: int64(binary.BigEndian.Uint64(b)), RelOffset: binary.BigEndian.Uint32(b[8:])}
}

// decodeOffsetIndex decodes a whole offset index file. Entries must increase
// strictly in both offset and position, and positions must lie below
// logSize. Any violation means the index must be rebuilt.
func decodeOffsetIndex(b []byte, logSize int64) ([]offsetEntry, error) {
	if len(b)%offsetEntrySize != 0 {
		return nil, fmt.Errorf("%w: offset index of %d bytes is not a multiple of %d", ErrCorruptLog, len(b), offsetEntrySize)
	}
	entries := make([]offsetEntry, 0, len(b)/offsetEntrySize)
	for i := 0; i < len(b); i += offsetEntrySize {
		e := parseOffsetEntry(b[i:])
		if int64(e.Position) >= logSize {
			return nil, fmt.Errorf("%w: offset index entry %d position %d beyond segment size %d", ErrCorruptLog, i/offsetEntrySize, e.Position, logSize)
		}
		if n := len(entries); n > 0 && (e.RelOffset <= entries[n-1].RelOffset || e.Position <= entries[n-1].Position) {
			return nil, fmt.Errorf("%w: offset index entry %d (%d, %d) does not follow (%d, %d)", ErrCorruptLog,
				i/offsetEntrySize, e.RelOffset, e.Position, entries[n-1].RelOffset, entries[n-1].Position)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// decodeTimeIndex decodes a whole time index file. Timestamps and offsets
// must increase strictly; offsets must be below maxRel (the segment's next
// offset relative to its base).
func decodeTimeIndex(b []byte, maxRel int64) ([]timeEntry, error) {
	if len(b)%timeEntrySize != 0 {
		return nil, fmt.Errorf("%w: time index of %d bytes is not a multiple of %d", ErrCorruptLog, len(b), timeEntrySize)
	}
	entries := make([]timeEntry, 0, len(b)/timeEntrySize)
	for i := 0; i < len(b); i += timeEntrySize {
		e := parseTimeEntry(b[i:])
		if e.Timestamp < 0 || int64(e.RelOffset) >= maxRel {
			return nil, fmt.Errorf("%w: time index entry %d (%d, %d) out of range", ErrCorruptLog, i/timeEntrySize, e.Timestamp, e.RelOffset)
		}
		if n := len(entries); n > 0 && (e.Timestamp <= entries[n-1].Timestamp || e.RelOffset <= entries[n-1].RelOffset) {
			return nil, fmt.Errorf("%w: time index entry %d (%d, %d) does not follow (%d, %d)", ErrCorruptLog,
				i/timeEntrySize, e.Timestamp, e.RelOffset, entries[n-1].Timestamp, entries[n-1].RelOffset)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func encodeOffsetIndex(entries []offsetEntry) []byte {
	b := make([]byte, 0, len(entries)*offsetEntrySize)
	for _, e := range entries {
		b = appendOffsetEntry(b, e)
	}
	return b
}

func encodeTimeIndex(entries []timeEntry) []byte {
	b := make([]byte, 0, len(entries)*timeEntrySize)
	for _, e := range entries {
		b = appendTimeEntry(b, e)
	}
	return b
}

// indexEntry is an offset or time index entry: both are fixed-size and
// parsed from their bytes.
type indexEntry interface{ offsetEntry | timeEntry }

// indexView is a read-only view of an index: the in-memory entries of the
// active segment, or the first n entries of a sealed segment's index file
// read with pread (no per-segment copy in memory).
type indexView[E indexEntry] struct {
	mem []E
	f   io.ReaderAt
	n   int
}

// offsetIndexView and timeIndexView are the two kinds of index.
type (
	offsetIndexView = indexView[offsetEntry]
	timeIndexView   = indexView[timeEntry]
)

func (v indexView[E]) len() int {
	if v.f == nil {
		return len(v.mem)
	}
	return v.n
}

func (v indexView[E]) at(i int) (E, error) {
	var e E
	if v.f == nil {
		return v.mem[i], nil
	}
	var buf [timeEntrySize]byte // the larger of the two entry sizes
	size := offsetEntrySize
	if _, ok := any(&e).(*timeEntry); ok {
		size = timeEntrySize
	}
	if _, err := readSmallAt(v.f, buf[:size], int64(i)*int64(size)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return e, fmt.Errorf("read index entry %d: %w", i, err)
	}
	switch p := any(&e).(type) {
	case *offsetEntry:
		*p = parseOffsetEntry(buf[:size])
	case *timeEntry:
		*p = parseTimeEntry(buf[:size])
	}
	return e, nil
}

// floor returns the last entry for which ok(entry) holds, where ok must hold
// for a prefix of the entries. found is false if it holds for none.
func (v indexView[E]) floor(ok func(E) bool) (e E, found bool, err error) {
	var ioErr error
	i := sort.Search(v.len(), func(i int) bool {
		if ioErr != nil {
			return true
		}
		e, err := v.at(i)
		if err != nil {
			ioErr = err
			return true
		}
		return !ok(e)
	})
	if ioErr != nil {
		return e, false, ioErr
	}
	if i == 0 {
		return e, false, nil
	}
	e, err = v.at(i - 1)
	return e, err == nil, err
}

// floorTimestamp returns the last time index entry with Timestamp <= ts.
func floorTimestamp(v timeIndexView, ts int64) (timeEntry, bool, error) {
	return v.floor(func(e timeEntry) bool { return e.Timestamp <= ts })
}
