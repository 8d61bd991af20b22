package group

// The KIP-848 consumer group records of __consumer_offsets, in Apache
// Kafka 4.0's schemas (group-coordinator/src/main/resources/common/message/
// ConsumerGroup*.json). franz-go's kmsg has no types for them, so they are
// encoded here by hand; docs/format/consumer-offsets.md gives the byte
// layouts.
//
// Keys are not flexible: int16 type | string group [| string member or
// regex], strings with an int16 length. Values are version 0 and
// flexible: int16 version, then compact strings and arrays (uvarint length
// + 1, 0 for null) and a tagged-field section at the end of every struct.
// Unknown tagged fields are skipped when read and not written back.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Record types of the consumer group records (Kafka's key versions).
const (
	recordTypeConsumerGroupMetadata                 int16 = 3
	recordTypeConsumerGroupPartitionMetadata        int16 = 4
	recordTypeConsumerGroupMemberMetadata           int16 = 5
	recordTypeConsumerGroupTargetAssignmentMetadata int16 = 6
	recordTypeConsumerGroupTargetAssignmentMember   int16 = 7
	recordTypeConsumerGroupCurrentMemberAssignment  int16 = 8
	recordTypeConsumerGroupRegularExpression        int16 = 16
)

// consumerValueVersion is the only value version of the consumer group
// records (Kafka 4.0 writes and reads version 0).
const consumerValueVersion int16 = 0

func isConsumerRecordType(typ int16) bool {
	switch typ {
	case recordTypeConsumerGroupMetadata, recordTypeConsumerGroupPartitionMetadata,
		recordTypeConsumerGroupMemberMetadata, recordTypeConsumerGroupTargetAssignmentMetadata,
		recordTypeConsumerGroupTargetAssignmentMember, recordTypeConsumerGroupCurrentMemberAssignment,
		recordTypeConsumerGroupRegularExpression:
		return true
	}
	return false
}

// consumerRecord is one decoded consumer group record. typ selects which
// key fields and which value pointer are meaningful; every value pointer is
// nil for a tombstone.
type consumerRecord struct {
	typ    int16
	group  string
	member string // types 5, 7, 8
	regex  string // type 16

	groupEpoch      *int32            // 3: ConsumerGroupMetadataValue.Epoch
	topics          []topicMetadata   // 4: ConsumerGroupPartitionMetadataValue (non-nil unless tombstone)
	memberMetadata  *memberMetadata   // 5
	assignmentEpoch *int32            // 6: ConsumerGroupTargetAssignmentMetadataValue.AssignmentEpoch
	target          assignment        // 7 (non-nil unless tombstone)
	current         *memberAssignment // 8
	resolved        *resolvedRegex    // 16
	hasValue        bool              // false: tombstone
}

// topicMetadata is one topic of ConsumerGroupPartitionMetadataValue: the
// subscribed topics as the last target assignment saw them.
type topicMetadata struct {
	ID         [16]byte
	Name       string
	Partitions int32
}

// memberMetadata is ConsumerGroupMemberMetadataValue.
type memberMetadata struct {
	instanceID         *string
	rackID             *string
	clientID           string
	clientHost         string
	subscribedTopics   []string // sorted, no duplicates
	subscribedRegex    string   // "" when none
	rebalanceTimeoutMs int32
	serverAssignor     string // "" when none
}

// memberAssignment is ConsumerGroupCurrentMemberAssignmentValue.
type memberAssignment struct {
	memberEpoch         int32
	previousMemberEpoch int32
	state               memberState
	assigned            assignment
	pendingRevocation   assignment
}

// resolvedRegex is ConsumerGroupRegularExpressionValue: the topics a
// subscription regex matched when last resolved.
type resolvedRegex struct {
	topics    []string // sorted
	version   int64    // Kafka: the metadata offset resolved at; Strata writes 0
	timestamp int64    // unix ms of the resolution
}

