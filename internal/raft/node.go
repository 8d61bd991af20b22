package raft

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

var (
	// ErrNotLeader is wrapped by errors from a node that is not the leader.
	// Use errors.As with *NotLeaderError for the leader's identity.
	ErrNotLeader = errors.New("not the metadata quorum leader")
	// ErrStopped means the node is not running: Run has not started raft
	// yet, or it has returned.
	ErrStopped = errors.New("metadata quorum node is not running")
)

// NotLeaderError says who the leader is, when known.
type NotLeaderError struct {
	// LeaderID is -1 and LeaderAddr "" when no leader is known.
	LeaderID   int32
	LeaderAddr string
	// Reason is set when a proposal lost its leader while in flight; then
	// the proposal may still have been committed.
	Reason string
}

func (e *NotLeaderError) Error() string {
	msg := ErrNotLeader.Error()
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.LeaderID < 0 {
		return msg + "; no leader known"
	}
	return fmt.Sprintf("%s; leader is node %d at %s", msg, e.LeaderID, e.LeaderAddr)
}

func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// StateMachine is the replicated state that committed entries are applied
// to. Its methods are never called concurrently: Apply and Snapshot run on
// raft's FSM goroutine, Restore on it or, at start, on Run's goroutine
// before the FSM goroutine exists.
type StateMachine interface {
	// Apply applies the entry committed at index. Its error is returned
	// to the proposer; it must be deterministic, since every replica
	// applies the same entry to the same state.
	Apply(index uint64, data []byte) error
	// Snapshot encodes the current state.
	Snapshot() ([]byte, error)
	// Restore replaces the state with a Snapshot's bytes.
	Restore(data []byte) error
}

// Node is one member of the metadata quorum.
type Node struct {
	cfg Config        // defaulted in New, never changed
	fsm *fsm          // set in New, never changed
	up  chan struct{} // closed by Run once raft is running
	end chan struct{} // closed when Run returns

	// raft is set by Run before up is closed and never reset; after Run
	// returns, raft refuses work with ErrRaftShutdown.
	raft atomic.Pointer[hraft.Raft]
	// logs is raft's log store, set by Run before up is closed.
	logs hraft.LogStore
	// readyTerm is the term in which this node, as leader, last passed a
	// barrier: every entry before its term is applied.
	readyTerm atomic.Uint64
	ran       atomic.Bool
	// nudge asks Run's commit announcer to tell the followers the commit
	// index now (see announceCommits); buffered 1, so requests coalesce.
	nudge chan struct{}

	// mu guards the proposal waiters that Run must wait for.
	mu struct {
		sync.Mutex
		stopped bool
		waiters sync.WaitGroup
	}
}

