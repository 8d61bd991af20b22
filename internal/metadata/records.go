package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors from decoding and applying records.
var (
	// ErrCorrupt means bytes do not decode as a record, batch or snapshot.
	ErrCorrupt = errors.New("corrupt metadata")
	// ErrUnknownRecord means a record has a type or version this build does
	// not know, most likely written by a newer Strata.
	ErrUnknownRecord = errors.New("unknown metadata record type or version")
	// ErrInconsistent means a well-formed record does not fit the image it is
	// applied to (a partition of an unknown topic, a duplicate topic...).
	ErrInconsistent = errors.New("metadata record inconsistent with image")
)

// RecordType identifies a record's struct in the encoded frame. Values are
// stable: never reuse or renumber one.
type RecordType uint8

const (
	ClusterIDRecordType      RecordType = 1
	RegisterBrokerRecordType RecordType = 2
	TopicRecordType          RecordType = 3
	PartitionRecordType      RecordType = 4
	RemoveTopicRecordType    RecordType = 5
	ConfigRecordType         RecordType = 6
	ProducerIDsRecordType    RecordType = 7
	// BrokerRegistrationChangeRecordType was added in format version 1
	// without changing any earlier record: older binaries refuse it with
	// ErrUnknownRecord rather than skip it.
	BrokerRegistrationChangeRecordType RecordType = 8
	// UnregisterBrokerRecordType was added in format version 1 like type 8.
	UnregisterBrokerRecordType RecordType = 9
	// FeatureLevelRecordType takes Kafka's number for the record (12), away
	// from the dense range other record types grow into.
	FeatureLevelRecordType RecordType = 12
	// UserScramCredentialRecordType and RemoveUserScramCredentialRecordType
	// hold SCRAM credentials (KIP-554); added in format version 1 like type 8.
	UserScramCredentialRecordType       RecordType = 20
	RemoveUserScramCredentialRecordType RecordType = 21
)

func (t RecordType) String() string {
	switch t {
	case ClusterIDRecordType:
		return "ClusterIDRecord"
	case RegisterBrokerRecordType:
		return "RegisterBrokerRecord"
	case TopicRecordType:
		return "TopicRecord"
	case PartitionRecordType:
		return "PartitionRecord"
	case RemoveTopicRecordType:
		return "RemoveTopicRecord"
	case ConfigRecordType:
		return "ConfigRecord"
	case ProducerIDsRecordType:
		return "ProducerIDsRecord"
	case BrokerRegistrationChangeRecordType:
		return "BrokerRegistrationChangeRecord"
	case UnregisterBrokerRecordType:
		return "UnregisterBrokerRecord"
	case FeatureLevelRecordType:
		return "FeatureLevelRecord"
	case UserScramCredentialRecordType:
		return "UserScramCredentialRecord"
	case RemoveUserScramCredentialRecordType:
		return "RemoveUserScramCredentialRecord"
	case ClientQuotaRecordType:
		return "ClientQuotaRecord"
	case AccessControlEntryRecordType:
		return "AccessControlEntryRecord"
	case RemoveAccessControlEntryRecordType:
		return "RemoveAccessControlEntryRecord"
	default:
		return fmt.Sprintf("RecordType(%d)", uint8(t))
	}
}

// ResourceType is the config resource type, numbered as Kafka's
// ConfigResource.Type.
type ResourceType int8

const (
	ResourceTopic  ResourceType = 2
	ResourceBroker ResourceType = 4
	// ResourceGroup configs belong to a consumer, share or streams group
	// (KIP-848); ResourceName is the group id.
	ResourceGroup ResourceType = 32
)

// Record is one typed metadata record. The set of records is closed: only
// the types in this package implement it.
type Record interface {
	// Type is the record's type byte.
	Type() RecordType
	// Version is the version this build writes for the type.
	Version() uint8

	appendFields(b []byte) []byte
	decodeFields(r *reader, version uint8)
}

// ClusterIDRecord sets the cluster id, once. Kafka keeps the cluster id in
// meta.properties; Strata also records it in the log so every replica of the
// metadata agrees on it.
type ClusterIDRecord struct {
	ClusterID string
}

