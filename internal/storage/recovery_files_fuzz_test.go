package storage

import (
	"github.com/strata-io/strata/internal/storage/vfs"

	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Files and names read when a log directory opens, besides the checkpoint,
// index, snapshot and segment formats of storage_fuzz_test.go.

// FuzzMetaProperties: meta.properties parses to a map that formats and
// parses back to the same map; loading any file gives a directory id or an
// error, and a load that wrote a new file reads the same id back.
func FuzzMetaProperties(f *testing.F) {
	f.Add([]byte("#\ndirectory.id=AAECAwQFBgcICQoLDA0ODw\nnode.id=1\nversion=1\n"))
	f.Add([]byte("#Tue Jan 01 00:00:00 UTC 2025\ncluster.id=abc\nnode.id=3\nversion=1\n"))
	f.Add([]byte("directory.id=not-base64!\n"))
	f.Add([]byte("node.id=7\n"))
	f.Add([]byte("=x\n a = b = c \r\n!c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		props := parseProperties(b)
		if again := parseProperties(formatProperties(props)); !cmp.Equal(props, again) {
			t.Fatalf("parse-format-parse changed the properties:\n%s", cmp.Diff(props, again))
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, metaPropertiesFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		id, err := loadMetaProperties(vfs.Default, dir, 1)
		if err != nil {
			return
		}
		again, err := loadMetaProperties(vfs.Default, dir, 1)
		if err != nil || again != id {
			t.Fatalf("second load = %v, %v; want %v", again, err, id)
		}
	})
}

// FuzzRecoveryFileNames: partition directory and segment file names parse
// only from their canonical form, and the form round-trips.
func FuzzRecoveryFileNames(f *testing.F) {
	f.Add("events-3")
	f.Add("__consumer_offsets-49")
	f.Add("a-b-0")
	f.Add("t-01")
	f.Add("00000000000000001234.log")
	f.Add("00000000000000001234.timeindex")
	f.Add("-1")
	f.Fuzz(func(t *testing.T, name string) {
		if tp, ok := parsePartitionDir(name); ok {
			if tp.String() != name {
				t.Fatalf("parsePartitionDir(%q) = %v, whose name is %q", name, tp, tp.String())
			}
			if tp.Partition < 0 {
				t.Fatalf("parsePartitionDir(%q): negative partition", name)
			}
		}
		for _, suffix := range segmentFileSuffixes {
			if off, ok := parseOffsetFileName(name, suffix); ok {
				if off < 0 || segmentFileName(off, suffix) != name {
					t.Fatalf("parseOffsetFileName(%q, %q) = %d, whose name is %q", name, suffix, off, segmentFileName(off, suffix))
				}
			}
		}
	})
}
