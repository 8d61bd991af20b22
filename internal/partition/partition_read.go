package partition

import (
	"errors"

	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

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
	if failpoint.Inject(failpoint.ServePastHW) {
		hw = p.Log().LogEndOffset() // broken on purpose: records no follower has yet
	}
	for {
		log := p.Log()
		if offset < hw && failpoint.Inject(failpoint.FetchSkipBatch) {
			offset = skipBatch(log, offset, hw) // broken on purpose: a batch the consumer never sees
		}
		res, err := readLog(log, offset, maxBytes, hw, minOneBatch, readCommitted)
		if errors.Is(err, storage.ErrLogClosed) && p.Log() != log {
			continue // moved to another log directory meanwhile (SwapLog)
		}
		return res, err
	}
}

// skipBatch returns the offset after the batch holding offset when another
// batch below hw follows it, else offset (failpoint FetchSkipBatch).
func skipBatch(log *storage.Log, offset, hw int64) int64 {
	r, err := log.Read(offset, 1, hw, true)
	if err != nil || r.Size == 0 {
		return offset
	}
	b, err := r.AppendTo(nil)
	if err != nil {
		return offset
	}
	h, err := record.ParseHeader(b)
	if err != nil || h.NextOffset() >= hw {
		return offset
	}
	return h.NextOffset()
}

func readLog(log *storage.Log, offset int64, maxBytes int32, hw int64, minOneBatch, readCommitted bool) (ReadResult, error) {
	lso := log.LastStableOffset(hw)
	res := ReadResult{HighWatermark: hw, LogStartOffset: log.LogStartOffset(), LastStableOffset: lso}
	upper := hw
	if readCommitted {
		upper = lso
	}
	if offset > upper && offset <= log.LogEndOffset() {
		// Above what may be read but in the log: nothing to read yet.
		return res, nil
	}
	r, err := log.Read(offset, maxBytes, upper, minOneBatch)
	if err != nil {
		return res, err
	}
	res.ReadResult = r
	if readCommitted && r.Size > 0 && !failpoint.Inject(failpoint.ReadCommittedIgnoresAborts) { // the failpoint breaks it on purpose
		aborted, err := log.AbortedTransactions(offset, upper)
		if err != nil {
			return res, err
		}
		res.AbortedTransactions = aborted
	}
	return res, nil
}
