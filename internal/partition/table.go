package partition

import "sync"

// Table indexes the partitions hosted on this broker by name and by topic
// id. It is written by the metadata reconciler and read by request handlers.
type Table struct {
	mu struct {
		sync.RWMutex
		byName map[string][]*Partition // topic name -> partitions by index (nil holes allowed)
		byID   map[[16]byte]string     // topic id -> name
	}
}

// NewTable returns an empty table.
func NewTable() *Table {
	t := &Table{}
	t.mu.byName = make(map[string][]*Partition)
	t.mu.byID = make(map[[16]byte]string)
	return t
}

// Get returns a partition by topic name and index.
func (t *Table) Get(topic string, index int32) (*Partition, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	ps := t.mu.byName[topic]
	if index < 0 || int(index) >= len(ps) || ps[index] == nil {
		return nil, false
	}
	return ps[index], true
}

// TopicName resolves a topic id.
func (t *Table) TopicName(id [16]byte) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, ok := t.mu.byID[id]
	return n, ok
}

// Put adds or replaces a partition.
func (t *Table) Put(p *Partition) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.mu.byName[p.Topic]
	for int(p.Index) >= len(ps) {
		ps = append(ps, nil)
	}
	ps[p.Index] = p
	t.mu.byName[p.Topic] = ps
	t.mu.byID[p.TopicID] = p.Topic
}

// RemoveTopic drops every partition of a topic and returns them.
func (t *Table) RemoveTopic(topic string) []*Partition {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.mu.byName[topic]
	delete(t.mu.byName, topic)
	for id, n := range t.mu.byID {
		if n == topic {
			delete(t.mu.byID, id)
		}
	}
	out := ps[:0:0]
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// All returns every partition.
func (t *Table) All() []*Partition {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*Partition
	for _, ps := range t.mu.byName {
		for _, p := range ps {
			if p != nil {
				out = append(out, p)
			}
		}
	}
	return out
}