// RegisterBrokerRecord registers a broker or replaces its registration.
type RegisterBrokerRecord struct {
	NodeID int32
	// IncarnationID is random per broker process start, so a restarted
	// broker is told apart from a stale one.
	IncarnationID UUID
	// BrokerEpoch is assigned by the controller, increasing per registration.
	BrokerEpoch int64
	// Host and Port are the broker's first listener: its inter-broker
	// listener (what records before version 2 held as the only one).
	Host string
	Port int32
	// Rack is "" when the broker has no rack.
	Rack   string
	Fenced bool
	// Features are the feature level ranges the broker's software supports
	// (KIP-584), by name. Written at record version 1; a record without
	// features is written at version 0.
	Features []SupportedFeature
	// Listeners are the broker's advertised endpoints (Kafka's
	// RegisterBrokerRecord.EndPoints), the first being Host:Port. Written
	// at record version 2; a record whose listeners are just
	// PLAINTEXT://Host:Port (or none) is written at version 0 or 1, and
	// such a record, or one older than version 2, decodes with nil
	// Listeners, which the image reads as that one PLAINTEXT listener.
	Listeners []Endpoint
}

// Endpoint is one advertised listener of a broker.
type Endpoint struct {
	// Name is the listener name, upper case (PLAINTEXT, SSL, INTERNAL...).
	Name string
	Host string
	Port int32
	// SecurityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol string
}

// DefaultListener is the one listener of a broker registered without
// listeners (records before version 2): PLAINTEXT on its Host:Port.
const DefaultListener = "PLAINTEXT"

// onlyDefaultListener reports whether ls says no more than a record
// without listeners: nothing, or PLAINTEXT://host:port.
func onlyDefaultListener(ls []Endpoint, host string, port int32) bool {
	return len(ls) == 0 || (len(ls) == 1 && ls[0] == Endpoint{Name: DefaultListener, Host: host, Port: port, SecurityProtocol: DefaultListener})
}

// SupportedFeature is a range of feature levels a node's software
// supports, both ends included.
type SupportedFeature struct {
	Name     string
	MinLevel int16
	MaxLevel int16
}

// FeatureLevelRecord finalizes the cluster-wide level of one feature
// (KIP-584): every broker acts at that level. Level 0 removes the feature
// from the finalized set.
type FeatureLevelRecord struct {
	Name  string
	Level int16
}

// Mechanism numbers of SCRAM credentials, as Kafka's ScramMechanism
// (DescribeUserScramCredentials and AlterUserScramCredentials use them).
const (
	ScramSHA256 int8 = 1
	ScramSHA512 int8 = 2
)

