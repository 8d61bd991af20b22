package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/strata-io/strata/internal/acl"
)

// Static is the node's static configuration: what `strata serve` reads from
// defaults, an optional config file (Kafka server.properties names and/or
// Strata's flag names), STRATA_* environment variables and flags, in that
// order of precedence (flags win).
type Static struct {
	NodeID  int32
	DataDir string // the metadata log, and the one log directory unless LogDirs is set
	// LogDirs is Kafka's log.dirs: comma-separated partition log
	// directories; empty means DATA_DIR/logs. The metadata log stays in
	// DataDir (Kafka's metadata.log.dir).
	LogDirs        string
	Listen         string // Kafka listener host:port
	AdvertisedAddr string // host:port clients are told; defaults from Listen
	Rack           string

	// ListenersSpec is Kafka's listeners (NAME://host:port,...); empty
	// means one PLAINTEXT listener on Listen. AdvertisedListeners,
	// ListenerSecurityProtocolMap, InterBrokerListenerName and
	// ControllerListenerNames are Kafka's settings of the same names; see
	// Listeners for how they combine.
	ListenersSpec               string
	AdvertisedListeners         string
	ListenerSecurityProtocolMap string
	InterBrokerListenerName     string
	ControllerListenerNames     string
	// TLS is the key store, trust store and policy of TLS listeners and of
	// this node's TLS connections to other brokers.
	TLS TLSSettings

	Roles            string // "broker,controller" (combined, the default), "broker" or "controller"
	ControllerVoters string // "1@host:port,2@host:port,3@host:port"; empty = single voter in process
	ControllerListen string // raft transport host:port; required with several voters and for broker-only nodes
	// ControllerBootstrap is "id@host:port,..." with the Kafka listener of
	// each controller: how a broker-only node reaches controller-only
	// nodes, which are not in the brokers' metadata.
	ControllerBootstrap string

	DefaultPartitions        int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool

	Fsync         string        // always | interval | never
	FsyncInterval time.Duration // for interval

	// TestFS is TEST ONLY (hidden flag --test-fs, STRATA_TEST_FS): "lazy"
	// keeps partition data written but not yet fsynced in the process's
	// memory (package storage/vfs/lazyfs), so that a SIGKILL loses it as
	// a power loss would; crash tests use it. Empty (the default) is the
	// operating system's file system.
	TestFS string
	// TestFSWriteback is TEST ONLY (hidden flag --test-fs-writeback,
	// STRATA_TEST_FS_WRITEBACK): with TestFS lazy, how often data not yet
	// fsynced is written back, as the kernel's dirty writeback does; 0
	// (the default) keeps it until an fsync.
	TestFSWriteback time.Duration
	// TestScrubInterval is TEST ONLY (hidden flag --test-scrub-interval,
	// STRATA_TEST_SCRUB_INTERVAL): the pause between full scrubs of the
	// partition logs' CRCs (storage.Config.ScrubInterval); 0 (the
	// default) keeps storage's 24h. Fault tests shorten it to have bit
	// rot in a running broker found quickly.
	TestScrubInterval time.Duration

	RetentionMs            time.Duration // log.retention.ms; <0 unlimited
	RetentionBytes         int64         // log.retention.bytes; <0 unlimited
	SegmentBytes           int64         // log.segment.bytes
	SegmentMs              time.Duration // log.roll.ms
	RetentionCheckInterval time.Duration // log.retention.check.interval.ms
	CleanerBackoff         time.Duration // log.cleaner.backoff.ms
	MessageMaxBytes        int32         // message.max.bytes

	OffsetsTopicPartitions     int32         // offsets.topic.num.partitions
	OffsetsRetention           time.Duration // offsets.retention.minutes
	GroupInitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	GroupMinSessionTimeout     time.Duration // group.min.session.timeout.ms
	GroupMaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	GroupMaxSize               int32         // group.max.size
	ReplicaLagTimeMax          time.Duration // replica.lag.time.max.ms
	BrokerSessionTimeout       time.Duration // broker.session.timeout.ms
	BrokerHeartbeatInterval    time.Duration // broker.heartbeat.interval.ms
	ConsumerSessionTimeout     time.Duration // group.consumer.session.timeout.ms (KIP-848)
	ConsumerHeartbeatInterval  time.Duration // group.consumer.heartbeat.interval.ms (KIP-848)

	TransactionStatePartitions int32         // transaction.state.log.num.partitions
	TransactionMaxTimeout      time.Duration // transaction.max.timeout.ms
	TransactionalIDExpiration  time.Duration // transactional.id.expiration.ms
	TransactionAbortInterval   time.Duration // transaction.abort.timed.out.transaction.cleanup.interval.ms

	SocketRequestMaxBytes int32         // socket.request.max.bytes
	QueuedMaxRequestBytes int64         // queued.max.request.bytes; <= 0 means no limit
	ConnectionsMaxIdle    time.Duration // connections.max.idle.ms

	// Authorization (package acl). Authorizer is authorizer.class.name:
	// empty (no authorization), Kafka's StandardAuthorizer or AclAuthorizer
	// class, or "acl". SuperUsers is super.users ("User:a;User:b").
	Authorizer                string
	SuperUsers                string
	AllowEveryoneIfNoACLFound bool // allow.everyone.if.no.acl.found

	LogLevel  string // debug | info | warn | error
	LogFormat string // text | json

	// HTTPListen is the HTTP listener's host:port (/metrics, /healthz,
	// /readyz); "" or "off" turns it off. Pprof mounts net/http/pprof
	// there. MetricsPartitionSeries keeps the per-partition series of
	// /metrics; off, only per-topic and broker-wide series remain.
	HTTPListen             string
	Pprof                  bool
	MetricsPartitionSeries bool
	// Console and RestProxy mount the web console (/console/) and the
	// Confluent-compatible REST proxy (/topics, /consumers, /v3/...) on
	// the HTTP listener; both talk to this node's PLAINTEXT listener.
	Console   bool
	RestProxy bool
	// ConsoleAllowedHosts are DNS names, separated by commas, the console
	// answers to besides IP addresses, localhost, this host's name and the
	// listeners' advertised names ("*": any); see console.Config.
	ConsoleAllowedHosts string

	// SASL, when it enables mechanisms, makes the listener SASL_PLAINTEXT
	// (see sasl.go).
	SASL SASL

	// KafkaProps are the Kafka broker configs the config file gave by
	// Kafka's names (server.properties), validated against the registry.
	// They are static broker configs: DescribeConfigs reports them as
	// STATIC_BROKER_CONFIG and topic defaults resolve through them. Tests
	// may set entries directly.
	KafkaProps map[string]string
	// Unacted lists the config-file properties Strata does not act on
	// (inert registry configs and names Kafka does not define), sorted;
	// `strata serve` logs them once at startup.
	Unacted []string
	// Set holds the flag names of the settings given explicitly by flag
	// name (file, environment or command line). A setting that is set, or
	// differs from its built-in default, is a static broker config.
	Set map[string]bool
	// fromKafka holds the flag names of settings assigned from KafkaProps;
	// KafkaProps already reports them under the names the file used.
	fromKafka map[string]bool
}