// New checks cfg and returns a Node that applies committed entries to sm.
// It starts nothing and opens no files.
func New(cfg Config, sm StateMachine) (*Node, error) {
	if sm == nil {
		return nil, errors.New("raft: nil state machine")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Logger = cfg.Logger.With("component", "raft", "node_id", cfg.NodeID)
	return &Node{cfg: cfg, fsm: &fsm{sm: sm}, up: make(chan struct{}), end: make(chan struct{}), nudge: make(chan struct{}, 1)}, nil
}

// Run opens the stores under Dir, bootstraps the voter set if Dir holds no
// raft state, and runs raft until ctx is cancelled. It then shuts raft down,
// waits for in-flight proposals to be answered, closes its files and
// listener, and returns nil. Run may be called once.
func (n *Node) Run(ctx context.Context) (err error) {
	if !n.ran.CompareAndSwap(false, true) {
		return errors.New("raft: Run called twice")
	}
	defer close(n.end)
	var closers []io.Closer
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			cerr := closers[i].Close()
			if cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
				err = fmt.Errorf("raft: close: %w", cerr)
			}
		}
	}()
	if n.cfg.Listener != nil {
		// The TCP transport closes it too; ErrClosed is ignored above.
		closers = append(closers, n.cfg.Listener)
	}
	logger := n.cfg.Logger
	hlog := newHclogAdapter(logger)

	if err := os.MkdirAll(n.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(n.cfg.Dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second},
	})
	if err != nil {
		return fmt.Errorf("raft: open %s: %w", filepath.Join(n.cfg.Dir, "raft.db"), err)
	}
	closers = append(closers, store)
	snaps, err := hraft.NewFileSnapshotStoreWithLogger(n.cfg.Dir, n.cfg.RetainSnapshots, hlog.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("raft: snapshot store: %w", err)
	}
	trans, selfAddr, err := n.transport(hlog)
	if err != nil {
		return err
	}
	closers = append(closers, trans)

	existing, err := hraft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("raft: inspect state: %w", err)
	}
	hc := n.cfg.hraftConfig(hlog)
	if !existing && !n.cfg.Observer {
		if err := hraft.BootstrapCluster(hc, store, store, snaps, trans, n.bootstrapConfiguration(selfAddr)); err != nil {
			return fmt.Errorf("raft: bootstrap: %w", err)
		}
		logger.Info("bootstrapped metadata quorum", "voters", len(n.cfg.voters()))
	}
	r, err := hraft.NewRaft(hc, n.fsm, logStore{store}, store, snaps, trans)
	if err != nil {
		return fmt.Errorf("raft: start: %w", err)
	}
	obsCh := make(chan hraft.Observation, 8) // non-blocking observer: raft drops observations when full
	obs := hraft.NewObserver(obsCh, false, func(o *hraft.Observation) bool {
		_, ok := o.Data.(hraft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(obs)
	n.raft.Store(r)
	n.logs = store
	close(n.up)
	logger.Debug("metadata quorum node started", "addr", selfAddr, "existing_state", existing)

	announceCtx, stopAnnouncing := context.WithCancel(ctx)
	announced := make(chan struct{})
	go func() {
		defer close(announced)
		n.announceCommits(announceCtx, r)
	}()

	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case o := <-obsCh:
			lo, ok := o.Data.(hraft.LeaderObservation)
			if !ok {
				continue
			}
			if lo.LeaderID == "" {
				logger.Info("metadata quorum has no leader")
			} else {
				if lo.LeaderID == serverID(n.cfg.NodeID) {
					n.announce() // the followers learn the election's entries committed
				}
				logger.Info("metadata quorum leader elected", "leader_id", parseServerID(lo.LeaderID), "leader_addr", string(lo.LeaderAddr))
			}
		}
	}

	stopAnnouncing()
	<-announced
	r.DeregisterObserver(obs)
	n.mu.Lock()
	n.mu.stopped = true
	n.mu.Unlock()
	// NB: the futures in flight are waited for while raft still runs,
	// which answers each: it applies a committed entry, or fails one it
	// can no longer commit (leadership lost, ErrNotLeader). Its shutdown
	// does not: a committed entry still queued for the FSM goroutine when
	// that goroutine exits is dropped with its future unanswered
	// (hashicorp/raft gives Apply and Barrier futures no shutdown channel),
	// and its waiter would block forever.
	n.mu.waiters.Wait()
	shutdownErr := r.Shutdown().Error()
	if shutdownErr != nil {
		return fmt.Errorf("raft: shutdown: %w", shutdownErr)
	}
	logger.Debug("metadata quorum node stopped")
	return nil
}

// transport is a raft transport that Run closes after raft shut down.
type transport interface {
	hraft.Transport
	io.Closer
}