// encode returns the record's key and value (nil value: tombstone).
func (r *consumerRecord) encode() Record {
	key := binary.BigEndian.AppendUint16(nil, uint16(r.typ))
	key = appendString(key, r.group)
	switch r.typ {
	case recordTypeConsumerGroupMemberMetadata, recordTypeConsumerGroupTargetAssignmentMember, recordTypeConsumerGroupCurrentMemberAssignment:
		key = appendString(key, r.member)
	case recordTypeConsumerGroupRegularExpression:
		key = appendString(key, r.regex)
	}
	if !r.hasValue {
		return Record{Key: key}
	}
	v := binary.BigEndian.AppendUint16(nil, uint16(consumerValueVersion))
	switch r.typ {
	case recordTypeConsumerGroupMetadata:
		v = binary.BigEndian.AppendUint32(v, uint32(*r.groupEpoch))
	case recordTypeConsumerGroupPartitionMetadata:
		v = appendCompactLen(v, len(r.topics))
		for _, t := range r.topics {
			v = append(v, t.ID[:]...)
			v = appendCompactString(v, t.Name)
			v = binary.BigEndian.AppendUint32(v, uint32(t.Partitions))
			v = appendCompactLen(v, 0) // PartitionMetadata: unused since Kafka 4.0
			v = append(v, 0)           // tags
		}
	case recordTypeConsumerGroupMemberMetadata:
		m := r.memberMetadata
		v = appendCompactNullableString(v, m.instanceID)
		v = appendCompactNullableString(v, m.rackID)
		v = appendCompactString(v, m.clientID)
		v = appendCompactString(v, m.clientHost)
		v = appendCompactLen(v, len(m.subscribedTopics))
		for _, t := range m.subscribedTopics {
			v = appendCompactString(v, t)
		}
		v = appendCompactNullableString(v, nonEmpty(m.subscribedRegex))
		v = binary.BigEndian.AppendUint32(v, uint32(m.rebalanceTimeoutMs))
		v = appendCompactNullableString(v, nonEmpty(m.serverAssignor))
	case recordTypeConsumerGroupTargetAssignmentMetadata:
		v = binary.BigEndian.AppendUint32(v, uint32(*r.assignmentEpoch))
	case recordTypeConsumerGroupTargetAssignmentMember:
		v = appendAssignment(v, r.target)
	case recordTypeConsumerGroupCurrentMemberAssignment:
		c := r.current
		v = binary.BigEndian.AppendUint32(v, uint32(c.memberEpoch))
		v = binary.BigEndian.AppendUint32(v, uint32(c.previousMemberEpoch))
		v = append(v, byte(c.state))
		v = appendAssignment(v, c.assigned)
		v = appendAssignment(v, c.pendingRevocation)
	case recordTypeConsumerGroupRegularExpression:
		v = appendCompactLen(v, len(r.resolved.topics))
		for _, t := range r.resolved.topics {
			v = appendCompactString(v, t)
		}
		v = binary.BigEndian.AppendUint64(v, uint64(r.resolved.version))
		v = binary.BigEndian.AppendUint64(v, uint64(r.resolved.timestamp))
	}
	v = append(v, 0) // tags
	return Record{Key: key, Value: v}
}

// decodeConsumerRecord decodes a record whose key type is one of the
// consumer group types. A zero-length value is a tombstone.
func decodeConsumerRecord(typ int16, key, value []byte) (*consumerRecord, error) {
	r := &consumerRecord{typ: typ}
	kr := reader{b: key[2:]}
	r.group = kr.string()
	switch typ {
	case recordTypeConsumerGroupMemberMetadata, recordTypeConsumerGroupTargetAssignmentMember, recordTypeConsumerGroupCurrentMemberAssignment:
		r.member = kr.string()
	case recordTypeConsumerGroupRegularExpression:
		r.regex = kr.string()
	}
	if err := kr.done(); err != nil {
		return nil, fmt.Errorf("%w: consumer group record key type %d: %v", ErrCorruptRecord, typ, err)
	}
	if len(value) == 0 {
		return r, nil
	}
	r.hasValue = true
	vr := reader{b: value}
	if version := vr.int16(); vr.err == nil && version != consumerValueVersion {
		return nil, fmt.Errorf("%w: consumer group record type %d: value version %d", ErrCorruptRecord, typ, version)
	}
	switch typ {
	case recordTypeConsumerGroupMetadata:
		e := vr.int32()
		r.groupEpoch = &e
	case recordTypeConsumerGroupPartitionMetadata:
		n := vr.compactLen(16 + 1 + 4 + 1 + 1)
		r.topics = make([]topicMetadata, 0, n)
		for range n {
			var t topicMetadata
			t.ID = vr.uuid()
			t.Name = vr.compactString()
			t.Partitions = vr.int32()
			for range vr.compactLen(4 + 1 + 1) { // PartitionMetadata: read and dropped
				vr.int32()
				for range vr.compactLen(1) {
					vr.compactString()
				}
				vr.skipTags()
			}
			vr.skipTags()
			r.topics = append(r.topics, t)
		}
	case recordTypeConsumerGroupMemberMetadata:
		m := new(memberMetadata)
		m.instanceID = vr.compactNullableString()
		m.rackID = vr.compactNullableString()
		m.clientID = vr.compactString()
		m.clientHost = vr.compactString()
		n := vr.compactLen(1)
		m.subscribedTopics = make([]string, 0, n)
		for range n {
			m.subscribedTopics = append(m.subscribedTopics, vr.compactString())
		}
		m.subscribedTopics = sortedUnique(m.subscribedTopics)
		if re := vr.compactNullableString(); re != nil {
			m.subscribedRegex = *re
		}
		m.rebalanceTimeoutMs = vr.int32()
		if a := vr.compactNullableString(); a != nil {
			m.serverAssignor = *a
		}
		r.memberMetadata = m
	case recordTypeConsumerGroupTargetAssignmentMetadata:
		e := vr.int32()
		r.assignmentEpoch = &e
	case recordTypeConsumerGroupTargetAssignmentMember:
		r.target = vr.assignment()
	case recordTypeConsumerGroupCurrentMemberAssignment:
		c := new(memberAssignment)
		c.memberEpoch = vr.int32()
		c.previousMemberEpoch = vr.int32()
		c.state = memberStateFromByte(vr.int8())
		c.assigned = vr.assignment()
		c.pendingRevocation = vr.assignment()
		r.current = c
	case recordTypeConsumerGroupRegularExpression:
		rr := new(resolvedRegex)
		n := vr.compactLen(1)
		rr.topics = make([]string, 0, n)
		for range n {
			rr.topics = append(rr.topics, vr.compactString())
		}
		rr.topics = sortedUnique(rr.topics)
		rr.version = vr.int64()
		rr.timestamp = vr.int64()
		r.resolved = rr
	}
	vr.skipTags()
	if err := vr.done(); err != nil {
		return nil, fmt.Errorf("%w: consumer group record type %d value: %v", ErrCorruptRecord, typ, err)
	}
	return r, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendCompactLen(b []byte, n int) []byte { return binary.AppendUvarint(b, uint64(n)+1) }

func appendCompactString(b []byte, s string) []byte {
	b = appendCompactLen(b, len(s))
	return append(b, s...)
}

func appendCompactNullableString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 0)
	}
	return appendCompactString(b, *s)
}

