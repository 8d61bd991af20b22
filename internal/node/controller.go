package node

import (
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/raft"
	"github.com/strata-io/strata/internal/server"
)

// newController builds the metadata loader, the raft node that applies the
// metadata log to it, and the controller on top. Nothing is started.
func (n *Node) newController() (*controller.Controller, *raft.Node, error) {
	st := n.cfg.Static
	loader := metadata.NewLoader(metadata.LoaderConfig{Logger: n.log})
	loader.Subscribe(n.onQuotas)
	loader.Subscribe(n.onMetadata)
	voters, err := st.Voters()
	if err != nil {
		return nil, nil, err
	}
	rcfg := raft.Config{
		NodeID:     st.NodeID,
		Dir:        filepath.Join(st.DataDir, "metadata"),
		Voters:     []raft.Voter{{ID: st.NodeID}},
		ListenAddr: st.ControllerListen,
		Logger:     n.log,
	}
	if len(voters) > 0 {
		rcfg.Voters = rcfg.Voters[:0]
		for _, v := range voters {
			rcfg.Voters = append(rcfg.Voters, raft.Voter{ID: v.ID, Addr: v.Addr})
		}
	}
	if p := st.ControllerSecurityProtocol(); p == server.SSL || p == server.SASLSSL {
		// Mutual TLS: a peer of the quorum can vote and append, so it must
		// present a certificate the trust store verifies.
		if rcfg.TLS, err = n.tls.MutualServerConfig(); err != nil {
			return nil, nil, fmt.Errorf("controller listener: %w", err)
		}
		rcfg.DialTLS = n.tls.DialContext
	}
	if _, controller, _ := st.ParseRoles(); !controller {
		// A broker-only node follows the log as a non-voter.
		rcfg.Observer = true
		rcfg.Advertise = observerAddr(st.ControllerListen)
	}
	rn, err := raft.New(rcfg, loader)
	if err != nil {
		return nil, nil, err
	}
	ccfg := controller.DefaultConfig()
	ccfg.NodeID = st.NodeID
	ccfg.Quorum = rn
	ccfg.Loader = loader
	ccfg.Logger = n.log
	ccfg.Metrics = n.metrics.controllerMetrics()
	ccfg.BrokerSessionTimeout = st.BrokerSessionTimeout
	ccfg.BrokerHeartbeatInterval = st.BrokerHeartbeatInterval
	// Brokers report each metadata batch they apply at once (onMetadata),
	// so admin answers wait milliseconds; a second at most for a sick one.
	ccfg.PropagationTimeout = time.Second
	ccfg.Defaults = controller.Defaults{
		NumPartitions:       st.DefaultPartitions,
		ReplicationFactor:   st.DefaultReplicationFactor,
		StaticBrokerConfigs: st.KafkaConfigs(),
	}
	// Static broker configs the controller acts on that have no flag of
	// their own (a server.properties may set them).
	static := st.KafkaConfigs()
	if v, ok := static["auto.leader.rebalance.enable"]; ok {
		if b, err := config.ParseBool(v); err == nil {
			ccfg.AutoLeaderRebalance = b
		}
	}
	if v, ok := static["leader.imbalance.check.interval.seconds"]; ok {
		if n, err := config.ParseInt64(v); err == nil && n > 0 {
			ccfg.LeaderImbalanceCheckInterval = time.Duration(n) * time.Second
		}
	}
	ctrl, err := controller.New(ccfg)
	if err != nil {
		return nil, nil, err
	}
	return ctrl, rn, nil
}

// observerAddr is the address voters dial to reach this node's observer:
// the raft listen address, with 127.0.0.1 for a missing or wildcard host.
func observerAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
