package clock

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseOffset(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, " +1h\n": time.Hour, "-30m": -30 * time.Minute, "90s": 90 * time.Second, "-1h30m": -90 * time.Minute,
	} {
		got, err := ParseOffset(in)
		if err != nil || got != want {
			t.Errorf("ParseOffset(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"1", "+", "1 hour", "h"} {
		if _, err := ParseOffset(bad); err == nil {
			t.Errorf("ParseOffset(%q) succeeded", bad)
		}
	}
}

func TestSetOffsetShiftsNow(t *testing.T) {
	defer SetOffset(0)
	SetOffset(time.Hour)
	if d := Now().Sub(time.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("Now - time.Now with +1h = %v", d)
	}
	SetOffset(-time.Hour)
	if d := time.Now().Sub(Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("time.Now - Now with -1h = %v", d)
	}
}

func TestOffsetFileIsReadAgain(t *testing.T) {
	defer func() { file.Store(nil); SetOffset(0) }()
	path := filepath.Join(t.TempDir(), "offset")
	if err := UseOffsetFile(path); err != nil { // missing: 0
		t.Fatal(err)
	}
	if Offset() != 0 {
		t.Fatalf("offset with no file = %v", Offset())
	}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(want time.Duration) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for Now(); Offset() != want; Now() {
			if time.Now().After(deadline) {
				t.Fatalf("offset = %v after 10s, want %v", Offset(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	write("+1h")
	waitFor(time.Hour)
	write("garbage") // kept: the previous offset stays
	time.Sleep(3 * RereadInterval)
	Now()
	if Offset() != time.Hour {
		t.Fatalf("a malformed file changed the offset to %v", Offset())
	}
	write("-30m")
	waitFor(-30 * time.Minute)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(0)

	write("nonsense")
	if err := UseOffsetFile(path); err == nil {
		t.Fatal("UseOffsetFile accepted a malformed file")
	}
}

func BenchmarkNow(b *testing.B) {
	for range b.N {
		_ = Now()
	}
}
