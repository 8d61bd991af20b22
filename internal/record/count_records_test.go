package record

import "fmt"

// CountRecords walks the records of an uncompressed batch without copying
// anything and returns how many there are: the full decode that tests use
// to check what the builder writes and what CheckFraming accepts. It checks the framing as Records
// does (errors wrap ErrCorrupt) and that the offset deltas run 0, 1, ...,
// NumRecords-1 (errors wrap ErrInvalid). A compressed batch gives
// ErrUnsupported: decompress it with Records instead.
func CountRecords(batch []byte) (int, error) {
	h, data, err := recordsOf(batch)
	if err != nil {
		return 0, err
	}
	if c := h.Codec(); c != CodecNone {
		return 0, fmt.Errorf("%w: count records of a %s batch", ErrUnsupported, c)
	}
	if err := checkRecordCount(h.NumRecords, len(data)); err != nil {
		return 0, err
	}
	var r Record
	for i := range h.NumRecords {
		n, err := parseRecord(data, &r, false)
		if err != nil {
			return 0, fmt.Errorf("record %d of %d: %w", i, h.NumRecords, err)
		}
		if r.OffsetDelta != i {
			return 0, fmt.Errorf("%w: record %d has offset delta %d", ErrInvalid, i, r.OffsetDelta)
		}
		data = data[n:]
	}
	if len(data) != 0 {
		return 0, fmt.Errorf("%w: %d bytes after %d records", ErrCorrupt, len(data), h.NumRecords)
	}
	return int(h.NumRecords), nil
}