// DefaultStatic returns the embedded defaults: a single node serving
// 127.0.0.1-reachable port 9092 with data under ./strata-data.
func DefaultStatic() Static {
	return Static{
		NodeID:                     1,
		DataDir:                    "./strata-data",
		Roles:                      "broker,controller",
		Listen:                     ":9092",
		DefaultPartitions:          1,
		DefaultReplicationFactor:   1,
		AutoCreateTopics:           true,
		Fsync:                      "interval",
		FsyncInterval:              time.Second,
		RetentionMs:                7 * 24 * time.Hour,
		RetentionBytes:             -1,
		SegmentBytes:               1 << 30,
		SegmentMs:                  7 * 24 * time.Hour,
		RetentionCheckInterval:     5 * time.Minute,
		CleanerBackoff:             15 * time.Second,
		MessageMaxBytes:            1048588,
		OffsetsTopicPartitions:     50,
		OffsetsRetention:           7 * 24 * time.Hour,
		GroupInitialRebalanceDelay: 3 * time.Second,
		GroupMinSessionTimeout:     6 * time.Second,
		GroupMaxSessionTimeout:     30 * time.Minute,
		GroupMaxSize:               1<<31 - 1,
		ReplicaLagTimeMax:          30 * time.Second,
		BrokerSessionTimeout:       9 * time.Second,
		BrokerHeartbeatInterval:    2 * time.Second,
		ConsumerSessionTimeout:     45 * time.Second,
		ConsumerHeartbeatInterval:  5 * time.Second,
		TransactionStatePartitions: 50,
		TransactionMaxTimeout:      15 * time.Minute,
		TransactionalIDExpiration:  7 * 24 * time.Hour,
		TransactionAbortInterval:   10 * time.Second,
		SocketRequestMaxBytes:      100 << 20,
		QueuedMaxRequestBytes:      512 << 20,
		ConnectionsMaxIdle:         10 * time.Minute,
		TLS:                        TLSSettings{ClientAuth: "none", PrincipalRules: "DEFAULT", VerifyHostname: true},
		LogLevel:                   "info",
		LogFormat:                  "text",
		HTTPListen:                 "127.0.0.1:9644",
		MetricsPartitionSeries:     true,
	}
}

// setting binds one option to its flag, environment variable and file key.
type setting struct {
	name  string // flag name and config-file key
	usage string
	bind  func(fs *pflag.FlagSet, s *Static, usage string)
	set   func(s *Static, v string) error
}

