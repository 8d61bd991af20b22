package metadata

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Delta says what changed between two images, so subscribers act on the
// change instead of rescanning the image. A published Delta must not be
// modified.
type Delta struct {
	// Prev is the image the change was applied to.
	Prev *Image
	// Index is the raft index of the new image.
	Index uint64
	// ClusterIDChanged is set when the cluster id went from unset to set.
	ClusterIDChanged bool
	// ChangedBrokers are the brokers registered, re-registered with
	// different fields, or unregistered, ascending.
	ChangedBrokers []int32
	// CreatedTopics are topics present in the new image only, by name.
	CreatedTopics []UUID
	// DeletedTopics are the topics that are gone, as they were in Prev, by
	// name.
	DeletedTopics []*Topic
	// ChangedPartitions lists, per topic of the new image, the partitions
	// that were created or whose state changed, ascending. Every partition of
	// a created topic is listed.
	ChangedPartitions map[UUID][]int32
	// ChangedTopicConfigs lists, per topic of the new image, the config
	// names set, changed or removed, sorted. A created topic lists its
	// initial overrides.
	ChangedTopicConfigs map[UUID][]string
	// ChangedBrokerConfigs lists, per broker resource name ("" for the
	// cluster default), the config names set, changed or removed, sorted.
	ChangedBrokerConfigs map[string][]string
	// ProducerIDsChanged is set when NextProducerID moved.
	ProducerIDsChanged bool
	// FeaturesChanged is set when a finalized feature level changed.
	FeaturesChanged bool
	// ScramChanged is set when a SCRAM credential was set or removed.
	ScramChanged bool
	// ClientQuotasChanged is set when a client quota was set, changed or
	// removed.
	ClientQuotasChanged bool
	// ACLsChanged is set when an ACL was added or removed.
	ACLsChanged bool
}

// Empty reports whether nothing changed.
func (d *Delta) Empty() bool {
	return !d.ClusterIDChanged && len(d.ChangedBrokers) == 0 && len(d.CreatedTopics) == 0 &&
		len(d.DeletedTopics) == 0 && len(d.ChangedPartitions) == 0 && len(d.ChangedTopicConfigs) == 0 &&
		len(d.ChangedBrokerConfigs) == 0 && !d.ProducerIDsChanged && !d.FeaturesChanged && !d.ScramChanged &&
		!d.ClientQuotasChanged && !d.ACLsChanged
}

// TopicCreated reports whether the topic with id was created by this delta.
func (d *Delta) TopicCreated(id UUID) bool { return slices.Contains(d.CreatedTopics, id) }

// PartitionCreated reports whether partition p of the topic with id did not
// exist in Prev (and is in ChangedPartitions).
func (d *Delta) PartitionCreated(id UUID, p int32) bool {
	if !slices.Contains(d.ChangedPartitions[id], p) {
		return false
	}
	_, existed := d.Prev.Partition(id, p)
	return !existed
}

// Diff computes the Delta that turns prev into next. Loading a snapshot
// publishes Diff(current, loaded).
func Diff(prev, next *Image) *Delta {
	return diff(prev, next, allKeys(prev, next))
}

// touched is the set of keys a batch may have changed; diff looks only at
// those, so the cost of a delta is proportional to the batch, not the image.
type touched struct {
	clusterID     bool
	brokers       map[int32]struct{}
	topics        map[UUID]struct{}
	brokerConfigs map[string]struct{}
	producerIDs   bool
	features      bool
	scram         bool
	clientQuotas  bool
	acls          bool
}

func newTouched() *touched {
	return &touched{brokers: map[int32]struct{}{}, topics: map[UUID]struct{}{}, brokerConfigs: map[string]struct{}{}}
}

func allKeys(prev, next *Image) *touched {
	t := newTouched()
	t.clusterID, t.producerIDs, t.features, t.scram, t.clientQuotas, t.acls = true, true, true, true, true, true
	for _, img := range []*Image{prev, next} {
		for id := range img.brokers {
			t.brokers[id] = struct{}{}
		}
		for id := range img.topicsByID {
			t.topics[id] = struct{}{}
		}
		for name := range img.brokerConfigs {
			t.brokerConfigs[name] = struct{}{}
		}
	}
	return t
}

