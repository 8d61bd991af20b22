package storage

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
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

// offsetIndexView is a read-only view of an offset index: the in-memory
// entries of the active segment, or the first n entries of a sealed
// segment's index file read with pread (no per-segment copy in memory).
type offsetIndexView struct {
	mem []offsetEntry
	f   *os.File
	n   int
}

func (v offsetIndexView) len() int {
	if v.f == nil {
		return len(v.mem)
	}
	return v.n
}

func (v offsetIndexView) at(i int) (offsetEntry, error) {
	if v.f == nil {
		return v.mem[i], nil
	}
	var b [offsetEntrySize]byte
	if _, err := v.f.ReadAt(b[:], int64(i)*offsetEntrySize); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return offsetEntry{}, fmt.Errorf("read offset index entry %d: %w", i, err)
	}
	return parseOffsetEntry(b[:]), nil
}

// floor returns the last entry for which ok(entry) holds, where ok must hold
// for a prefix of the entries. found is false if it holds for none.
func (v offsetIndexView) floor(ok func(offsetEntry) bool) (e offsetEntry, found bool, err error) {
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
		return offsetEntry{}, false, ioErr
	}
	if i == 0 {
		return offsetEntry{}, false, nil
	}
	e, err = v.at(i - 1)
	return e, err == nil, err
}

// timeIndexView is offsetIndexView's counterpart for time indexes.
type timeIndexView struct {
	mem []timeEntry
	f   *os.File
	n   int
}

func (v timeIndexView) len() int {
	if v.f == nil {
		return len(v.mem)
	}
	return v.n
}

func (v timeIndexView) at(i int) (timeEntry, error) {
	if v.f == nil {
		return v.mem[i], nil
	}
	var b [timeEntrySize]byte
	if _, err := v.f.ReadAt(b[:], int64(i)*timeEntrySize); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return timeEntry{}, fmt.Errorf("read time index entry %d: %w", i, err)
	}
	return parseTimeEntry(b[:]), nil
}

// floorTimestamp returns the last entry with Timestamp <= ts.
func (v timeIndexView) floorTimestamp(ts int64) (e timeEntry, found bool, err error) {
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
		return e.Timestamp > ts
	})
	if ioErr != nil {
		return timeEntry{}, false, ioErr
	}
	if i == 0 {
		return timeEntry{}, false, nil
	}
	e, err = v.at(i - 1)
	return e, err == nil, err
}
