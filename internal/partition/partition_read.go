package partition

import "github.com/strata-io/strata/internal/storage"

// ReadResult is what a fetch gets from a partition.
type ReadResult struct {
	storage.ReadResult
	HighWatermark  int64
	LogStartOffset int64
	// LastStableOffset is the offset below which every transaction is
	// decided (KIP-98): the high watermark, or the first offset of the
	// oldest ongoing transaction if that is lower.
	LastStableOffset int64
	// AbortedTransactions are, for a read_committed read that returned
	// records, the aborted transactions overlapping them, oldest marker
	// first; nil otherwise.
	AbortedTransactions []storage.AbortedTxn
}

// Read reads batches for a consumer, starting at offset: below the high
// watermark, or with readCommitted below the last stable offset, along
// with the aborted transactions the records overlap (the client drops
// their records). Only the leader serves consumers: a follower gives a
// *NotLeaderError.
func (p *Partition) Read(offset int64, maxBytes int32, minOneBatch, readCommitted bool) (ReadResult, error) {
	p.mu.Lock()
	if !p.mu.isLeader {
		err := p.notLeaderLocked()
		p.mu.Unlock()
		return ReadResult{HighWatermark: -1, LogStartOffset: -1, LastStableOffset: -1}, err
	}
	hw := p.mu.highWatermark
	p.mu.Unlock()
	lso := p.log.LastStableOffset(hw)
	res := ReadResult{HighWatermark: hw, LogStartOffset: p.log.LogStartOffset(), LastStableOffset: lso}
	upper := hw
	if readCommitted {
		upper = lso
	}
	if offset > upper && offset <= p.log.LogEndOffset() {
		// Above what may be read but in the log: nothing to read yet.
		return res, nil
	}
	r, err := p.log.Read(offset, maxBytes, upper, minOneBatch)
	if err != nil {
		return res, err
	}
	res.ReadResult = r
	if readCommitted && r.Size > 0 {
		aborted, err := p.log.AbortedTransactions(offset, upper)
		if err != nil {
			return res, err
		}
		res.AbortedTransactions = aborted
	}
	return res, nil
}
