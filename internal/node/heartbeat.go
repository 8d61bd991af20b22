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
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		img := n.ctrl.Image()
		self, ok := img.Broker(reg.NodeID)
		if !ok {
			wait = fastHeartbeat
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, interval)
		resp, err := channel.BrokerHeartbeat(hctx, controller.HeartbeatRequest{
			BrokerID: reg.NodeID, BrokerEpoch: self.BrokerEpoch, CurrentMetadataOffset: int64(img.Index()),
		})
		cancel()
		switch {
		case errors.Is(err, controller.ErrStaleBrokerEpoch), errors.Is(err, kerr.StaleBrokerEpoch),
			errors.Is(err, controller.ErrBrokerNotRegistered), errors.Is(err, kerr.BrokerIDNotRegistered):
			n.log.Warn("controller lost this broker's registration; registering again", "err", err)
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
		if resp.IsFenced != fenced {
			fenced = resp.IsFenced
			n.log.Info("broker fencing changed", "fenced", fenced)
		}
		wait = interval
		if fenced {
			wait = fastHeartbeat
		}
	}
}
