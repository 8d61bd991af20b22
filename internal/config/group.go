package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// groupBounds ties group configs to the broker configs that bound them, as
// Kafka's GroupConfig validation does. An empty min or max means no bound
// on that side.
var groupBounds = []struct{ name, min, max string }{
	{"consumer.session.timeout.ms", "group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"},
	{"consumer.heartbeat.interval.ms", "group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms"},
	{"consumer.assignment.interval.ms", "group.consumer.min.assignment.interval.ms", "group.consumer.max.assignment.interval.ms"},
	{"share.session.timeout.ms", "group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms"},
	{"share.heartbeat.interval.ms", "group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms"},
	{"share.record.lock.duration.ms", "group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms"},
	{"share.delivery.count.limit", "group.share.min.delivery.count.limit", "group.share.max.delivery.count.limit"},
	{"share.partition.max.record.locks", "group.share.min.partition.max.record.locks", "group.share.max.partition.max.record.locks"},
	{"share.assignment.interval.ms", "group.share.min.assignment.interval.ms", "group.share.max.assignment.interval.ms"},
	{"streams.session.timeout.ms", "group.streams.min.session.timeout.ms", "group.streams.max.session.timeout.ms"},
	{"streams.heartbeat.interval.ms", "group.streams.min.heartbeat.interval.ms", "group.streams.max.heartbeat.interval.ms"},
	{"streams.assignment.interval.ms", "group.streams.min.assignment.interval.ms", "group.streams.max.assignment.interval.ms"},
	{"streams.num.standby.replicas", "", "group.streams.max.standby.replicas"},
}

// ValidateGroupConfigs checks a group's complete set of overrides: every
// name must be a group config with a valid value, each value must lie
// within the broker's bounds (group.consumer.min.session.timeout.ms ...),
// and each protocol's heartbeat interval must stay below its session
// timeout, counting the broker defaults for configs the group does not
// set. brokerLayers resolve the bounds and defaults. Every problem is
// reported, joined; each wraps ErrUnknownConfig or ErrInvalidConfig.
func ValidateGroupConfigs(overrides map[string]string, brokerLayers ...Layer) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		e, ok := Lookup(ScopeGroup, name)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: group config %q", ErrUnknownConfig, name))
			continue
		}
		if err := e.Validate(overrides[name]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	broker := func(name string) (int64, bool) {
		v, _, null := ResolveBroker(name, brokerLayers...)
		if null {
			return 0, false
		}
		n, err := ParseInt64(v)
		return n, err == nil
	}
	for _, b := range groupBounds {
		v, ok := overrides[b.name]
		if !ok {
			continue
		}
		n, _ := ParseInt64(v)
		if lo, ok := broker(b.min); ok && b.min != "" && n < lo {
			errs = append(errs, fmt.Errorf("%w: %s=%d must be greater than or equal to %s (%d)", ErrInvalidConfig, b.name, n, b.min, lo))
		}
		if hi, ok := broker(b.max); ok && b.max != "" && n > hi {
			errs = append(errs, fmt.Errorf("%w: %s=%d must be less than or equal to %s (%d)", ErrInvalidConfig, b.name, n, b.max, hi))
		}
	}
	for _, proto := range []string{"consumer", "share", "streams"} {
		hbName, stName := proto+".heartbeat.interval.ms", proto+".session.timeout.ms"
		_, setHB := overrides[hbName]
		_, setST := overrides[stName]
		if !setHB && !setST {
			continue
		}
		hb, _, _ := ResolveGroup(hbName, overrides, brokerLayers...)
		st, _, _ := ResolveGroup(stName, overrides, brokerLayers...)
		h, _ := ParseInt64(hb)
		s, _ := ParseInt64(st)
		if h >= s {
			errs = append(errs, fmt.Errorf("%w: %s (%d) must be less than %s (%d)", ErrInvalidConfig, hbName, h, stName, s))
		}
	}
	return errors.Join(errs...)
}