// UserScramCredentialRecord sets the SCRAM credential of user Name for one
// mechanism (Kafka's UserScramCredentialRecord): never the password, only
// the salt, the iteration count and the keys RFC 5802 derives from the
// salted password (StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key")).
type UserScramCredentialRecord struct {
	Name       string
	Mechanism  int8
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// RemoveUserScramCredentialRecord deletes the SCRAM credential of user
// Name for one mechanism.
type RemoveUserScramCredentialRecord struct {
	Name      string
	Mechanism int8
}

// TopicRecord creates a topic with no partitions; PartitionRecords follow.
type TopicRecord struct {
	Name    string
	TopicID UUID
}

// PartitionRecord creates a partition, or replaces the state of an existing
// one. Partition ids of a topic are dense: a record may update partition p
// for p < count, or add partition count.
type PartitionRecord struct {
	TopicID        UUID
	Partition      int32
	Replicas       []int32
	ISR            []int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	// AddingReplicas and RemovingReplicas describe an ongoing reassignment
	// (KIP-455): both are subsets of Replicas, disjoint; the target replica
	// set is Replicas minus RemovingReplicas. Written at record version 1;
	// a record without a reassignment is written at version 0.
	AddingReplicas   []int32
	RemovingReplicas []int32
	// ELR and LastKnownELR are KIP-966's eligible leader replicas (replicas
	// outside the ISR that hold every committed record, so they may lead
	// when the ISR is empty) and the last known leader of a partition that
	// lost every ISR and ELR member. Written at record version 2; a record
	// with both empty is written at version 0 or 1.
	ELR          []int32
	LastKnownELR []int32
}

// RemoveTopicRecord deletes a topic with its partitions and configs.
type RemoveTopicRecord struct {
	TopicID UUID
}

// ConfigRecord sets (Value non-nil) or deletes (Value nil) one config
// override. For ResourceTopic, ResourceName is the topic name; for
// ResourceBroker it is the broker id in decimal, or "" for the cluster-wide
// default.
type ConfigRecord struct {
	ResourceType ResourceType
	ResourceName string
	Name         string
	Value        *string
}

// ProducerIDsRecord moves the next unallocated producer id forward: the
// controller hands out the block [previous NextProducerID, NextProducerID)
// (KIP-730). It must increase.
type ProducerIDsRecord struct {
	NextProducerID int64
}

// BrokerRegistrationChangeRecord changes the state of the current
// registration of a broker, identified by NodeID and BrokerEpoch: fenced or
// not (liveness, Kafka's Fence/UnfenceBrokerRecord) and in controlled
// shutdown or not. Both fields are set absolutely, not toggled. A record
// naming an older BrokerEpoch than the registration does not apply.
type BrokerRegistrationChangeRecord struct {
	NodeID               int32
	BrokerEpoch          int64
	Fenced               bool
	InControlledShutdown bool
}

// UnregisterBrokerRecord removes the registration of broker NodeID, which
// must have exactly BrokerEpoch (Kafka's UnregisterBrokerRecord, written
// for UnregisterBroker). The broker may register again later.
type UnregisterBrokerRecord struct {
	NodeID      int32
	BrokerEpoch int64
}

func (*ClusterIDRecord) Type() RecordType      { return ClusterIDRecordType }
func (*RegisterBrokerRecord) Type() RecordType { return RegisterBrokerRecordType }
func (*TopicRecord) Type() RecordType          { return TopicRecordType }
func (*PartitionRecord) Type() RecordType      { return PartitionRecordType }
func (*RemoveTopicRecord) Type() RecordType    { return RemoveTopicRecordType }
func (*ConfigRecord) Type() RecordType         { return ConfigRecordType }
func (*ProducerIDsRecord) Type() RecordType    { return ProducerIDsRecordType }
func (*BrokerRegistrationChangeRecord) Type() RecordType {
	return BrokerRegistrationChangeRecordType
}
func (*FeatureLevelRecord) Type() RecordType { return FeatureLevelRecordType }
func (*UserScramCredentialRecord) Type() RecordType {
	return UserScramCredentialRecordType
}
func (*RemoveUserScramCredentialRecord) Type() RecordType {
	return RemoveUserScramCredentialRecordType
}
func (*UserScramCredentialRecord) Version() uint8       { return 0 }
func (*RemoveUserScramCredentialRecord) Version() uint8 { return 0 }

func (*ClusterIDRecord) Version() uint8 { return 0 }
func (r *RegisterBrokerRecord) Version() uint8 {
	if !onlyDefaultListener(r.Listeners, r.Host, r.Port) {
		return 2
	}
	if len(r.Features) > 0 {
		return 1
	}
	return 0
}
func (*TopicRecord) Version() uint8 { return 0 }
func (r *PartitionRecord) Version() uint8 {
	switch {
	case len(r.ELR) > 0 || len(r.LastKnownELR) > 0:
		return 2
	case len(r.AddingReplicas) > 0 || len(r.RemovingReplicas) > 0:
		return 1
	}
	return 0
}
func (*RemoveTopicRecord) Version() uint8 { return 0 }
func (*ConfigRecord) Version() uint8      { return 0 }
func (*ProducerIDsRecord) Version() uint8 { return 0 }
func (*BrokerRegistrationChangeRecord) Version() uint8 {
	return 0
}
func (*UnregisterBrokerRecord) Type() RecordType { return UnregisterBrokerRecordType }
func (*UnregisterBrokerRecord) Version() uint8   { return 0 }
func (*FeatureLevelRecord) Version() uint8       { return 0 }

func (rec *ClusterIDRecord) appendFields(b []byte) []byte {
	return appendString(b, rec.ClusterID)
}

func (rec *ClusterIDRecord) decodeFields(r *reader, _ uint8) {
	rec.ClusterID = r.string()
}

func (rec *RegisterBrokerRecord) appendFields(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(rec.NodeID))
	b = append(b, rec.IncarnationID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(rec.BrokerEpoch))
	b = appendString(b, rec.Host)
	b = binary.BigEndian.AppendUint32(b, uint32(rec.Port))
	b = appendString(b, rec.Rack)
	b = appendBool(b, rec.Fenced)
	if rec.Version() >= 1 {
		b = binary.AppendUvarint(b, uint64(len(rec.Features)))
		for _, f := range rec.Features {
			b = appendString(b, f.Name)
			b = binary.BigEndian.AppendUint16(b, uint16(f.MinLevel))
			b = binary.BigEndian.AppendUint16(b, uint16(f.MaxLevel))
		}
	}
	if rec.Version() >= 2 {
		b = binary.AppendUvarint(b, uint64(len(rec.Listeners)))
		for _, l := range rec.Listeners {
			b = appendString(b, l.Name)
			b = appendString(b, l.Host)
			b = binary.BigEndian.AppendUint32(b, uint32(l.Port))
			b = appendString(b, l.SecurityProtocol)
		}
	}
	return b
}