func durationMs(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a duration like 10s or milliseconds, got %q", v)
	}
	if ms < 0 {
		return -1, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func settings() []setting {
	str := func(name, usage string, f func(*Static) *string) setting {
		return setting{name, usage,
			func(fs *pflag.FlagSet, s *Static, u string) { fs.StringVar(f(s), name, *f(s), u) },
			func(s *Static, v string) error { *f(s) = v; return nil }}
	}
	i64 := func(name, usage string, f func(*Static) *int64) setting {
		return setting{name, usage,
			func(fs *pflag.FlagSet, s *Static, u string) { fs.Int64Var(f(s), name, *f(s), u) },
			func(s *Static, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				*f(s) = n
				return err
			}}
	}
	i32 := func(name, usage string, f func(*Static) *int32) setting {
		return setting{name, usage,
			func(fs *pflag.FlagSet, s *Static, u string) { fs.Int32Var(f(s), name, *f(s), u) },
			func(s *Static, v string) error {
				n, err := strconv.ParseInt(v, 10, 32)
				*f(s) = int32(n)
				return err
			}}
	}
	i16 := func(name, usage string, f func(*Static) *int16) setting {
		return setting{name, usage,
			func(fs *pflag.FlagSet, s *Static, u string) { fs.Int16Var(f(s), name, *f(s), u) },
			func(s *Static, v string) error {
				n, err := strconv.ParseInt(v, 10, 16)
				*f(s) = int16(n)
				return err
			}}
	}
	boolean := func(name, usage string, f func(*Static) *bool) setting {
		return setting{name, usage,
			func(fs *pflag.FlagSet, s *Static, u string) { fs.BoolVar(f(s), name, *f(s), u) },
			func(s *Static, v string) error {
				b, err := strconv.ParseBool(v)
				*f(s) = b
				return err
			}}
	}
	dur := func(name, usage string, f func(*Static) *time.Duration) setting {
		return setting{name, usage,
			func(fs *pflag.FlagSet, s *Static, u string) { fs.DurationVar(f(s), name, *f(s), u) },
			func(s *Static, v string) error {
				d, err := durationMs(v)
				*f(s) = d
				return err
			}}
	}
	return []setting{
		i32("node-id", "this node's id (Kafka node.id)", func(s *Static) *int32 { return &s.NodeID }),
		str("data-dir", "directory for the metadata log, and for partition logs (DATA_DIR/logs) unless --log-dirs is set", func(s *Static) *string { return &s.DataDir }),
		str("log-dirs", "comma-separated partition log directories (log.dirs); new partitions go to the one holding the fewest, and a failed one takes only its partitions offline; default DATA_DIR/logs", func(s *Static) *string { return &s.LogDirs }),
		str("listen", "Kafka listener host:port", func(s *Static) *string { return &s.Listen }),
		str("advertised-addr", "host:port given to clients (default: the listen address, 127.0.0.1 when it has no host)", func(s *Static) *string { return &s.AdvertisedAddr }),
		str("rack", "rack of this node (broker.rack)", func(s *Static) *string { return &s.Rack }),
		str("listeners", "Kafka listeners NAME://host:port,... (listeners), e.g. PLAINTEXT://:9092,SSL://:9093; replaces --listen", func(s *Static) *string { return &s.ListenersSpec }),
		str("advertised-listeners", "NAME://host:port,... given to clients and other brokers per listener (advertised.listeners); default: each listener's address", func(s *Static) *string { return &s.AdvertisedListeners }),
		str("listener-security-protocol-map", "NAME:PROTOCOL,... for listener names that are not a protocol name (listener.security.protocol.map); protocols PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL", func(s *Static) *string { return &s.ListenerSecurityProtocolMap }),
		str("inter-broker-listener-name", "listener other brokers reach this one on, for replication and controller traffic (inter.broker.listener.name); default: the first listener", func(s *Static) *string { return &s.InterBrokerListenerName }),
		str("controller-listener-names", "listener names in --listeners that carry the metadata quorum instead of clients (controller.listener.names); that address becomes --controller-listen", func(s *Static) *string { return &s.ControllerListenerNames }),
		str("tls-cert", "PEM file with this node's certificate chain (leaf first) and, unless --tls-key is set, its private key; for SSL and SASL_SSL listeners and TLS connections to other brokers (ssl.keystore.location with ssl.keystore.type=PEM); reloaded when it changes", func(s *Static) *string { return &s.TLS.CertFile }),
		str("tls-key", "PEM private key file, when --tls-cert holds only the certificates", func(s *Static) *string { return &s.TLS.KeyFile }),
		str("tls-ca", "PEM file of trusted CA certificates: verifies client certificates and other brokers (ssl.truststore.location); reloaded when it changes", func(s *Static) *string { return &s.TLS.CAFile }),
		str("tls-client-auth", "client certificates on SSL listeners: none, requested or required (ssl.client.auth)", func(s *Static) *string { return &s.TLS.ClientAuth }),
		str("tls-principal-mapping-rules", "how a client certificate subject becomes the principal name: DEFAULT (the whole DN) and RULE:pattern/replacement/[LU] rules (ssl.principal.mapping.rules)", func(s *Static) *string { return &s.TLS.PrincipalRules }),
		str("tls-protocols", "TLS versions: TLSv1.2,TLSv1.3 (ssl.enabled.protocols)", func(s *Static) *string { return &s.TLS.Protocols }),
		boolean("tls-verify-hostname", "check that another broker's certificate names the host this node dials (ssl.endpoint.identification.algorithm=https)", func(s *Static) *bool { return &s.TLS.VerifyHostname }),
		str("roles", "what this process runs (process.roles): broker,controller (combined), broker, or controller", func(s *Static) *string { return &s.Roles }),
		str("controller-voters", "the metadata quorum: id@host:port,... with each voter's --controller-listen address (controller.quorum.voters); empty runs a single voter inside this process", func(s *Static) *string { return &s.ControllerVoters }),
		str("controller-listen", "host:port for metadata quorum traffic (raft); required with --controller-voters and on broker-only nodes, which follow the quorum's log as non-voters", func(s *Static) *string { return &s.ControllerListen }),
		str("controller-bootstrap", "id@host:port,... with the Kafka listener (--listen) of each controller node; required on broker-only nodes", func(s *Static) *string { return &s.ControllerBootstrap }),
		i32("default-partitions", "partitions of auto-created topics and of CreateTopics without a count (num.partitions)", func(s *Static) *int32 { return &s.DefaultPartitions }),
		i16("default-replication-factor", "replication factor when a topic does not give one", func(s *Static) *int16 { return &s.DefaultReplicationFactor }),
		boolean("auto-create-topics", "create unknown topics on metadata requests (auto.create.topics.enable)", func(s *Static) *bool { return &s.AutoCreateTopics }),
		str("fsync", "when to fsync partition logs: always (before every acknowledgement; survives power loss), interval (every --fsync-interval; a power loss may lose the last interval, a process crash loses nothing), never (leave it to the OS; as Kafka's default)", func(s *Static) *string { return &s.Fsync }),
		dur("fsync-interval", "fsync period for --fsync interval", func(s *Static) *time.Duration { return &s.FsyncInterval }),
		str("test-fs", "TEST ONLY: lazy keeps unsynced partition data in memory so that a SIGKILL loses it like a power loss", func(s *Static) *string { return &s.TestFS }),
		dur("test-fs-writeback", "TEST ONLY: with --test-fs lazy, write unsynced data back this often (0: only on fsync)", func(s *Static) *time.Duration { return &s.TestFSWriteback }),
		dur("test-scrub-interval", "TEST ONLY: pause between full CRC scrubs of the partition logs (0: 24h)", func(s *Static) *time.Duration { return &s.TestScrubInterval }),
		dur("retention", "default retention time of topics (log.retention.ms); -1ms = unlimited", func(s *Static) *time.Duration { return &s.RetentionMs }),
		i64("retention-bytes", "default retention size per partition (log.retention.bytes); -1 = unlimited", func(s *Static) *int64 { return &s.RetentionBytes }),
		i64("segment-bytes", "default segment size (log.segment.bytes)", func(s *Static) *int64 { return &s.SegmentBytes }),
		dur("segment-age", "default segment age before it rolls (log.roll.ms)", func(s *Static) *time.Duration { return &s.SegmentMs }),
		dur("log-cleaner-backoff", "how long the log cleaner sleeps when no compacted log needs cleaning (log.cleaner.backoff.ms)", func(s *Static) *time.Duration { return &s.CleanerBackoff }),
		dur("retention-check-interval", "how often retention runs (log.retention.check.interval.ms)", func(s *Static) *time.Duration { return &s.RetentionCheckInterval }),
		i32("message-max-bytes", "largest record batch accepted (message.max.bytes)", func(s *Static) *int32 { return &s.MessageMaxBytes }),
		i32("offsets-topic-partitions", "partitions of __consumer_offsets, fixed when it is first created (offsets.topic.num.partitions)", func(s *Static) *int32 { return &s.OffsetsTopicPartitions }),
		dur("offsets-retention", "committed offsets of a group that stays empty this long expire (offsets.retention.minutes)", func(s *Static) *time.Duration { return &s.OffsetsRetention }),
		dur("group-initial-rebalance-delay", "how long a new group waits for more members before its first rebalance (group.initial.rebalance.delay.ms)", func(s *Static) *time.Duration { return &s.GroupInitialRebalanceDelay }),
		dur("group-min-session-timeout", "smallest session timeout a member may ask for (group.min.session.timeout.ms)", func(s *Static) *time.Duration { return &s.GroupMinSessionTimeout }),
		dur("group-max-session-timeout", "largest session timeout a member may ask for (group.max.session.timeout.ms)", func(s *Static) *time.Duration { return &s.GroupMaxSessionTimeout }),
		dur("replica-lag-time-max", "a follower that has not caught up for this long leaves the ISR (replica.lag.time.max.ms)", func(s *Static) *time.Duration { return &s.ReplicaLagTimeMax }),
		dur("broker-session-timeout", "a broker silent this long is fenced and its leaderships move (broker.session.timeout.ms)", func(s *Static) *time.Duration { return &s.BrokerSessionTimeout }),
		dur("broker-heartbeat-interval", "how often brokers heartbeat the active controller (broker.heartbeat.interval.ms)", func(s *Static) *time.Duration { return &s.BrokerHeartbeatInterval }),
		dur("group-consumer-session-timeout", "session timeout of KIP-848 consumer group members, set by the broker (group.consumer.session.timeout.ms)", func(s *Static) *time.Duration { return &s.ConsumerSessionTimeout }),
		dur("group-consumer-heartbeat-interval", "heartbeat interval the broker gives KIP-848 consumer group members (group.consumer.heartbeat.interval.ms)", func(s *Static) *time.Duration { return &s.ConsumerHeartbeatInterval }),
		i32("group-max-size", "most members in one group (group.max.size)", func(s *Static) *int32 { return &s.GroupMaxSize }),
		i32("transaction-state-partitions", "partitions of __transaction_state, fixed when it is first created (transaction.state.log.num.partitions)", func(s *Static) *int32 { return &s.TransactionStatePartitions }),
		dur("transaction-max-timeout", "largest transaction.timeout.ms a producer may ask for (transaction.max.timeout.ms)", func(s *Static) *time.Duration { return &s.TransactionMaxTimeout }),
		dur("transactional-id-expiration", "a transactional id whose producer sent nothing this long is forgotten (transactional.id.expiration.ms)", func(s *Static) *time.Duration { return &s.TransactionalIDExpiration }),
		dur("transaction-abort-interval", "how often transactions past their timeout are looked for and aborted (transaction.abort.timed.out.transaction.cleanup.interval.ms)", func(s *Static) *time.Duration { return &s.TransactionAbortInterval }),
		i32("socket-request-max-bytes", "largest request frame; larger ones close the connection (socket.request.max.bytes)", func(s *Static) *int32 { return &s.SocketRequestMaxBytes }),
		i64("queued-max-request-bytes", "bytes of requests read but not yet answered, over all connections; beyond it sockets are not read (queued.max.request.bytes); -1 = no limit", func(s *Static) *int64 { return &s.QueuedMaxRequestBytes }),
		dur("connections-max-idle", "close connections idle this long (connections.max.idle.ms)", func(s *Static) *time.Duration { return &s.ConnectionsMaxIdle }),
		str("authorizer", "authorizer.class.name: org.apache.kafka.metadata.authorizer.StandardAuthorizer (or acl) turns ACL authorization on; empty allows every request", func(s *Static) *string { return &s.Authorizer }),
		str("super-users", "principals allowed everything, separated by semicolons (super.users), e.g. User:admin;User:broker", func(s *Static) *string { return &s.SuperUsers }),
		boolean("allow-everyone-if-no-acl-found", "with the authorizer on, allow an operation on a resource no ACL names (allow.everyone.if.no.acl.found)", func(s *Static) *bool { return &s.AllowEveryoneIfNoACLFound }),
		str("log-level", "debug, info, warn or error", func(s *Static) *string { return &s.LogLevel }),
		str("log-format", "text or json", func(s *Static) *string { return &s.LogFormat }),
		str("http-listen", "HTTP listener host:port for /metrics (Prometheus), /healthz and /readyz (http.listen); \"off\" or empty turns it off. If the default address is taken (several brokers on one host), the broker warns and runs without it; an address given explicitly must bind", func(s *Static) *string { return &s.HTTPListen }),
		boolean("pprof", "serve net/http/pprof under /debug/pprof/ on the HTTP listener", func(s *Static) *bool { return &s.Pprof }),
		boolean("console", "serve the web console under /console/ on the HTTP listener (it speaks Kafka to this node's PLAINTEXT listener)", func(s *Static) *bool { return &s.Console }),
		str("console-allowed-hosts", "DNS names, separated by commas, the console answers to besides IP addresses, localhost, this host's name and the advertised listeners' names; a request naming another Host is refused (DNS rebinding). \"*\" allows any", func(s *Static) *string { return &s.ConsoleAllowedHosts }),
		boolean("rest-proxy", "serve the Confluent-compatible REST proxy (/topics, /consumers, /v3/) on the HTTP listener (it speaks Kafka to this node's PLAINTEXT listener)", func(s *Static) *bool { return &s.RestProxy }),
		boolean("metrics-partition-series", "report per-partition series on /metrics (kafka_topic_partition_*, per-partition consumer group lag, log sizes); turn off for clusters with very many partitions", func(s *Static) *bool { return &s.MetricsPartitionSeries }),
		str("sasl-mechanisms", "SASL mechanisms the listener requires (sasl.enabled.mechanisms): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER; empty: PLAINTEXT", func(s *Static) *string { return &s.SASL.Mechanisms }),
		str("sasl-mechanism-inter-broker", "SASL mechanism this node uses to reach other nodes (sasl.mechanism.inter.broker.protocol)", func(s *Static) *string { return &s.SASL.InterBrokerMechanism }),
		str("sasl-jaas-config", "JAAS entry for mechanisms without listener.name.<l>.<mechanism>.sasl.jaas.config: PLAIN users (user_NAME=\"pw\") and this node's username/password", func(s *Static) *string { return &s.SASL.JAASConfig }),
	}
}

// BindFlags registers every setting on fs with s's current values as
// defaults, plus --config.
func BindFlags(fs *pflag.FlagSet, s *Static) *string {
	for _, st := range settings() {
		st.bind(fs, s, st.usage)
		if testOnlySettings[st.name] {
			_ = fs.MarkHidden(st.name)
		}
	}
	return fs.String("config", "", "optional config file: a Kafka server.properties (node.id, listeners, log.dirs, ...) and/or `key = value` lines using the flag names as keys; flags override it")
}

// testOnlySettings are accepted like the others but left out of --help:
// they exist for crash tests, never for production.
var testOnlySettings = map[string]bool{"test-fs": true, "test-fs-writeback": true, "test-scrub-interval": true}

// Load builds the configuration: defaults, then the config file (if path is
// set), then environment (STRATA_NODE_ID for --node-id, ...), then the flags
// that were set on fs. It reports every problem at once.
//
// In the file, keys with a dot are Kafka property names (server.properties)
// and are applied first; keys without one are flag names, applied after
// them in file order.
func Load(fs *pflag.FlagSet, path string, environ []string) (Static, error) {
	s := DefaultStatic()
	s.Set = map[string]bool{}
	s.fromKafka = map[string]bool{}
	var errs []error
	byName := make(map[string]setting)
	for _, st := range settings() {
		byName[st.name] = st
	}
	apply := func(where, name, value string) {
		st, ok := byName[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown setting %q", where, name))
			return
		}
		if err := st.set(&s, value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s=%q: %v", where, name, value, err))
			return
		}
		s.Set[name] = true
	}
	if path != "" {
		text, err := os.ReadFile(path)
		if err != nil {
			return s, fmt.Errorf("config file: %w", err)
		}
		pairs, perrs := parseProperties(string(text))
		for _, err := range perrs {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
		kafka := map[string]string{}
		for _, p := range pairs {
			if isKafkaName(p.key) {
				kafka[p.key] = p.value
			}
		}
		if err := applyKafkaProps(&s, kafka, byName, func(flag string) { s.fromKafka[flag] = true }); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
		for _, p := range pairs {
			if !isKafkaName(p.key) {
				apply(fmt.Sprintf("%s:%d", path, p.line), p.key, strings.Trim(p.value, `"`))
			}
		}
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "STRATA_") || k == "STRATA_BOOTSTRAP" || k == "STRATA_SASL_PASSWORD" { // the CLI's, not serve's
			continue
		}
		if k == "STRATA_FAILPOINTS" { // internal/failpoint's
			continue
		}
		name := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "STRATA_")), "_", "-")
		apply("environment "+k, name, v)
	}
	if fs != nil {
		fs.Visit(func(f *pflag.Flag) {
			if _, ok := byName[f.Name]; ok {
				apply("flag --"+f.Name, f.Name, f.Value.String())
			}
		})
	}
	s.resolveControllerListener()
	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// Validate checks the settings together.
