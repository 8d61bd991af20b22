package kafkaapi

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

// maxValidateDecompressed bounds the memory used to read the records of one
// compressed batch for the per-record checks.
const maxValidateDecompressed = 64 << 20

// recordErrors is a batch refused for some of its records (KIP-467). It
// wraps errInvalidTimestamp when any record's timestamp is out of range
// (INVALID_TIMESTAMP), else record.ErrInvalid (INVALID_RECORD), as Kafka's
// LogValidator.processRecordErrors chooses.
type recordErrors struct {
	records   []kmsg.ProduceResponseTopicPartitionErrorRecord // in batch order
	timestamp bool                                            // any error is a timestamp's
}

func (e *recordErrors) add(index int32, timestamp bool, msg string) {
	r := kmsg.NewProduceResponseTopicPartitionErrorRecord()
	r.RelativeOffset, r.ErrorMessage = index, &msg
	e.records = append(e.records, r)
	e.timestamp = e.timestamp || timestamp
}

// Error is the partition's error_message, in Kafka's words.
func (e *recordErrors) Error() string {
	if e.timestamp {
		return "One or more records have been rejected due to invalid timestamp"
	}
	shown := make([]string, 0, 3)
	for _, r := range e.records[:min(len(e.records), 3)] {
		shown = append(shown, fmt.Sprintf("RecordError(batchIndex=%d, message='%s')", r.RelativeOffset, *r.ErrorMessage))
	}
	return fmt.Sprintf("One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: [%s]",
		len(e.records), strings.Join(shown, ", "))
}

func (e *recordErrors) Unwrap() error {
	if e.timestamp {
		return errInvalidTimestamp
	}
	return record.ErrInvalid
}

// appendOne validates the batches for one partition and appends them
// without transaction verification.
func (h *Handler) appendOne(p *partition.Partition, records []byte, now time.Time, acks int16) (storage.AppendInfo, error) {
	var producer producerOf
	if _, err := h.validateProduce(p, records, maxProduceVersion, now, &producer); err != nil {
		return storage.AppendInfo{}, err
	}
	return p.AppendAsLeader(records, now, acks)
}

// maxProduceVersion is the newest Produce version there is; appendOne
// validates as for it.
const maxProduceVersion = 12

// validateProduce checks a partition's records before they are appended,
// as Kafka's produce path does (ProduceRequest.validateRecords,
// UnifiedLog.analyzeAndValidateRecords, LogValidator), and reports whether
// the batch is transactional, noting its producer in txn. Nothing is
// appended unless every check passes.
func (h *Handler) validateProduce(p *partition.Partition, records []byte, version int16, now time.Time, txn *producerOf) (bool, error) {
	lim := p.Limits()
	if len(records) == 0 {
		return false, fmt.Errorf("%w: no record batch", record.ErrInvalid)
	}
	b, rest, err := record.NextBatch(records)
	if err != nil {
		return false, err
	}
	if len(rest) > 0 {
		// Produce v3+ carries exactly one batch per partition.
		return false, fmt.Errorf("%w: more than one record batch for a partition", record.ErrInvalid)
	}
	if int64(len(b)) > lim.MaxMessageBytes {
		return false, errMessageTooLarge
	}
	hdr, err := record.ValidateBatch(b)
	if err != nil {
		return false, err
	}
	if hdr.Codec() == record.CodecZstd && version < 7 {
		return false, fmt.Errorf("%w: zstd needs Produce v7 or later", record.ErrUnsupported)
	}
	if err := record.ValidateProduced(&hdr); err != nil {
		return false, err
	}
	if hdr.IsControl() {
		// Only transaction coordinators write markers (WriteTxnMarkers).
		return false, fmt.Errorf("%w: clients may not write control batches", record.ErrInvalid)
	}
	if hdr.IsTransactional() {
		if !hdr.HasProducerID() {
			return false, record.ErrInvalid
		}
		txn.add(hdr.ProducerID, hdr.ProducerEpoch)
	}
	rc := recordCheck{
		tp:         fmt.Sprintf("%s-%d", p.Topic, p.Index),
		compact:    lim.Compact,
		createTime: !lim.LogAppendTime,
		before:     lim.TimestampBeforeMaxMs,
		after:      lim.TimestampAfterMaxMs,
		nowMs:      now.UnixMilli(),
		batchLAT:   hdr.IsLogAppendTime(),
	}
	if !rc.needed(&hdr) {
		// The records cannot fail a per-record check: only the framing
		// of an uncompressed batch is left to check, cheaply.
		if hdr.Codec() == record.CodecNone {
			if err := record.CheckFraming(b); err != nil {
				return false, err
			}
		}
		return hdr.IsTransactional(), nil
	}
	var bad recordErrors
	if err := record.ScanRecords(b, maxValidateDecompressed, func(m record.RecordMeta) { rc.check(m, &bad) }); err != nil {
		return false, err
	}
	if len(bad.records) > 0 {
		return false, &bad
	}
	return hdr.IsTransactional(), nil
}

// recordCheck holds what the per-record checks of one batch need.
type recordCheck struct {
	tp            string // "topic-partition", for messages
	compact       bool   // cleanup.policy has compact: every record needs a key
	createTime    bool   // message.timestamp.type=CreateTime
	before, after int64  // message.timestamp.{before,after}.max.ms
	nowMs         int64
	batchLAT      bool // the batch says LogAppendTime
}

// needed reports whether some record of the batch could fail a check, so
// that the records must be read. NB: for a compressed batch on a CreateTime
// topic with no before bound, a max timestamp within the after bound
// proves every record is: the records are then not decompressed (the log's
// time index trusts the same field).
func (rc *recordCheck) needed(h *record.Header) bool {
	switch {
	case rc.compact, rc.batchLAT:
		return true
	case !rc.createTime:
		return false
	case h.Codec() == record.CodecNone:
		return rc.before != math.MaxInt64 || rc.after != math.MaxInt64
	case rc.before != math.MaxInt64:
		return true
	default:
		return rc.after != math.MaxInt64 && -(rc.nowMs-h.MaxTimestamp) > rc.after
	}
}

// check is Kafka's LogValidator.validateRecord for a v2 record: a key on a
// compacted topic first, then the timestamp; one error per record at most.
func (rc *recordCheck) check(m record.RecordMeta, bad *recordErrors) {
	if rc.compact && m.NullKey {
		bad.add(m.Index, false, "Compacted topic cannot accept message without key in topic partition "+rc.tp)
		return
	}
	switch {
	case rc.createTime && m.Timestamp != -1:
		// NB: Kafka's arithmetic, overflow included.
		diff := rc.nowMs - m.Timestamp
		if diff > rc.before || -diff > rc.after {
			bad.add(m.Index, true, fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
				m.Timestamp, m.Index, rc.nowMs-rc.before, rc.nowMs+rc.after))
		}
	case rc.batchLAT:
		bad.add(m.Index, true, fmt.Sprintf("Invalid timestamp type in message with offset %d. Producer should not set timestamp type to LogAppendTime.", m.Index))
	}
}