func (rec *RegisterBrokerRecord) decodeFields(r *reader, version uint8) {
	rec.NodeID = r.int32()
	rec.IncarnationID = r.uuid()
	rec.BrokerEpoch = r.int64()
	rec.Host = r.string()
	rec.Port = r.int32()
	rec.Rack = r.string()
	rec.Fenced = r.bool()
	if version >= 1 {
		// Each feature takes at least 5 bytes: a name length and two levels.
		n := r.length(5)
		if r.err != nil {
			return
		}
		if n > 0 {
			rec.Features = make([]SupportedFeature, n)
			for i := range rec.Features {
				rec.Features[i] = SupportedFeature{Name: r.string(), MinLevel: r.int16(), MaxLevel: r.int16()}
			}
		}
	}
	if version >= 2 {
		// Each listener takes at least 7 bytes: three string lengths and a port.
		n := r.length(7)
		if r.err != nil || n == 0 {
			return
		}
		rec.Listeners = make([]Endpoint, n)
		for i := range rec.Listeners {
			rec.Listeners[i] = Endpoint{Name: r.string(), Host: r.string(), Port: r.int32(), SecurityProtocol: r.string()}
		}
	}
}

func (rec *FeatureLevelRecord) appendFields(b []byte) []byte {
	b = appendString(b, rec.Name)
	return binary.BigEndian.AppendUint16(b, uint16(rec.Level))
}

func (rec *FeatureLevelRecord) decodeFields(r *reader, _ uint8) {
	rec.Name = r.string()
	rec.Level = r.int16()
}

func (rec *UserScramCredentialRecord) appendFields(b []byte) []byte {
	b = appendString(b, rec.Name)
	b = append(b, byte(rec.Mechanism))
	b = appendBytes(b, rec.Salt)
	b = appendBytes(b, rec.StoredKey)
	b = appendBytes(b, rec.ServerKey)
	return binary.BigEndian.AppendUint32(b, uint32(rec.Iterations))
}

func (rec *UserScramCredentialRecord) decodeFields(r *reader, _ uint8) {
	rec.Name = r.string()
	rec.Mechanism = r.int8()
	rec.Salt = r.bytes()
	rec.StoredKey = r.bytes()
	rec.ServerKey = r.bytes()
	rec.Iterations = r.int32()
}

func (rec *RemoveUserScramCredentialRecord) appendFields(b []byte) []byte {
	b = appendString(b, rec.Name)
	return append(b, byte(rec.Mechanism))
}

func (rec *RemoveUserScramCredentialRecord) decodeFields(r *reader, _ uint8) {
	rec.Name = r.string()
	rec.Mechanism = r.int8()
}

func (rec *TopicRecord) appendFields(b []byte) []byte {
	b = appendString(b, rec.Name)
	return append(b, rec.TopicID[:]...)
}

func (rec *TopicRecord) decodeFields(r *reader, _ uint8) {
	rec.Name = r.string()
	rec.TopicID = r.uuid()
}

func (rec *PartitionRecord) appendFields(b []byte) []byte {
	b = append(b, rec.TopicID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(rec.Partition))
	b = appendInt32s(b, rec.Replicas)
	b = appendInt32s(b, rec.ISR)
	b = binary.BigEndian.AppendUint32(b, uint32(rec.Leader))
	b = binary.BigEndian.AppendUint32(b, uint32(rec.LeaderEpoch))
	b = binary.BigEndian.AppendUint32(b, uint32(rec.PartitionEpoch))
	if rec.Version() >= 1 {
		b = appendInt32s(b, rec.AddingReplicas)
		b = appendInt32s(b, rec.RemovingReplicas)
	}
	if rec.Version() >= 2 {
		b = appendInt32s(b, rec.ELR)
		b = appendInt32s(b, rec.LastKnownELR)
	}
	return b
}

