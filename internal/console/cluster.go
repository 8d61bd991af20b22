package console

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/kafkaerr"
	"github.com/strata-io/strata/internal/version"
)

// clusterView is GET /console/api/cluster.
type clusterView struct {
	ClusterID    string       `json:"cluster_id"`
	ControllerID int32        `json:"controller_id"` // from DescribeCluster; -1 if none
	Brokers      []brokerView `json:"brokers"`
	// Quorum is the metadata quorum (DescribeQuorum); nil with
	// QuorumError set when the cluster does not answer it.
	Quorum      *quorumView `json:"quorum,omitempty"`
	QuorumError string      `json:"quorum_error,omitempty"`

	Topics          int `json:"topics"`
	Partitions      int `json:"partitions"`
	UnderReplicated int `json:"under_replicated_partitions"`
	Offline         int `json:"offline_partitions"`

	Versions []brokerVersions `json:"versions"` // ApiVersions of each broker, by node ID
	Console  string           `json:"console_version"`
	TimeMs   int64            `json:"time_ms"`
}

type brokerView struct {
	NodeID int32  `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
	Rack   string `json:"rack,omitempty"`
	Fenced bool   `json:"fenced"`
}

type quorumView struct {
	LeaderID      int32          `json:"leader_id"`
	LeaderEpoch   int32          `json:"leader_epoch"`
	HighWatermark int64          `json:"high_watermark"`
	Voters        []replicaState `json:"voters"`
	Observers     []replicaState `json:"observers"`
}

// replicaState is one member of the metadata quorum. Timestamps are Unix
// milliseconds, -1 when unknown.
type replicaState struct {
	ReplicaID      int32 `json:"replica_id"`
	LogEndOffset   int64 `json:"log_end_offset"`
	LastFetchMs    int64 `json:"last_fetch_ms"`
	LastCaughtUpMs int64 `json:"last_caught_up_ms"`
}

type brokerVersions struct {
	NodeID int32 `json:"node_id"`
	// NB: no guess of the Kafka release: franz-go's kversion guess reads
	// Strata's API table (which keeps old version floors for old clients)
	// as "between v1.0 and v1.1". The finalized metadata.version says more.
	Error    string        `json:"error,omitempty"`
	Features []featureView `json:"features"`
	APIs     []apiView     `json:"apis"`
}

type featureView struct {
	Name string `json:"name"`
	// Level is the finalized level; Max the highest the broker supports.
	Level int16 `json:"level"`
	Max   int16 `json:"max"`
}

type apiView struct {
	Key  int16  `json:"key"`
	Name string `json:"name"`
	Min  int16  `json:"min"`
	Max  int16  `json:"max"`
}

func (c *Console) getCluster(ctx context.Context, _ *request) (any, error) {
	v := clusterView{ControllerID: -1, Console: version.Get().Version, TimeMs: time.Now().UnixMilli()}
	dreq := kmsg.NewPtrDescribeClusterRequest()
	dreq.IncludeFencedBrokers = true
	dresp, err := dreq.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, fmt.Errorf("describe cluster: %w", err)
	}
	if err := kerr.ErrorForCode(dresp.ErrorCode); err != nil {
		return nil, fmt.Errorf("describe cluster: %w", kafkaerr.WithMessage(err, derefString(dresp.ErrorMessage)))
	}
	v.ClusterID, v.ControllerID = dresp.ClusterID, dresp.ControllerID
	for _, b := range dresp.Brokers {
		bv := brokerView{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Fenced: b.IsFenced}
		if b.Rack != nil {
			bv.Rack = *b.Rack
		}
		v.Brokers = append(v.Brokers, bv)
	}
	slices.SortFunc(v.Brokers, func(a, b brokerView) int { return int(a.NodeID) - int(b.NodeID) })

	v.Quorum, err = c.describeQuorum(ctx)
	if err != nil {
		v.QuorumError = err.Error()
	}

	md, err := c.adm.Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	for _, t := range md.Topics {
		v.Topics++
		for _, p := range t.Partitions {
			v.Partitions++
			if p.Leader < 0 {
				v.Offline++
			}
			if len(p.ISR) < len(p.Replicas) {
				v.UnderReplicated++
			}
		}
	}

	avs, err := c.adm.ApiVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("api versions: %w", err)
	}
	for _, av := range avs.Sorted() {
		bv := brokerVersions{NodeID: av.NodeID, Features: []featureView{}, APIs: []apiView{}}
		if av.Err != nil {
			bv.Error = av.Err.Error()
			v.Versions = append(v.Versions, bv)
			continue
		}
		av.EachKeySorted(func(key, lo, hi int16) {
			bv.APIs = append(bv.APIs, apiView{Key: key, Name: kmsg.NameForKey(key), Min: lo, Max: hi})
		})
		if raw := av.Raw(); raw != nil {
			supported := map[string]int16{}
			for _, f := range raw.SupportedFeatures {
				supported[f.Name] = f.MaxVersion
			}
			for _, f := range raw.FinalizedFeatures {
				bv.Features = append(bv.Features, featureView{Name: f.Name, Level: f.MaxVersionLevel, Max: supported[f.Name]})
			}
			slices.SortFunc(bv.Features, func(a, b featureView) int { return cmpString(a.Name, b.Name) })
		}
		v.Versions = append(v.Versions, bv)
	}
	return v, nil
}

// describeQuorum asks for the state of the KRaft metadata quorum.
func (c *Console) describeQuorum(ctx context.Context) (*quorumView, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, fmt.Errorf("describe quorum: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("describe quorum: %w", kafkaerr.WithMessage(err, derefString(resp.ErrorMessage)))
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("describe quorum: answered %d topics, want 1 partition of __cluster_metadata", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return nil, fmt.Errorf("describe quorum: %w", kafkaerr.WithMessage(err, derefString(p.ErrorMessage)))
	}
	q := &quorumView{LeaderID: p.LeaderID, LeaderEpoch: p.LeaderEpoch, HighWatermark: p.HighWatermark, Voters: []replicaState{}, Observers: []replicaState{}}
	conv := func(rs []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) []replicaState {
		out := []replicaState{}
		for _, r := range rs {
			out = append(out, replicaState{ReplicaID: r.ReplicaID, LogEndOffset: r.LogEndOffset, LastFetchMs: r.LastFetchTimestamp, LastCaughtUpMs: r.LastCaughtUpTimestamp})
		}
		slices.SortFunc(out, func(a, b replicaState) int { return int(a.ReplicaID) - int(b.ReplicaID) })
		return out
	}
	q.Voters, q.Observers = conv(p.CurrentVoters), conv(p.Observers)
	return q, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