// transport builds the in-memory or TCP transport and returns the address
// this node is known by.
func (n *Node) transport(hlog *hclogAdapter) (transport, hraft.ServerAddress, error) {
	self := n.selfVoter()
	if n.cfg.inmem() {
		addr := hraft.ServerAddress(self.Addr)
		if addr == "" {
			addr = hraft.ServerAddress(fmt.Sprintf("inmem:%d", n.cfg.NodeID))
		}
		_, t := hraft.NewInmemTransport(addr)
		return t, addr, nil
	}
	ln := n.cfg.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", n.cfg.ListenAddr)
		if err != nil {
			return nil, "", fmt.Errorf("raft: listen: %w", err)
		}
	}
	advertise := self.Addr
	if n.cfg.Observer {
		advertise = n.cfg.Advertise
	}
	if advertise == "" {
		advertise = ln.Addr().String()
	}
	stream := newStreamLayer(ln, advertise)
	if n.cfg.TLS != nil {
		if n.cfg.DialTLS == nil {
			return nil, "", errors.New("raft: TLS without DialTLS")
		}
		stream.tls, stream.dialTLS, stream.handshakeTimeout = n.cfg.TLS, n.cfg.DialTLS, n.cfg.TransportTimeout
	}
	t := hraft.NewNetworkTransportWithConfig(&hraft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: n.cfg.MaxPool,
		Timeout: n.cfg.TransportTimeout,
		Logger:  hlog.Named("net"),
	})
	return t, hraft.ServerAddress(advertise), nil
}

func (n *Node) selfVoter() Voter {
	for _, v := range n.cfg.voters() {
		if v.ID == n.cfg.NodeID {
			return v
		}
	}
	return Voter{ID: n.cfg.NodeID}
}

func (n *Node) bootstrapConfiguration(selfAddr hraft.ServerAddress) hraft.Configuration {
	var c hraft.Configuration
	for _, v := range n.cfg.voters() {
		addr := hraft.ServerAddress(v.Addr)
		if v.ID == n.cfg.NodeID {
			addr = selfAddr
		}
		c.Servers = append(c.Servers, hraft.Server{Suffrage: hraft.Voter, ID: serverID(v.ID), Address: addr})
	}
	return c
}

// running returns raft, or nil before Run has started it.
func (n *Node) running() *hraft.Raft { return n.raft.Load() }

// IsLeader reports whether this node is the quorum leader now.
func (n *Node) IsLeader() bool {
	r := n.running()
	return r != nil && r.State() == hraft.Leader
}

// Leader returns the current leader's id and address, or (-1, "") when no
// leader is known.
func (n *Node) Leader() (id int32, addr string) {
	r := n.running()
	if r == nil {
		return -1, ""
	}
	a, sid := r.LeaderWithID()
	if sid == "" {
		return -1, ""
	}
	return parseServerID(sid), string(a)
}

// AddNonvoter adds node id, reachable at addr, to the quorum as a
// non-voter that receives the log (an observer). It is a no-op when the
// node is already a member with that address; on a node that is not the
// leader it fails with an error wrapping ErrNotLeader.
func (n *Node) AddNonvoter(ctx context.Context, id int32, addr string) error {
	r := n.running()
	if r == nil {
		return ErrStopped
	}
	if r.State() != hraft.Leader {
		return n.notLeader("")
	}
	f := r.GetConfiguration()
	if err := n.wait(ctx, f); err != nil {
		return err
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == serverID(id) {
			if s.Address == hraft.ServerAddress(addr) {
				return nil
			}
			if s.Suffrage == hraft.Voter {
				return fmt.Errorf("raft: node %d is a voter; it cannot join as a non-voter", id)
			}
		}
	}
	if err := n.wait(ctx, r.AddNonvoter(serverID(id), hraft.ServerAddress(addr), 0, timeoutOf(ctx))); err != nil {
		return err
	}
	n.cfg.Logger.Info("observer added to the metadata quorum", "observer_id", id, "addr", addr)
	return nil
}

// ErrVoter is returned by RemoveNonvoter for a voter: this package never
// changes the voter set after bootstrap.
var ErrVoter = errors.New("node is a voter of the metadata quorum")