func (rec *PartitionRecord) decodeFields(r *reader, version uint8) {
	rec.TopicID = r.uuid()
	rec.Partition = r.int32()
	rec.Replicas = r.int32s()
	rec.ISR = r.int32s()
	rec.Leader = r.int32()
	rec.LeaderEpoch = r.int32()
	rec.PartitionEpoch = r.int32()
	if version >= 1 {
		rec.AddingReplicas = r.int32s()
		rec.RemovingReplicas = r.int32s()
	}
	if version >= 2 {
		rec.ELR = r.int32s()
		rec.LastKnownELR = r.int32s()
	}
}

func (rec *RemoveTopicRecord) appendFields(b []byte) []byte {
	return append(b, rec.TopicID[:]...)
}

func (rec *RemoveTopicRecord) decodeFields(r *reader, _ uint8) {
	rec.TopicID = r.uuid()
}

func (rec *ConfigRecord) appendFields(b []byte) []byte {
	b = append(b, byte(rec.ResourceType))
	b = appendString(b, rec.ResourceName)
	b = appendString(b, rec.Name)
	return appendNullableString(b, rec.Value)
}

func (rec *ConfigRecord) decodeFields(r *reader, _ uint8) {
	rec.ResourceType = ResourceType(r.int8())
	rec.ResourceName = r.string()
	rec.Name = r.string()
	rec.Value = r.nullableString()
}

func (rec *ProducerIDsRecord) appendFields(b []byte) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(rec.NextProducerID))
}

func (rec *ProducerIDsRecord) decodeFields(r *reader, _ uint8) {
	rec.NextProducerID = r.int64()
}

func (rec *BrokerRegistrationChangeRecord) appendFields(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(rec.NodeID))
	b = binary.BigEndian.AppendUint64(b, uint64(rec.BrokerEpoch))
	b = appendBool(b, rec.Fenced)
	return appendBool(b, rec.InControlledShutdown)
}

func (rec *BrokerRegistrationChangeRecord) decodeFields(r *reader, _ uint8) {
	rec.NodeID = r.int32()
	rec.BrokerEpoch = r.int64()
	rec.Fenced = r.bool()
	rec.InControlledShutdown = r.bool()
}

func (rec *UnregisterBrokerRecord) appendFields(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(rec.NodeID))
	return binary.BigEndian.AppendUint64(b, uint64(rec.BrokerEpoch))
}

func (rec *UnregisterBrokerRecord) decodeFields(r *reader, _ uint8) {
	rec.NodeID = r.int32()
	rec.BrokerEpoch = r.int64()
}

// frameVersion is the first byte of every encoded record.
const frameVersion = 1

// newRecord returns an empty record of type t.
func newRecord(t RecordType) Record {
	switch t {
	case ClusterIDRecordType:
		return &ClusterIDRecord{}
	case RegisterBrokerRecordType:
		return &RegisterBrokerRecord{}
	case TopicRecordType:
		return &TopicRecord{}
	case PartitionRecordType:
		return &PartitionRecord{}
	case RemoveTopicRecordType:
		return &RemoveTopicRecord{}
	case ConfigRecordType:
		return &ConfigRecord{}
	case ProducerIDsRecordType:
		return &ProducerIDsRecord{}
	case BrokerRegistrationChangeRecordType:
		return &BrokerRegistrationChangeRecord{}
	case UnregisterBrokerRecordType:
		return &UnregisterBrokerRecord{}
	case FeatureLevelRecordType:
		return &FeatureLevelRecord{}
	case UserScramCredentialRecordType:
		return &UserScramCredentialRecord{}
	case RemoveUserScramCredentialRecordType:
		return &RemoveUserScramCredentialRecord{}
	case ClientQuotaRecordType:
		return &ClientQuotaRecord{}
	case AccessControlEntryRecordType:
		return &AccessControlEntryRecord{}
	case RemoveAccessControlEntryRecordType:
		return &RemoveAccessControlEntryRecord{}
	default:
		return nil
	}
}

