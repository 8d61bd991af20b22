package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file maps a Kafka server.properties file onto Static. Property
// names with a dot, and listeners, are Kafka's (node.id, log.dirs...);
// the others are Strata's flag names. Every Kafka broker config in the
// registry is accepted: those Strata acts on set the matching Static field
// or stay in Static.KafkaProps, where the topic-default and other broker
// layers read them; inert ones and names Kafka does not define are listed
// in Static.Unacted so `strata serve` can say so once at startup.

// parseProperties reads Java properties text: key=value, key:value or
// "key value" lines, # and ! comments, and backslash line continuations.
// It returns the pairs in file order with their line numbers.
func parseProperties(text string) (pairs []property, errs []error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		cut := strings.IndexAny(line, "=: \t")
		if cut < 0 {
			errs = append(errs, fmt.Errorf("line %d: want key=value", n))
			continue
		}
		key := line[:cut]
		rest := strings.TrimLeft(line[cut:], " \t")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = rest[1:]
		}
		pairs = append(pairs, property{line: n, key: key, value: strings.TrimSpace(rest)})
	}
	return pairs, errs
}

type property struct {
	line       int
	key, value string
}

// isKafkaName reports whether a config-file key is a Kafka property name
// rather than one of Strata's flag names: Kafka's names have dots, except
// "listeners"; Strata's flag names have none.
func isKafkaName(key string) bool { return strings.Contains(key, ".") || key == "listeners" }

// strataProps are config-file keys with dots that are Strata's own
// settings rather than Kafka configs, by flag name.
var strataProps = map[string]string{"http.listen": "http-listen"}

