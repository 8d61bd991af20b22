package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseProperties: the server.properties parser never panics, reports
// lines within the file, keys are never empty and hold no separator, and
// values carry no surrounding space.
func FuzzParseProperties(f *testing.F) {
	f.Add("node.id=1\nlisteners=PLAINTEXT://:9092\n# c\n! c\n\nlog.dirs = /a,/b\n")
	f.Add("a: b\nc d\ne\\\n  f=g\\\\\nh\r\nretention = 24h\n")
	f.Add("=\n:\n \t\f\nkey\\")
	f.Fuzz(func(t *testing.T, text string) {
		pairs, errs := parseProperties(text)
		lines := strings.Count(text, "\n") + 1
		if len(pairs)+len(errs) > lines {
			t.Fatalf("%d pairs and %d errors from %d lines", len(pairs), len(errs), lines)
		}
		for _, p := range pairs {
			if p.line < 1 || p.line > lines {
				t.Fatalf("pair %+v: line out of range 1..%d", p, lines)
			}
			if strings.ContainsAny(p.key, "=: \t") {
				t.Fatalf("key %q holds a separator", p.key)
			}
			if p.value != strings.TrimSpace(p.value) {
				t.Fatalf("value %q not trimmed", p.value)
			}
		}
	})
}

// FuzzLoadConfigFile: any config file gives a configuration or errors,
// never a panic (Kafka property mapping, listeners, flag-name lines).
func FuzzLoadConfigFile(f *testing.F) {
	f.Add("node.id=2\nprocess.roles=broker,controller\nlisteners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\ncontroller.listener.names=CONTROLLER\ncontroller.quorum.voters=2@127.0.0.1:9093\nlog.dirs=/tmp/x\nlog.retention.hours=24\n")
	f.Add("retention = 24h\nsegment-bytes = 1048576\nlisteners=SASL_SSL://:9094\nlistener.security.protocol.map=SASL_SSL:SASL_SSL\n")
	f.Add("log.retention.ms=-1\nlog.segment.bytes=x\nnum.partitions=0\nadvertised.listeners=PLAINTEXT://h:1\n")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 1<<16 {
			return
		}
		path := filepath.Join(t.TempDir(), "server.properties")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = Load(nil, path, nil)
	})
}
