package metadata

import (
	"maps"
	"slices"
	"strings"
)

// BrokerInfo is a registered broker as the image sees it.
type BrokerInfo struct {
	NodeID        int32
	IncarnationID UUID
	BrokerEpoch   int64
	Host          string
	Port          int32
	Rack          string
	// Fenced brokers lead no partition and may not join an ISR. A broker
	// registers fenced and is unfenced once caught up with the metadata
	// log; it is fenced again when it misses heartbeats.
	Fenced bool
	// InControlledShutdown is set while the broker moves its leaderships
	// away before shutting down; cleared by its next registration.
	InControlledShutdown bool
	// Features are the feature level ranges the broker's software supports
	// (nil for a broker that registered without them). Shared between
	// images: do not modify.
	Features []SupportedFeature
	// Listeners are the broker's advertised endpoints, never empty: the
	// first is Host:Port, the inter-broker listener (one PLAINTEXT
	// listener for a registration without listeners). Shared between
	// images: do not modify.
	Listeners []Endpoint
}

// Endpoint returns the broker's endpoint on listener name; "" names the
// first (inter-broker) listener. ok is false when the broker has no such
// listener: Kafka then leaves the broker out of answers to clients of
// that listener.
func (b *BrokerInfo) Endpoint(name string) (Endpoint, bool) {
	if name == "" {
		if len(b.Listeners) > 0 {
			return b.Listeners[0], true
		}
		return Endpoint{Name: DefaultListener, Host: b.Host, Port: b.Port, SecurityProtocol: DefaultListener}, true
	}
	for _, l := range b.Listeners {
		if l.Name == name {
			return l, true
		}
	}
	return Endpoint{}, false
}

func (b *BrokerInfo) equal(o *BrokerInfo) bool {
	return b.NodeID == o.NodeID && b.IncarnationID == o.IncarnationID && b.BrokerEpoch == o.BrokerEpoch &&
		b.Host == o.Host && b.Port == o.Port && b.Rack == o.Rack && b.Fenced == o.Fenced &&
		b.InControlledShutdown == o.InControlledShutdown && slices.Equal(b.Features, o.Features) &&
		slices.Equal(b.Listeners, o.Listeners)
}

// PartitionInfo is the replica state of one partition. Its slices are shared
// between images and must not be modified.
type PartitionInfo struct {
	Partition      int32
	Replicas       []int32
	ISR            []int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	// AddingReplicas and RemovingReplicas are set while the partition is
	// being reassigned (nil otherwise); see PartitionRecord.
	AddingReplicas   []int32
	RemovingReplicas []int32
	// ELR and LastKnownELR are KIP-966's eligible leader replicas and last
	// known leader (nil when empty); see PartitionRecord.
	ELR          []int32
	LastKnownELR []int32
}

func (p *PartitionInfo) equal(o *PartitionInfo) bool {
	return p.Partition == o.Partition && p.Leader == o.Leader && p.LeaderEpoch == o.LeaderEpoch &&
		p.PartitionEpoch == o.PartitionEpoch && slices.Equal(p.Replicas, o.Replicas) && slices.Equal(p.ISR, o.ISR) &&
		slices.Equal(p.AddingReplicas, o.AddingReplicas) && slices.Equal(p.RemovingReplicas, o.RemovingReplicas) &&
		slices.Equal(p.ELR, o.ELR) && slices.Equal(p.LastKnownELR, o.LastKnownELR)
}

// Reassigning reports whether a reassignment of the partition is ongoing.
func (p *PartitionInfo) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// TargetReplicas is where the partition is going: Replicas without
// RemovingReplicas (Replicas itself when no reassignment is ongoing).
func (p *PartitionInfo) TargetReplicas() []int32 {
	if len(p.RemovingReplicas) == 0 {
		return p.Replicas
	}
	out := make([]int32, 0, len(p.Replicas))
	for _, r := range p.Replicas {
		if !slices.Contains(p.RemovingReplicas, r) {
			out = append(out, r)
		}
	}
	return out
}

// OriginalReplicas is where the partition was before the ongoing
// reassignment: Replicas without AddingReplicas.
func (p *PartitionInfo) OriginalReplicas() []int32 {
	if len(p.AddingReplicas) == 0 {
		return p.Replicas
	}
	out := make([]int32, 0, len(p.Replicas))
	for _, r := range p.Replicas {
		if !slices.Contains(p.AddingReplicas, r) {
			out = append(out, r)
		}
	}
	return out
}

// Topic is one topic in an image. A Topic reachable from a published Image
// is immutable: do not modify it, its Partitions or its Configs.
type Topic struct {
	Name string
	ID   UUID
	// Partitions is indexed by partition id; ids are dense from 0.
	Partitions []PartitionInfo
	// Configs holds the topic's config overrides (never nil).
	Configs map[string]string
}

// Partition returns partition p.
func (t *Topic) Partition(p int32) (PartitionInfo, bool) {
	if p < 0 || int(p) >= len(t.Partitions) {
		return PartitionInfo{}, false
	}
	return t.Partitions[p], true
}

