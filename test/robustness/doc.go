//go:build robustness

// Package robustness is the fault suite: Strata nodes run as separate
// processes, each in its own network namespace on a bridge, while the
// workload and checker of internal/verify (the library behind `strata
// verify`) produce and consume through the bridge from the test process.
// A nemesis per scenario injects faults in a loop and heals them: SIGKILL,
// SIGSTOP, network partitions (iptables in the hosts' namespaces), packet
// loss and delay between brokers (an NFQUEUE in the test process), a full
// disk (a small tmpfs), rolling restarts and upgrades. Every scenario must
// end with no anomaly from the checker and with writes and reads resuming
// after every heal.
//
// Everything lives in _test.go files under the `robustness` build tag:
//
//	make chaos                                    # every scenario, 5 seeds each
//	go test -tags robustness -count=1 ./test/robustness   # 1 seed each, short load (CI)
//	STRATATEST_CHAOS_SEED=N go test -tags robustness -count=1 -run 'TestChaos/leader-kill' ./test/robustness
//
// The tests need root (network namespaces, mounts) and iproute2; network
// partitions and loss need iptables. Without them they skip, saying why.
// Each run leaves its HTML reports (and, when it fails, its node logs and
// history) under $TMPDIR/strata-chaos-*/ ($STRATATEST_ARTIFACTS when set) and
// a summary table in summary.txt there.
package robustness