// RemoveNonvoter removes node id, a non-voter (an observer), from the
// quorum's configuration: the leader stops replicating and heartbeating
// to it once the change is committed, which RemoveNonvoter waits for.
// removed is false, with a nil error, when id is not a member; a voter
// fails with an error wrapping ErrVoter. On a node that is not the leader
// it fails with an error wrapping ErrNotLeader.
//
// NB: hashicorp/raft ends the replication goroutine of a removed peer
// only after the retry backoff it may be sleeping in (up to ~10s after
// many failures) and one last attempt, itself after a backoff; the
// peer's heartbeats, and their failures, go on until then (~20s at most
// for an unreachable peer), never longer.
func (n *Node) RemoveNonvoter(ctx context.Context, id int32) (removed bool, err error) {
	r := n.running()
	if r == nil {
		return false, ErrStopped
	}
	if r.State() != hraft.Leader {
		return false, n.notLeader("")
	}
	f := r.GetConfiguration()
	if err := n.wait(ctx, f); err != nil {
		return false, err
	}
	member := false
	for _, s := range f.Configuration().Servers {
		if s.ID != serverID(id) {
			continue
		}
		if s.Suffrage == hraft.Voter {
			return false, fmt.Errorf("raft: node %d: %w", id, ErrVoter)
		}
		member = true
	}
	if !member {
		return false, nil
	}
	// prevIndex makes the change fail rather than apply over a
	// configuration change made since it was read.
	if err := n.wait(ctx, r.RemoveServer(serverID(id), f.Index(), timeoutOf(ctx))); err != nil {
		return false, err
	}
	n.cfg.Logger.Info("observer removed from the metadata quorum", "observer_id", id)
	return true, nil
}

// AppliedIndex returns the index of the last entry raft handed to the state
// machine.
func (n *Node) AppliedIndex() uint64 {
	r := n.running()
	if r == nil {
		return 0
	}
	return r.AppliedIndex()
}

func (n *Node) notLeader(reason string) error {
	id, addr := n.Leader()
	return &NotLeaderError{LeaderID: id, LeaderAddr: addr, Reason: reason}
}

// Propose replicates data and waits until the local state machine has
// applied it, returning the entry's index and the state machine's Apply
// error. On a follower it fails with an error wrapping ErrNotLeader.
//
// NB: if ctx ends, or leadership is lost, while the entry is in flight,
// the entry may still be committed later; the caller cannot know.
func (n *Node) Propose(ctx context.Context, data []byte) (index uint64, err error) {
	r := n.running()
	if r == nil {
		return 0, ErrStopped
	}
	switch r.State() {
	case hraft.Leader:
	case hraft.Shutdown:
		return 0, ErrStopped
	default:
		return 0, n.notLeader("")
	}
	f := r.Apply(data, timeoutOf(ctx))
	if err := n.wait(ctx, f); err != nil {
		return 0, err
	}
	n.announce()
	if resp := f.Response(); resp != nil {
		if err, ok := resp.(error); ok {
			return f.Index(), err
		}
	}
	return f.Index(), nil
}

// announce asks announceCommits for a round.
func (n *Node) announce() {
	select {
	case n.nudge <- struct{}{}:
	default:
	}
}

// announceCommits tells the followers the leader's commit index as soon
// as a proposal commits, until ctx ends. Raft carries the commit index
// only in AppendEntries, which the leader sends when it has new entries or
// when its idle CommitTimeout fires: left alone, a follower learns of a
// commit 50-100ms after the leader (the README cluster's brokers then
// answer Metadata without a topic the controller has created). A barrier
// is a new entry, sent at once, carrying the commit index of everything
// before it; while one is in flight further nudges coalesce into the next.
func (n *Node) announceCommits(ctx context.Context, r *hraft.Raft) {
	var announced uint64 // the last term in which a barrier committed
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.nudge:
		}
		// A new leader's first barrier may go out before the entries of
		// its election commit; a second one, sent once the first has
		// committed, announces them.
		for rounds := 1; rounds <= 2 && r.State() == hraft.Leader; rounds++ {
			term := r.CurrentTerm()
			// A lost leadership or shutdown fails the barrier: nothing
			// to announce then. n.wait's waiter ends when Run shuts raft
			// down.
			if err := n.wait(ctx, r.Barrier(n.cfg.TransportTimeout)); err != nil || term == announced {
				break
			}
			announced = term
		}
	}
}