func diff(prev, next *Image, keys *touched) *Delta {
	d := &Delta{Prev: prev, Index: next.index}
	d.ClusterIDChanged = keys.clusterID && prev.clusterID != next.clusterID
	d.ProducerIDsChanged = keys.producerIDs && prev.nextProducerID != next.nextProducerID
	d.FeaturesChanged = keys.features && !maps.Equal(prev.features, next.features)
	d.ScramChanged = keys.scram && !scramEqual(prev.scram, next.scram)
	d.ClientQuotasChanged = keys.clientQuotas && !clientQuotasEqual(prev.clientQuotas, next.clientQuotas)
	d.ACLsChanged = keys.acls && !maps.Equal(prev.ACLs().byID, next.ACLs().byID)
	for id := range keys.brokers {
		pb, inPrev := prev.brokers[id]
		nb, inNext := next.brokers[id]
		if inPrev != inNext || !pb.equal(&nb) {
			d.ChangedBrokers = append(d.ChangedBrokers, id)
		}
	}
	slices.Sort(d.ChangedBrokers)

	for id := range keys.topics {
		pt, inPrev := prev.topicsByID[id]
		nt, inNext := next.topicsByID[id]
		switch {
		case inPrev && !inNext:
			d.DeletedTopics = append(d.DeletedTopics, pt)
		case !inPrev && inNext:
			d.CreatedTopics = append(d.CreatedTopics, id)
			d.addPartitions(id, nt, nil)
			d.addTopicConfigs(id, nil, nt.Configs)
		case inPrev && inNext && pt != nt:
			d.addPartitions(id, nt, pt)
			d.addTopicConfigs(id, pt.Configs, nt.Configs)
		}
	}
	slices.SortFunc(d.CreatedTopics, func(a, b UUID) int {
		return strings.Compare(next.topicsByID[a].Name, next.topicsByID[b].Name)
	})
	slices.SortFunc(d.DeletedTopics, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })

	for name := range keys.brokerConfigs {
		if changed := changedKeys(prev.brokerConfigs[name], next.brokerConfigs[name]); len(changed) > 0 {
			if d.ChangedBrokerConfigs == nil {
				d.ChangedBrokerConfigs = map[string][]string{}
			}
			d.ChangedBrokerConfigs[name] = changed
		}
	}
	return d
}

func (d *Delta) addPartitions(id UUID, next, prev *Topic) {
	var changed []int32
	for i := range next.Partitions {
		if prev != nil && i < len(prev.Partitions) && prev.Partitions[i].equal(&next.Partitions[i]) {
			continue
		}
		changed = append(changed, int32(i))
	}
	if len(changed) == 0 {
		return
	}
	if d.ChangedPartitions == nil {
		d.ChangedPartitions = map[UUID][]int32{}
	}
	d.ChangedPartitions[id] = changed
}

func (d *Delta) addTopicConfigs(id UUID, prev, next map[string]string) {
	changed := changedKeys(prev, next)
	if len(changed) == 0 {
		return
	}
	if d.ChangedTopicConfigs == nil {
		d.ChangedTopicConfigs = map[UUID][]string{}
	}
	d.ChangedTopicConfigs[id] = changed
}

