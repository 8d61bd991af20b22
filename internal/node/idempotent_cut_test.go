package node

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// cutProxy forwards TCP connections to a backend and can cut them all.
type cutProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newCutProxy(t *testing.T, ln net.Listener, backend string) *cutProxy {
	p := &cutProxy{ln: ln, backend: backend}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(b, c); b.Close() }()
			go func() { defer p.wg.Done(); io.Copy(c, b); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

// cut closes every proxied connection (in both directions).
func (p *cutProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	return n
}

// TestIdempotentProducerRetriesAfterCutsLeaveNoDuplicates cuts the
// producer's connections repeatedly mid-stream. Produce requests whose
// answers are lost are retried; the broker must deduplicate them.
func TestIdempotentProducerRetriesAfterCutsLeaveNoDuplicates(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Clients learn the proxy's address from Metadata, so all their
	// connections go through it.
	tn := startNode(t, func(s *configStatic) { s.AdvertisedAddr = ln.Addr().String() })
	proxy := newCutProxy(t, ln, tn.addr)
	tn.createTopic("cut", 3, nil)

	p := kgoClient(t, ln.Addr().String(), kgo.DefaultProduceTopic("cut"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(2*time.Millisecond), kgo.RecordRetries(1000), kgo.RecordDeliveryTimeout(60*time.Second))
	// Ten rounds; in each, the connections are cut while the round's
	// records are in flight (after some, before all, are acknowledged).
	const rounds, perRound = 10, 3000
	const n = rounds * perRound
	var errMu sync.Mutex
	var firstErr error
	cuts := 0
	for round := range rounds {
		var wg sync.WaitGroup
		var ackedInRound atomic.Int64
		for i := round * perRound; i < (round+1)*perRound; i++ {
			wg.Add(1)
			v := strconv.Itoa(i)
			p.Produce(t.Context(), &kgo.Record{Key: []byte(strconv.Itoa(i % 97)), Value: []byte(v)}, func(_ *kgo.Record, err error) {
				defer wg.Done()
				ackedInRound.Add(1)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			})
			if i == round*perRound+perRound/2 {
				// Half the round is queued: wait for the first acks, then cut.
				for ackedInRound.Load() == 0 {
					time.Sleep(100 * time.Microsecond)
				}
				if proxy.cut() > 0 {
					cuts++
				}
			}
		}
		wg.Wait()
	}
	if firstErr != nil {
		t.Fatalf("produce failed despite retries: %v", firstErr)
	}
	if cuts < rounds {
		t.Fatalf("only %d of %d rounds had connections to cut", cuts, rounds)
	}
	recs := consumeAll(t, tn, "cut", n)
	// consumeAll stops at n: make sure nothing beyond n was stored.
	ends, err := tn.admin().ListEndOffsets(ctxTimeout(t, 10*time.Second), "cut")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	ends.Each(func(o kadmListedOffset) { total += o.Offset })
	if total != n {
		t.Fatalf("%d records stored for %d produced: retries were appended twice", total, n)
	}
	seen := make(map[string]bool)
	last := map[int32]int{}
	for _, r := range recs {
		if seen[string(r.Value)] {
			t.Fatalf("duplicate record %q", r.Value)
		}
		seen[string(r.Value)] = true
		i, _ := strconv.Atoi(string(r.Value))
		if prev, ok := last[r.Partition]; ok && i < prev {
			t.Fatalf("partition %d: record %d after %d: reordered", r.Partition, i, prev)
		}
		last[r.Partition] = i
	}
	t.Logf("%d records, %d connection cuts, no duplicates, order kept", n, cuts)
}