// wait waits for a raft future without outliving ctx, and maps raft's
// errors to this package's.
func (n *Node) wait(ctx context.Context, f hraft.Future) error {
	n.mu.Lock()
	if n.mu.stopped {
		n.mu.Unlock()
		return ErrStopped
	}
	n.mu.waiters.Add(1)
	n.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		defer n.mu.waiters.Done()
		done <- f.Error()
	}()
	select {
	case err := <-done:
		return n.mapError(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *Node) mapError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, hraft.ErrNotLeader):
		return n.notLeader("")
	case errors.Is(err, hraft.ErrLeadershipLost):
		return n.notLeader("leadership lost while the entry was in flight; it may still commit")
	case errors.Is(err, hraft.ErrLeadershipTransferInProgress):
		return n.notLeader("leadership transfer in progress")
	case errors.Is(err, hraft.ErrRaftShutdown):
		return ErrStopped
	case errors.Is(err, hraft.ErrEnqueueTimeout):
		return fmt.Errorf("raft: %w", context.DeadlineExceeded)
	default:
		return fmt.Errorf("raft: %w", err)
	}
}

func timeoutOf(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}

// WaitReady waits until a leader is known and this node's state machine
// has caught up: on the leader, until every entry of earlier terms is
// applied (a barrier, repeated once per term); on a follower, until the
// state machine has applied everything up to the commit index it learned
// from the leader.
//
// NB: on a follower, raft's applied index counts entries handed to the FSM
// goroutine, which may be far from applying them: raft queues up to 128
// batches for it. A restarted follower replays its whole log that way, so
// the state machine itself is asked (stateMachineReached).
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.up:
	case <-n.end:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	r := n.running()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		switch r.State() {
		case hraft.Leader:
			term := r.CurrentTerm()
			if n.readyTerm.Load() == term {
				return nil
			}
			err := n.wait(ctx, r.Barrier(timeoutOf(ctx)))
			if err == nil {
				n.readyTerm.Store(term)
				return nil
			}
			if !errors.Is(err, ErrNotLeader) {
				return err
			}
		case hraft.Follower:
			if _, id := r.LeaderWithID(); id != "" {
				if ci := r.CommitIndex(); ci > 0 && r.AppliedIndex() >= ci && n.stateMachineReached(r, ci) {
					return nil
				}
			}
		case hraft.Shutdown:
			return ErrStopped
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stateMachineReached reports whether the state machine has applied every
// entry up to index, which raft has already handed to the FSM goroutine.
// The state machine sees only command entries, so it has reached index
// once it applied the last command at or below index; entries at or below
// the last snapshot are in the state restored from it (raft counts a
// snapshot applied only once the FSM goroutine restored it). A log store
// error answers false: WaitReady looks again.
func (n *Node) stateMachineReached(r *hraft.Raft, index uint64) bool {
	applied := n.fsm.applied.Load()
	if applied >= index {
		return true
	}
	snapshot, err := strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64)
	if err != nil {
		return false
	}
	for i := index; i > applied && i > snapshot; i-- {
		var l hraft.Log
		if err := n.logs.GetLog(i, &l); err != nil {
			return false
		}
		if l.Type == hraft.LogCommand {
			return false // applied < i: not applied yet
		}
	}
	return true
}

// Snapshot asks raft to take a snapshot now. Having nothing new to
// snapshot is not an error.
func (n *Node) Snapshot(ctx context.Context) error {
	r := n.running()
	if r == nil {
		return ErrStopped
	}
	err := n.wait(ctx, r.Snapshot())
	if errors.Is(err, hraft.ErrNothingNewToSnapshot) {
		return nil
	}
	return err
}

// fsm adapts a StateMachine to hashicorp/raft.
type fsm struct {
	sm StateMachine
	// applied is the index of the last command entry sm applied (0 before
	// the first since Run started), for WaitReady: raft's own applied
	// index runs ahead of the FSM goroutine.
	applied atomic.Uint64
}

func (f *fsm) Apply(l *hraft.Log) any {
	if l.Type != hraft.LogCommand {
		return nil
	}
	// NB: stored once sm has applied it, also when the entry failed: a
	// failed entry is applied as a no-op on every replica.
	defer f.applied.Store(l.Index)
	if err := f.sm.Apply(l.Index, l.Data); err != nil {
		return err
	}
	return nil
}