// changedKeys returns the sorted keys whose presence or value differs.
func changedKeys(prev, next map[string]string) []string {
	var out []string
	for k, v := range next {
		if pv, ok := prev[k]; !ok || pv != v {
			out = append(out, k)
		}
	}
	for k := range prev {
		if _, ok := next[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Apply applies a batch of records at raft index index and returns the new
// image and what changed. The batch is atomic: if any record does not fit,
// Apply returns an error wrapping ErrInconsistent and img is unchanged (it
// always is: img is never modified).
func (img *Image) Apply(index uint64, recs ...Record) (*Image, *Delta, error) {
	b := &builder{prev: img, keys: newTouched(), owned: map[UUID]bool{}}
	next := *img
	next.index = index
	b.next = &next
	for i, r := range recs {
		if err := b.apply(r); err != nil {
			return nil, nil, fmt.Errorf("%w: record %d (%s): %v", ErrInconsistent, i, typeName(r), err)
		}
	}
	return b.next, diff(img, b.next, b.keys), nil
}

func typeName(r Record) string {
	if r == nil || isNilRecord(r) {
		return "nil"
	}
	return r.Type().String()
}

// builder applies records to a shallow copy of an image, copying each map
// and topic the first time the batch writes to it.
type builder struct {
	prev, next *Image
	keys       *touched

	brokersCopied, topicsCopied, brokerConfigsCopied, groupConfigsCopied, featuresCopied, aclsCopied bool
	// scramCopied marks the outer SCRAM map, scramOwned the per-mechanism
	// maps, cloned by this batch.
	scramCopied        bool
	scramOwned         map[int8]bool
	clientQuotasCopied bool
	// owned marks topics cloned by this batch, safe to modify in place.
	owned map[UUID]bool
	// ownedConfigs marks broker config maps cloned by this batch.
	ownedConfigs map[string]bool
}

func (b *builder) apply(r Record) error {
	switch r := r.(type) {
	case *ClusterIDRecord:
		if r == nil {
			break
		}
		return b.clusterID(r)
	case *RegisterBrokerRecord:
		if r == nil {
			break
		}
		return b.registerBroker(r)
	case *TopicRecord:
		if r == nil {
			break
		}
		return b.topic(r)
	case *PartitionRecord:
		if r == nil {
			break
		}
		return b.partition(r)
	case *RemoveTopicRecord:
		if r == nil {
			break
		}
		return b.removeTopic(r)
	case *ConfigRecord:
		if r == nil {
			break
		}
		return b.config(r)
	case *ProducerIDsRecord:
		if r == nil {
			break
		}
		return b.producerIDs(r)
	case *BrokerRegistrationChangeRecord:
		if r == nil {
			break
		}
		return b.brokerRegistrationChange(r)
	case *UnregisterBrokerRecord:
		if r == nil {
			break
		}
		return b.unregisterBroker(r)
	case *FeatureLevelRecord:
		if r == nil {
			break
		}
		return b.featureLevel(r)
	case *UserScramCredentialRecord:
		if r == nil {
			break
		}
		return b.userScramCredential(r)
	case *RemoveUserScramCredentialRecord:
		if r == nil {
			break
		}
		return b.removeUserScramCredential(r)
	case *ClientQuotaRecord:
		if r == nil {
			break
		}
		return b.clientQuota(r)
	case *AccessControlEntryRecord:
		if r == nil {
			break
		}
		return b.accessControlEntry(r)
	case *RemoveAccessControlEntryRecord:
		if r == nil {
			break
		}
		return b.removeAccessControlEntry(r)
	}
	return fmt.Errorf("nil or unknown record")
}

func (b *builder) clusterID(r *ClusterIDRecord) error {
	if r.ClusterID == "" {
		return fmt.Errorf("empty cluster id")
	}
	if b.next.clusterID != "" && b.next.clusterID != r.ClusterID {
		return fmt.Errorf("cluster id is already %q, cannot change it to %q", b.next.clusterID, r.ClusterID)
	}
	b.next.clusterID = r.ClusterID
	b.keys.clusterID = true
	return nil
}

func (b *builder) registerBroker(r *RegisterBrokerRecord) error {
	if r.NodeID < 0 {
		return fmt.Errorf("negative node id %d", r.NodeID)
	}
	listeners := slices.Clone(r.Listeners)
	if len(listeners) == 0 {
		listeners = []Endpoint{{Name: DefaultListener, Host: r.Host, Port: r.Port, SecurityProtocol: DefaultListener}}
	}
	seen := map[string]bool{}
	for _, l := range listeners {
		if seen[l.Name] {
			return fmt.Errorf("broker %d lists listener %q twice", r.NodeID, l.Name)
		}
		seen[l.Name] = true
	}
	if !b.brokersCopied {
		b.next.brokers = maps.Clone(b.next.brokers)
		b.brokersCopied = true
	}
	b.next.brokers[r.NodeID] = BrokerInfo{
		NodeID:        r.NodeID,
		IncarnationID: r.IncarnationID,
		BrokerEpoch:   r.BrokerEpoch,
		Host:          r.Host,
		Port:          r.Port,
		Rack:          r.Rack,
		Fenced:        r.Fenced,
		Features:      nilIfNoFeatures(slices.Clone(r.Features)),
		Listeners:     listeners,
	}
	b.keys.brokers[r.NodeID] = struct{}{}
	return nil
}

func (b *builder) brokerRegistrationChange(r *BrokerRegistrationChangeRecord) error {
	cur, err := b.changeBroker("registration change", r.NodeID, r.BrokerEpoch)
	if err != nil {
		return err
	}
	cur.Fenced = r.Fenced
	cur.InControlledShutdown = r.InControlledShutdown
	b.next.brokers[r.NodeID] = cur
	return nil
}

func (b *builder) unregisterBroker(r *UnregisterBrokerRecord) error {
	if _, err := b.changeBroker("unregistration", r.NodeID, r.BrokerEpoch); err != nil {
		return err
	}
	delete(b.next.brokers, r.NodeID)
	return nil
}

// changeBroker checks that broker id is registered with exactly epoch, the
// condition of every change of a registration (what names the change for
// errors), and returns its registration with the brokers map ready to be
// written and the broker marked as touched.
func (b *builder) changeBroker(what string, id int32, epoch int64) (BrokerInfo, error) {
	cur, ok := b.next.brokers[id]
	if !ok {
		return BrokerInfo{}, fmt.Errorf("%s of unregistered broker %d", what, id)
	}
	if cur.BrokerEpoch != epoch {
		return BrokerInfo{}, fmt.Errorf("%s of broker %d names broker epoch %d, the registration has %d", what, id, epoch, cur.BrokerEpoch)
	}
	if !b.brokersCopied {
		b.next.brokers = maps.Clone(b.next.brokers)
		b.brokersCopied = true
	}
	b.keys.brokers[id] = struct{}{}
	return cur, nil
}

func (b *builder) copyTopicMaps() {
	if !b.topicsCopied {
		b.next.topicsByName = maps.Clone(b.next.topicsByName)
		b.next.topicsByID = maps.Clone(b.next.topicsByID)
		b.topicsCopied = true
	}
}

// ownTopic returns a copy of the topic that this batch may modify, and
// installs it in the new image.
func (b *builder) ownTopic(id UUID) (*Topic, bool) {
	t, ok := b.next.topicsByID[id]
	if !ok {
		return nil, false
	}
	if b.owned[id] {
		return t, true
	}
	b.copyTopicMaps()
	c := &Topic{Name: t.Name, ID: t.ID, Partitions: slices.Clone(t.Partitions), Configs: maps.Clone(t.Configs)}
	b.next.topicsByID[id] = c
	b.next.topicsByName[c.Name] = c
	b.owned[id] = true
	return c, true
}

func (b *builder) topic(r *TopicRecord) error {
	if r.Name == "" {
		return fmt.Errorf("empty topic name")
	}
	if r.TopicID.IsZero() {
		return fmt.Errorf("topic %q has the zero topic id", r.Name)
	}
	if _, ok := b.next.topicsByName[r.Name]; ok {
		return fmt.Errorf("topic %q already exists", r.Name)
	}
	if t, ok := b.next.topicsByID[r.TopicID]; ok {
		return fmt.Errorf("topic id %s already belongs to topic %q", r.TopicID, t.Name)
	}
	b.copyTopicMaps()
	t := &Topic{Name: r.Name, ID: r.TopicID, Configs: map[string]string{}}
	b.next.topicsByName[r.Name] = t
	b.next.topicsByID[r.TopicID] = t
	b.owned[r.TopicID] = true
	b.keys.topics[r.TopicID] = struct{}{}
	return nil
}

func (b *builder) partition(r *PartitionRecord) error {
	t, ok := b.ownTopic(r.TopicID)
	if !ok {
		return fmt.Errorf("partition %d of unknown topic id %s", r.Partition, r.TopicID)
	}
	if r.Partition < 0 || int(r.Partition) > len(t.Partitions) {
		return fmt.Errorf("partition %d of topic %q: the topic has %d partitions and ids must be dense", r.Partition, t.Name, len(t.Partitions))
	}
	if len(r.Replicas) == 0 {
		return fmt.Errorf("partition %d of topic %q has no replicas", r.Partition, t.Name)
	}
	for _, set := range [][]int32{r.AddingReplicas, r.RemovingReplicas} {
		for i, id := range set {
			if !slices.Contains(r.Replicas, id) || slices.Contains(set[:i], id) {
				return fmt.Errorf("partition %d of topic %q: reassignment lists broker %d, not once among the replicas %v", r.Partition, t.Name, id, r.Replicas)
			}
		}
	}
	for _, id := range r.AddingReplicas {
		if slices.Contains(r.RemovingReplicas, id) {
			return fmt.Errorf("partition %d of topic %q: broker %d is both added and removed", r.Partition, t.Name, id)
		}
	}
	if len(r.RemovingReplicas) == len(r.Replicas) {
		return fmt.Errorf("partition %d of topic %q: a reassignment removes every replica", r.Partition, t.Name)
	}
	for _, set := range [][]int32{r.ELR, r.LastKnownELR} {
		for i, id := range set {
			if !slices.Contains(r.Replicas, id) || slices.Contains(set[:i], id) {
				return fmt.Errorf("partition %d of topic %q: eligible leader replicas list broker %d, not once among the replicas %v", r.Partition, t.Name, id, r.Replicas)
			}
		}
	}
	for _, id := range r.ELR {
		if slices.Contains(r.ISR, id) {
			return fmt.Errorf("partition %d of topic %q: broker %d is in both the ISR and the ELR", r.Partition, t.Name, id)
		}
	}
	p := PartitionInfo{
		Partition:        r.Partition,
		Replicas:         slices.Clone(r.Replicas),
		ISR:              slices.Clone(r.ISR),
		Leader:           r.Leader,
		LeaderEpoch:      r.LeaderEpoch,
		PartitionEpoch:   r.PartitionEpoch,
		AddingReplicas:   nilIfEmpty(slices.Clone(r.AddingReplicas)),
		RemovingReplicas: nilIfEmpty(slices.Clone(r.RemovingReplicas)),
		ELR:              nilIfEmpty(slices.Clone(r.ELR)),
		LastKnownELR:     nilIfEmpty(slices.Clone(r.LastKnownELR)),
	}
	if int(r.Partition) == len(t.Partitions) {
		t.Partitions = append(t.Partitions, p)
	} else {
		t.Partitions[r.Partition] = p
	}
	b.keys.topics[r.TopicID] = struct{}{}
	return nil
}

func (b *builder) removeTopic(r *RemoveTopicRecord) error {
	t, ok := b.next.topicsByID[r.TopicID]
	if !ok {
		return fmt.Errorf("remove unknown topic id %s", r.TopicID)
	}
	b.copyTopicMaps()
	delete(b.next.topicsByID, r.TopicID)
	delete(b.next.topicsByName, t.Name)
	delete(b.owned, r.TopicID)
	b.keys.topics[r.TopicID] = struct{}{}
	return nil
}

func (b *builder) config(r *ConfigRecord) error {
	if r.Name == "" {
		return fmt.Errorf("empty config name")
	}
	switch r.ResourceType {
	case ResourceTopic:
		t, ok := b.next.topicsByName[r.ResourceName]
		if !ok {
			return fmt.Errorf("config %q of unknown topic %q", r.Name, r.ResourceName)
		}
		t, _ = b.ownTopic(t.ID)
		setConfig(t.Configs, r.Name, r.Value)
		b.keys.topics[t.ID] = struct{}{}
	case ResourceBroker:
		if r.ResourceName != "" {
			if id, err := strconv.ParseInt(r.ResourceName, 10, 32); err != nil || id < 0 || strconv.FormatInt(id, 10) != r.ResourceName {
				return fmt.Errorf("broker config resource %q is neither \"\" nor a broker id", r.ResourceName)
			}
		}
		if !b.brokerConfigsCopied {
			b.next.brokerConfigs = maps.Clone(b.next.brokerConfigs)
			b.brokerConfigsCopied = true
			b.ownedConfigs = map[string]bool{}
		}
		m := b.next.brokerConfigs[r.ResourceName]
		if !b.ownedConfigs[r.ResourceName] {
			m = maps.Clone(m)
			if m == nil {
				m = map[string]string{}
			}
			b.ownedConfigs[r.ResourceName] = true
		}
		setConfig(m, r.Name, r.Value)
		if len(m) == 0 {
			delete(b.next.brokerConfigs, r.ResourceName)
			delete(b.ownedConfigs, r.ResourceName)
		} else {
			b.next.brokerConfigs[r.ResourceName] = m
		}
		b.keys.brokerConfigs[r.ResourceName] = struct{}{}
	case ResourceGroup:
		if r.ResourceName == "" {
			return fmt.Errorf("group config %q without a group id", r.Name)
		}
		if !b.groupConfigsCopied {
			b.next.groupConfigs = maps.Clone(b.next.groupConfigs)
			if b.next.groupConfigs == nil {
				b.next.groupConfigs = map[string]map[string]string{}
			}
			b.groupConfigsCopied = true
		}
		// Group configs change rarely: copy the group's map on every record.
		m := maps.Clone(b.next.groupConfigs[r.ResourceName])
		if m == nil {
			m = map[string]string{}
		}
		setConfig(m, r.Name, r.Value)
		if len(m) == 0 {
			delete(b.next.groupConfigs, r.ResourceName)
		} else {
			b.next.groupConfigs[r.ResourceName] = m
		}
	default:
		return fmt.Errorf("config resource type %d is not supported", r.ResourceType)
	}
	return nil
}

func setConfig(m map[string]string, name string, value *string) {
	if value == nil {
		delete(m, name)
	} else {
		m[name] = *value
	}
}

func (b *builder) producerIDs(r *ProducerIDsRecord) error {
	if r.NextProducerID <= b.next.nextProducerID {
		return fmt.Errorf("next producer id %d does not move past %d", r.NextProducerID, b.next.nextProducerID)
	}
	b.next.nextProducerID = r.NextProducerID
	b.keys.producerIDs = true
	return nil
}

func nilIfEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (b *builder) featureLevel(r *FeatureLevelRecord) error {
	if r.Name == "" {
		return fmt.Errorf("empty feature name")
	}
	if r.Level < 0 {
		return fmt.Errorf("feature %s at negative level %d", r.Name, r.Level)
	}
	if !b.featuresCopied {
		b.next.features = maps.Clone(b.next.features)
		b.featuresCopied = true
	}
	if r.Level == 0 {
		delete(b.next.features, r.Name)
	} else {
		b.next.features[r.Name] = r.Level
	}
	b.keys.features = true
	return nil
}

func nilIfNoFeatures(s []SupportedFeature) []SupportedFeature {
	if len(s) == 0 {
		return nil
	}
	return s
}

// scramMechanism returns the map of credentials of mechanism, owned by
// this batch.
func (b *builder) scramMechanism(mechanism int8) map[string]ScramCredential {
	if !b.scramCopied {
		b.next.scram = maps.Clone(b.next.scram)
		if b.next.scram == nil {
			b.next.scram = map[int8]map[string]ScramCredential{}
		}
		b.scramCopied = true
		b.scramOwned = map[int8]bool{}
	}
	if !b.scramOwned[mechanism] {
		b.next.scram[mechanism] = maps.Clone(b.next.scram[mechanism])
		if b.next.scram[mechanism] == nil {
			b.next.scram[mechanism] = map[string]ScramCredential{}
		}
		b.scramOwned[mechanism] = true
	}
	b.keys.scram = true
	return b.next.scram[mechanism]
}

func checkScramMechanism(m int8) error {
	if m != ScramSHA256 && m != ScramSHA512 {
		return fmt.Errorf("unknown SCRAM mechanism %d", m)
	}
	return nil
}

func (b *builder) userScramCredential(r *UserScramCredentialRecord) error {
	if r.Name == "" {
		return fmt.Errorf("SCRAM credential without a user name")
	}
	if err := checkScramMechanism(r.Mechanism); err != nil {
		return err
	}
	if r.Iterations <= 0 || len(r.Salt) == 0 || len(r.StoredKey) == 0 || len(r.ServerKey) == 0 {
		return fmt.Errorf("SCRAM credential of %s without salt, keys or iterations", r.Name)
	}
	b.scramMechanism(r.Mechanism)[r.Name] = ScramCredential{
		Salt: slices.Clone(r.Salt), StoredKey: slices.Clone(r.StoredKey), ServerKey: slices.Clone(r.ServerKey), Iterations: r.Iterations,
	}
	return nil
}

func (b *builder) removeUserScramCredential(r *RemoveUserScramCredentialRecord) error {
	if err := checkScramMechanism(r.Mechanism); err != nil {
		return err
	}
	if _, ok := b.next.scram[r.Mechanism][r.Name]; !ok {
		return fmt.Errorf("no SCRAM credential of %s for mechanism %d", r.Name, r.Mechanism)
	}
	m := b.scramMechanism(r.Mechanism)
	delete(m, r.Name)
	if len(m) == 0 {
		delete(b.next.scram, r.Mechanism)
		delete(b.scramOwned, r.Mechanism)
	}
	return nil
}

func scramEqual(a, b map[int8]map[string]ScramCredential) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]ScramCredential) bool {
		return maps.EqualFunc(x, y, func(p, q ScramCredential) bool {
			return p.Iterations == q.Iterations && slices.Equal(p.Salt, q.Salt) &&
				slices.Equal(p.StoredKey, q.StoredKey) && slices.Equal(p.ServerKey, q.ServerKey)
		})
	})
}
