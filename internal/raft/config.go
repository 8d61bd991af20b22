package raft

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Voter is one voting member of the metadata quorum.
type Voter struct {
	ID int32
	// Addr is the host:port other voters dial for raft RPCs. It may be ""
	// for a single voter on the in-memory transport.
	Addr string
}

// Config configures a Node. Durations of zero take the defaults documented
// on each field.
type Config struct {
	// NodeID is this node's id; it must be one of Voters, unless Observer.
	NodeID int32
	// Observer makes the node a non-voter that follows the log (a
	// broker-only node): it is not among Voters, never bootstraps and never
	// votes, and receives the log once the leader adds it with
	// AddNonvoter. It needs ListenAddr (or Listener) and Advertise.
	Observer bool
	// Advertise is the host:port the leader dials to reach an observer.
	// Voters are reached at their Voters address.
	Advertise string
	// Dir holds raft.db (log and stable store) and snapshots/.
	Dir string
	// Voters is the initial voter set, used to bootstrap an empty Dir. Empty
	// means a single voter: this node.
	Voters []Voter
	// ListenAddr is the host:port to listen on for raft RPCs. With a single
	// voter and no Listener it may be "": the node then uses an in-memory
	// transport and needs no port.
	ListenAddr string
	// Listener, if set, is used instead of listening on ListenAddr; the
	// Node closes it when Run returns. Tests use it to learn ports before
	// building the voter list.
	Listener net.Listener
	Logger   *slog.Logger
	// TLS, when set, secures the TCP transport: accepted connections run
	// a TLS server handshake with it, which must finish within
	// TransportTimeout. It should require and verify client certificates:
	// any peer that gets in can vote and append to the metadata log.
	// DialTLS then dials peers (a TLS client presenting this node's
	// certificate).
	TLS     *tls.Config
	DialTLS func(ctx context.Context, network, addr string) (net.Conn, error)

	// HeartbeatTimeout is how long a follower waits without hearing from a
	// leader before it starts an election. Default: 50ms for a single voter
	// (there is nobody to hear from, so this bounds startup time), 1s for
	// a cluster.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes. Default: as
	// HeartbeatTimeout.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without hearing
	// from a quorum. Default: half of HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds the delay before a leader sends an idle
	// heartbeat carrying the commit index. Default: 50ms.
	CommitTimeout time.Duration
	// SnapshotInterval is how often raft checks whether to snapshot, and
	// SnapshotThreshold how many new log entries trigger one. Defaults: 2m
	// and 8192.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	// TrailingLogs is how many entries are kept after a snapshot, so slow
	// followers can catch up from the log. Default: 10240.
	TrailingLogs uint64
	// RetainSnapshots is how many snapshots are kept. Default: 2.
	RetainSnapshots int
	// TransportTimeout bounds raft RPC I/O on the TCP transport. Default: 10s.
	TransportTimeout time.Duration
	// MaxPool is the number of pooled connections per peer. Default: 3.
	MaxPool int
}

// DefaultConfig returns a single-voter config for node 1; Dir must still be
// set.
func DefaultConfig() Config {
	return Config{
		NodeID:            1,
		CommitTimeout:     50 * time.Millisecond,
		SnapshotInterval:  2 * time.Minute,
		SnapshotThreshold: 8192,
		TrailingLogs:      10240,
		RetainSnapshots:   2,
		TransportTimeout:  10 * time.Second,
		MaxPool:           3,
	}
}

// voters returns the effective voter list.
func (c *Config) voters() []Voter {
	if len(c.Voters) == 0 {
		return []Voter{{ID: c.NodeID}}
	}
	return c.Voters
}

// inmem reports whether the node runs on the in-memory transport.
func (c *Config) inmem() bool {
	return len(c.voters()) == 1 && c.ListenAddr == "" && c.Listener == nil && !c.Observer
}

