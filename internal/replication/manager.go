// Package replication keeps this broker's follower replicas up to date: one
// fetcher per leader broker sends Fetch requests (with this broker's replica
// id) for every partition it follows from that leader, truncates divergent
// tails the leader reports (DivergingEpoch, KIP-595 style fetch-time
// truncation of KIP-101/KIP-279), and appends what it gets with
// partition.AppendAsFollower. It also runs the leader's periodic ISR check
// (partition.MaybeShrinkISR) for the partitions this broker leads.
//
// It leaves the replica state (ISR, high watermark, roles) to package
// partition, the network to a Client (node implements it over franz-go),
// and the choice of leader to the metadata image: node calls Follow, Lead
// and their undos when the image changes.
//
// Goroutines: Run owns them all. It runs the ISR-shrink ticker itself and
// starts one fetchLoop per leader broker that has partitions to follow; a
// fetchLoop stops when its last partition leaves and all stop when Run's
// context ends, before Run returns.
package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/partition"
)

// Client sends a request to a broker and returns its response.
type Client interface {
	Request(ctx context.Context, leaderID int32, req kmsg.Request) (kmsg.Response, error)
}

// Config sets up a Manager. Zero durations and sizes take DefaultConfig's.
type Config struct {
	NodeID      int32
	BrokerEpoch func() int64 // this broker's registration epoch (Fetch v15+ ReplicaState)
	Client      Client
	// MaxWait, MinBytes, MaxBytes and PartitionMaxBytes go into each Fetch.
	MaxWait           time.Duration
	MinBytes          int32
	MaxBytes          int32
	PartitionMaxBytes int32
	// Backoff is the pause after a failed request, and before a partition
	// that got an error is fetched again (unless Follow is called for it).
	Backoff time.Duration
	// ShrinkCheckInterval is how often led partitions check for lagging
	// followers.
	ShrinkCheckInterval time.Duration
	Logger              *slog.Logger
}

// DefaultConfig returns Kafka's replica fetcher defaults.
func DefaultConfig() Config {
	return Config{
		MaxWait:             500 * time.Millisecond, // replica.fetch.wait.max.ms
		MinBytes:            1,                      // replica.fetch.min.bytes
		MaxBytes:            10 << 20,               // replica.fetch.response.max.bytes
		PartitionMaxBytes:   1 << 20,                // replica.fetch.max.bytes
		Backoff:             time.Second,            // replica.fetch.backoff.ms
		ShrinkCheckInterval: 5 * time.Second,
	}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("replication: Client is required"))
	}
	if c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("replication: NodeID %d is negative", c.NodeID))
	}
	if c.MaxWait < 0 || c.Backoff < 0 || c.ShrinkCheckInterval < 0 {
		errs = append(errs, errors.New("replication: durations must not be negative"))
	}
	if c.MinBytes < 0 || c.MaxBytes < 0 || c.PartitionMaxBytes < 0 {
		errs = append(errs, errors.New("replication: byte limits must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxWait == 0 {
		c.MaxWait = d.MaxWait
	}
	if c.MinBytes == 0 {
		c.MinBytes = d.MinBytes
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.PartitionMaxBytes == 0 {
		c.PartitionMaxBytes = d.PartitionMaxBytes
	}
	if c.Backoff == 0 {
		c.Backoff = d.Backoff
	}
	if c.ShrinkCheckInterval == 0 {
		c.ShrinkCheckInterval = d.ShrinkCheckInterval
	}
	if c.BrokerEpoch == nil {
		c.BrokerEpoch = func() int64 { return -1 }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Manager is this broker's set of fetchers, one per leader broker, and the
// ISR-shrink ticker for the partitions it leads.
type Manager struct {
	cfg     Config        // set in New, never changed
	logger  *slog.Logger  // set in New, never changed
	changed chan struct{} // buffer 1: fetchers were added or emptied; Run reconciles

	mu struct {
		sync.Mutex
		fetchers map[int32]*fetcher                // by leader id
		follows  map[*partition.Partition]int32    // partition -> leader it is fetched from
		leads    map[*partition.Partition]struct{} // partitions led here, for the shrink ticker
		running  bool
	}
}

// New builds a manager; it starts nothing.
func New(cfg Config) *Manager {
	cfg = cfg.withDefaults()
	m := &Manager{cfg: cfg, logger: cfg.Logger.With("component", "replication"), changed: make(chan struct{}, 1)}
	m.mu.fetchers = make(map[int32]*fetcher)
	m.mu.follows = make(map[*partition.Partition]int32)
	m.mu.leads = make(map[*partition.Partition]struct{})
	return m
}

// Run fetches for the followed partitions and checks led partitions for
// lagging followers until ctx ends, then returns once every fetcher has
// stopped. Follow and Lead may be called before, during and after Run.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.mu.running {
		m.mu.Unlock()
		return errors.New("replication: Run called twice")
	}
	m.mu.running = true
	m.mu.Unlock()

	var wg sync.WaitGroup
	defer func() {
		m.mu.Lock()
		for _, f := range m.mu.fetchers {
			if f.cancel != nil {
				f.cancel()
				f.cancel = nil
			}
		}
		m.mu.running = false
		m.mu.Unlock()
		wg.Wait()
	}()
	ticker := time.NewTicker(m.cfg.ShrinkCheckInterval)
	defer ticker.Stop()
	for {
		m.reconcile(ctx, &wg)
		select {
		case <-ctx.Done():
			return nil
		case <-m.changed:
		case <-ticker.C:
			for _, p := range m.led() {
				p.MaybeShrinkISR(time.Now())
			}
		}
	}
}

// reconcile starts a fetchLoop for each fetcher with partitions and none
// running, and stops and drops fetchers left without partitions.
func (m *Manager) reconcile(ctx context.Context, wg *sync.WaitGroup) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, f := range m.mu.fetchers {
		if f.empty() {
			if f.cancel != nil {
				f.cancel()
			}
			delete(m.mu.fetchers, id)
			continue
		}
		if f.cancel == nil {
			fctx, cancel := context.WithCancel(ctx)
			f.cancel = cancel
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.fetchLoop(fctx)
			}()
		}
	}
}

