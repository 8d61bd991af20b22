package node

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/controller"
)

// heartbeatLoop keeps this broker registered and unfenced: it heartbeats
// the active controller every heartbeat interval (every fastHeartbeat while
// fenced, so a new broker is unfenced as soon as it has caught up), and
// re-registers when the controller no longer knows its epoch. It returns
// when ctx ends.
func (n *Node) heartbeatLoop(ctx context.Context, channel *controllerChannel, reg controller.BrokerRegistration) error {
	const fastHeartbeat = 200 * time.Millisecond
	interval := n.ctrl.HeartbeatInterval()
	wait := time.Duration(0)
	fenced := true
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		case <-n.heartbeatNow:
			timer.Stop()
		}
		img := n.ctrl.Image()
		if _, ok := img.Broker(reg.NodeID); !ok && n.registeredEpoch.Load() == 0 {
			wait = fastHeartbeat
			continue
		}
		shuttingDown := n.shuttingDown.Load()
		hctx, cancel := context.WithTimeout(ctx, interval)
		offlineDirs, assignments := n.offlineLogDirs()
		if len(assignments) > 0 {
			// The controller needs to know which replicas the offline
			// directories held before the heartbeat names them. Sent with
			// every heartbeat while a directory is offline, so that a new
			// active controller learns them too.
			if err := channel.AssignReplicasToDirs(hctx, reg.NodeID, n.brokerEpoch(), assignments); err != nil && ctx.Err() == nil {
				n.log.Debug("assigning replicas to offline log dirs", "err", err)
			}
		}
		resp, err := channel.BrokerHeartbeat(hctx, controller.HeartbeatRequest{
			BrokerID: reg.NodeID, BrokerEpoch: n.brokerEpoch(), CurrentMetadataOffset: int64(img.Index()),
			WantShutDown: shuttingDown, OfflineLogDirs: offlineDirs,
		})
		cancel()
		switch {
		case errors.Is(err, controller.ErrStaleBrokerEpoch), errors.Is(err, kerr.StaleBrokerEpoch),
			errors.Is(err, controller.ErrBrokerNotRegistered), errors.Is(err, kerr.BrokerIDNotRegistered):
			n.log.Warn("controller lost this broker's registration; registering again", "err", err)
			// The process lives on: its log lost nothing (KIP-966).
			reg.CleanShutdown = true
			if err := channel.RegisterBroker(ctx, reg); err != nil && ctx.Err() == nil {
				n.log.Warn("re-registering broker", "err", err)
			}
			wait = fastHeartbeat
			continue
		case err != nil:
			if ctx.Err() == nil {
				n.log.Debug("broker heartbeat failed", "err", err)
			}
			wait = fastHeartbeat
			continue
		}
		if shuttingDown && resp.ShouldShutDown {
			n.shutdownOnce.Do(func() { close(n.shutdownReady) })
		}
		if resp.IsFenced != fenced {
			fenced = resp.IsFenced
			n.log.Info("broker fencing changed", "fenced", fenced)
		}
		wait = interval
		if fenced || shuttingDown {
			wait = fastHeartbeat
		}
	}
}

// controlledShutdown asks the active controller to move this broker's
// leaderships away and waits (bounded) until it says the broker may stop,
// while the node keeps serving. A single-voter node has nowhere to move
// leaderships and stops at once.
func (n *Node) controlledShutdown(ctx context.Context) {
	if voters, _ := n.cfg.Static.Voters(); len(voters) <= 1 {
		return
	}
	start := time.Now()
	n.log.Info("controlled shutdown: moving leaderships away")
	n.shuttingDown.Store(true)
	// Ask at once rather than at the next heartbeat (up to an interval
	// away): leaderships move sooner.
	select {
	case n.heartbeatNow <- struct{}{}:
	default:
	}
	timer := time.NewTimer(max(n.cfg.Static.BrokerSessionTimeout, 5*time.Second))
	defer timer.Stop()
	select {
	case <-n.shutdownReady:
		n.log.Info("controlled shutdown complete", "took", time.Since(start).Round(time.Millisecond))
	case <-timer.C:
		n.log.Warn("controlled shutdown timed out; stopping anyway", "took", time.Since(start).Round(time.Millisecond))
	case <-ctx.Done():
	}
}
