// Package failpoint holds named fault points: places in the broker where a
// test can make it crash, stall, fail an I/O step or misbehave on purpose.
// They are inert unless the binary is built with the `failpoints` build tag
// (make build-failpoints, or go test -tags failpoints) and a test switches
// them on.
//
// A call site reads
//
//	if failpoint.Inject(failpoint.AckBeforeISR) {
//		return nil // the broken behaviour
//	}
//
// Without the tag Inject is a constant false that the compiler inlines, so
// the branch and the call disappear: the default build pays nothing (the
// default binary holds no symbol of this package; BenchmarkInject measures
// the call).
//
// With the tag, failpoints are switched on by the environment variable
// STRATA_FAILPOINTS, read once when the process starts:
//
//	STRATA_FAILPOINTS="ack-before-isr=return;replica-fetch=sleep(300ms)"
//
// and, in process, by Enable and Disable. A malformed STRATA_FAILPOINTS (or
// an unknown name) makes the process exit with status 2 at start; a binary
// built without the tag refuses to serve when STRATA_FAILPOINTS is set
// (CheckEnv), so a fault test cannot silently run an ordinary broker.
//
// # Actions
//
// The value of a failpoint is [P%][N*]ACTION:
//
//	return, on     Inject reports true: the call site takes its failure branch
//	               (the broken behaviour, or an injected I/O error)
//	sleep(D)       Inject sleeps for the Go duration D, then reports false
//	panic          Inject panics
//	crash          the process kills itself with SIGKILL (kill -9 at that step)
//	off            Inject reports false (the same as not listed)
//
// N* fires the action on the first N evaluations only (then the failpoint
// reports false); P% fires it on about P percent of evaluations (P may have a
// fraction: 0.5%). Both may be combined: 10%3*return.
//
// The names, what each does at its call site, and whether it breaks a
// guarantee (a "broken broker" used to prove that strata verify catches the
// anomaly) or is a legal fault (a crash or a stall at a durability step) are
// listed with the constants in names.go.
package failpoint
