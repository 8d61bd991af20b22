package txn

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrCorruptRecord is returned for a __transaction_state record that does
// not decode: loading a shard fails on it rather than skip state.
var ErrCorruptRecord = errors.New("corrupt __transaction_state record")

// ErrUnknownVersion is returned for a key or value version this build does
// not know (a newer Kafka's or Strata's); Kafka skips such records at load.
var ErrUnknownVersion = errors.New("unknown __transaction_state record version")

// Versions: the only key version, and the value versions read and written.
const (
	keyVersion           int16 = 0
	valueVersion         int16 = 0 // transaction.version 0 and 1
	valueVersionFlexible int16 = 1 // transaction.version 2+
)

// Partition is one partition of a transaction.
type Partition struct {
	Topic     string
	Partition int32
}

// Metadata is the state of one transactional id as the log records it.
type Metadata struct {
	ProducerID    int64
	ProducerEpoch int16
	// PreviousProducerID, NextProducerID and NextProducerEpoch are -1
	// unless set (KIP-890's epoch overflow, KIP-939); they are written
	// only in the flexible version.
	PreviousProducerID int64
	NextProducerID     int64
	NextProducerEpoch  int16
	TimeoutMs          int32
	State              kmsg.TransactionState
	// Partitions are the partitions in the transaction, grouped by topic
	// in the order topics were added; none in state Empty, which Kafka
	// writes as a null array.
	Partitions          []Partition
	LastUpdateTimestamp int64 // unix ms
	StartTimestamp      int64 // unix ms; -1 when no transaction started
	// ClientTransactionVersion is the transaction version the producer
	// uses (flexible version only; 0 otherwise).
	ClientTransactionVersion int16
}

// EncodeKey returns the record key of transactionalID.
func EncodeKey(transactionalID string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.Version, k.TransactionalID = keyVersion, transactionalID
	return k.AppendTo(nil)
}

// EncodeValue returns the record value of m; flexible selects version 1,
// which a cluster at transaction.version 2 or above writes.
func EncodeValue(m *Metadata, flexible bool) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = valueVersion
	if flexible {
		v.Version = valueVersionFlexible
		v.PreviousProducerID, v.NextProducerID, v.NextProducerEpoch = m.PreviousProducerID, m.NextProducerID, m.NextProducerEpoch
		v.ClientTransactionVersion = m.ClientTransactionVersion
	}
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis, v.State = m.ProducerID, m.ProducerEpoch, m.TimeoutMs, m.State
	v.LastUpdateTimestamp, v.StartTimestamp = m.LastUpdateTimestamp, m.StartTimestamp
	if m.State != kmsg.TransactionStateEmpty {
		// One entry per topic, in the order topics first appear.
		at := map[string]int{}
		for _, p := range m.Partitions {
			i, ok := at[p.Topic]
			if !ok {
				i = len(v.Topics)
				at[p.Topic] = i
				t := kmsg.NewTxnMetadataValueTopic()
				t.Topic = p.Topic
				v.Topics = append(v.Topics, t)
			}
			v.Topics[i].Partitions = append(v.Topics[i].Partitions, p.Partition)
		}
	}
	return v.AppendTo(nil)
}

// DecodeKey returns the transactional id of a record key.
func DecodeKey(key []byte) (string, error) {
	if len(key) < 2 {
		return "", fmt.Errorf("%w: key of %d bytes", ErrCorruptRecord, len(key))
	}
	if v := int16(binary.BigEndian.Uint16(key)); v != keyVersion {
		return "", fmt.Errorf("%w: key version %d", ErrUnknownVersion, v)
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return "", fmt.Errorf("%w: key: %v", ErrCorruptRecord, err)
	}
	return k.TransactionalID, nil
}

// DecodeValue decodes a record value; a nil or empty value is a tombstone
// (nil, nil).
func DecodeValue(value []byte) (*Metadata, error) {
	if len(value) == 0 {
		return nil, nil
	}
	if len(value) < 2 {
		return nil, fmt.Errorf("%w: value of %d bytes", ErrCorruptRecord, len(value))
	}
	if ver := int16(binary.BigEndian.Uint16(value)); ver != valueVersion && ver != valueVersionFlexible {
		return nil, fmt.Errorf("%w: value version %d", ErrUnknownVersion, ver)
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return nil, fmt.Errorf("%w: value: %v", ErrCorruptRecord, err)
	}
	if v.State < kmsg.TransactionStateEmpty || v.State > kmsg.TransactionStatePrepareEpochFence {
		return nil, fmt.Errorf("%w: state %d", ErrCorruptRecord, v.State)
	}
	m := &Metadata{
		ProducerID: v.ProducerID, ProducerEpoch: v.ProducerEpoch, TimeoutMs: v.TimeoutMillis, State: v.State,
		LastUpdateTimestamp: v.LastUpdateTimestamp, StartTimestamp: v.StartTimestamp,
		PreviousProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1,
	}
	if v.Version >= valueVersionFlexible {
		m.PreviousProducerID, m.NextProducerID, m.NextProducerEpoch = v.PreviousProducerID, v.NextProducerID, v.NextProducerEpoch
		m.ClientTransactionVersion = v.ClientTransactionVersion
	}
	if m.State != kmsg.TransactionStateEmpty {
		for _, t := range v.Topics {
			for _, p := range t.Partitions {
				m.Partitions = append(m.Partitions, Partition{Topic: t.Topic, Partition: p})
			}
		}
	}
	return m, nil
}