func (s *Static) Validate() error {
	var errs []error
	if s.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node-id %d: must be >= 0", s.NodeID))
	}
	if s.DataDir == "" {
		errs = append(errs, errors.New("data-dir: must be set"))
	}
	seenDirs := map[string]bool{}
	for _, d := range s.LogDirPaths() {
		clean := filepath.Clean(d)
		if d == "" {
			errs = append(errs, fmt.Errorf("log-dirs %q: empty directory name", s.LogDirs))
		} else if seenDirs[clean] {
			errs = append(errs, fmt.Errorf("log-dirs %q: %s listed twice", s.LogDirs, d))
		}
		seenDirs[clean] = true
	}
	if _, _, err := net.SplitHostPort(s.Listen); err != nil && s.ListenersSpec == "" {
		errs = append(errs, fmt.Errorf("listen %q: %v", s.Listen, err))
	}
	if ls, err := s.Listeners(); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, s.validateTLS(ls)...)
	}
	if _, _, err := s.ParseRoles(); err != nil {
		errs = append(errs, err)
	}
	broker, controller, _ := s.ParseRoles()
	voters, err := s.Voters()
	if err != nil {
		errs = append(errs, err)
	}
	found := false
	for _, v := range voters {
		found = found || v.ID == s.NodeID
	}
	bootstrap, berr := s.ControllerBootstrapAddrs()
	if berr != nil {
		errs = append(errs, berr)
	}
	switch {
	case controller && len(voters) > 0 && !found:
		errs = append(errs, fmt.Errorf("controller-voters: node-id %d is not among the voters, but this node is a controller", s.NodeID))
	case !controller && broker && found:
		errs = append(errs, fmt.Errorf("controller-voters: node-id %d is a voter, but this node is broker-only (use --roles broker,controller)", s.NodeID))
	case !controller && broker && len(voters) == 0:
		errs = append(errs, errors.New("roles broker: a broker-only node needs --controller-voters"))
	case !controller && broker && len(bootstrap) == 0 && berr == nil:
		errs = append(errs, errors.New("roles broker: a broker-only node needs --controller-bootstrap"))
	case controller && !broker && len(voters) == 0:
		errs = append(errs, errors.New("roles controller: a controller-only node needs --controller-voters (a single-node cluster runs broker,controller)"))
	}
	if (len(voters) > 0 || !controller) && s.ControllerListen == "" {
		errs = append(errs, errors.New("controller-listen: required with controller-voters"))
	}
	switch s.Fsync {
	case "always", "interval", "never":
	default:
		errs = append(errs, fmt.Errorf("fsync %q: want always, interval or never", s.Fsync))
	}
	if s.Fsync == "interval" && s.FsyncInterval <= 0 {
		errs = append(errs, errors.New("fsync-interval: must be positive"))
	}
	if s.TestFS != "" && s.TestFS != "lazy" {
		errs = append(errs, fmt.Errorf("test-fs %q: want lazy or nothing", s.TestFS))
	}
	if s.TestFSWriteback < 0 {
		errs = append(errs, errors.New("test-fs-writeback: must not be negative"))
	}
	if s.TestScrubInterval < 0 {
		errs = append(errs, errors.New("test-scrub-interval: must not be negative"))
	}
	if s.DefaultPartitions < 1 {
		errs = append(errs, errors.New("default-partitions: must be at least 1"))
	}
	if s.DefaultReplicationFactor < 1 {
		errs = append(errs, errors.New("default-replication-factor: must be at least 1"))
	}
	if s.SegmentBytes < 14 {
		errs = append(errs, errors.New("segment-bytes: must be at least 14"))
	}
	if s.MessageMaxBytes < 0 {
		errs = append(errs, errors.New("message-max-bytes: must not be negative"))
	}
	if s.SocketRequestMaxBytes < 1024 {
		errs = append(errs, errors.New("socket-request-max-bytes: must be at least 1024"))
	}
	if s.OffsetsTopicPartitions < 1 {
		errs = append(errs, errors.New("offsets-topic-partitions: must be at least 1"))
	}
	if s.GroupMinSessionTimeout > s.GroupMaxSessionTimeout {
		errs = append(errs, errors.New("group-min-session-timeout: above group-max-session-timeout"))
	}
	if s.ReplicaLagTimeMax <= 0 {
		errs = append(errs, errors.New("replica-lag-time-max: must be positive"))
	}
	if s.BrokerHeartbeatInterval <= 0 || s.BrokerHeartbeatInterval >= s.BrokerSessionTimeout {
		errs = append(errs, errors.New("broker-heartbeat-interval: must be positive and below broker-session-timeout"))
	}
	if s.ConsumerHeartbeatInterval <= 0 || s.ConsumerHeartbeatInterval >= s.ConsumerSessionTimeout {
		errs = append(errs, errors.New("group-consumer-heartbeat-interval: must be positive and below group-consumer-session-timeout"))
	}
	if s.GroupMaxSize < 1 {
		errs = append(errs, errors.New("group-max-size: must be at least 1"))
	}
	if s.TransactionStatePartitions < 1 {
		errs = append(errs, errors.New("transaction-state-partitions: must be at least 1"))
	}
	if s.TransactionMaxTimeout <= 0 || s.TransactionalIDExpiration <= 0 || s.TransactionAbortInterval <= 0 {
		errs = append(errs, errors.New("transaction-max-timeout, transactional-id-expiration, transaction-abort-interval: must be positive"))
	}
	if s.RetentionCheckInterval <= 0 {
		errs = append(errs, errors.New("retention-check-interval: must be positive"))
	}
	if s.CleanerBackoff <= 0 {
		errs = append(errs, errors.New("log-cleaner-backoff: must be positive"))
	}
	if _, err := acl.EnabledBy(s.Authorizer); err != nil {
		errs = append(errs, err)
	}
	if _, err := acl.ParseSuperUsers(s.SuperUsers); err != nil {
		errs = append(errs, err)
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level %q: want debug, info, warn or error", s.LogLevel))
	}
	switch s.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log-format %q: want text or json", s.LogFormat))
	}
	errs = append(errs, s.validateSASL()...)
	return errors.Join(errs...)
}

