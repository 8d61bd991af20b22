package kafkaapi

// Zero-copy encoding of Fetch responses (v0-v17; the broker serves v4+).
// The response is written by hand, byte for byte as kmsg would write it,
// except that each partition's records are file sections (storage.Chunk)
// that the connection writer sends with sendfile. The encoder produces a
// server.Body: the framing bytes, in one buffer, cut where record sections
// go. The version-dependent layout (KIP-482 flexible versions from v12):
//
//	ThrottleMillis int32 (v1+)   ErrorCode int16, SessionID int32 (v7+)
//	[Topics]  Topic string (v0-12) | TopicID uuid (v13+)
//	  [Partitions]  Partition int32, ErrorCode int16, HighWatermark int64,
//	    LastStableOffset int64 (v4+), LogStartOffset int64 (v5+),
//	    [AbortedTransactions] nullable (v4+): ProducerID int64, FirstOffset int64
//	    PreferredReadReplica int32 (v11+), RecordBatches nullable bytes,
//	    tags (v12+): 0 DivergingEpoch, 1 CurrentLeader, 2 SnapshotID
//	tags (v12+): 0 Brokers (NodeEndpoints, KIP-951)
//
// Arrays, strings and bytes are compact (uvarint length+1, 0 for null) in
// flexible versions, else int32 (int16 for strings) with -1 for null. A
// tagged struct is sent only when it differs from its default (all -1), as
// kmsg does. Unknown tags are never set by the broker and are not written.

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

// encodeFetchResponse encodes resp as a Body. records holds, for every
// partition of resp in order (topics, then their partitions), the file
// sections of its records; a partition with no sections is written with its
// RecordBatches bytes instead (null when nil).
func encodeFetchResponse(resp *kmsg.FetchResponse, records [][]storage.Chunk) *server.Body {
	e := fetchEncoder{flexible: resp.Version >= 12, buf: make([]byte, 0, 256)}
	v := resp.Version
	if v >= 1 {
		e.int32(resp.ThrottleMillis)
	}
	if v >= 7 {
		e.int16(resp.ErrorCode)
		e.int32(resp.SessionID)
	}
	e.arrayLen(len(resp.Topics), false)
	i := 0
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		if v <= 12 {
			e.string(t.Topic)
		} else {
			e.buf = append(e.buf, t.TopicID[:]...)
		}
		e.arrayLen(len(t.Partitions), false)
		for pi := range t.Partitions {
			var chunks []storage.Chunk
			if i < len(records) {
				chunks = records[i]
			}
			i++
			e.partition(v, &t.Partitions[pi], chunks)
		}
		e.noTags()
	}
	if e.flexible {
		if len(resp.Brokers) == 0 {
			e.buf = append(e.buf, 0)
		} else {
			e.buf = append(e.buf, 1, 0) // one tag: 0
			e.brokers(resp.Brokers)
		}
	}
	b := e.body()
	b.ThrottleAtStart = v >= 1
	return b
}

// fetchEncoder accumulates framing bytes and the file sections between
// them. The sections are only recorded as cut points until body, since
// buf moves as it grows.
type fetchEncoder struct {
	flexible bool
	buf      []byte
	cuts     []fetchCut
}

type fetchCut struct {
	at     int // len(buf) where the section goes
	chunks []storage.Chunk
}

func (e *fetchEncoder) body() *server.Body {
	b := &server.Body{Flexible: e.flexible}
	prev := 0
	for _, c := range e.cuts {
		if c.at > prev {
			b.Pieces = append(b.Pieces, server.Piece{Bytes: e.buf[prev:c.at]})
		}
		for _, ch := range c.chunks {
			switch {
			case ch.Size <= 0:
			case ch.File != nil:
				b.Pieces = append(b.Pieces, server.Piece{File: ch.File, Pos: ch.Pos, Size: ch.Size})
			default:
				// Read and CRC-checked by storage already (not zero-copy).
				b.Pieces = append(b.Pieces, server.Piece{Bytes: ch.Bytes})
			}
		}
		prev = c.at
	}
	if len(e.buf) > prev {
		b.Pieces = append(b.Pieces, server.Piece{Bytes: e.buf[prev:]})
	}
	return b
}

