package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/console"
	"github.com/strata-io/strata/internal/httpapi"
	"github.com/strata-io/strata/internal/metrics"
	"github.com/strata-io/strata/internal/raft"
	"github.com/strata-io/strata/internal/restproxy"
	"github.com/strata-io/strata/internal/server"
)

// maxReadyApplyLag is how many committed metadata log entries a node may
// not have applied yet and still count as caught up for /readyz.
const maxReadyApplyLag = 1000

// newHTTP binds the HTTP listener and mounts /metrics, /healthz, /readyz
// and, with --pprof, /debug/pprof/. It returns nil when the listener is
// off, or when the default address is taken (several brokers on one host):
// then it warns and the node runs without it. An address set explicitly
// must bind.
func (n *Node) newHTTP(rn *raft.Node) (*httpapi.Server, error) {
	st := n.cfg.Static
	if n.metrics == nil {
		return nil, nil
	}
	cfg := httpapi.DefaultConfig(st.HTTPListen)
	cfg.Logger = n.log.With("component", "http")
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hs := httpapi.New(cfg)
	if err := hs.Listen(); err != nil {
		if !st.Set["http-listen"] {
			n.log.Warn("HTTP listener (metrics, health) is off: the default address is taken; give each broker its own --http-listen", "addr", st.HTTPListen, "err", err)
			return nil, nil
		}
		return nil, err
	}
	n.metrics.reg.MustRegister(rn.Collector(), n.logDirs.Collector(st.MetricsPartitionSeries))
	hs.Mount("/metrics", metrics.Handler(n.metrics.reg, n.log.With("component", "metrics")))
	hs.Mount("/healthz", httpapi.Healthz())
	hs.Mount("/readyz", httpapi.Readyz(n.readiness))
	if st.Pprof {
		httpapi.MountPprof(hs)
	}
	n.httpAddr.Store(hs.Addr())
	n.log.Info("serving HTTP", "addr", hs.Addr().String(), "pprof", st.Pprof, "partition_series", st.MetricsPartitionSeries)
	return hs, nil
}

// readiness is /readyz: nil once the node serves Kafka and, on a broker,
// is registered and unfenced with every log directory online; on every
// node the metadata quorum must have a leader and this node must have
// applied what it committed. While the node shuts down it is not ready.
func (n *Node) readiness() error {
	select {
	case <-n.ready:
	default:
		return errors.New("starting: the Kafka listener does not serve yet")
	}
	if n.shuttingDown.Load() {
		return errors.New("shutting down")
	}
	rn := n.raftNode
	if leader, _ := rn.Leader(); leader < 0 {
		return errors.New("no active controller known (metadata quorum without a leader)")
	}
	if commit, applied := rn.CommitIndex(), rn.AppliedIndex(); commit > applied+maxReadyApplyLag {
		return fmt.Errorf("metadata: %d committed entries not applied yet", commit-applied)
	}
	isBroker, _, _ := n.cfg.Static.ParseRoles()
	if !isBroker {
		return nil
	}
	self := n.cfg.Static.NodeID
	b, ok := n.ctrl.Image().Broker(self)
	switch {
	case !ok || n.registeredEpoch.Load() == 0:
		return fmt.Errorf("broker %d is not registered", self)
	case b.Fenced:
		return fmt.Errorf("broker %d is fenced (catching up with the metadata log, or missed heartbeats)", self)
	case b.InControlledShutdown:
		return fmt.Errorf("broker %d is in controlled shutdown", self)
	}
	for _, d := range n.logDirs.Dirs() {
		if err := d.Err(); err != nil {
			return fmt.Errorf("log directory %s is offline: %v", d.Path(), err)
		}
	}
	return nil
}

// HTTPAddr is the HTTP listener's bound address, nil when it is off or
// not bound yet (it binds before the metadata quorum forms, so that
// /healthz and /readyz answer during startup).
func (n *Node) HTTPAddr() net.Addr {
	a, _ := n.httpAddr.Load().(net.Addr)
	return a
}

// mountTools mounts the web console (--console) and the REST proxy
// (--rest-proxy) on the HTTP listener. Both reach the cluster through this
// node's first PLAINTEXT listener, as any client would. The proxy's
// instance-expiry loop runs in g until ctx ends; the console's client is
// closed when ctx ends.
func (n *Node) mountTools(ctx context.Context, g *errgroup.Group, hs *httpapi.Server, listeners []config.Listener, servers []*server.Server) error {
	st := n.cfg.Static
	if !st.Console && !st.RestProxy {
		return nil
	}
	bootstrap := ""
	for i, l := range listeners {
		if l.SecurityProtocol == "PLAINTEXT" {
			bootstrap = servers[i].Addr().String()
			break
		}
	}
	if bootstrap == "" {
		return errors.New("--console and --rest-proxy need a PLAINTEXT listener on this node (run `strata console` or `strata proxy` with TLS/SASL flags instead)")
	}
	if st.Console {
		c, err := console.New(console.Config{Bootstrap: []string{bootstrap}, AllowedHosts: consoleHosts(st.ConsoleAllowedHosts, listeners), Logger: n.log.With("component", "console")})
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		c.MountOn(hs)
		g.Go(func() error {
			<-ctx.Done()
			c.Close()
			return nil
		})
	}
	if st.RestProxy {
		p, err := restproxy.New(restproxy.Config{Bootstrap: []string{bootstrap}, Logger: n.log.With("component", "restproxy")})
		if err != nil {
			return fmt.Errorf("rest proxy: %w", err)
		}
		p.MountOn(hs)
		g.Go(func() error { return p.Run(ctx) })
	}
	n.log.Info("serving tools on the HTTP listener", "console", st.Console, "rest_proxy", st.RestProxy, "bootstrap", bootstrap)
	return nil
}

// consoleHosts are the names the console answers to: the configured ones,
// this host's name and the listeners' advertised host names.
func consoleHosts(configured string, listeners []config.Listener) []string {
	var hosts []string
	for h := range strings.SplitSeq(configured, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	for _, l := range listeners {
		if l.AdvertisedHost != "" {
			hosts = append(hosts, l.AdvertisedHost)
		}
	}
	return hosts
}