// withDefaults fills zero durations and counts.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = time.Second
		if len(c.voters()) == 1 && !c.Observer {
			c.HeartbeatTimeout = 50 * time.Millisecond
		}
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = c.HeartbeatTimeout
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = max(c.HeartbeatTimeout/2, 5*time.Millisecond)
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = d.CommitTimeout
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = d.SnapshotInterval
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = d.SnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = d.TrailingLogs
	}
	if c.RetainSnapshots == 0 {
		c.RetainSnapshots = d.RetainSnapshots
	}
	if c.TransportTimeout == 0 {
		c.TransportTimeout = d.TransportTimeout
	}
	if c.MaxPool == 0 {
		c.MaxPool = d.MaxPool
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem with the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node id %d is negative", c.NodeID))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("dir is empty"))
	}
	seen := map[int32]bool{}
	self := false
	for _, v := range c.voters() {
		if v.ID < 0 {
			errs = append(errs, fmt.Errorf("voter id %d is negative", v.ID))
		}
		if seen[v.ID] {
			errs = append(errs, fmt.Errorf("voter %d is listed twice", v.ID))
		}
		seen[v.ID] = true
		self = self || v.ID == c.NodeID
		if len(c.voters()) > 1 && v.Addr == "" {
			errs = append(errs, fmt.Errorf("voter %d has no address; every voter of a multi-voter quorum needs one", v.ID))
		}
	}
	switch {
	case c.Observer && self:
		errs = append(errs, fmt.Errorf("observer %d is among the voters", c.NodeID))
	case c.Observer && len(c.Voters) == 0:
		errs = append(errs, errors.New("an observer needs the voters"))
	case c.Observer && (c.ListenAddr == "" && c.Listener == nil || c.Advertise == ""):
		errs = append(errs, errors.New("an observer needs a listen and an advertised address"))
	case !c.Observer && !self:
		errs = append(errs, fmt.Errorf("node %d is not among the voters", c.NodeID))
	}
	if len(c.voters()) > 1 && c.ListenAddr == "" && c.Listener == nil {
		errs = append(errs, errors.New("a multi-voter quorum needs a listen address"))
	}
	for name, d := range map[string]time.Duration{
		"heartbeat timeout": c.HeartbeatTimeout, "election timeout": c.ElectionTimeout,
		"leader lease timeout": c.LeaderLeaseTimeout, "commit timeout": c.CommitTimeout,
		"snapshot interval": c.SnapshotInterval, "transport timeout": c.TransportTimeout,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", name, d))
		}
	}
	if c.RetainSnapshots < 0 || c.MaxPool < 0 {
		errs = append(errs, errors.New("retain snapshots and max pool must not be negative"))
	}
	if len(errs) == 0 {
		dc := c.withDefaults()
		if err := hraft.ValidateConfig(dc.hraftConfig(nil)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("raft config: %w", err)
	}
	return nil
}

// hraftConfig builds hashicorp/raft's config from a defaulted Config.
func (c *Config) hraftConfig(logger *hclogAdapter) *hraft.Config {
	hc := hraft.DefaultConfig()
	hc.LocalID = serverID(c.NodeID)
	hc.HeartbeatTimeout = c.HeartbeatTimeout
	hc.ElectionTimeout = c.ElectionTimeout
	hc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	hc.CommitTimeout = c.CommitTimeout
	hc.SnapshotInterval = c.SnapshotInterval
	hc.SnapshotThreshold = c.SnapshotThreshold
	hc.TrailingLogs = c.TrailingLogs
	if logger != nil {
		hc.Logger = logger
	}
	return hc
}

func serverID(id int32) hraft.ServerID { return hraft.ServerID(strconv.FormatInt(int64(id), 10)) }

// parseServerID returns -1 for an empty or non-numeric id.
func parseServerID(id hraft.ServerID) int32 {
	n, err := strconv.ParseInt(string(id), 10, 32)
	if err != nil {
		return -1
	}
	return int32(n)
}