// applyKafkaProps applies Kafka-named properties to s. set is called with
// the flag name of each Static setting a property assigned. It returns
// every problem at once.
func applyKafkaProps(s *Static, props map[string]string, byName map[string]setting, set func(flag string)) error {
	var errs []error
	s.KafkaProps = map[string]string{}
	saslKeys := applySASLProps(s, props)
	for _, name := range slices.Sorted(maps.Keys(props)) {
		v := props[name]
		e, ok := Lookup(ScopeBroker, name)
		if slices.Contains(saslKeys, name) || authorizerProps[name] != "" || strataProps[name] != "" {
			// SASL's, the authorizer's and Strata's own configs: applied below.
			continue
		}
		if !ok {
			s.Unacted = append(s.Unacted, name)
			continue
		}
		if err := e.Validate(v); err != nil {
			errs = append(errs, err)
			continue
		}
		s.KafkaProps[name] = v
		if e.Inert {
			s.Unacted = append(s.Unacted, name)
		}
	}
	assign := func(flag, value, from string) {
		st, ok := byName[flag]
		if !ok {
			panic("config: no setting " + flag) // a broken table, caught by tests
		}
		if err := st.set(s, value); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v", from, value, err))
			return
		}
		set(flag)
	}
	for _, name := range slices.Sorted(maps.Keys(strataProps)) {
		if v, ok := props[name]; ok {
			assign(strataProps[name], v, name)
			if s.Set != nil {
				s.Set[strataProps[name]] = true // not a Kafka config: set by its own name
			}
		}
	}
	p := s.KafkaProps
	// Direct one-to-one settings; durations in Kafka's milliseconds.
	for _, m := range []struct{ kafka, flag string }{
		{"process.roles", "roles"},
		{"controller.quorum.voters", "controller-voters"},
		{"broker.rack", "rack"},
		{"num.partitions", "default-partitions"},
		{"default.replication.factor", "default-replication-factor"},
		{"auto.create.topics.enable", "auto-create-topics"},
		{"log.retention.bytes", "retention-bytes"},
		{"log.segment.bytes", "segment-bytes"},
		{"log.retention.check.interval.ms", "retention-check-interval"},
		{"log.cleaner.backoff.ms", "log-cleaner-backoff"},
		{"message.max.bytes", "message-max-bytes"},
		{"offsets.topic.num.partitions", "offsets-topic-partitions"},
		{"group.initial.rebalance.delay.ms", "group-initial-rebalance-delay"},
		{"group.min.session.timeout.ms", "group-min-session-timeout"},
		{"group.max.session.timeout.ms", "group-max-session-timeout"},
		{"group.max.size", "group-max-size"},
		{"replica.lag.time.max.ms", "replica-lag-time-max"},
		{"broker.session.timeout.ms", "broker-session-timeout"},
		{"broker.heartbeat.interval.ms", "broker-heartbeat-interval"},
		{"group.consumer.session.timeout.ms", "group-consumer-session-timeout"},
		{"group.consumer.heartbeat.interval.ms", "group-consumer-heartbeat-interval"},
		{"transaction.state.log.num.partitions", "transaction-state-partitions"},
		{"transaction.max.timeout.ms", "transaction-max-timeout"},
		{"transactional.id.expiration.ms", "transactional-id-expiration"},
		{"transaction.abort.timed.out.transaction.cleanup.interval.ms", "transaction-abort-interval"},
		{"socket.request.max.bytes", "socket-request-max-bytes"},
		{"queued.max.request.bytes", "queued-max-request-bytes"},
		{"connections.max.idle.ms", "connections-max-idle"},
		{"sasl.enabled.mechanisms", "sasl-mechanisms"},
		{"sasl.mechanism.inter.broker.protocol", "sasl-mechanism-inter-broker"},
		{"authorizer.class.name", "authorizer"},
	} {
		if v, ok := p[m.kafka]; ok {
			assign(m.flag, v, m.kafka)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(authorizerProps)) {
		if v, ok := props[name]; ok {
			assign(authorizerProps[name], v, name)
		}
	}
	// node.id, with the deprecated broker.id as an alias.
	nodeID, hasNode := p["node.id"]
	if bid, ok := p["broker.id"]; ok && bid != "-1" {
		if hasNode && strings.TrimSpace(bid) != strings.TrimSpace(nodeID) {
			errs = append(errs, fmt.Errorf("broker.id %s and node.id %s differ", bid, nodeID))
		}
		if !hasNode {
			nodeID, hasNode = bid, true
		}
	}
	if hasNode {
		assign("node-id", nodeID, "node.id")
	}
	// Unit variants: the most precise one set wins, as in Kafka.
	if v, ok := firstScaled(p, "log.retention.ms", 1, "log.retention.minutes", msPerMin, "log.retention.hours", msPerHr); ok {
		assign("retention", v, "log.retention.*")
	}
	if v, ok := firstScaled(p, "log.roll.ms", 1, "log.roll.hours", msPerHr); ok {
		assign("segment-age", v, "log.roll.*")
	}
	if v, ok := p["offsets.retention.minutes"]; ok {
		if n, err := ParseInt64(v); err == nil {
			assign("offsets-retention", (time.Duration(n) * time.Minute).String(), "offsets.retention.minutes")
		}
	}
	// Durability: one fsync per message is --fsync always; a flush interval
	// is --fsync interval. Other message counts are not honoured.
	if v, ok := p["log.flush.interval.messages"]; ok {
		if n, _ := ParseInt64(v); n == 1 {
			assign("fsync", "always", "log.flush.interval.messages")
		} else if v != maxLong {
			s.Unacted = append(s.Unacted, "log.flush.interval.messages (only 1 is honoured, as --fsync always)")
		}
	}
	if v, ok := p["log.flush.interval.ms"]; ok && s.Fsync != "always" {
		assign("fsync", "interval", "log.flush.interval.ms")
		assign("fsync-interval", v, "log.flush.interval.ms")
	}
	// log.dirs, else log.dir.
	dirs, from := p["log.dirs"], "log.dirs"
	if dirs == "" {
		dirs, from = p["log.dir"], "log.dir"
	}
	switch list := ParseList(dirs); {
	case len(list) == 1:
		assign("data-dir", list[0], from)
	case len(list) > 1:
		// Several partition log directories (JBOD). The metadata log
		// lives in metadata.log.dir, as in Kafka, or else in a directory
		// of its own inside the first (Kafka puts it in the first too).
		assign("log-dirs", strings.Join(list, ","), from)
		if md := p["metadata.log.dir"]; md != "" {
			assign("data-dir", md, "metadata.log.dir")
		} else {
			assign("data-dir", filepath.Join(list[0], "strata-metadata"), from)
		}
	}
	if err := applyListeners(s, p, assign); err != nil {
		errs = append(errs, err)
	}
	slices.Sort(s.Unacted)
	return errors.Join(errs...)
}

// firstScaled returns, in milliseconds, the first of (name, scale) pairs
// that props sets.
func firstScaled(props map[string]string, pairs ...any) (string, bool) {
	for i := 0; i+1 < len(pairs); i += 2 {
		v, ok := props[pairs[i].(string)]
		if !ok {
			continue
		}
		scaled, ok := scaleSynonym(v, int64(pairs[i+1].(int)))
		return scaled, ok
	}
	return "", false
}