func (f *fsm) Snapshot() (hraft.FSMSnapshot, error) {
	data, err := f.sm.Snapshot()
	if err != nil {
		return nil, err
	}
	return fsmSnapshot(data), nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	return f.sm.Restore(data)
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink hraft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() {}

// streamLayer is hashicorp/raft's TCP stream layer over a listener we own,
// advertising the address peers know us by. It tracks every connection and
// closes them all in Close: hraft's NetworkTransport.Close closes only the
// listener, which would leave connection goroutines blocked in reads.
type streamLayer struct {
	net.Listener
	advertise stringAddr
	// tls and dialTLS, when set, make every connection TLS; an accepted
	// one must finish its handshake within handshakeTimeout. Set before
	// the transport starts.
	tls              *tls.Config
	dialTLS          func(ctx context.Context, network, addr string) (net.Conn, error)
	handshakeTimeout time.Duration

	mu struct {
		sync.Mutex
		closed bool
		conns  map[*trackedConn]struct{}
	}
}

func newStreamLayer(ln net.Listener, advertise string) *streamLayer {
	s := &streamLayer{Listener: ln, advertise: stringAddr(advertise)}
	s.mu.conns = map[*trackedConn]struct{}{}
	return s
}

func (s *streamLayer) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if s.tls != nil {
		// NB: the handshake runs on the connection's first read or write
		// (raft's goroutine for it), not here in the accept loop; a peer
		// that stalls it is cut off by the deadline.
		c = &serverTLSConn{Conn: tls.Server(c, s.tls), timeout: s.handshakeTimeout}
	}
	return s.track(c)
}

func (s *streamLayer) Dial(addr hraft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	var err error
	if s.dialTLS != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		c, err = s.dialTLS(ctx, "tcp", string(addr))
		cancel()
	} else {
		d := net.Dialer{Timeout: timeout}
		c, err = d.Dial("tcp", string(addr))
	}
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

func (s *streamLayer) track(c net.Conn) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, s: s}
	s.mu.conns[tc] = struct{}{}
	return tc, nil
}

func (s *streamLayer) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	conns := s.mu.conns
	s.mu.conns = map[*trackedConn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return s.Listener.Close()
}

func (s *streamLayer) Addr() net.Addr { return s.advertise }

type trackedConn struct {
	net.Conn
	s *streamLayer
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.mu.conns, c)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// QuorumState describes the metadata quorum as this node sees it.
type QuorumState struct {
	LeaderID int32 // -1 when no leader is known
	Term     uint64
	// CommitIndex and LastIndex are this node's commit index and last log
	// index.
	CommitIndex, LastIndex uint64
	Voters, Observers      []int32
}

// Quorum returns the quorum's membership and this node's view of the log.
func (n *Node) Quorum(ctx context.Context) (QuorumState, error) {
	r := n.running()
	if r == nil {
		return QuorumState{}, ErrStopped
	}
	f := r.GetConfiguration()
	if err := n.wait(ctx, f); err != nil {
		return QuorumState{}, err
	}
	st := QuorumState{Term: r.CurrentTerm(), CommitIndex: r.CommitIndex(), LastIndex: r.LastIndex()}
	st.LeaderID, _ = n.Leader()
	for _, s := range f.Configuration().Servers {
		id := parseServerID(s.ID)
		if s.Suffrage == hraft.Voter {
			st.Voters = append(st.Voters, id)
		} else {
			st.Observers = append(st.Observers, id)
		}
	}
	slices.Sort(st.Voters)
	slices.Sort(st.Observers)
	return st, nil
}

// serverTLSConn is an accepted TLS connection whose handshake runs, under
// a deadline, on its first read or write.
type serverTLSConn struct {
	*tls.Conn
	timeout time.Duration
	once    sync.Once
	err     error
}

func (c *serverTLSConn) handshake() error {
	c.once.Do(func() {
		c.Conn.SetDeadline(time.Now().Add(c.timeout))
		if c.err = c.Conn.Handshake(); c.err == nil {
			c.err = c.Conn.SetDeadline(time.Time{})
		}
	})
	return c.err
}

func (c *serverTLSConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *serverTLSConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