// appendAssignment writes a []TopicPartitions (topic id, partitions, tags)
// in topic id order.
func appendAssignment(b []byte, a assignment) []byte {
	ids := a.topicIDs()
	b = appendCompactLen(b, len(ids))
	for _, id := range ids {
		b = append(b, id[:]...)
		ps := a[id]
		b = appendCompactLen(b, len(ps))
		for _, p := range ps {
			b = binary.BigEndian.AppendUint32(b, uint32(p))
		}
		b = append(b, 0) // tags
	}
	return b
}

// reader decodes big-endian and flexible fields; the first error sticks
// and later reads return zero values. Lengths are checked against the
// bytes left before anything is allocated.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) int8() int8 {
	if b := r.take(1); b != nil {
		return int8(b[0])
	}
	return 0
}

func (r *reader) int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *reader) int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *reader) int64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (r *reader) uuid() [16]byte {
	var id [16]byte
	if b := r.take(16); b != nil {
		copy(id[:], b)
	}
	return id
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errors.New("bad uvarint"))
		return 0
	}
	r.b = r.b[n:]
	return v
}

// string reads a non-flexible string (int16 length).
func (r *reader) string() string {
	n := r.int16()
	if n < 0 {
		r.fail(errors.New("null string"))
		return ""
	}
	return string(r.take(int(n)))
}

func (r *reader) compactNullableString() *string {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return nil
	}
	if n-1 > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	s := string(r.take(int(n - 1)))
	return &s
}

func (r *reader) compactString() string {
	s := r.compactNullableString()
	if s == nil {
		r.fail(errors.New("null string in a non-nullable field"))
		return ""
	}
	return *s
}

// compactLen reads a non-nullable array length whose elements take at
// least minElem bytes each.
func (r *reader) compactLen(minElem int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n == 0 {
		r.fail(errors.New("null array in a non-nullable field"))
		return 0
	}
	n--
	if n > math.MaxInt32 || int(n)*minElem > len(r.b) {
		r.fail(errShort)
		return 0
	}
	return int(n)
}

func (r *reader) skipTags() {
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		r.uvarint() // tag
		size := r.uvarint()
		if size > uint64(len(r.b)) {
			r.fail(errShort)
			return
		}
		r.take(int(size))
	}
}

// assignment reads a []TopicPartitions into an assignment (partitions
// sorted, duplicates dropped, empty topics left out).
func (r *reader) assignment() assignment {
	n := r.compactLen(16 + 1 + 1)
	a := make(assignment, n)
	for range n {
		id := r.uuid()
		m := r.compactLen(4)
		ps := make([]int32, 0, m)
		for range m {
			ps = append(ps, r.int32())
		}
		r.skipTags()
		if len(ps) > 0 {
			a[id] = sortedUnique(append(a[id], ps...))
		}
	}
	return a
}

func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return nil
}

// sortedUnique sorts s in place and drops duplicates.
func sortedUnique[T interface{ ~int32 | ~string }](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}
