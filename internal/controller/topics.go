package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/metadata"
)

// maxTopicNameLength is Kafka's limit on topic names.
const maxTopicNameLength = 249

// ValidateTopicName applies Kafka's topic name rules: 1 to 249 characters
// from [a-zA-Z0-9._-], and not "." or "..". The error wraps ErrInvalidTopic.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: topic name is empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic name cannot be %q", ErrInvalidTopic, name)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("%w: topic name is %d characters long, longer than %d", ErrInvalidTopic, len(name), maxTopicNameLength)
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return fmt.Errorf("%w: topic name %q contains %q; only ASCII letters, digits, '.', '_' and '-' are allowed", ErrInvalidTopic, name, ch)
		}
	}
	return nil
}

// collisionKey folds '.' into '_': Kafka refuses topics whose names differ
// only there, since both map to the same metric names.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// CreateTopic is one topic of a CreateTopics request.
type CreateTopic struct {
	Name string
	// NumPartitions of -1 takes Defaults.NumPartitions.
	NumPartitions int32
	// ReplicationFactor of -1 takes Defaults.ReplicationFactor.
	ReplicationFactor int16
	// Assignments, if set, places partition p on Assignments[p] (the first
	// replica is the preferred leader); NumPartitions and
	// ReplicationFactor must then be -1.
	Assignments map[int32][]int32
	// Configs are the topic's config overrides.
	Configs map[string]string
}

// CreateTopicResult is the outcome for one topic, in request order.
type CreateTopicResult struct {
	Name string
	// TopicID is zero when Err is set or for validate-only requests.
	TopicID           metadata.UUID
	NumPartitions     int32
	ReplicationFactor int16
	// Configs are the topic's overrides as created.
	Configs map[string]string
	Err     error
}

// CreateTopics validates each topic against the latest image and creates
// the valid ones in one atomic metadata batch. With validateOnly nothing is
// created. A name listed twice fails with ErrInvalidRequest.
func (c *Controller) CreateTopics(ctx context.Context, topics []CreateTopic, validateOnly bool) []CreateTopicResult {
	results := make([]CreateTopicResult, len(topics))
	for i, t := range topics {
		results[i] = CreateTopicResult{Name: t.Name, NumPartitions: -1, ReplicationFactor: -1}
	}
	err := c.doAdmin(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			setAllErr(results, err)
			return
		}
		recs, err := c.createTopicsRecords(img, topics, results, validateOnly)
		if err != nil {
			setAllErr(results, err)
			return
		}
		if validateOnly || len(recs) == 0 {
			return
		}
		if err := c.propose(ctx, recs); err != nil {
			for i := range results {
				if results[i].Err == nil {
					results[i] = CreateTopicResult{Name: results[i].Name, NumPartitions: -1, ReplicationFactor: -1, Err: err}
				}
			}
			return
		}
		for _, r := range results {
			if r.Err == nil {
				c.logger.Info("topic created", "topic", r.Name, "topic_id", r.TopicID.String(), "partitions", r.NumPartitions, "replication_factor", r.ReplicationFactor)
			}
		}
	})
	if err != nil {
		setAllErr(results, err)
	}
	return results
}

// setAllErr sets err on every result that has none.
func setAllErr(results []CreateTopicResult, err error) {
	for i := range results {
		if results[i].Err == nil {
			results[i].Err = err
			results[i].TopicID = metadata.UUID{}
		}
	}
}

