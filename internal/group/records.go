package group

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strata-io/strata/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one __consumer_offsets record; Value nil is a tombstone.
type Record = coordinator.Record

// Record types: the int16 that starts every key (Kafka calls it the key
// version). The KIP-848 consumer group records use types 3 to 8 and 16;
// they are defined and decoded in consumer_group_records.go.
const (
	recordTypeOffsetCommitV0 int16 = 0
	recordTypeOffsetCommit   int16 = 1
	recordTypeGroupMetadata  int16 = 2
)

// Value versions written, as Kafka 4 writes them.
const (
	offsetCommitValueVersion       int16 = 3 // 1 when the commit carries an expire timestamp
	offsetCommitValueExpireVersion int16 = 1
	groupMetadataValueVersion      int16 = 3
	// maxValueVersion is the newest value version this build decodes (both
	// OffsetCommitValue and GroupMetadataValue; version 4 is flexible).
	maxValueVersion int16 = 4
)

// ErrCorruptRecord is returned when a __consumer_offsets record of a known
// type does not decode. Load fails on it rather than skip data.
var ErrCorruptRecord = errors.New("corrupt __consumer_offsets record")

// errUnknownRecordType is returned for a key type this build does not know.
type errUnknownRecordType struct{ typ int16 }

func (e errUnknownRecordType) Error() string {
	return fmt.Sprintf("unknown __consumer_offsets record type %d", e.typ)
}

// offsetEntry is one committed offset.
type offsetEntry struct {
	offset          int64
	leaderEpoch     int32 // -1 when unknown
	metadata        string
	commitTimestamp int64 // unix ms
	expireTimestamp int64 // unix ms; -1 unless the commit set a retention time (v2-v4)
	// recordOffset is the __consumer_offsets offset of the record that
	// wrote it: of two commits of a partition, the later record wins when
	// a transaction commits (see completeTxn). Not part of the value.
	recordOffset int64
}

// decodedRecord is one decoded record: exactly one of the key kinds is set,
// chosen by typ, and the value pointer is nil for a tombstone.
type decodedRecord struct {
	typ         int16
	offsetKey   kmsg.OffsetCommitKey
	offsetValue *kmsg.OffsetCommitValue
	groupKey    kmsg.GroupMetadataKey
	groupValue  *kmsg.GroupMetadataValue
	consumer    *consumerRecord // types 3-8 and 16
}

// decodeRecord decodes a key and value read from the log. A zero-length
// value is a tombstone. It never panics and allocates at most a small
// multiple of the input.
func decodeRecord(key, value []byte) (decodedRecord, error) {
	if len(key) < 2 {
		return decodedRecord{}, fmt.Errorf("%w: key of %d bytes", ErrCorruptRecord, len(key))
	}
	d := decodedRecord{typ: int16(binary.BigEndian.Uint16(key))}
	switch d.typ {
	case recordTypeOffsetCommitV0, recordTypeOffsetCommit:
		if err := d.offsetKey.ReadFrom(key); err != nil {
			return d, fmt.Errorf("%w: offset commit key: %v", ErrCorruptRecord, err)
		}
		if len(value) == 0 {
			return d, nil
		}
		v := new(kmsg.OffsetCommitValue)
		if err := v.ReadFrom(value); err != nil {
			return d, fmt.Errorf("%w: offset commit value: %v", ErrCorruptRecord, err)
		}
		if v.Version < 0 || v.Version > maxValueVersion {
			return d, fmt.Errorf("%w: offset commit value version %d", ErrCorruptRecord, v.Version)
		}
		d.offsetValue = v
	case recordTypeGroupMetadata:
		if err := d.groupKey.ReadFrom(key); err != nil {
			return d, fmt.Errorf("%w: group metadata key: %v", ErrCorruptRecord, err)
		}
		if len(value) == 0 {
			return d, nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(value); err != nil {
			return d, fmt.Errorf("%w: group metadata value: %v", ErrCorruptRecord, err)
		}
		if v.Version < 0 || v.Version > maxValueVersion {
			return d, fmt.Errorf("%w: group metadata value version %d", ErrCorruptRecord, v.Version)
		}
		d.groupValue = v
	default:
		if !isConsumerRecordType(d.typ) {
			return d, errUnknownRecordType{d.typ}
		}
		c, err := decodeConsumerRecord(d.typ, key, value)
		if err != nil {
			return d, err
		}
		d.consumer = c
	}
	return d, nil
}

// entryFromValue converts a decoded OffsetCommitValue.
func entryFromValue(v *kmsg.OffsetCommitValue) offsetEntry {
	e := offsetEntry{
		offset:          v.Offset,
		leaderEpoch:     -1,
		metadata:        v.Metadata,
		commitTimestamp: v.CommitTimestamp,
		expireTimestamp: -1,
	}
	if v.Version >= 3 {
		e.leaderEpoch = v.LeaderEpoch
	}
	if v.Version == 1 {
		e.expireTimestamp = v.ExpireTimestamp
	}
	return e
}

func offsetCommitKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: recordTypeOffsetCommit, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

// offsetCommitRecord builds the record Kafka writes for a commit: value
// version 3, or 1 when the commit carries an expire timestamp.
func offsetCommitRecord(group, topic string, partition int32, e offsetEntry) Record {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetCommitValueVersion
	v.Offset = e.offset
	v.LeaderEpoch = e.leaderEpoch
	v.Metadata = e.metadata
	v.CommitTimestamp = e.commitTimestamp
	if e.expireTimestamp >= 0 {
		v.Version = offsetCommitValueExpireVersion
		v.ExpireTimestamp = e.expireTimestamp
	}
	return Record{Key: offsetCommitKey(group, topic, partition), Value: v.AppendTo(nil)}
}

func offsetTombstone(group, topic string, partition int32) Record {
	return Record{Key: offsetCommitKey(group, topic, partition)}
}

func groupMetadataKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: recordTypeGroupMetadata, Group: group}
	return k.AppendTo(nil)
}

// groupMetadataRecord encodes v (its Version is set here) for group.
func groupMetadataRecord(group string, v *kmsg.GroupMetadataValue) Record {
	v.Version = groupMetadataValueVersion
	return Record{Key: groupMetadataKey(group), Value: v.AppendTo(nil)}
}

func groupTombstone(group string) Record {
	return Record{Key: groupMetadataKey(group)}
}
