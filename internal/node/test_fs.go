package node

import (
	"context"

	"github.com/strata-io/strata/internal/storage/vfs"
	"github.com/strata-io/strata/internal/storage/vfs/lazyfs"
)

// logFileSystem returns the file system of the partition logs and a
// function that stops what it started: Config.FS when a test set one;
// with --test-fs=lazy (TEST ONLY) a lazyfs, which keeps data not yet
// fsynced in memory so that a SIGKILL loses it like a power loss, with its
// writeback loop (--test-fs-writeback) running until stop; else the
// operating system's.
func (n *Node) logFileSystem() (vfs.FS, func()) {
	if n.cfg.FS != nil {
		return n.cfg.FS, func() {}
	}
	st := n.cfg.Static
	if st.TestFS != "lazy" {
		return vfs.Default, func() {}
	}
	lazy := lazyfs.New(vfs.Default, lazyfs.Options{Writeback: st.TestFSWriteback})
	n.log.Warn("TEST ONLY: --test-fs=lazy keeps partition data that is not fsynced in memory; a crash of this process loses it as a power loss would",
		"writeback", st.TestFSWriteback)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lazy.Run(ctx) }()
	return lazy, func() {
		cancel()
		<-done
	}
}
