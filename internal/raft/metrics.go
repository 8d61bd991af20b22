package raft

import (
	"github.com/prometheus/client_golang/prometheus"

	hraft "github.com/hashicorp/raft"

	"github.com/strata-io/strata/internal/metrics"
)

var (
	termDesc = prometheus.NewDesc(metrics.Name("raft", "term"),
		"Current term of the metadata quorum as this node sees it.", nil, nil)
	commitDesc = prometheus.NewDesc(metrics.Name("raft", "commit_index"),
		"Highest metadata log index known committed.", nil, nil)
	appliedDesc = prometheus.NewDesc(metrics.Name("raft", "applied_index"),
		"Highest metadata log index applied to this node's metadata image.", nil, nil)
	lastDesc = prometheus.NewDesc(metrics.Name("raft", "last_log_index"),
		"Last index in this node's metadata log.", nil, nil)
	applyLagDesc = prometheus.NewDesc(metrics.Name("raft", "apply_lag"),
		"Committed metadata log entries not yet applied here (commit_index - applied_index).", nil, nil)
	leaderDesc = prometheus.NewDesc(metrics.Name("raft", "leader_id"),
		"Node id of the metadata quorum leader (the active controller), -1 when none is known.", nil, nil)
	stateDesc = prometheus.NewDesc(metrics.Name("raft", "state"),
		"1 for this node's raft state (follower, candidate, leader, shutdown), 0 for the others.", []string{"state"}, nil)
)

// Collector reports the node's raft state at scrape time; before Run has
// started raft it reports nothing.
func (n *Node) Collector() prometheus.Collector { return raftCollector{n} }

type raftCollector struct{ n *Node }

func (c raftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{termDesc, commitDesc, appliedDesc, lastDesc, applyLagDesc, leaderDesc, stateDesc} {
		ch <- d
	}
}

func (c raftCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.n.running()
	if r == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	commit, applied := r.CommitIndex(), r.AppliedIndex()
	gauge(termDesc, float64(r.CurrentTerm()))
	gauge(commitDesc, float64(commit))
	gauge(appliedDesc, float64(applied))
	gauge(lastDesc, float64(r.LastIndex()))
	gauge(applyLagDesc, float64(commit-min(applied, commit)))
	leader, _ := c.n.Leader()
	gauge(leaderDesc, float64(leader))
	st := r.State()
	for _, s := range []hraft.RaftState{hraft.Follower, hraft.Candidate, hraft.Leader, hraft.Shutdown} {
		v := 0.0
		if s == st {
			v = 1
		}
		gauge(stateDesc, v, stateName(s))
	}
}

func stateName(s hraft.RaftState) string {
	switch s {
	case hraft.Follower:
		return "follower"
	case hraft.Candidate:
		return "candidate"
	case hraft.Leader:
		return "leader"
	}
	return "shutdown"
}

// CommitIndex returns the highest log index known committed, 0 before Run
// has started raft.
func (n *Node) CommitIndex() uint64 {
	r := n.running()
	if r == nil {
		return 0
	}
	return r.CommitIndex()
}
