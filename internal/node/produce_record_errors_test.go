package node

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/record"
)

// testRecord is a record for buildBatch: a nil key is a null key.
type testRecord struct {
	key       []byte
	timestamp int64
}

func buildBatch(t *testing.T, codec record.Codec, recs ...testRecord) []byte {
	t.Helper()
	b := record.NewBuilder(codec, recs[0].timestamp)
	for i, r := range recs {
		b.Add(r.timestamp, r.key, []byte("value-"+strconv.Itoa(i)), nil)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// recordErrorsOf returns a partition's record errors as index: message.
func recordErrorsOf(p kmsg.ProduceResponseTopicPartition) map[int32]string {
	out := map[int32]string{}
	for _, e := range p.ErrorRecords {
		msg := "<null>"
		if e.ErrorMessage != nil {
			msg = *e.ErrorMessage
		}
		out[e.RelativeOffset] = msg
	}
	return out
}

// TestProduceRecordErrors checks KIP-467 per-record errors: a batch with
// invalid records fails as a whole with INVALID_RECORD or
// INVALID_TIMESTAMP, record_errors name exactly the bad records, and
// nothing is appended.
func TestProduceRecordErrors(t *testing.T) {
	tn := startNode(t)
	hour := strconv.Itoa(int(time.Hour.Milliseconds()))
	tn.createTopic("compacted", 1, map[string]*string{"cleanup.policy": ptr("compact,delete")})
	tn.createTopic("bounded", 1, map[string]*string{
		"message.timestamp.before.max.ms": ptr(hour),
		"message.timestamp.after.max.ms":  ptr(hour),
	})
	tn.createTopic("bounded-compacted", 1, map[string]*string{
		"cleanup.policy":                 ptr("compact"),
		"message.timestamp.after.max.ms": ptr(hour),
	})
	rc := dialRaw(t, tn.addr)
	now := time.Now().UnixMilli()
	k := func(s string) []byte { return []byte(s) }
	keyless := "Compacted topic cannot accept message without key in topic partition "

	for _, codec := range []record.Codec{record.CodecNone, record.CodecLZ4, record.CodecZstd} {
		t.Run("keyless records on a compacted topic, "+codec.String(), func(t *testing.T) {
			b := buildBatch(t, codec,
				testRecord{k("a"), now}, testRecord{nil, now}, testRecord{k("c"), now},
				testRecord{nil, now}, testRecord{[]byte{}, now})
			p := rc.send(produceReq(12, -1, "compacted", b)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			if p.ErrorCode != kerr.InvalidRecord.Code || p.BaseOffset != -1 {
				t.Fatalf("produce error %d at base offset %d, want INVALID_RECORD (87) at -1", p.ErrorCode, p.BaseOffset)
			}
			want := map[int32]string{1: keyless + "compacted-0", 3: keyless + "compacted-0"}
			if diff := cmp.Diff(want, recordErrorsOf(p)); diff != "" {
				t.Errorf("record errors (-want +got):\n%s", diff)
			}
			wantMsg := fmt.Sprintf("One or more records have been rejected due to 2 record errors in total, and only showing the first three errors at most: "+
				"[RecordError(batchIndex=1, message='%[1]scompacted-0'), RecordError(batchIndex=3, message='%[1]scompacted-0')]", keyless)
			if p.ErrorMessage == nil || *p.ErrorMessage != wantMsg {
				t.Errorf("error message %v, want %q", strPtr(p.ErrorMessage), wantMsg)
			}
		})
	}
	if hw := highWatermark(t, tn.addr, "compacted"); hw != 0 {
		t.Fatalf("compacted topic high watermark %d after refused batches, want 0 (nothing appended)", hw)
	}

	t.Run("more than three errors are all listed, three shown in the message", func(t *testing.T) {
		b := buildBatch(t, record.CodecNone, testRecord{nil, now}, testRecord{nil, now}, testRecord{nil, now}, testRecord{nil, now}, testRecord{k("e"), now})
		p := rc.send(produceReq(9, 1, "compacted", b)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode != kerr.InvalidRecord.Code || len(p.ErrorRecords) != 4 {
			t.Fatalf("produce error %d with %d record errors, want INVALID_RECORD with 4", p.ErrorCode, len(p.ErrorRecords))
		}
		for i, e := range p.ErrorRecords {
			if e.RelativeOffset != int32(i) {
				t.Errorf("record error %d names record %d, want %d", i, e.RelativeOffset, i)
			}
		}
		if p.ErrorMessage == nil || !regexp.MustCompile(`^One or more records have been rejected due to 4 record errors in total, .*\[RecordError\(batchIndex=0, .*batchIndex=1, .*batchIndex=2, [^,]*\)\]$`).MatchString(*p.ErrorMessage) {
			t.Errorf("error message %v, want 4 errors counted and the first three shown", strPtr(p.ErrorMessage))
		}
	})

	t.Run("before v8 the code alone", func(t *testing.T) {
		b := buildBatch(t, record.CodecNone, testRecord{k("a"), now}, testRecord{nil, now})
		p := rc.send(produceReq(7, -1, "compacted", b)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode != kerr.InvalidRecord.Code || len(p.ErrorRecords) != 0 || p.ErrorMessage != nil {
			t.Errorf("produce v7: error %d, %d record errors, message %v; want INVALID_RECORD alone", p.ErrorCode, len(p.ErrorRecords), strPtr(p.ErrorMessage))
		}
	})

	tsRange := regexp.MustCompile(`^Timestamp (-?\d+) of message with offset (\d+) is out of range\. The timestamp should be within \[(-?\d+), (-?\d+)\]$`)
	checkTimestampErrors := func(t *testing.T, p kmsg.ProduceResponseTopicPartition, want map[int32]int64) {
		t.Helper()
		if p.ErrorCode != kerr.InvalidTimestamp.Code {
			t.Fatalf("produce error %d, want INVALID_TIMESTAMP (32)", p.ErrorCode)
		}
		if want := "One or more records have been rejected due to invalid timestamp"; p.ErrorMessage == nil || *p.ErrorMessage != want {
			t.Errorf("error message %v, want %q", strPtr(p.ErrorMessage), want)
		}
		got := recordErrorsOf(p)
		if len(got) != len(want) {
			t.Fatalf("record errors %v, want records %v", got, want)
		}
		for i, ts := range want {
			m := tsRange.FindStringSubmatch(got[i])
			if m == nil || m[1] != strconv.FormatInt(ts, 10) || m[2] != strconv.Itoa(int(i)) {
				t.Errorf("record %d error %q, want timestamp %d out of range", i, got[i], ts)
				continue
			}
			lo, _ := strconv.ParseInt(m[3], 10, 64)
			hi, _ := strconv.ParseInt(m[4], 10, 64)
			if hi-lo != 2*time.Hour.Milliseconds() || lo > now || hi < now {
				t.Errorf("record %d error %q: range [%d, %d] is not now ± 1h", i, got[i], lo, hi)
			}
		}
	}
	past, future := now-2*time.Hour.Milliseconds(), now+2*time.Hour.Milliseconds()
	for _, codec := range []record.Codec{record.CodecNone, record.CodecGzip} {
		t.Run("timestamps out of range, "+codec.String(), func(t *testing.T) {
			b := buildBatch(t, codec,
				testRecord{k("a"), now}, testRecord{k("b"), past}, testRecord{k("c"), future},
				testRecord{k("d"), -1}, testRecord{k("e"), now + 1000})
			p := rc.send(produceReq(12, -1, "bounded", b)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			checkTimestampErrors(t, p, map[int32]int64{1: past, 2: future})
		})
	}
	if hw := highWatermark(t, tn.addr, "bounded"); hw != 0 {
		t.Fatalf("bounded topic high watermark %d after refused batches, want 0", hw)
	}

	t.Run("a key error and a timestamp error make INVALID_TIMESTAMP", func(t *testing.T) {
		b := buildBatch(t, record.CodecSnappy, testRecord{nil, now}, testRecord{k("b"), future}, testRecord{k("c"), now})
		p := rc.send(produceReq(12, -1, "bounded-compacted", b)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode != kerr.InvalidTimestamp.Code {
			t.Fatalf("produce error %d, want INVALID_TIMESTAMP (32)", p.ErrorCode)
		}
		got := recordErrorsOf(p)
		if len(got) != 2 || got[0] != keyless+"bounded-compacted-0" || !tsRange.MatchString(got[1]) {
			t.Errorf("record errors %q, want record 0's missing key and record 1's timestamp", got)
		}
	})

	t.Run("two batches for one partition", func(t *testing.T) {
		one := buildBatch(t, record.CodecNone, testRecord{k("a"), now})
		p := rc.send(produceReq(12, -1, "bounded", append(append([]byte{}, one...), one...))).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode != kerr.InvalidRecord.Code || len(p.ErrorRecords) != 0 {
			t.Errorf("produce of two batches: error %d with %d record errors, want INVALID_RECORD alone", p.ErrorCode, len(p.ErrorRecords))
		}
	})

	t.Run("valid batches append", func(t *testing.T) {
		for _, topic := range []string{"compacted", "bounded", "bounded-compacted"} {
			b := buildBatch(t, record.CodecZstd, testRecord{k("a"), now}, testRecord{k("b"), now - 1000}, testRecord{k("c"), -1})
			p := rc.send(produceReq(12, -1, topic, b)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			if p.ErrorCode != 0 || p.BaseOffset != 0 {
				t.Errorf("produce to %s: error %d at offset %d, want success at offset 0", topic, p.ErrorCode, p.BaseOffset)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

func strPtr(s *string) string {
	if s == nil {
		return "<null>"
	}
	return strconv.Quote(*s)
}
