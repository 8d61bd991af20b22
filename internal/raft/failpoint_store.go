package raft

import (
	hraft "github.com/hashicorp/raft"

	"github.com/strata-io/strata/internal/failpoint"
)

// logStore is the raft log store with the failpoints RaftBeforePersist and
// RaftAfterPersist around its writes (inert in ordinary builds: the calls
// compile away and only the forwarding is left).
type logStore struct{ hraft.LogStore }

func (s logStore) StoreLog(l *hraft.Log) error { return s.StoreLogs([]*hraft.Log{l}) }

func (s logStore) StoreLogs(logs []*hraft.Log) error {
	if failpoint.Inject(failpoint.RaftBeforePersist) {
		return failpoint.Error(failpoint.RaftBeforePersist)
	}
	if err := s.LogStore.StoreLogs(logs); err != nil {
		return err
	}
	if failpoint.Inject(failpoint.RaftAfterPersist) {
		return failpoint.Error(failpoint.RaftAfterPersist)
	}
	return nil
}
