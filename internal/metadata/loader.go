package metadata

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Subscriber receives each new image with the delta that produced it.
type Subscriber func(img *Image, d *Delta)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	Logger *slog.Logger
}

// Loader turns committed metadata log entries into images and publishes them.
// It implements the raft package's StateMachine interface (Apply, Snapshot,
// Restore) without importing it, so the same Loader serves the controller
// and, later, brokers that only follow the log.
//
// Apply, Snapshot and Restore are called by one goroutine, the raft FSM's;
// Image may be called from any goroutine, lock-free.
type Loader struct {
	logger *slog.Logger // set in NewLoader, never changed

	// image is the latest published image; written under pub, read freely.
	image atomic.Pointer[Image]

	// pub serialises publishing and subscribing, so each subscriber sees
	// every image exactly once and in index order.
	// NB: pub is held while subscribers run. A subscriber must not call
	// Subscribe, nor wait on anything that waits for the next metadata
	// change (such as a controller operation): that deadlocks the FSM.
	pub struct {
		sync.Mutex
		subs []Subscriber
	}
}

// NewLoader returns a Loader holding the empty image. It starts nothing.
func NewLoader(cfg LoaderConfig) *Loader {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Loader{logger: logger.With("component", "metadata")}
	l.image.Store(Empty())
	return l
}

// Image returns the latest published image.
func (l *Loader) Image() *Image { return l.image.Load() }

// Subscribe registers fn. If images were already published, fn is called
// first with the current image and a delta from the empty image, so a late
// subscriber catches up the same way an early one would have. After that fn
// is called synchronously, in index order, for every new image, on the
// goroutine that applies the metadata log.
func (l *Loader) Subscribe(fn Subscriber) {
	l.pub.Lock()
	defer l.pub.Unlock()
	if cur := l.image.Load(); cur.index > 0 || !Diff(Empty(), cur).Empty() {
		fn(cur, Diff(Empty(), cur))
	}
	l.pub.subs = append(l.pub.subs, fn)
}

// Apply decodes a batch committed at index and publishes the resulting
// image. A batch that does not decode or does not fit the image is skipped
// as a whole on every replica alike; the error goes back to the proposer.
func (l *Loader) Apply(index uint64, data []byte) error {
	recs, err := DecodeBatch(data)
	if err != nil {
		l.logger.Warn("skipping undecodable metadata batch", "offset", index, "err", err)
		return fmt.Errorf("apply metadata batch at index %d: %w", index, err)
	}
	l.pub.Lock()
	defer l.pub.Unlock()
	next, d, err := l.image.Load().Apply(index, recs...)
	if err != nil {
		l.logger.Warn("skipping inconsistent metadata batch", "offset", index, "err", err)
		return fmt.Errorf("apply metadata batch at index %d: %w", index, err)
	}
	l.publishLocked(next, d)
	return nil
}

// Snapshot encodes the current image.
func (l *Loader) Snapshot() ([]byte, error) {
	return l.image.Load().MarshalSnapshot()
}

// Restore replaces the image with a snapshot's and publishes the difference.
func (l *Loader) Restore(data []byte) error {
	img, err := UnmarshalSnapshot(data)
	if err != nil {
		return fmt.Errorf("restore metadata snapshot: %w", err)
	}
	l.pub.Lock()
	defer l.pub.Unlock()
	l.publishLocked(img, Diff(l.image.Load(), img))
	l.logger.Debug("restored metadata snapshot", "offset", img.index, "topics", img.NumTopics())
	return nil
}

func (l *Loader) publishLocked(img *Image, d *Delta) {
	l.image.Store(img)
	for _, fn := range l.pub.subs {
		fn(img, d)
	}
}