func (m *Manager) led() []*partition.Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*partition.Partition, 0, len(m.mu.leads))
	for p := range m.mu.leads {
		out = append(out, p)
	}
	return out
}

func (m *Manager) signal() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// Follow starts fetching p from leader, or moves it there from another
// leader. Calling it again for the same leader is cheap and ends any
// back-off p is in (the image changed, so the error may have gone). It also
// ends Lead for p.
func (m *Manager) Follow(p *partition.Partition, leader int32) {
	m.mu.Lock()
	delete(m.mu.leads, p)
	cur, ok := m.mu.follows[p]
	if ok && cur == leader {
		f := m.mu.fetchers[leader]
		m.mu.Unlock()
		f.retryNow(p)
		return
	}
	var old *fetcher
	if ok {
		old = m.mu.fetchers[cur]
		old.remove(p)
	}
	m.mu.follows[p] = leader
	m.mu.Unlock()
	if old != nil {
		// NB: no response from the old leader may be applied once the new
		// one is fetched from.
		old.barrier()
	}
	m.mu.Lock()
	if m.mu.follows[p] == leader { // not moved again meanwhile
		f := m.mu.fetchers[leader]
		if f == nil {
			f = newFetcher(m, leader)
			m.mu.fetchers[leader] = f
		}
		f.add(p)
	}
	m.mu.Unlock()
	m.signal()
}

// Unfollow stops fetching p (it became leader, went offline or was
// deleted). Once it returns, the fetcher no longer touches p.
func (m *Manager) Unfollow(p *partition.Partition) {
	m.mu.Lock()
	leader, ok := m.mu.follows[p]
	var f *fetcher
	if ok {
		delete(m.mu.follows, p)
		f = m.mu.fetchers[leader]
		f.remove(p)
	}
	m.mu.Unlock()
	if f != nil {
		f.barrier()
		m.signal()
	}
}

// Lead adds p to the partitions checked for lagging followers, and stops
// fetching it.
func (m *Manager) Lead(p *partition.Partition) {
	m.Unfollow(p)
	m.mu.Lock()
	m.mu.leads[p] = struct{}{}
	m.mu.Unlock()
}

// Unlead removes p from the ISR-shrink checks.
func (m *Manager) Unlead(p *partition.Partition) {
	m.mu.Lock()
	delete(m.mu.leads, p)
	m.mu.Unlock()
}
