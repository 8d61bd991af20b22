package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func openDirs(t *testing.T, paths ...string) *LogDirs {
	t.Helper()
	var cfgs []Config
	for _, p := range paths {
		cfg := testConfig(p, newTestClock())
		cfg.NodeID = 7
		cfgs = append(cfgs, cfg)
	}
	ds, err := OpenLogDirs(cfgs)
	if err != nil {
		t.Fatalf("OpenLogDirs(%v): %v", paths, err)
	}
	return ds
}

func tempDirs(t *testing.T, n int) []string {
	var out []string
	for i := range n {
		out = append(out, filepath.Join(t.TempDir(), string(rune('a'+i))))
	}
	return out
}

// dirOfTP returns the path of the directory holding tp.
func dirOfTP(t *testing.T, ds *LogDirs, tp TopicPartition) string {
	t.Helper()
	d, ok := ds.DirOf(tp)
	if !ok {
		t.Fatalf("DirOf(%v): not found", tp)
	}
	return d.Path()
}

func TestLogDirsPlaceNewPartitionsOnTheLeastLoadedDir(t *testing.T) {
	paths := tempDirs(t, 3)
	ds := openDirs(t, paths...)
	defer ds.Close()
	count := map[string]int{}
	for p := range int32(7) {
		tp := TopicPartition{Topic: "t", Partition: p}
		if _, err := ds.CreateLog(tp, testTopicID, testLogConfig()); err != nil {
			t.Fatalf("CreateLog(%v): %v", tp, err)
		}
		count[dirOfTP(t, ds, tp)]++
	}
	if got := []int{count[paths[0]], count[paths[1]], count[paths[2]]}; !slices.Equal(got, []int{3, 2, 2}) {
		t.Fatalf("logs per dir after 7 creations = %v, want [3 2 2] (fewest first, ties to the first dir)", got)
	}
	// An existing log stays where it is.
	again, err := ds.CreateLog(TopicPartition{Topic: "t", Partition: 1}, testTopicID, testLogConfig())
	if err != nil || !strings.HasPrefix(again.Dir(), paths[1]) {
		t.Fatalf("CreateLog of an existing log = %v in %s, want it back from %s", err, again.Dir(), paths[1])
	}

	// A failed directory gets no new logs, and its own refuse service.
	failed, _ := ds.Dir(paths[1])
	failed.fail(syscall.EIO)
	inFailed := TopicPartition{Topic: "t", Partition: 1}
	l, _ := ds.Log(inFailed)
	if !l.Offline() {
		t.Fatalf("log of the failed directory not offline")
	}
	_, err = l.AppendAsLeader(buildBatch(t, spec(1)), 0, t0)
	wantErr(t, "AppendAsLeader in the failed dir", err, ErrStorageFailed)
	_, err = l.Read(0, 1<<20, 1<<62, true)
	wantErr(t, "Read in the failed dir", err, ErrStorageFailed)
	_, err = ds.CreateLog(inFailed, testTopicID, testLogConfig())
	wantErr(t, "CreateLog of a log in the failed dir", err, ErrStorageFailed)
	for p := int32(10); p < 14; p++ {
		tp := TopicPartition{Topic: "t", Partition: p}
		if _, err := ds.CreateLog(tp, testTopicID, testLogConfig()); err != nil {
			t.Fatalf("CreateLog(%v): %v", tp, err)
		}
		if got := dirOfTP(t, ds, tp); got == paths[1] {
			t.Fatalf("CreateLog(%v) placed it in the failed dir", tp)
		}
	}
	// The others keep serving.
	other, _ := ds.Log(TopicPartition{Topic: "t", Partition: 0})
	mustAppend(t, other, buildBatch(t, spec(2)))
}

