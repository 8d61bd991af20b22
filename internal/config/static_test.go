package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

func TestDefaultsAreNotStatic(t *testing.T) {
	s := DefaultStatic()
	if got := s.KafkaConfigs(); len(got) != 0 {
		t.Errorf("DefaultStatic().KafkaConfigs() = %v, want nothing: nobody set a value", got)
	}
	// Unset settings resolve to the registry defaults, so those must be
	// Strata's built-in defaults.
	for name, v := range s.kafkaValues() {
		e, ok := Lookup(ScopeBroker, name)
		if !ok {
			t.Errorf("kafkaValues reports %q, which the registry does not know", name)
			continue
		}
		if _, ok := kafkaSettings[name]; !ok {
			t.Errorf("kafkaValues reports %q without a setting in kafkaSettings", name)
		}
		if e.NoDefault {
			continue // log.retention.ms, log.roll.ms: null in Kafka, the topic default applies
		}
		if e.Default != v {
			t.Errorf("built-in default of %s = %q, registry default %q", name, v, e.Default)
		}
	}
}

func TestLoadServerProperties(t *testing.T) {
	file := filepath.Join(t.TempDir(), "server.properties")
	os.WriteFile(file, []byte(`# Kafka's KRaft example, lightly edited
process.roles=broker,controller
node.id=3
controller.quorum.voters=3@127.0.0.1:9093
listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093
controller.listener.names=CONTROLLER
advertised.listeners=PLAINTEXT://localhost:19092
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
num.network.threads=3
log.dirs=/var/lib/kafka
num.partitions: 4
default.replication.factor 1
min.insync.replicas=1
log.retention.hours=24
log.segment.bytes=\
1073741824
log.cleanup.policy=compact
sasl.kerberos.min.time.before.relogin=60000
some.unknown.property=x
fsync = never
`), 0o644)
	def := DefaultStatic()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs, &def)
	if err := fs.Parse([]string{"--default-partitions", "9"}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(fs, file, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.NodeID != 3 || got.Roles != "broker,controller" || got.ControllerVoters != "3@127.0.0.1:9093" ||
		got.ListenersSpec != "PLAINTEXT://127.0.0.1:19092" || got.ControllerListen != "127.0.0.1:19093" || got.AdvertisedListeners != "PLAINTEXT://localhost:19092" ||
		got.DataDir != "/var/lib/kafka" || got.RetentionMs != 24*time.Hour || got.Fsync != "never" {
		t.Errorf("Load(server.properties) = %+v", got)
	}
	if got.DefaultPartitions != 9 {
		t.Errorf("flag --default-partitions 9 did not override num.partitions: %d", got.DefaultPartitions)
	}
	wantUnacted := []string{"num.network.threads", "sasl.kerberos.min.time.before.relogin", "some.unknown.property"}
	if !slices.Equal(got.Unacted, wantUnacted) {
		t.Errorf("Unacted = %v, want %v", got.Unacted, wantUnacted)
	}
	kc := got.KafkaConfigs()
	for name, want := range map[string]string{
		"log.retention.hours": "24", "log.cleanup.policy": "compact", "num.partitions": "9", "node.id": "3",
		"sasl.kerberos.min.time.before.relogin": "60000", "log.flush.interval.ms": maxLong,
	} {
		if kc[name] != want {
			t.Errorf("KafkaConfigs()[%s] = %q, want %q", name, kc[name], want)
		}
	}
	for _, name := range []string{"log.retention.ms", "some.unknown.property", "auto.create.topics.enable"} {
		if v, ok := kc[name]; ok {
			t.Errorf("KafkaConfigs()[%s] = %q, want it absent", name, v)
		}
	}
}

func TestListeners(t *testing.T) {
	tests := []struct {
		name string
		give string
		env  []string
		want []Listener
	}{
		{
			name: "default: one PLAINTEXT listener on --listen",
			want: []Listener{{Name: "PLAINTEXT", Addr: ":9092", AdvertisedHost: "127.0.0.1", AdvertisedPort: 9092, SecurityProtocol: "PLAINTEXT"}},
		},
		{
			name: "Kafka properties with SSL and a custom name",
			give: `listeners=PLAINTEXT://:9092,SSL://0.0.0.0:9093,INTERNAL://10.0.0.1:9094,CONTROLLER://:9095
advertised.listeners=PLAINTEXT://kafka1:9092,SSL://kafka1:9093
listener.security.protocol.map=INTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
ssl.keystore.type=PEM
ssl.keystore.location=/etc/strata/broker.pem
ssl.truststore.location=/etc/strata/ca.pem
ssl.client.auth=required
`,
			want: []Listener{
				{Name: "INTERNAL", Addr: "10.0.0.1:9094", AdvertisedHost: "10.0.0.1", AdvertisedPort: 9094, SecurityProtocol: "SASL_SSL"},
				{Name: "SSL", Addr: "0.0.0.0:9093", AdvertisedHost: "kafka1", AdvertisedPort: 9093, SecurityProtocol: "SSL"},
				{Name: "PLAINTEXT", Addr: ":9092", AdvertisedHost: "kafka1", AdvertisedPort: 9092, SecurityProtocol: "PLAINTEXT"},
			},
		},
		{
			name: "environment",
			env:  []string{"STRATA_LISTENERS=SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0", "STRATA_TLS_CERT=/x.pem", "STRATA_INTER_BROKER_LISTENER_NAME=ssl"},
			want: []Listener{
				{Name: "SSL", Addr: "127.0.0.1:0", AdvertisedHost: "127.0.0.1", SecurityProtocol: "SSL"},
				{Name: "PLAINTEXT", Addr: "127.0.0.1:0", AdvertisedHost: "127.0.0.1", SecurityProtocol: "PLAINTEXT"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.give != "" {
				file = filepath.Join(t.TempDir(), "server.properties")
				os.WriteFile(file, []byte(tt.give), 0o644)
			}
			s, err := Load(nil, file, tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got, err := s.Listeners()
			if err != nil {
				t.Fatalf("Listeners: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Listeners() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadTLSSettingsFromServerProperties(t *testing.T) {
	file := filepath.Join(t.TempDir(), "server.properties")
	os.WriteFile(file, []byte(`listeners=SSL://:9093
ssl.keystore.type=PEM
ssl.keystore.location=/etc/strata/broker.pem
ssl.truststore.location=/etc/strata/ca.pem
ssl.client.auth=requested
ssl.principal.mapping.rules=RULE:^CN=(.*?),.*$/$1/,DEFAULT
ssl.endpoint.identification.algorithm=
ssl.enabled.protocols=TLSv1.3
`), 0o644)
	s, err := Load(nil, file, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := TLSSettings{CertFile: "/etc/strata/broker.pem", CAFile: "/etc/strata/ca.pem", ClientAuth: "requested",
		PrincipalRules: "RULE:^CN=(.*?),.*$/$1/,DEFAULT", Protocols: "TLSv1.3", KeyStoreType: "PEM"}
	if diff := cmp.Diff(want, s.TLS); diff != "" {
		t.Errorf("TLS settings (-want +got):\n%s", diff)
	}
	if len(s.Unacted) != 0 {
		t.Errorf("Unacted = %v, want none", s.Unacted)
	}
}

func TestLoadServerPropertiesRejects(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"listeners=SASL_SSL://:9092\n", "needs a key store"},
		{"listeners=PLAINTEXT://:9092,OTHER://:9094\n", "OTHER has no security protocol"},
		{"listeners=PLAINTEXT://:9092,PLAINTEXT://:9094\n", "listed twice"},
		{"listeners=PLAINTEXT://:9092\ninter.broker.listener.name=SSL\n", "no such listener"},
		{"listeners=PLAINTEXT://:9092\nadvertised.listeners=SSL://h:1\n", "SSL is not in listeners"},
		{"listeners=SSL://:9093\nssl.keystore.type=JKS\nssl.keystore.location=/k.jks\n", "PEM key and trust stores only"},
		{"listeners=SSL://:9093\nssl.keystore.location=/k.pem\nssl.key.password=x\n", "unencrypted PEM keys only"},
		{"ssl.client.auth=maybe\n", "ssl.client.auth"},
		{"num.partitions=0\n", "num.partitions"},
		{"node.id=1\nbroker.id=2\n", "differ"},
	}
	for _, tt := range tests {
		file := filepath.Join(t.TempDir(), "server.properties")
		os.WriteFile(file, []byte(tt.give), 0o644)
		_, err := Load(nil, file, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q) error = %v, want one mentioning %q", tt.give, err, tt.want)
		}
	}
}

// TestLoadServerPropertiesSeveralLogDirs: several log.dirs become the
// partition log directories; the metadata log goes to metadata.log.dir,
// else to a directory of its own inside the first.
func TestLoadServerPropertiesSeveralLogDirs(t *testing.T) {
	for _, tt := range []struct{ give, dataDir string }{
		{"log.dirs=/a,/b\n", "/a/strata-metadata"},
		{"log.dirs=/a,/b\nmetadata.log.dir=/m\n", "/m"},
	} {
		file := filepath.Join(t.TempDir(), "server.properties")
		if err := os.WriteFile(file, []byte(tt.give), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(nil, file, nil)
		if err != nil {
			t.Fatalf("Load(%q): %v", tt.give, err)
		}
		if got := s.LogDirPaths(); !slices.Equal(got, []string{"/a", "/b"}) || s.DataDir != tt.dataDir {
			t.Errorf("Load(%q): log dirs %v, data dir %q; want [/a /b], %q", tt.give, got, s.DataDir, tt.dataDir)
		}
	}
}

// TestLoadAuthorizerProperties: Kafka's authorizer settings in a
// server.properties turn ACL authorization on; an unknown authorizer class
// or a malformed super user is refused rather than left open.
func TestLoadAuthorizerProperties(t *testing.T) {
	file := filepath.Join(t.TempDir(), "server.properties")
	os.WriteFile(file, []byte("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"+
		"super.users=User:admin;User:broker\nallow.everyone.if.no.acl.found=true\n"), 0o644)
	s, err := Load(nil, file, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := s.ACL()
	if got == nil || fmt.Sprint(got.SuperUsers) != "[User:admin User:broker]" || !got.AllowEveryoneIfNoACLFound {
		t.Errorf("ACL() = %+v, want super users admin and broker, allow everyone", got)
	}
	if slices.Contains(s.Unacted, "super.users") || slices.Contains(s.Unacted, "authorizer.class.name") {
		t.Errorf("Unacted = %v, want the authorizer settings acted on", s.Unacted)
	}
	if d := DefaultStatic(); d.ACL() != nil {
		t.Errorf("default ACL() = %+v, want nil (no authorizer)", d.ACL())
	}
	for give, want := range map[string]string{
		"authorizer.class.name=com.example.Custom\n": "Strata implements only the ACL authorizer",
		"super.users=admin\n":                        "super.users",
	} {
		os.WriteFile(file, []byte(give), 0o644)
		if _, err := Load(nil, file, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q) error = %v, want one mentioning %q", give, err, want)
		}
	}
}

func TestLoadHTTPSettings(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		env, args []string
		want      string
		wantSet   bool
		wantPprof bool
	}{
		{name: "default", want: "127.0.0.1:9644"},
		{name: "file key http.listen", file: "http.listen = 0.0.0.0:9700\n", want: "0.0.0.0:9700", wantSet: true},
		{name: "file flag name", file: "http-listen = off\npprof = true\n", want: "off", wantSet: true, wantPprof: true},
		{name: "environment", env: []string{"STRATA_HTTP_LISTEN=127.0.0.1:9701"}, want: "127.0.0.1:9701", wantSet: true},
		{name: "flag over file", file: "http.listen = 0.0.0.0:9700\n", args: []string{"--http-listen", ":9702", "--pprof"}, want: ":9702", wantSet: true, wantPprof: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = filepath.Join(t.TempDir(), "strata.conf")
				os.WriteFile(path, []byte(tt.file), 0o644)
			}
			def := DefaultStatic()
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			BindFlags(fs, &def)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := Load(fs, path, tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.HTTPListen != tt.want || got.Set["http-listen"] != tt.wantSet || got.Pprof != tt.wantPprof || !got.MetricsPartitionSeries {
				t.Errorf("Load = http-listen %q (set %v) pprof %v partition series %v; want %q (set %v) pprof %v partition series true",
					got.HTTPListen, got.Set["http-listen"], got.Pprof, got.MetricsPartitionSeries, tt.want, tt.wantSet, tt.wantPprof)
			}
			if slices.Contains(got.Unacted, "http.listen") {
				t.Errorf("http.listen is reported as not acted on: %v", got.Unacted)
			}
		})
	}
}

// TestTestFSIsHiddenAndValidated: --test-fs (TEST ONLY) is accepted from a
// flag or STRATA_TEST_FS, is not listed in --help, adds no Kafka config,
// and accepts only "lazy".
func TestTestFSIsHiddenAndValidated(t *testing.T) {
	def := DefaultStatic()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs, &def)
	if strings.Contains(fs.FlagUsages(), "test-fs") {
		t.Fatalf("--help lists the test-only flags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse([]string{"--test-fs-writeback", "250ms"}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(fs, "", []string{"STRATA_TEST_FS=lazy"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.TestFS != "lazy" || got.TestFSWriteback != 250*time.Millisecond {
		t.Fatalf("Load = test-fs %q, writeback %v; want lazy and 250ms", got.TestFS, got.TestFSWriteback)
	}
	for name := range got.KafkaConfigs() {
		if strings.Contains(name, "test") {
			t.Fatalf("KafkaConfigs reports %q", name)
		}
	}
	if _, err := Load(nil, "", []string{"STRATA_TEST_FS=fast"}); err == nil || !strings.Contains(err.Error(), "test-fs") {
		t.Fatalf("Load with STRATA_TEST_FS=fast: %v, want a test-fs error", err)
	}
}