func (e *fetchEncoder) partition(v int16, p *kmsg.FetchResponseTopicPartition, chunks []storage.Chunk) {
	e.int32(p.Partition)
	e.int16(p.ErrorCode)
	e.int64(p.HighWatermark)
	if v >= 4 {
		e.int64(p.LastStableOffset)
	}
	if v >= 5 {
		e.int64(p.LogStartOffset)
	}
	if v >= 4 {
		e.arrayLen(len(p.AbortedTransactions), p.AbortedTransactions == nil)
		for _, a := range p.AbortedTransactions {
			e.int64(a.ProducerID)
			e.int64(a.FirstOffset)
			e.noTags()
		}
	}
	if v >= 11 {
		e.int32(p.PreferredReadReplica)
	}
	var size int64
	for _, c := range chunks {
		size += c.Size
	}
	switch {
	case size > 0:
		e.bytesLen(int(size), false)
		e.cuts = append(e.cuts, fetchCut{at: len(e.buf), chunks: chunks})
	default:
		e.bytesLen(len(p.RecordBatches), p.RecordBatches == nil)
		e.buf = append(e.buf, p.RecordBatches...)
	}
	if !e.flexible {
		return
	}
	de, cl, sn := p.DivergingEpoch, p.CurrentLeader, p.SnapshotID
	hasDE := de.Epoch != -1 || de.EndOffset != -1
	hasCL := cl.LeaderID != -1 || cl.LeaderEpoch != -1
	hasSN := sn.EndOffset != -1 || sn.Epoch != -1
	n := 0
	for _, has := range []bool{hasDE, hasCL, hasSN} {
		if has {
			n++
		}
	}
	e.uvarint(uint64(n))
	// Each tagged struct: tag, size, fields, its own empty tag section.
	if hasDE {
		e.buf = append(e.buf, 0, 4+8+1)
		e.int32(de.Epoch)
		e.int64(de.EndOffset)
		e.noTags()
	}
	if hasCL {
		e.buf = append(e.buf, 1, 4+4+1)
		e.int32(cl.LeaderID)
		e.int32(cl.LeaderEpoch)
		e.noTags()
	}
	if hasSN {
		e.buf = append(e.buf, 2, 8+4+1)
		e.int64(sn.EndOffset)
		e.int32(sn.Epoch)
		e.noTags()
	}
}

// brokers writes the NodeEndpoints tag's size and value (flexible only).
func (e *fetchEncoder) brokers(bs []kmsg.FetchResponseBroker) {
	sub := fetchEncoder{flexible: true}
	sub.arrayLen(len(bs), false)
	for _, b := range bs {
		sub.int32(b.NodeID)
		sub.string(b.Host)
		sub.int32(b.Port)
		sub.nullableString(b.Rack)
		sub.noTags()
	}
	e.uvarint(uint64(len(sub.buf)))
	e.buf = append(e.buf, sub.buf...)
}

func (e *fetchEncoder) int16(x int16) { e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(x)) }
func (e *fetchEncoder) int32(x int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(x)) }
func (e *fetchEncoder) int64(x int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(x)) }

func (e *fetchEncoder) uvarint(x uint64) { e.buf = binary.AppendUvarint(e.buf, x) }

// noTags writes an empty tag section (flexible versions only).
func (e *fetchEncoder) noTags() {
	if e.flexible {
		e.buf = append(e.buf, 0)
	}
}

// arrayLen writes an array's length prefix.
func (e *fetchEncoder) arrayLen(n int, null bool) {
	switch {
	case e.flexible && null:
		e.uvarint(0)
	case e.flexible:
		e.uvarint(uint64(n) + 1)
	case null:
		e.int32(-1)
	default:
		e.int32(int32(n))
	}
}

// bytesLen writes a byte field's length prefix; the bytes follow.
func (e *fetchEncoder) bytesLen(n int, null bool) { e.arrayLen(n, null) }

func (e *fetchEncoder) string(s string) {
	if e.flexible {
		e.uvarint(uint64(len(s)) + 1)
	} else {
		e.int16(int16(len(s)))
	}
	e.buf = append(e.buf, s...)
}

func (e *fetchEncoder) nullableString(s *string) {
	if s != nil {
		e.string(*s)
		return
	}
	if e.flexible {
		e.uvarint(0)
	} else {
		e.int16(-1)
	}
}