func TestLogDirsKeepTheirDirectoryIDs(t *testing.T) {
	paths := tempDirs(t, 2)
	ds := openDirs(t, paths...)
	ids := []DirID{ds.Dirs()[0].ID(), ds.Dirs()[1].ID()}
	if ids[0] == ids[1] || ids[0] == (DirID{}) {
		t.Fatalf("directory ids %v, want two distinct non-zero ids", ids)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(paths[0], "meta.properties"))
	if err != nil {
		t.Fatal(err)
	}
	props := parseProperties(b)
	if props["directory.id"] != ids[0].String() || props["node.id"] != "7" || props["version"] != "1" {
		t.Fatalf("meta.properties = %q, want version=1, node.id=7 and directory.id=%s", b, ids[0])
	}
	ds = openDirs(t, paths...)
	if got := []DirID{ds.Dirs()[0].ID(), ds.Dirs()[1].ID()}; !slices.Equal(got, ids) {
		t.Fatalf("directory ids after reopen = %v, want %v", got, ids)
	}
	ds.Close()

	// Another node's directory is refused, as Kafka refuses it.
	cfg := testConfig(paths[0], newTestClock())
	cfg.NodeID = 8
	if _, err := OpenLogDir(cfg); err == nil || !strings.Contains(err.Error(), "node.id 7") {
		t.Fatalf("OpenLogDir of node 7's directory as node 8 = %v, want a node.id mismatch", err)
	}
	// Two directories with the same id (a copied directory) are refused.
	copyFile(t, filepath.Join(paths[0], "meta.properties"), filepath.Join(paths[1], "meta.properties"))
	var cfgs []Config
	for _, p := range paths {
		c := testConfig(p, newTestClock())
		c.NodeID = 7
		cfgs = append(cfgs, c)
	}
	if _, err := OpenLogDirs(cfgs); err == nil || !strings.Contains(err.Error(), "same directory.id") {
		t.Fatalf("OpenLogDirs with a duplicated directory id = %v, want it refused", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLogDirsOpenWithAnUnusableDir(t *testing.T) {
	paths := tempDirs(t, 2)
	// A regular file where the second directory should be: it cannot be
	// opened, so it is offline and the first one serves.
	if err := os.WriteFile(paths[1], []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	ds := openDirs(t, paths...)
	defer ds.Close()
	bad, _ := ds.Dir(paths[1])
	wantErr(t, "Err of the unusable dir", bad.Err(), ErrStorageFailed)
	l, err := ds.CreateLog(testTP, testTopicID, testLogConfig())
	if err != nil || dirOfTP(t, ds, testTP) != paths[0] {
		t.Fatalf("CreateLog = %v, want the log in %s", err, paths[0])
	}
	mustAppend(t, l, buildBatch(t, spec(1)))

	// Run reports the directory that was offline from the start and one
	// that goes offline later, and stops with an error once none is
	// online.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	offline := make(chan string, 2)
	done := make(chan error, 1)
	go func() { done <- ds.Run(ctx, func(d *LogDir) { offline <- d.Path() }) }()
	good, _ := ds.Dir(paths[0])
	good.fail(syscall.EIO)
	var reported []string
	for range 2 {
		select {
		case p := <-offline:
			reported = append(reported, p)
		case <-time.After(10 * time.Second):
			t.Fatalf("onOffline called for %v only within 10s, want both directories", reported)
		}
	}
	slices.Sort(reported)
	if !slices.Equal(reported, paths) {
		t.Fatalf("onOffline called for %v, want %v", reported, paths)
	}
	if err := <-done; err == nil || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Run with every directory offline = %v, want the failure", err)
	}

	if err := os.Remove(paths[1]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[1], nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var cfgs []Config
	cfgs = append(cfgs, testConfig(paths[1], nil), testConfig(paths[1]+"/x", nil))
	if _, err := OpenLogDirs(cfgs); err == nil {
		t.Fatalf("OpenLogDirs with no usable directory succeeded")
	}
}

// copyInto fills future with everything l holds.
func copyInto(t *testing.T, l, future *Log) {
	t.Helper()
	for future.LogEndOffset() < l.LogEndOffset() {
		r, err := l.Read(future.LogEndOffset(), 1<<20, 1<<62, true)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := future.AppendAsFollower(b); err != nil {
			t.Fatalf("AppendAsFollower: %v", err)
		}
	}
}

func TestLogDirsMoveAndItsInterruptions(t *testing.T) {
	paths := tempDirs(t, 2)
	ds := openDirs(t, paths...)
	l, err := ds.CreateLog(testTP, testTopicID, testLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	src := dirOfTP(t, ds, testTP)
	dst := paths[0]
	if src == dst {
		dst = paths[1]
	}
	target, _ := ds.Dir(dst)
	mustAppend(t, l, buildBatch(t, spec(3)), buildBatch(t, spec(2)))

	// Interrupted before the swap: the future log is dropped at the next
	// open and the source stays current.
	future, err := ds.CreateFutureLog(testTP, target, l.LogStartOffset())
	if err != nil {
		t.Fatalf("CreateFutureLog: %v", err)
	}
	if fl, fd, ok := ds.FutureLog(testTP); !ok || fl != future || fd != target {
		t.Fatalf("FutureLog = %v in %v, want the future log in %s", fl, fd, dst)
	}
	if _, err := ds.CreateFutureLog(testTP, target, 0); err == nil {
		t.Fatalf("a second CreateFutureLog for the same partition succeeded")
	}
	copyInto(t, l, future)
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	ds = openDirs(t, paths...)
	if got := dirOfTP(t, ds, testTP); got != src {
		t.Fatalf("after an interrupted move %v is in %s, want %s", testTP, got, src)
	}
	if _, _, ok := ds.FutureLog(testTP); ok {
		t.Fatalf("future log survived a restart")
	}
	if _, err := os.Stat(filepath.Join(dst, testTP.String())); !os.IsNotExist(err) {
		t.Fatalf("future log directory left in %s: %v", dst, err)
	}

	// Committed but the source not yet removed (a crash inside
	// PromoteFuture): the next open keeps the promoted copy.
	l, _ = ds.Log(testTP)
	target, _ = ds.Dir(dst)
	future, err = ds.CreateFutureLog(testTP, target, l.LogStartOffset())
	if err != nil {
		t.Fatal(err)
	}
	copyInto(t, l, future)
	if err := target.promoteFuture(future); err != nil {
		t.Fatalf("promoteFuture: %v", err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	ds = openDirs(t, paths...)
	if got := dirOfTP(t, ds, testTP); got != dst {
		t.Fatalf("after a committed move %v is in %s, want %s", testTP, got, dst)
	}
	for _, d := range ds.Dirs() {
		if d.Path() == src {
			if _, ok := d.Log(testTP); ok {
				t.Fatalf("the source log survived a committed move")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dst, testTP.String(), promotedMarkerFile)); !os.IsNotExist(err) {
		t.Fatalf("promoted marker left after settling: %v", err)
	}
	l, _ = ds.Log(testTP)
	if got := readAll(t, l, 0); len(got) != 2 || l.LogEndOffset() != 5 {
		t.Fatalf("moved log holds %d batches up to %d, want 2 batches up to 5", len(got), l.LogEndOffset())
	}

	// A complete move back.
	srcDir, _ := ds.Dir(src)
	future, err = ds.CreateFutureLog(testTP, srcDir, l.LogStartOffset())
	if err != nil {
		t.Fatal(err)
	}
	copyInto(t, l, future)
	if err := ds.PromoteFuture(future); err != nil {
		t.Fatalf("PromoteFuture: %v", err)
	}
	if got := dirOfTP(t, ds, testTP); got != src {
		t.Fatalf("after PromoteFuture %v is in %s, want %s", testTP, got, src)
	}
	if cur, _ := ds.Log(testTP); cur != future {
		t.Fatalf("current log is not the promoted future log")
	}
	mustAppend(t, future, buildBatch(t, spec(1)))
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	ds = openDirs(t, paths...)
	defer ds.Close()
	if got := dirOfTP(t, ds, testTP); got != src {
		t.Fatalf("after reopen %v is in %s, want %s", testTP, got, src)
	}
	if l, _ := ds.Log(testTP); l.LogEndOffset() != 6 {
		t.Fatalf("log end offset after the move back = %d, want 6", l.LogEndOffset())
	}
}