// LogDirPaths returns the partition log directories: LogDirs split on
// commas, or DATA_DIR/logs.
func (s *Static) LogDirPaths() []string {
	if strings.TrimSpace(s.LogDirs) == "" {
		return []string{filepath.Join(s.DataDir, "logs")}
	}
	var out []string
	for _, d := range strings.Split(s.LogDirs, ",") {
		out = append(out, strings.TrimSpace(d))
	}
	return out
}

// Voter is one member of the metadata quorum.
type Voter struct {
	ID   int32
	Addr string
}

// Voters parses ControllerVoters; empty means none (a single in-process
// voter).
func (s *Static) Voters() ([]Voter, error) {
	return parseIDAddrs("controller-voters", s.ControllerVoters)
}

// ControllerBootstrapAddrs parses ControllerBootstrap: the Kafka listener
// of each controller node, by node id.
func (s *Static) ControllerBootstrapAddrs() ([]Voter, error) {
	return parseIDAddrs("controller-bootstrap", s.ControllerBootstrap)
}

// ParseRoles reports which roles Roles names: broker, controller or both.
func (s *Static) ParseRoles() (broker, controller bool, err error) {
	for _, r := range strings.Split(s.Roles, ",") {
		switch strings.TrimSpace(r) {
		case "broker":
			broker = true
		case "controller":
			controller = true
		default:
			return false, false, fmt.Errorf("roles %q: want broker, controller or broker,controller", s.Roles)
		}
	}
	return broker, controller, nil
}

