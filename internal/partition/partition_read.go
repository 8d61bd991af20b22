package partition

import "github.com/strata-io/strata/internal/storage"

// ReadResult is what a fetch gets from a partition.
type ReadResult struct {
	storage.ReadResult
	HighWatermark  int64
	LogStartOffset int64
}

// Read reads committed batches (below the high watermark) for a consumer,
// starting at offset. Only the leader serves consumers: a follower gives a
// *NotLeaderError.
func (p *Partition) Read(offset int64, maxBytes int32, minOneBatch bool) (ReadResult, error) {
	p.mu.Lock()
	if !p.mu.isLeader {
		err := p.notLeaderLocked()
		p.mu.Unlock()
		return ReadResult{HighWatermark: -1, LogStartOffset: -1}, err
	}
	hw := p.mu.highWatermark
	p.mu.Unlock()
	res := ReadResult{HighWatermark: hw, LogStartOffset: p.log.LogStartOffset()}
	if offset > hw && offset <= p.log.LogEndOffset() {
		// Above the high watermark but in the log: nothing to read yet.
		return res, nil
	}
	r, err := p.log.Read(offset, maxBytes, hw, minOneBatch)
	if err != nil {
		return res, err
	}
	res.ReadResult = r
	return res, nil
}