// maxVersion is the newest version of record type t this build reads.
func maxVersion(t RecordType) uint8 {
	switch t {
	case PartitionRecordType:
		return 2
	case RegisterBrokerRecordType:
		return 2
	}
	return 0
}

// Encode returns the record's frame: frame version, type, record version,
// fields. See the package doc for the layout.
func Encode(r Record) ([]byte, error) {
	return appendRecord(nil, r)
}

func appendRecord(b []byte, r Record) ([]byte, error) {
	if r == nil || isNilRecord(r) {
		return nil, fmt.Errorf("encode metadata record: nil record")
	}
	b = append(b, frameVersion, byte(r.Type()), r.Version())
	return r.appendFields(b), nil
}

// isNilRecord catches typed nil pointers, which would panic in appendFields.
func isNilRecord(r Record) bool {
	switch v := r.(type) {
	case *ClusterIDRecord:
		return v == nil
	case *RegisterBrokerRecord:
		return v == nil
	case *TopicRecord:
		return v == nil
	case *PartitionRecord:
		return v == nil
	case *RemoveTopicRecord:
		return v == nil
	case *ConfigRecord:
		return v == nil
	case *ProducerIDsRecord:
		return v == nil
	case *BrokerRegistrationChangeRecord:
		return v == nil
	case *UnregisterBrokerRecord:
		return v == nil
	case *FeatureLevelRecord:
		return v == nil
	case *UserScramCredentialRecord:
		return v == nil
	case *RemoveUserScramCredentialRecord:
		return v == nil
	case *ClientQuotaRecord:
		return v == nil
	case *AccessControlEntryRecord:
		return v == nil
	case *RemoveAccessControlEntryRecord:
		return v == nil
	default:
		return true
	}
}

// Decode parses one record frame. All of b must be consumed. Errors wrap
// ErrCorrupt or ErrUnknownRecord; Decode never panics on any input.
func Decode(b []byte) (Record, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: record frame of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != frameVersion {
		return nil, fmt.Errorf("%w: record frame version %d", ErrUnknownRecord, b[0])
	}
	t, version := RecordType(b[1]), b[2]
	rec := newRecord(t)
	if rec == nil {
		return nil, fmt.Errorf("%w: type %d", ErrUnknownRecord, b[1])
	}
	if max := maxVersion(t); version > max {
		return nil, fmt.Errorf("%w: %s version %d (this build reads up to %d)", ErrUnknownRecord, t, version, max)
	}
	r := &reader{b: b[3:]}
	rec.decodeFields(r, version)
	if r.err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, t, r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %s: %d trailing bytes", ErrCorrupt, t, len(r.b))
	}
	return rec, nil
}

// batchVersion is the first byte of an encoded batch.
const batchVersion = 1

// EncodeBatch encodes records as one unit, applied atomically: this is what
// a raft log entry holds.
func EncodeBatch(recs []Record) ([]byte, error) {
	b := []byte{batchVersion}
	b = binary.AppendUvarint(b, uint64(len(recs)))
	var frame []byte
	for i, r := range recs {
		var err error
		frame, err = appendRecord(frame[:0], r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		b = binary.AppendUvarint(b, uint64(len(frame)))
		b = append(b, frame...)
	}
	return b, nil
}

// DecodeBatch parses a batch written by EncodeBatch. Errors wrap ErrCorrupt
// or ErrUnknownRecord; it never panics and allocates in proportion to len(b).
func DecodeBatch(b []byte) ([]Record, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: empty batch", ErrCorrupt)
	}
	if b[0] != batchVersion {
		return nil, fmt.Errorf("%w: batch version %d", ErrUnknownRecord, b[0])
	}
	r := &reader{b: b[1:]}
	// Each record takes at least 4 bytes: a length and a 3-byte header.
	n := r.length(4)
	if r.err != nil {
		return nil, fmt.Errorf("%w: batch: %v", ErrCorrupt, r.err)
	}
	recs := make([]Record, 0, n)
	for i := range n {
		size := r.length(1)
		frame := r.take(size)
		if r.err != nil {
			return nil, fmt.Errorf("%w: batch record %d: %v", ErrCorrupt, i, r.err)
		}
		rec, err := Decode(frame)
		if err != nil {
			return nil, fmt.Errorf("batch record %d: %w", i, err)
		}
		recs = append(recs, rec)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: batch: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	return recs, nil
}
