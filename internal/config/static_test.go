package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestLoadPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "strata.conf")
	os.WriteFile(file, []byte(`# comment
data-dir = /from/file
listen = 127.0.0.1:1111
fsync = never
default-partitions = 7
`), 0o644)
	def := DefaultStatic()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs, &def)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:3333"}); err != nil {
		t.Fatal(err)
	}
	env := []string{"STRATA_FSYNC=always", "STRATA_LISTEN=127.0.0.1:2222", "HOME=/root", "STRATA_BOOTSTRAP=x:1"}
	got, err := Load(fs, file, env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.DataDir != "/from/file" || got.Fsync != "always" || got.Listen != "127.0.0.1:3333" || got.DefaultPartitions != 7 {
		t.Fatalf("Load = data-dir %q fsync %q listen %q partitions %d; want file, env, flag, file",
			got.DataDir, got.Fsync, got.Listen, got.DefaultPartitions)
	}
	if got.FsyncInterval != time.Second {
		t.Fatalf("untouched setting changed: fsync-interval %v", got.FsyncInterval)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	env := []string{"STRATA_FSYNC=sometimes", "STRATA_NODE_ID=abc", "STRATA_NO_SUCH=1", "STRATA_RETENTION=1500"}
	got, err := Load(nil, "", env)
	if err == nil {
		t.Fatal("Load with bad settings succeeded")
	}
	for _, want := range []string{"fsync", "STRATA_NODE_ID", "no-such"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load error %q does not mention %q", err, want)
		}
	}
	if got.RetentionMs != 1500*time.Millisecond {
		t.Errorf("STRATA_RETENTION=1500 (milliseconds) = %v", got.RetentionMs)
	}
}

func TestKafkaConfigsAreRegistered(t *testing.T) {
	s := DefaultStatic()
	for name := range s.KafkaConfigs() {
		if _, ok := Lookup(ScopeBroker, name); !ok {
			t.Errorf("KafkaConfigs reports %q, which the registry does not know", name)
		}
	}
}
