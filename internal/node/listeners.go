package node

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/auth"
	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/tlsconfig"
)

// This file holds the node's listeners: one server.Server per configured
// listener, the TLS store they share, and the options of this node's own
// clients to other brokers (replication, forwarding, the controller
// channel), which use the inter-broker listener.

// newTLSStore loads the TLS key and trust stores when a listener uses TLS,
// or when the inter-broker listener does (the node then dials other
// brokers with TLS); nil otherwise.
func newTLSStore(st config.Static, listeners []config.Listener, log *slog.Logger) (*tlsconfig.Store, error) {
	need := st.ControllerSecurityProtocol() == server.SSL || st.ControllerSecurityProtocol() == server.SASLSSL
	for _, l := range listeners {
		need = need || l.TLS()
	}
	if !need {
		return nil, nil
	}
	t := st.TLS
	store, err := tlsconfig.New(tlsconfig.Config{
		CertFile: t.CertFile, KeyFile: t.KeyFile, CertPEM: t.CertPEM, KeyPEM: t.KeyPEM,
		CAFile: t.CAFile, CAPEM: t.CAPEM,
		ClientAuth:     t.ClientAuth,
		Protocols:      config.ParseList(t.Protocols),
		VerifyHostname: t.VerifyHostname,
		Logger:         log.With("component", "tls"),
	})
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return store, nil
}

// newServers builds and binds one server per listener, in order.
func (n *Node) newServers(listeners []config.Listener, handler server.Handler, saslCfg server.SASLConfig) ([]*server.Server, error) {
	st := n.cfg.Static
	mapper, err := auth.ParseSSLPrincipalMappingRules(st.TLS.PrincipalRules)
	if err != nil {
		return nil, err
	}
	var servers []*server.Server
	for _, l := range listeners {
		cfg := server.Config{
			Addr:                  l.Addr,
			MaxRequestBytes:       st.SocketRequestMaxBytes,
			QueuedMaxRequestBytes: st.QueuedMaxRequestBytes,
			IdleTimeout:           st.ConnectionsMaxIdle,
			MaxInFlight:           64,
			Logger:                n.log.With("component", "server", "listener", l.Name),
			Listener:              l.Name,
			SecurityProtocol:      l.SecurityProtocol,
			RequireSASL:           l.SASL(),
			AcceptThrottle:        n.quotas.RecordConnection,
			SASL:                  saslCfg,
			TLSPrincipal:          mapper.Name,
			Metrics:               n.metrics.serverMetrics(),
		}
		if l.TLS() {
			if cfg.TLS, err = n.tls.ServerConfig(); err != nil {
				return nil, fmt.Errorf("listener %s: %w", l.Name, err)
			}
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		srv := server.New(cfg, handler)
		if err := srv.Listen(); err != nil {
			for _, s := range servers {
				s.Close()
			}
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		servers = append(servers, srv)
	}
	return servers, nil
}

// endpoints are the listeners as registered with the controller; with
// servers (bound, in the same order), a listener advertised with port 0
// gets its bound port.
func endpoints(listeners []config.Listener, servers []*server.Server) []metadata.Endpoint {
	out := make([]metadata.Endpoint, len(listeners))
	for i, l := range listeners {
		port := l.AdvertisedPort
		if port == 0 && servers != nil {
			if tcp, ok := servers[i].Addr().(*net.TCPAddr); ok {
				port = int32(tcp.Port)
			}
		}
		out[i] = metadata.Endpoint{Name: l.Name, Host: l.AdvertisedHost, Port: port, SecurityProtocol: l.SecurityProtocol}
	}
	return out
}

// interBrokerListener is the name of the listener this node uses to reach
// other brokers and the controllers' Kafka listeners: its own first one.
func (n *Node) interBrokerListener() config.Listener {
	ls, _ := n.cfg.Static.Listeners() // validated in New
	return ls[0]
}

// interBrokerClientOpts are the options of every franz-go client this
// node opens to another broker (replica fetches, forwarded admin
// requests, the controller channel): TLS with the node's key store as
// client certificate when the inter-broker listener is SSL or SASL_SSL,
// and a SASL login (sasl.mechanism.inter.broker.protocol) only when it is
// SASL_PLAINTEXT or SASL_SSL: a listener without SASL refuses a SASL
// exchange with ILLEGAL_SASL_STATE.
func (n *Node) interBrokerClientOpts() ([]kgo.Opt, error) {
	l := n.interBrokerListener()
	var opts []kgo.Opt
	if l.TLS() {
		opts = append(opts, kgo.Dialer(n.tls.DialContext))
	}
	if l.SASL() {
		saslOpt, err := interBrokerSASL(n.cfg.Static)
		if err != nil {
			return nil, err
		}
		if saslOpt != nil {
			opts = append(opts, saslOpt)
		}
	}
	return opts, nil
}

// interBrokerAddr returns broker b's endpoint on the inter-broker listener.
func (n *Node) interBrokerAddr(b metadata.BrokerInfo) (string, error) {
	name := n.interBrokerListener().Name
	e, ok := b.Endpoint(name)
	if !ok {
		return "", fmt.Errorf("broker %d has no %s listener (the inter-broker listener)", b.NodeID, name)
	}
	return net.JoinHostPort(e.Host, fmt.Sprint(e.Port)), nil
}
