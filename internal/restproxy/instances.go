package restproxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// instanceKey names a consumer instance: its group and its name.
type instanceKey struct{ group, name string }

// instances is the proxy's table of live consumer instances.
type instances struct {
	p  *Proxy
	mu sync.Mutex
	m  map[instanceKey]*instance // guarded by mu
	// closing is set by closeAll; no instance is created after it.
	closing bool // guarded by mu
	// wg counts the goroutines closing expired instances; closeAll
	// waits for them.
	wg sync.WaitGroup
}

func newInstances(p *Proxy) *instances {
	return &instances{p: p, m: map[instanceKey]*instance{}}
}

// add registers inst unless the table is full, closing, or has the name.
func (is *instances) add(inst *instance) *restError {
	is.mu.Lock()
	defer is.mu.Unlock()
	switch {
	case is.closing:
		return errClosed
	case is.m[inst.key()] != nil:
		return errorf(http.StatusConflict, codeInstanceExists,
			"Consumer with specified consumer ID already exists in the specified consumer group: %q", inst.name)
	case len(is.m) >= is.p.cfg.MaxConsumerInstances:
		return errorf(http.StatusTooManyRequests, codeTooManyInstances,
			"too many consumer instances (%d); delete unused ones", is.p.cfg.MaxConsumerInstances)
	}
	inst.lastUsed = time.Now()
	is.m[inst.key()] = inst
	return nil
}

// acquire finds an instance and waits, at most until ctx ends, for the
// request before on the same instance to finish: an instance serves one
// request at a time, as a Kafka consumer is used from one thread. The
// caller releases it.
func (is *instances) acquire(ctx context.Context, group, name string) (*instance, *restError) {
	is.mu.Lock()
	inst := is.m[instanceKey{group, name}]
	if inst == nil {
		is.mu.Unlock()
		return nil, instanceNotFound(group, name)
	}
	inst.inFlight++
	inst.lastUsed = time.Now()
	is.mu.Unlock()
	select {
	case inst.busy <- struct{}{}:
		return inst, nil
	case <-inst.ctx.Done():
		is.done(inst)
		return nil, instanceNotFound(group, name)
	case <-ctx.Done():
		is.done(inst)
		return nil, illegalState("consumer instance %q is busy with another request", name)
	}
}

// release ends a request on inst.
func (is *instances) release(inst *instance) {
	<-inst.busy
	is.done(inst)
}

func (is *instances) done(inst *instance) {
	is.mu.Lock()
	inst.inFlight--
	inst.lastUsed = time.Now()
	is.mu.Unlock()
}

// remove takes an instance out of the table; the caller closes it.
func (is *instances) remove(group, name string) *instance {
	is.mu.Lock()
	defer is.mu.Unlock()
	inst := is.m[instanceKey{group, name}]
	delete(is.m, instanceKey{group, name})
	return inst
}

// expire closes, in the background, every instance idle for the
// instance timeout. An instance with a request in flight is not idle.
func (is *instances) expire(now time.Time) {
	var expired []*instance
	is.mu.Lock()
	for k, inst := range is.m {
		if inst.inFlight == 0 && now.Sub(inst.lastUsed) >= is.p.cfg.ConsumerInstanceTimeout {
			delete(is.m, k)
			expired = append(expired, inst)
		}
	}
	is.mu.Unlock()
	for _, inst := range expired {
		is.p.cfg.Logger.Info("consumer instance expired", "group", inst.group, "instance", inst.name)
		is.closeAsync(inst)
	}
}

func (is *instances) closeAsync(inst *instance) {
	is.wg.Add(1)
	go func() {
		defer is.wg.Done()
		inst.close()
	}()
}

// closeAll closes every instance and waits for all closes, including
// those of expired instances.
func (is *instances) closeAll() {
	is.mu.Lock()
	is.closing = true
	all := is.m
	is.m = map[instanceKey]*instance{}
	is.mu.Unlock()
	for _, inst := range all {
		is.closeAsync(inst)
	}
	is.wg.Wait()
}

// count returns the number of live instances.
func (is *instances) count() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return len(is.m)
}

// newInstanceName is Confluent's form of a generated name.
func newInstanceName() string {
	var b [16]byte
	rand.Read(b[:])
	return "rest-consumer-" + hex.EncodeToString(b[:])
}