func parseIDAddrs(name, v string) ([]Voter, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []Voter
	seen := map[int32]bool{}
	for _, part := range strings.Split(v, ",") {
		idStr, addr, ok := strings.Cut(strings.TrimSpace(part), "@")
		id, err := strconv.ParseInt(idStr, 10, 32)
		if !ok || err != nil || id < 0 {
			return nil, fmt.Errorf("%s: %q is not id@host:port", name, part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s: %q: %v", name, part, err)
		}
		if seen[int32(id)] {
			return nil, fmt.Errorf("%s: id %d listed twice", name, id)
		}
		seen[int32(id)] = true
		out = append(out, Voter{ID: int32(id), Addr: addr})
	}
	return out, nil
}

// Advertised returns the host and port clients should use on the first
// (inter-broker) listener.
func (s *Static) Advertised() (string, int32, error) {
	ls, err := s.Listeners()
	if err != nil {
		return "", 0, err
	}
	return ls[0].AdvertisedHost, ls[0].AdvertisedPort, nil
}

func msString(d time.Duration) string {
	if d < 0 {
		return "-1"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// KafkaConfigs returns the static broker configs under Kafka's names: what
// the operator set at startup. That is every Kafka-named property of the
// config file (KafkaProps), and each setting given by flag name, or
// holding a value other than its built-in default, under the Kafka names it
// stands for. Values nobody set are left out: they resolve to the
// registry defaults, which equal Strata's built-in defaults.
func (s *Static) KafkaConfigs() map[string]string {
	out := make(map[string]string, len(s.KafkaProps))
	for k, v := range s.KafkaProps {
		out[k] = v
	}
	def := DefaultStatic()
	defaults := def.kafkaValues()
	for name, v := range s.kafkaValues() {
		flag := kafkaSettings[name]
		explicit := s.Set[flag]
		if explicit || (v != defaults[name] && !s.fromKafka[flag]) {
			out[name] = v
		}
	}
	return out
}

// kafkaSettings maps each Kafka broker config that a Static setting holds
// to that setting's flag name.
var kafkaSettings = map[string]string{
	"node.id":                              "node-id",
	"broker.id":                            "node-id",
	"log.dirs":                             "data-dir",
	"listeners":                            "listen",
	"advertised.listeners":                 "advertised-addr",
	"broker.rack":                          "rack",
	"process.roles":                        "roles",
	"controller.quorum.voters":             "controller-voters",
	"num.partitions":                       "default-partitions",
	"default.replication.factor":           "default-replication-factor",
	"auto.create.topics.enable":            "auto-create-topics",
	"log.retention.ms":                     "retention",
	"log.retention.bytes":                  "retention-bytes",
	"log.segment.bytes":                    "segment-bytes",
	"log.roll.ms":                          "segment-age",
	"log.retention.check.interval.ms":      "retention-check-interval",
	"log.cleaner.backoff.ms":               "log-cleaner-backoff",
	"message.max.bytes":                    "message-max-bytes",
	"socket.request.max.bytes":             "socket-request-max-bytes",
	"queued.max.request.bytes":             "queued-max-request-bytes",
	"offsets.topic.num.partitions":         "offsets-topic-partitions",
	"offsets.retention.minutes":            "offsets-retention",
	"group.initial.rebalance.delay.ms":     "group-initial-rebalance-delay",
	"group.min.session.timeout.ms":         "group-min-session-timeout",
	"group.max.session.timeout.ms":         "group-max-session-timeout",
	"group.max.size":                       "group-max-size",
	"group.consumer.session.timeout.ms":    "group-consumer-session-timeout",
	"group.consumer.heartbeat.interval.ms": "group-consumer-heartbeat-interval",
	"broker.session.timeout.ms":            "broker-session-timeout",
	"broker.heartbeat.interval.ms":         "broker-heartbeat-interval",
	"replica.lag.time.max.ms":              "replica-lag-time-max",
	"connections.max.idle.ms":              "connections-max-idle",
	"transaction.state.log.num.partitions": "transaction-state-partitions",
	"transaction.max.timeout.ms":           "transaction-max-timeout",
	"transactional.id.expiration.ms":       "transactional-id-expiration",
	"transaction.abort.timed.out.transaction.cleanup.interval.ms": "transaction-abort-interval",
	"authorizer.class.name":                 "authorizer",
	"log.flush.interval.messages":           "fsync",
	"listener.security.protocol.map":        "listener-security-protocol-map",
	"inter.broker.listener.name":            "inter-broker-listener-name",
	"controller.listener.names":             "controller-listener-names",
	"ssl.keystore.location":                 "tls-cert",
	"ssl.truststore.location":               "tls-ca",
	"ssl.client.auth":                       "tls-client-auth",
	"ssl.principal.mapping.rules":           "tls-principal-mapping-rules",
	"ssl.endpoint.identification.algorithm": "tls-verify-hostname",
	"log.flush.interval.ms":                 "fsync-interval",
}

// kafkaValues renders every setting that stands for a Kafka broker config
// under that config's name.
func (s *Static) kafkaValues() map[string]string {
	m := map[string]string{
		"node.id":                              strconv.Itoa(int(s.NodeID)),
		"broker.id":                            strconv.Itoa(int(s.NodeID)),
		"log.dirs":                             strings.Join(s.LogDirPaths(), ","),
		"listeners":                            s.listenersString(false),
		"process.roles":                        s.Roles,
		"num.partitions":                       strconv.Itoa(int(s.DefaultPartitions)),
		"default.replication.factor":           strconv.Itoa(int(s.DefaultReplicationFactor)),
		"auto.create.topics.enable":            strconv.FormatBool(s.AutoCreateTopics),
		"log.retention.ms":                     msString(s.RetentionMs),
		"log.retention.bytes":                  strconv.FormatInt(s.RetentionBytes, 10),
		"log.segment.bytes":                    strconv.FormatInt(s.SegmentBytes, 10),
		"log.roll.ms":                          msString(s.SegmentMs),
		"log.retention.check.interval.ms":      msString(s.RetentionCheckInterval),
		"log.cleaner.backoff.ms":               msString(s.CleanerBackoff),
		"message.max.bytes":                    strconv.Itoa(int(s.MessageMaxBytes)),
		"socket.request.max.bytes":             strconv.Itoa(int(s.SocketRequestMaxBytes)),
		"queued.max.request.bytes":             strconv.FormatInt(s.QueuedMaxRequestBytes, 10),
		"offsets.topic.num.partitions":         strconv.Itoa(int(s.OffsetsTopicPartitions)),
		"offsets.retention.minutes":            strconv.FormatInt(int64(s.OffsetsRetention/time.Minute), 10),
		"group.initial.rebalance.delay.ms":     msString(s.GroupInitialRebalanceDelay),
		"group.min.session.timeout.ms":         msString(s.GroupMinSessionTimeout),
		"group.max.session.timeout.ms":         msString(s.GroupMaxSessionTimeout),
		"group.max.size":                       strconv.Itoa(int(s.GroupMaxSize)),
		"group.consumer.session.timeout.ms":    msString(s.ConsumerSessionTimeout),
		"group.consumer.heartbeat.interval.ms": msString(s.ConsumerHeartbeatInterval),
		"broker.session.timeout.ms":            msString(s.BrokerSessionTimeout),
		"broker.heartbeat.interval.ms":         msString(s.BrokerHeartbeatInterval),
		"replica.lag.time.max.ms":              msString(s.ReplicaLagTimeMax),
		"connections.max.idle.ms":              msString(s.ConnectionsMaxIdle),
		"transaction.state.log.num.partitions": strconv.Itoa(int(s.TransactionStatePartitions)),
		"transaction.max.timeout.ms":           msString(s.TransactionMaxTimeout),
		"transactional.id.expiration.ms":       msString(s.TransactionalIDExpiration),
		"transaction.abort.timed.out.transaction.cleanup.interval.ms": msString(s.TransactionAbortInterval),
	}
	if s.AdvertisedAddr != "" || s.AdvertisedListeners != "" {
		m["advertised.listeners"] = s.listenersString(true)
	}
	m["authorizer.class.name"] = s.Authorizer
	if s.Rack != "" {
		m["broker.rack"] = s.Rack
	}
	for k, v := range map[string]string{
		"listener.security.protocol.map": s.ListenerSecurityProtocolMap,
		"inter.broker.listener.name":     s.InterBrokerListenerName,
		"controller.listener.names":      s.ControllerListenerNames,
		"ssl.keystore.location":          s.TLS.CertFile,
		"ssl.truststore.location":        s.TLS.CAFile,
		"ssl.client.auth":                s.TLS.ClientAuth,
		"ssl.principal.mapping.rules":    s.TLS.PrincipalRules,
	} {
		if v != "" {
			m[k] = v
		}
	}
	m["ssl.endpoint.identification.algorithm"] = ""
	if s.TLS.VerifyHostname {
		m["ssl.endpoint.identification.algorithm"] = "https"
	}
	if s.ControllerVoters != "" {
		m["controller.quorum.voters"] = s.ControllerVoters
	}
	switch s.Fsync {
	case "always":
		m["log.flush.interval.messages"] = "1"
	case "interval":
		m["log.flush.interval.ms"] = msString(s.FsyncInterval)
	case "never":
		m["log.flush.interval.ms"] = maxLong
	}
	return m
}

// ACL returns the authorizer's configuration, nil when authorization is
// off (Authorizer empty). Call it on a validated Static.
func (s *Static) ACL() *acl.Config {
	if on, _ := acl.EnabledBy(s.Authorizer); !on {
		return nil
	}
	supers, _ := acl.ParseSuperUsers(s.SuperUsers)
	return &acl.Config{SuperUsers: supers, AllowEveryoneIfNoACLFound: s.AllowEveryoneIfNoACLFound}
}
