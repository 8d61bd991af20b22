package storage

import "github.com/strata-io/strata/internal/record"

// retriedBatch reports whether h repeats a batch e still retains. Only a
// failpoints build gets there (the sequence check asks it): duplicate
// detection lets a retry through when failpoint.DuplicateOnRetry fires, and
// the retry must then pass the sequence check to be appended again.
func (e *producerEntry) retriedBatch(h *record.Header) bool {
	_, ok := e.findDuplicate(h)
	return ok
}
