package metadata

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
)

// snapshotMagic opens every snapshot ("STMS": Strata metadata snapshot).
var snapshotMagic = [4]byte{'S', 'T', 'M', 'S'}

const snapshotVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Records returns the records that rebuild the image from Empty, in the
// order they must be applied: cluster id, finalized features by name,
// brokers by id (each
// RegisterBrokerRecord followed by a BrokerRegistrationChangeRecord when the
// broker is in controlled shutdown), then per topic by
// name its TopicRecord, PartitionRecords and ConfigRecords, then broker
// configs, then client quotas by entity, then the producer id counter,
// then SCRAM credentials by mechanism and user, then the ACLs.
func (img *Image) Records() []Record {
	var recs []Record
	if img.clusterID != "" {
		recs = append(recs, &ClusterIDRecord{ClusterID: img.clusterID})
	}
	for _, name := range slices.Sorted(maps.Keys(img.features)) {
		recs = append(recs, &FeatureLevelRecord{Name: name, Level: img.features[name]})
	}
	for _, b := range img.Brokers() {
		recs = append(recs, &RegisterBrokerRecord{
			NodeID: b.NodeID, IncarnationID: b.IncarnationID, BrokerEpoch: b.BrokerEpoch,
			Host: b.Host, Port: b.Port, Rack: b.Rack, Fenced: b.Fenced, Features: b.Features,
			Listeners: b.Listeners,
		})
		if b.InControlledShutdown {
			recs = append(recs, &BrokerRegistrationChangeRecord{
				NodeID: b.NodeID, BrokerEpoch: b.BrokerEpoch, Fenced: b.Fenced, InControlledShutdown: true,
			})
		}
	}
	for _, t := range img.Topics() {
		recs = append(recs, &TopicRecord{Name: t.Name, TopicID: t.ID})
		for _, p := range t.Partitions {
			recs = append(recs, &PartitionRecord{
				TopicID: t.ID, Partition: p.Partition, Replicas: p.Replicas, ISR: p.ISR,
				Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				AddingReplicas: p.AddingReplicas, RemovingReplicas: p.RemovingReplicas,
				ELR: p.ELR, LastKnownELR: p.LastKnownELR,
			})
		}
		for _, name := range slices.Sorted(maps.Keys(t.Configs)) {
			v := t.Configs[name]
			recs = append(recs, &ConfigRecord{ResourceType: ResourceTopic, ResourceName: t.Name, Name: name, Value: &v})
		}
	}
	for _, res := range img.BrokerConfigResources() {
		m := img.brokerConfigs[res]
		for _, name := range slices.Sorted(maps.Keys(m)) {
			v := m[name]
			recs = append(recs, &ConfigRecord{ResourceType: ResourceBroker, ResourceName: res, Name: name, Value: &v})
		}
	}
	for _, group := range img.GroupConfigResources() {
		m := img.groupConfigs[group]
		for _, name := range slices.Sorted(maps.Keys(m)) {
			v := m[name]
			recs = append(recs, &ConfigRecord{ResourceType: ResourceGroup, ResourceName: group, Name: name, Value: &v})
		}
	}
	recs = append(recs, img.clientQuotaRecords()...)
	if img.nextProducerID > 0 {
		recs = append(recs, &ProducerIDsRecord{NextProducerID: img.nextProducerID})
	}
	for _, mech := range slices.Sorted(maps.Keys(img.scram)) {
		m := img.scram[mech]
		for _, user := range slices.Sorted(maps.Keys(m)) {
			c := m[user]
			recs = append(recs, &UserScramCredentialRecord{Name: user, Mechanism: mech, Salt: c.Salt,
				StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations})
		}
	}
	return append(recs, img.aclRecords()...)
}

// MarshalSnapshot encodes the image as a snapshot: a header, the image's
// Records as one batch, and a CRC-32C. See the package doc for the layout.
func (img *Image) MarshalSnapshot() ([]byte, error) {
	batch, err := EncodeBatch(img.Records())
	if err != nil {
		return nil, fmt.Errorf("marshal snapshot: %w", err)
	}
	b := make([]byte, 0, len(snapshotMagic)+1+8+len(batch)+4)
	b = append(b, snapshotMagic[:]...)
	b = append(b, snapshotVersion)
	b = binary.BigEndian.AppendUint64(b, img.index)
	b = append(b, batch...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// UnmarshalSnapshot rebuilds an image from MarshalSnapshot's bytes. Errors
// wrap ErrCorrupt, ErrUnknownRecord or ErrInconsistent; it never panics.
func UnmarshalSnapshot(b []byte) (*Image, error) {
	const header = len(snapshotMagic) + 1 + 8
	if len(b) < header+4 {
		return nil, fmt.Errorf("%w: snapshot of %d bytes", ErrCorrupt, len(b))
	}
	if [4]byte(b[:4]) != snapshotMagic {
		return nil, fmt.Errorf("%w: snapshot magic %q", ErrCorrupt, b[:4])
	}
	if b[4] != snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot version %d", ErrUnknownRecord, b[4])
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: snapshot checksum %08x, want %08x", ErrCorrupt, got, sum)
	}
	index := binary.BigEndian.Uint64(b[5:13])
	recs, err := DecodeBatch(body[header:])
	if err != nil {
		return nil, fmt.Errorf("unmarshal snapshot: %w", err)
	}
	img, _, err := Empty().Apply(index, recs...)
	if err != nil {
		return nil, fmt.Errorf("unmarshal snapshot: %w", err)
	}
	return img, nil
}