// applyListeners maps listeners, advertised.listeners,
// listener.security.protocol.map, inter.broker.listener.name (or
// security.inter.broker.protocol, which names the listener of that name),
// controller.listener.names and the ssl.* settings onto their flags. The
// listener named in controller.listener.names carries the metadata quorum
// (--controller-listen); the others serve clients and brokers (see
// Static.Listeners).
func applyListeners(s *Static, p map[string]string, assign func(flag, value, from string)) error {
	controllerNames := map[string]bool{}
	for _, n := range ParseList(p["controller.listener.names"]) {
		controllerNames[strings.ToUpper(n)] = true
	}
	if v, ok := p["controller.listener.names"]; ok {
		assign("controller-listener-names", v, "controller.listener.names")
	}
	if v, ok := p["listener.security.protocol.map"]; ok {
		assign("listener-security-protocol-map", v, "listener.security.protocol.map")
	}
	inter, hasInter := p["inter.broker.listener.name"]
	if proto, ok := p["security.inter.broker.protocol"]; ok {
		if hasInter {
			return errors.New("inter.broker.listener.name and security.inter.broker.protocol: set only one, as in Kafka")
		}
		inter, hasInter = proto, true
	}
	if hasInter {
		assign("inter-broker-listener-name", inter, "inter.broker.listener.name")
	}
	brokerOnly := func(key, v string) (string, error) {
		ls, err := parseListeners(key, v)
		if err != nil {
			return "", err
		}
		var out []string
		for _, l := range ls {
			if controllerNames[l.name] {
				if key == "listeners" {
					assign("controller-listen", l.addr, "listeners "+l.name)
				}
				continue
			}
			out = append(out, l.name+"://"+l.addr)
		}
		return strings.Join(out, ","), nil
	}
	if v, ok := p["listeners"]; ok {
		spec, err := brokerOnly("listeners", v)
		if err != nil {
			return err
		}
		assign("listeners", spec, "listeners")
	}
	if v, ok := p["advertised.listeners"]; ok {
		spec, err := brokerOnly("advertised.listeners", v)
		if err != nil {
			return err
		}
		assign("advertised-listeners", spec, "advertised.listeners")
	}
	for _, m := range []struct{ kafka, flag string }{
		{"ssl.keystore.location", "tls-cert"},
		{"ssl.truststore.location", "tls-ca"},
		{"ssl.client.auth", "tls-client-auth"},
		{"ssl.principal.mapping.rules", "tls-principal-mapping-rules"},
		{"ssl.enabled.protocols", "tls-protocols"},
	} {
		if v, ok := p[m.kafka]; ok {
			assign(m.flag, v, m.kafka)
		}
	}
	if v, ok := p["ssl.endpoint.identification.algorithm"]; ok {
		assign("tls-verify-hostname", strconv.FormatBool(strings.EqualFold(v, "https")), "ssl.endpoint.identification.algorithm")
	}
	// Inline PEM and store types have no flags.
	s.TLS.KeyStoreType, s.TLS.TrustStoreType = p["ssl.keystore.type"], p["ssl.truststore.type"]
	s.TLS.CertPEM, s.TLS.KeyPEM, s.TLS.CAPEM = p["ssl.keystore.certificate.chain"], p["ssl.keystore.key"], p["ssl.truststore.certificates"]
	if p["ssl.key.password"] != "" || p["ssl.keystore.password"] != "" {
		return errors.New("ssl.key.password / ssl.keystore.password: Strata reads unencrypted PEM keys only")
	}
	return nil
}

type listener struct{ name, addr string }

func parseListeners(key, v string) ([]listener, error) {
	var out []listener
	for _, item := range ParseList(v) {
		name, addr, ok := strings.Cut(item, "://")
		if !ok || name == "" {
			return nil, fmt.Errorf("%s: %q is not NAME://host:port", key, item)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s: %q: %v", key, item, err)
		}
		out = append(out, listener{name: strings.ToUpper(name), addr: addr})
	}
	return out, nil
}

// authorizerProps are the StandardAuthorizer's configs, read from a
// server.properties, and the settings they set.
var authorizerProps = map[string]string{
	"super.users":                    "super-users",
	"allow.everyone.if.no.acl.found": "allow-everyone-if-no-acl-found",
}