// createTopicsRecords fills results and returns the records that create
// every valid topic. An error means none can be created.
func (c *Controller) createTopicsRecords(img *metadata.Image, topics []CreateTopic, results []CreateTopicResult, validateOnly bool) ([]metadata.Record, error) {
	count := map[string]int{}
	for _, t := range topics {
		count[t.Name]++
	}
	// Collision keys of existing topics, built only if a new name has a
	// '.' or '_'.
	var collisions map[string]string
	for _, t := range topics {
		if strings.ContainsAny(t.Name, "._") {
			collisions = map[string]string{}
			for _, et := range img.Topics() {
				collisions[collisionKey(et.Name)] = et.Name
			}
			break
		}
	}
	brokers := usableBrokers(img)
	var recs []metadata.Record
	partitionBudget := maxPartitionsPerRequest
	for i, t := range topics {
		res := &results[i]
		if err := ValidateTopicName(t.Name); err != nil {
			res.Err = err
			continue
		}
		if count[t.Name] > 1 {
			res.Err = fmt.Errorf("%w: topic %q is listed more than once", ErrInvalidRequest, t.Name)
			continue
		}
		if _, ok := img.TopicByName(t.Name); ok {
			res.Err = fmt.Errorf("%w: %q", ErrTopicExists, t.Name)
			continue
		}
		if other, ok := collisions[collisionKey(t.Name)]; ok {
			res.Err = fmt.Errorf("%w: topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", ErrInvalidTopic, t.Name, other)
			continue
		}
		assignment, err := c.placeNewTopic(img, brokers, t)
		if err != nil {
			res.Err = err
			continue
		}
		if len(assignment) > partitionBudget {
			res.Err = fmt.Errorf("%w: the request would create more than %d partitions", ErrInvalidPartitions, maxPartitionsPerRequest)
			continue
		}
		if err := config.ValidateTopicConfigs(t.Configs); err != nil {
			res.Err = fmt.Errorf("%w: %w", ErrInvalidConfig, err)
			continue
		}
		partitionBudget -= len(assignment)
		if collisions != nil {
			collisions[collisionKey(t.Name)] = t.Name
		}
		res.NumPartitions = int32(len(assignment))
		res.ReplicationFactor = int16(len(assignment[0]))
		res.Configs = maps.Clone(t.Configs)
		if res.Configs == nil {
			res.Configs = map[string]string{}
		}
		if validateOnly {
			continue
		}
		id, err := c.newTopicID(img)
		if err != nil {
			return nil, err
		}
		res.TopicID = id
		recs = append(recs, &metadata.TopicRecord{Name: t.Name, TopicID: id})
		recs = appendPartitionRecords(recs, img, id, 0, assignment)
		for _, name := range slices.Sorted(maps.Keys(res.Configs)) {
			v := res.Configs[name]
			recs = append(recs, &metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: t.Name, Name: name, Value: &v})
		}
	}
	return recs, nil
}

// newTopicID returns a random topic id not used by any topic in img.
func (c *Controller) newTopicID(img *metadata.Image) (metadata.UUID, error) {
	for range 16 {
		id, err := metadata.NewUUID(c.cfg.Rand)
		if err != nil {
			return id, fmt.Errorf("controller: topic id: %w", err)
		}
		if _, taken := img.TopicByID(id); !taken {
			return id, nil
		}
	}
	return metadata.UUID{}, errors.New("controller: topic id: random source keeps returning ids in use")
}

// appendPartitionRecords appends records for partitions first, first+1...
// placed as assignment says. The leader is the first unfenced replica, and
// the ISR holds the unfenced replicas.
func appendPartitionRecords(recs []metadata.Record, img *metadata.Image, id metadata.UUID, first int32, assignment [][]int32) []metadata.Record {
	for i, replicas := range assignment {
		leader := int32(-1)
		var isr []int32
		for _, r := range replicas {
			if b, ok := img.Broker(r); ok && !b.Fenced {
				isr = append(isr, r)
				if leader < 0 {
					leader = r
				}
			}
		}
		recs = append(recs, &metadata.PartitionRecord{
			TopicID:   id,
			Partition: first + int32(i),
			Replicas:  slices.Clone(replicas),
			ISR:       isr,
			Leader:    leader,
		})
	}
	return recs
}

