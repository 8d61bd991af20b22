package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listener is one Kafka listener of the node, resolved from listeners,
// advertised.listeners, listener.security.protocol.map and
// inter.broker.listener.name (or --listen and --advertised-addr).
type Listener struct {
	// Name is the listener name, upper case (PLAINTEXT, SSL, INTERNAL...).
	Name string
	// Addr is the host:port to bind.
	Addr string
	// AdvertisedHost and AdvertisedPort are what clients and other brokers
	// are told; AdvertisedPort 0 means the bound port (for :0 in tests).
	AdvertisedHost string
	AdvertisedPort int32
	// SecurityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol string
}

// TLS reports whether the listener speaks TLS (SSL, SASL_SSL).
func (l Listener) TLS() bool { return l.SecurityProtocol == "SSL" || l.SecurityProtocol == "SASL_SSL" }

// SASL reports whether the listener needs SASL (SASL_PLAINTEXT, SASL_SSL).
func (l Listener) SASL() bool {
	return l.SecurityProtocol == "SASL_PLAINTEXT" || l.SecurityProtocol == "SASL_SSL"
}

// securityProtocols are the protocols Kafka knows; Kafka's default
// listener.security.protocol.map maps each to itself.
var securityProtocols = map[string]bool{"PLAINTEXT": true, "SSL": true, "SASL_PLAINTEXT": true, "SASL_SSL": true}

// protocolMap parses listener.security.protocol.map over Kafka's default.
func (s *Static) protocolMap() (map[string]string, error) {
	m := map[string]string{}
	for p := range securityProtocols {
		m[p] = p
	}
	for _, kv := range ParseList(s.ListenerSecurityProtocolMap) {
		name, proto, ok := strings.Cut(kv, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" || !securityProtocols[proto] {
			return nil, fmt.Errorf("listener-security-protocol-map: %q is not NAME:PROTOCOL with PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", kv)
		}
		m[name] = proto
	}
	return m, nil
}

// controllerNames parses controller.listener.names.
func (s *Static) controllerNames() map[string]bool {
	out := map[string]bool{}
	for _, n := range ParseList(s.ControllerListenerNames) {
		out[strings.ToUpper(n)] = true
	}
	return out
}

// Listeners returns the node's Kafka listeners, the inter-broker one
// first. Without --listeners it is one PLAINTEXT listener on --listen,
// advertised as --advertised-addr. Listeners named in
// controller.listener.names are not among them: that one carries the
// metadata quorum (--controller-listen).
func (s *Static) Listeners() ([]Listener, error) {
	protocols, err := s.protocolMap()
	if err != nil {
		return nil, err
	}
	var ls []Listener
	if strings.TrimSpace(s.ListenersSpec) == "" {
		l := Listener{Name: "PLAINTEXT", Addr: s.Listen, SecurityProtocol: "PLAINTEXT"}
		if len(s.SASLMechanisms()) > 0 {
			// --sasl-mechanisms alone turns the one default listener into
			// SASL_PLAINTEXT (with --listeners, the protocol map decides).
			l.Name, l.SecurityProtocol = "SASL_PLAINTEXT", "SASL_PLAINTEXT"
		}
		adv := s.AdvertisedAddr
		if adv == "" {
			adv = s.Listen
		}
		if l.AdvertisedHost, l.AdvertisedPort, err = advertisedHostPort(adv, s.AdvertisedAddr == ""); err != nil {
			return nil, fmt.Errorf("advertised-addr %q: %w", adv, err)
		}
		ls = append(ls, l)
	} else {
		if s.AdvertisedAddr != "" {
			return nil, errors.New("advertised-addr: use advertised-listeners with listeners")
		}
		parsed, err := parseListeners("listeners", s.ListenersSpec)
		if err != nil {
			return nil, err
		}
		advertised, err := parseListeners("advertised-listeners", s.AdvertisedListeners)
		if err != nil {
			return nil, err
		}
		controller := s.controllerNames()
		seen := map[string]bool{}
		for _, p := range parsed {
			if controller[p.name] {
				continue
			}
			if seen[p.name] {
				return nil, fmt.Errorf("listeners: %s listed twice", p.name)
			}
			seen[p.name] = true
			proto, ok := protocols[p.name]
			if !ok {
				return nil, fmt.Errorf("listeners: %s has no security protocol; add %s:PROTOCOL to listener-security-protocol-map", p.name, p.name)
			}
			l := Listener{Name: p.name, Addr: p.addr, SecurityProtocol: proto}
			adv, explicit := p.addr, false
			for _, a := range advertised {
				if a.name == p.name {
					adv, explicit = a.addr, true
				}
			}
			if l.AdvertisedHost, l.AdvertisedPort, err = advertisedHostPort(adv, !explicit); err != nil {
				return nil, fmt.Errorf("advertised listener %s %q: %w", p.name, adv, err)
			}
			ls = append(ls, l)
		}
		for _, a := range advertised {
			if !seen[a.name] && !controller[a.name] {
				return nil, fmt.Errorf("advertised-listeners: %s is not in listeners", a.name)
			}
		}
		if len(ls) == 0 {
			return nil, errors.New("listeners: no broker listener (only controller.listener.names ones)")
		}
	}
	inter := strings.ToUpper(strings.TrimSpace(s.InterBrokerListenerName))
	if inter == "" {
		return ls, nil // the first listener
	}
	for i, l := range ls {
		if l.Name == inter {
			ls[0], ls[i] = ls[i], ls[0]
			return ls, nil
		}
	}
	return nil, fmt.Errorf("inter-broker-listener-name %s: no such listener", inter)
}