// Image is an immutable snapshot of the cluster metadata at one raft index.
// Apply derives new images copy-on-write; an Image, once returned, never
// changes, so any goroutine may read it without locks.
type Image struct {
	index          uint64
	clusterID      string
	brokers        map[int32]BrokerInfo
	topicsByName   map[string]*Topic
	topicsByID     map[UUID]*Topic
	brokerConfigs  map[string]map[string]string
	groupConfigs   map[string]map[string]string // by group id; nil until one is set
	nextProducerID int64
	// features holds the finalized feature levels; level 0 is absent.
	features map[string]int16
	// acls is shared between images until an ACL changes; nil is empty.
	acls *ACLs
	// clientQuotas holds quota values by QuotaEntityKey; nil until one is
	// set.
	clientQuotas map[string]*ClientQuota
	// scram holds SCRAM credentials by mechanism, then user; nil until
	// one is set. Inner maps are shared between images: copy on write.
	scram map[int8]map[string]ScramCredential
}

// ScramCredential is one user's SCRAM credential for one mechanism (see
// UserScramCredentialRecord). Its slices are shared: do not modify.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// ScramCredential returns the credential of user for mechanism
// (ScramSHA256 or ScramSHA512).
func (img *Image) ScramCredential(mechanism int8, user string) (ScramCredential, bool) {
	c, ok := img.scram[mechanism][user]
	return c, ok
}

// ScramUsers returns every user with a SCRAM credential, sorted, each with
// the mechanisms it has credentials for (ascending).
func (img *Image) ScramUsers() map[string][]int8 {
	out := map[string][]int8{}
	for _, mech := range slices.Sorted(maps.Keys(img.scram)) {
		for user := range img.scram[mech] {
			out[user] = append(out[user], mech)
		}
	}
	return out
}

// Empty is the image before any record: no cluster id, brokers or topics.
func Empty() *Image {
	return &Image{
		brokers:       map[int32]BrokerInfo{},
		topicsByName:  map[string]*Topic{},
		topicsByID:    map[UUID]*Topic{},
		brokerConfigs: map[string]map[string]string{},
		features:      map[string]int16{},
	}
}

// Index is the raft log index of the last batch applied to this image (0
// for the empty image).
func (img *Image) Index() uint64 { return img.index }

// ClusterID is the cluster id, or "" before it is set.
func (img *Image) ClusterID() string { return img.clusterID }

// NextProducerID is the first producer id not yet handed out.
func (img *Image) NextProducerID() int64 { return img.nextProducerID }

// Broker returns the registration of broker id.
func (img *Image) Broker(id int32) (BrokerInfo, bool) {
	b, ok := img.brokers[id]
	return b, ok
}

// Brokers returns every registered broker, by ascending id.
func (img *Image) Brokers() []BrokerInfo {
	out := make([]BrokerInfo, 0, len(img.brokers))
	for _, id := range slices.Sorted(maps.Keys(img.brokers)) {
		out = append(out, img.brokers[id])
	}
	return out
}

// TopicByName returns the topic named name.
func (img *Image) TopicByName(name string) (*Topic, bool) {
	t, ok := img.topicsByName[name]
	return t, ok
}

// TopicByID returns the topic with id.
func (img *Image) TopicByID(id UUID) (*Topic, bool) {
	t, ok := img.topicsByID[id]
	return t, ok
}

// Partition returns partition p of the topic with id topicID.
func (img *Image) Partition(topicID UUID, p int32) (PartitionInfo, bool) {
	t, ok := img.topicsByID[topicID]
	if !ok {
		return PartitionInfo{}, false
	}
	return t.Partition(p)
}

// Topics returns every topic, sorted by name.
func (img *Image) Topics() []*Topic {
	out := make([]*Topic, 0, len(img.topicsByName))
	for _, t := range img.topicsByName {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// NumTopics returns the number of topics.
func (img *Image) NumTopics() int { return len(img.topicsByName) }

// BrokerConfigs returns the dynamic config overrides of a broker resource:
// the broker id in decimal, or "" for the cluster-wide default. The map is
// nil when there are none and must not be modified.
func (img *Image) BrokerConfigs(resourceName string) map[string]string {
	return img.brokerConfigs[resourceName]
}

// GroupConfigs returns the dynamic config overrides of a group (resource
// type 32). The map is nil when there are none and must not be modified.
func (img *Image) GroupConfigs(groupID string) map[string]string {
	return img.groupConfigs[groupID]
}

// GroupConfigResources returns the group ids that have config overrides,
// sorted.
func (img *Image) GroupConfigResources() []string {
	return slices.Sorted(maps.Keys(img.groupConfigs))
}

// BrokerConfigResources returns the broker resource names that have dynamic
// overrides, sorted.
func (img *Image) BrokerConfigResources() []string {
	return slices.Sorted(maps.Keys(img.brokerConfigs))
}

// FeatureLevel returns the finalized level of feature name, 0 when it is
// not finalized.
func (img *Image) FeatureLevel(name string) int16 { return img.features[name] }

// FinalizedFeatures returns the finalized feature levels (none at level 0),
// by name. The caller may modify the map.
func (img *Image) FinalizedFeatures() map[string]int16 { return maps.Clone(img.features) }

// ELREnabled reports whether KIP-966 eligible leader replicas are on:
// eligible.leader.replicas.version is at least 1.
func (img *Image) ELREnabled() bool { return img.features[ELRVersionFeature] >= 1 }