// placeNewTopic checks a new topic's partition count and replication
// factor, or its manual assignment, and returns the replicas of each
// partition.
func (c *Controller) placeNewTopic(img *metadata.Image, brokers []metadata.BrokerInfo, t CreateTopic) ([][]int32, error) {
	if len(t.Assignments) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return nil, fmt.Errorf("%w: both a replica assignment and a partition count or replication factor were given", ErrInvalidRequest)
		}
		if len(t.Assignments) > maxPartitionsPerRequest {
			return nil, fmt.Errorf("%w: more than %d partitions", ErrInvalidPartitions, maxPartitionsPerRequest)
		}
		assignment := make([][]int32, len(t.Assignments))
		for p, replicas := range t.Assignments {
			if p < 0 || int(p) >= len(assignment) {
				return nil, fmt.Errorf("%w: partitions must be numbered 0 to %d, got %d", ErrInvalidReplicaAssignment, len(assignment)-1, p)
			}
			assignment[p] = replicas
		}
		if err := checkAssignment(img, assignment, len(assignment[0])); err != nil {
			return nil, err
		}
		return assignment, nil
	}
	partitions := t.NumPartitions
	if partitions == -1 {
		partitions = c.cfg.Defaults.NumPartitions
	}
	if partitions <= 0 {
		return nil, fmt.Errorf("%w: %d; it must be positive, or -1 for the default", ErrInvalidPartitions, t.NumPartitions)
	}
	if partitions > maxPartitionsPerRequest {
		return nil, fmt.Errorf("%w: %d is more than %d partitions", ErrInvalidPartitions, partitions, maxPartitionsPerRequest)
	}
	rf := t.ReplicationFactor
	if rf == -1 {
		rf = c.cfg.Defaults.ReplicationFactor
	}
	if rf <= 0 {
		return nil, fmt.Errorf("%w: %d; it must be positive, or -1 for the default", ErrInvalidReplicationFactor, t.ReplicationFactor)
	}
	return c.place(brokers, int(partitions), int(rf), 0)
}

// checkAssignment validates manual replica lists: each is non-empty, has
// rf distinct registered brokers, and at least one of them is unfenced.
func checkAssignment(img *metadata.Image, assignment [][]int32, rf int) error {
	if rf <= 0 || rf > math.MaxInt16 {
		return fmt.Errorf("%w: %d replicas", ErrInvalidReplicaAssignment, rf)
	}
	for p, replicas := range assignment {
		if len(replicas) != rf {
			return fmt.Errorf("%w: partition %d has %d replicas, other partitions have %d", ErrInvalidReplicaAssignment, p, len(replicas), rf)
		}
		live := false
		for i, r := range replicas {
			b, ok := img.Broker(r)
			if !ok {
				return fmt.Errorf("%w: partition %d names broker %d, which is not registered", ErrInvalidReplicaAssignment, p, r)
			}
			live = live || !b.Fenced
			if slices.Contains(replicas[:i], r) {
				return fmt.Errorf("%w: partition %d lists broker %d twice", ErrInvalidReplicaAssignment, p, r)
			}
		}
		if !live {
			return fmt.Errorf("%w: every replica of partition %d is fenced", ErrInvalidReplicaAssignment, p)
		}
	}
	return nil
}

// TopicRef names a topic by name or by id; exactly one must be set.
type TopicRef struct {
	Name string
	ID   metadata.UUID
}

// DeleteTopicResult is the outcome for one topic, in request order.
type DeleteTopicResult struct {
	Name    string
	TopicID metadata.UUID
	Err     error
}

// DeleteTopics deletes topics by name or id in one atomic batch. Unknown
// names fail with ErrUnknownTopic, unknown ids with ErrUnknownTopicID.
func (c *Controller) DeleteTopics(ctx context.Context, refs []TopicRef) []DeleteTopicResult {
	results := make([]DeleteTopicResult, len(refs))
	for i, r := range refs {
		results[i] = DeleteTopicResult{Name: r.Name, TopicID: r.ID}
	}
	fail := func(err error) {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = err
			}
		}
	}
	if v, ok := c.cfg.Defaults.StaticBrokerConfigs["delete.topic.enable"]; ok {
		if enabled, err := config.ParseBool(v); err == nil && !enabled {
			fail(ErrTopicDeletionDisabled)
			return results
		}
	}
	err := c.doAdmin(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			fail(err)
			return
		}
		seen := map[metadata.UUID]int{}
		for i, r := range refs {
			var t *metadata.Topic
			var ok bool
			switch {
			case r.Name != "" && !r.ID.IsZero(), r.Name == "" && r.ID.IsZero():
				results[i].Err = fmt.Errorf("%w: give a topic name or a topic id", ErrInvalidRequest)
				continue
			case r.Name != "":
				if t, ok = img.TopicByName(r.Name); !ok {
					results[i].Err = fmt.Errorf("%w: %q", ErrUnknownTopic, r.Name)
					continue
				}
			default:
				if t, ok = img.TopicByID(r.ID); !ok {
					results[i].Err = fmt.Errorf("%w: %s", ErrUnknownTopicID, r.ID)
					continue
				}
			}
			results[i].Name, results[i].TopicID = t.Name, t.ID
			if j, dup := seen[t.ID]; dup {
				dupErr := fmt.Errorf("%w: topic %q is listed more than once", ErrInvalidRequest, t.Name)
				results[i].Err, results[j].Err = dupErr, dupErr
				continue
			}
			seen[t.ID] = i
		}
		var recs []metadata.Record
		for _, r := range results {
			if r.Err == nil {
				recs = append(recs, &metadata.RemoveTopicRecord{TopicID: r.TopicID})
			}
		}
		if len(recs) == 0 {
			return
		}
		if err := c.propose(ctx, recs); err != nil {
			fail(err)
			return
		}
		for _, r := range results {
			if r.Err == nil {
				c.logger.Info("topic deleted", "topic", r.Name, "topic_id", r.TopicID.String())
			}
		}
	})
	if err != nil {
		fail(err)
	}
	return results
}