// advertisedHostPort splits an advertised host:port; an empty or wildcard
// host is 127.0.0.1. With bound set, the address is the bind address and a
// port of 0 means the port the listener gets.
func advertisedHostPort(addr string, bound bool) (string, int32, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", port, err)
	}
	if p == 0 && !bound {
		return "", 0, errors.New("an advertised port must not be 0")
	}
	return host, int32(p), nil
}

// listenersString renders the effective listeners as Kafka's listeners
// (advertised false) or advertised.listeners (true) value.
func (s *Static) listenersString(advertised bool) string {
	ls, err := s.Listeners()
	if err != nil {
		return ""
	}
	var parts []string
	for _, l := range ls {
		addr := l.Addr
		if advertised {
			addr = net.JoinHostPort(l.AdvertisedHost, strconv.Itoa(int(l.AdvertisedPort)))
		}
		parts = append(parts, l.Name+"://"+addr)
	}
	return strings.Join(parts, ",")
}

// TLSSettings are the node's TLS key store, trust store and policy, as
// Kafka's ssl.* broker configs name them. They apply to every SSL and
// SASL_SSL listener and to the node's own connections to other brokers
// over such a listener.
type TLSSettings struct {
	CertFile        string // --tls-cert / ssl.keystore.location: PEM chain, and key unless KeyFile
	KeyFile         string // --tls-key
	CAFile          string // --tls-ca / ssl.truststore.location
	ClientAuth      string // --tls-client-auth / ssl.client.auth: none, requested, required
	PrincipalRules  string // --tls-principal-mapping-rules / ssl.principal.mapping.rules
	Protocols       string // --tls-protocols / ssl.enabled.protocols
	VerifyHostname  bool   // --tls-verify-hostname / ssl.endpoint.identification.algorithm=https
	KeyStoreType    string // ssl.keystore.type: PEM (or unset)
	TrustStoreType  string // ssl.truststore.type: PEM (or unset)
	CertPEM, KeyPEM string // ssl.keystore.certificate.chain, ssl.keystore.key
	CAPEM           string // ssl.truststore.certificates
}

// validateTLS checks the TLS settings against the listeners.
func (s *Static) validateTLS(ls []Listener) []error {
	var errs []error
	t := s.TLS
	for _, v := range []struct{ name, val string }{{"ssl.keystore.type", t.KeyStoreType}, {"ssl.truststore.type", t.TrustStoreType}} {
		if v.val != "" && !strings.EqualFold(v.val, "PEM") {
			errs = append(errs, fmt.Errorf("%s %s: Strata reads PEM key and trust stores only (ssl.keystore.type=PEM)", v.name, v.val))
		}
	}
	switch t.ClientAuth {
	case "", "none", "requested", "required":
	default:
		errs = append(errs, fmt.Errorf("tls-client-auth %q: want none, requested or required", t.ClientAuth))
	}
	if p := s.ControllerSecurityProtocol(); p == "SSL" || p == "SASL_SSL" {
		ls = append(ls, Listener{Name: "controller", SecurityProtocol: p})
		if t.CAFile == "" && t.CAPEM == "" {
			errs = append(errs, fmt.Errorf("controller listener (%s): needs a trust store to verify its peers: --tls-ca or ssl.truststore.location", p))
		}
	}
	for _, l := range ls {
		if l.TLS() && t.CertFile == "" && t.CertPEM == "" {
			errs = append(errs, fmt.Errorf("listener %s (%s): needs a key store: --tls-cert or ssl.keystore.location", l.Name, l.SecurityProtocol))
			break
		}
	}
	return errs
}

// resolveControllerListener takes --controller-listen from the listener
// named in controller.listener.names when --listeners has one and
// --controller-listen is not set.
func (s *Static) resolveControllerListener() {
	if s.ControllerListen != "" || s.ListenersSpec == "" {
		return
	}
	names := s.controllerNames()
	parsed, err := parseListeners("listeners", s.ListenersSpec)
	if err != nil {
		return // Validate reports it
	}
	for _, p := range parsed {
		if names[p.name] {
			s.ControllerListen = p.addr
			return
		}
	}
}

// ControllerSecurityProtocol is the security protocol of the metadata
// quorum's listener (--controller-listen): that of the first name in
// controller.listener.names by listener.security.protocol.map, PLAINTEXT
// when it maps to none. SSL and SASL_SSL secure the raft transport with
// mutual TLS.
func (s *Static) ControllerSecurityProtocol() string {
	protocols, err := s.protocolMap()
	names := ParseList(s.ControllerListenerNames)
	if err != nil || len(names) == 0 {
		return "PLAINTEXT"
	}
	if p, ok := protocols[strings.ToUpper(names[0])]; ok {
		return p
	}
	return "PLAINTEXT"
}