// CreatePartitions asks for a topic to have Count partitions in total.
type CreatePartitions struct {
	Name  string
	Count int32
	// Assignments, if set, has one replica list per new partition.
	Assignments [][]int32
}

// CreatePartitionsResult is the outcome for one topic, in request order.
type CreatePartitionsResult struct {
	Name string
	Err  error
}

// CreatePartitions adds partitions to existing topics (never removes any),
// in one atomic batch. New partitions keep the topic's replication factor.
func (c *Controller) CreatePartitions(ctx context.Context, reqs []CreatePartitions, validateOnly bool) []CreatePartitionsResult {
	results := make([]CreatePartitionsResult, len(reqs))
	for i, r := range reqs {
		results[i].Name = r.Name
	}
	fail := func(err error) {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = err
			}
		}
	}
	err := c.doAdmin(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			fail(err)
			return
		}
		count := map[string]int{}
		for _, r := range reqs {
			count[r.Name]++
		}
		brokers := usableBrokers(img)
		budget := maxPartitionsPerRequest
		var recs []metadata.Record
		for i, r := range reqs {
			if count[r.Name] > 1 {
				results[i].Err = fmt.Errorf("%w: topic %q is listed more than once", ErrInvalidRequest, r.Name)
				continue
			}
			t, ok := img.TopicByName(r.Name)
			if !ok {
				results[i].Err = fmt.Errorf("%w: %q", ErrUnknownTopic, r.Name)
				continue
			}
			assignment, err := c.placeNewPartitions(img, brokers, t, r, budget)
			if err != nil {
				results[i].Err = err
				continue
			}
			budget -= len(assignment)
			recs = appendPartitionRecords(recs, img, t.ID, int32(len(t.Partitions)), assignment)
		}
		if validateOnly || len(recs) == 0 {
			return
		}
		if err := c.propose(ctx, recs); err != nil {
			fail(err)
			return
		}
		for i, r := range reqs {
			if results[i].Err == nil {
				c.logger.Info("partitions created", "topic", r.Name, "partitions", r.Count)
			}
		}
	})
	if err != nil {
		fail(err)
	}
	return results
}

func (c *Controller) placeNewPartitions(img *metadata.Image, brokers []metadata.BrokerInfo, t *metadata.Topic, r CreatePartitions, budget int) ([][]int32, error) {
	current := int32(len(t.Partitions))
	switch {
	case r.Count < current:
		return nil, fmt.Errorf("%w: topic %q has %d partitions, more than the requested %d; partitions can only be added", ErrInvalidPartitions, t.Name, current, r.Count)
	case r.Count == current:
		return nil, fmt.Errorf("%w: topic %q already has %d partitions", ErrInvalidPartitions, t.Name, current)
	case int(r.Count-current) > budget:
		return nil, fmt.Errorf("%w: the request would create more than %d partitions", ErrInvalidPartitions, maxPartitionsPerRequest)
	}
	rf := 1
	if current > 0 {
		rf = len(t.Partitions[0].Replicas)
	}
	add := int(r.Count - current)
	if r.Assignments != nil {
		if len(r.Assignments) != add {
			return nil, fmt.Errorf("%w: %d assignments for %d new partitions", ErrInvalidReplicaAssignment, len(r.Assignments), add)
		}
		if err := checkAssignment(img, r.Assignments, rf); err != nil {
			return nil, err
		}
		return r.Assignments, nil
	}
	return c.place(brokers, add, rf, int(current))
}
