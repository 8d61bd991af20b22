package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/metadata"
)

// ConfigResource names what a config belongs to: a topic by name, a broker
// by id in decimal ("" for the cluster-wide default), or a group by id.
type ConfigResource struct {
	Type metadata.ResourceType
	Name string
}

// AlterConfigOp is an IncrementalAlterConfigs operation, numbered as Kafka's
// (KIP-339).
type AlterConfigOp int8

const (
	OpSet      AlterConfigOp = 0
	OpDelete   AlterConfigOp = 1
	OpAppend   AlterConfigOp = 2
	OpSubtract AlterConfigOp = 3
)

// AlterConfig is one operation on one config.
type AlterConfig struct {
	Name  string
	Op    AlterConfigOp
	Value *string
}

// IncrementalAlterConfigsResource holds the operations for one resource.
type IncrementalAlterConfigsResource struct {
	Resource ConfigResource
	Configs  []AlterConfig
}

// AlterConfigsResource holds the complete new set of overrides for one
// resource (legacy AlterConfigs): overrides not listed are removed, and a
// nil value removes its config too.
type AlterConfigsResource struct {
	Resource ConfigResource
	Configs  map[string]*string
}

// AlterConfigsResult is the outcome for one resource, in request order.
type AlterConfigsResult struct {
	Resource ConfigResource
	Err      error
}

// IncrementalAlterConfigs applies set/delete/append/subtract operations to
// topic, broker and group configs. Every valid resource changes in one
// atomic batch; with validateOnly nothing changes.
func (c *Controller) IncrementalAlterConfigs(ctx context.Context, resources []IncrementalAlterConfigsResource, validateOnly bool) []AlterConfigsResult {
	res := make([]ConfigResource, len(resources))
	for i, r := range resources {
		res[i] = r.Resource
	}
	return c.alterConfigs(ctx, res, validateOnly, func(img *metadata.Image, i int, current map[string]string) (map[string]string, error) {
		return c.incrementalConfigs(img, resources[i], current)
	})
}

// AlterConfigs replaces the overrides of each resource (legacy
// AlterConfigs). Every valid resource changes in one atomic batch.
func (c *Controller) AlterConfigs(ctx context.Context, resources []AlterConfigsResource, validateOnly bool) []AlterConfigsResult {
	res := make([]ConfigResource, len(resources))
	for i, r := range resources {
		res[i] = r.Resource
	}
	return c.alterConfigs(ctx, res, validateOnly, func(_ *metadata.Image, i int, _ map[string]string) (map[string]string, error) {
		r := resources[i]
		next := map[string]string{}
		for _, name := range slices.Sorted(maps.Keys(r.Configs)) {
			v := r.Configs[name]
			e, err := alterableEntry(r.Resource, name)
			if err != nil {
				return nil, err
			}
			if v == nil {
				continue
			}
			if err := e.Validate(*v); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
			}
			next[name] = *v
		}
		return next, nil
	})
}

// alterConfigs validates each resource, asks compute for its new
// overrides, and proposes the differences as ConfigRecords.
func (c *Controller) alterConfigs(ctx context.Context, resources []ConfigResource, validateOnly bool,
	compute func(img *metadata.Image, i int, current map[string]string) (map[string]string, error),
) []AlterConfigsResult {
	results := make([]AlterConfigsResult, len(resources))
	for i, r := range resources {
		results[i].Resource = r
	}
	fail := func(err error) {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = err
			}
		}
	}
	err := c.doAdmin(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			fail(err)
			return
		}
		count := map[ConfigResource]int{}
		for _, r := range resources {
			count[r]++
		}
		var recs []metadata.Record
		for i, r := range resources {
			if count[r] > 1 {
				results[i].Err = fmt.Errorf("%w: resource %q is listed more than once", ErrInvalidRequest, r.Name)
				continue
			}
			current, err := currentOverrides(img, r)
			if err != nil {
				results[i].Err = err
				continue
			}
			next, err := compute(img, i, current)
			if err == nil && r.Type == metadata.ResourceGroup {
				err = c.validateGroupConfigs(img, next)
			}
			if err != nil {
				results[i].Err = err
				continue
			}
			recs = appendConfigChanges(recs, r, current, next)
		}
		if validateOnly || len(recs) == 0 {
			return
		}
		if err := c.propose(ctx, recs); err != nil {
			fail(err)
			return
		}
		for _, r := range results {
			if r.Err == nil {
				c.logger.Info("configs altered", "resource_type", int8(r.Resource.Type), "resource", r.Resource.Name)
			}
		}
	})
	if err != nil {
		fail(err)
	}
	return results
}

// currentOverrides returns the resource's overrides, checking that the
// resource exists (topics) or is well-formed (brokers).
func currentOverrides(img *metadata.Image, r ConfigResource) (map[string]string, error) {
	switch r.Type {
	case metadata.ResourceTopic:
		t, ok := img.TopicByName(r.Name)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, r.Name)
		}
		return t.Configs, nil
	case metadata.ResourceBroker:
		if r.Name != "" {
			id, err := strconv.ParseInt(r.Name, 10, 32)
			if err != nil || id < 0 || strconv.FormatInt(id, 10) != r.Name {
				return nil, fmt.Errorf("%w: broker resource name %q is neither empty nor a broker id", ErrInvalidRequest, r.Name)
			}
		}
		return img.BrokerConfigs(r.Name), nil
	case metadata.ResourceGroup:
		if r.Name == "" {
			return nil, fmt.Errorf("%w: group name must not be empty", ErrInvalidRequest)
		}
		return img.GroupConfigs(r.Name), nil
	default:
		return nil, fmt.Errorf("%w: config resource type %d is not supported", ErrInvalidRequest, r.Type)
	}
}

// alterableEntry returns the registry entry for a config that may be
// altered on resource r: a dynamic config of the resource's scope, and for
// the cluster-wide broker default (""), not a per-broker one (Kafka: "Cannot
// update these configs at default cluster level, broker id must be
// specified"). Inert configs are accepted, as Kafka accepts them; their
// documentation says Strata does not act on them.
func alterableEntry(r ConfigResource, name string) (*config.Entry, error) {
	scope := config.ScopeTopic
	switch r.Type {
	case metadata.ResourceBroker:
		scope = config.ScopeBroker
	case metadata.ResourceGroup:
		scope = config.ScopeGroup
	}
	e, ok := config.Lookup(scope, name)
	if !ok {
		return nil, fmt.Errorf("%w: %w: %s config %q", ErrInvalidConfig, config.ErrUnknownConfig, scope, name)
	}
	if !e.Dynamic {
		return nil, fmt.Errorf("%w: %w: %s config %q is read-only; it cannot be changed at runtime", ErrInvalidConfig, config.ErrInvalidConfig, scope, name)
	}
	if r.Type == metadata.ResourceBroker && r.Name == "" && e.Mode == config.ModePerBroker {
		return nil, fmt.Errorf("%w: %w: cannot update %q at default cluster level, broker id must be specified", ErrInvalidConfig, config.ErrInvalidConfig, name)
	}
	return e, nil
}

// validateGroupConfigs checks a group's new overrides against the group
// config bounds of this (the active) controller's broker configs, as
// Kafka's controller does.
func (c *Controller) validateGroupConfigs(img *metadata.Image, next map[string]string) error {
	self := strconv.FormatInt(int64(c.cfg.NodeID), 10)
	if err := config.ValidateGroupConfigs(next,
		config.Layer{Source: config.SourceDynamicBrokerConfig, Values: img.BrokerConfigs(self)},
		config.Layer{Source: config.SourceDynamicDefaultBrokerConfig, Values: img.BrokerConfigs("")},
		config.Layer{Source: config.SourceStaticBrokerConfig, Values: c.cfg.Defaults.StaticBrokerConfigs},
	); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// incrementalConfigs applies one resource's operations to its overrides.
func (c *Controller) incrementalConfigs(img *metadata.Image, r IncrementalAlterConfigsResource, current map[string]string) (map[string]string, error) {
	next := maps.Clone(current)
	if next == nil {
		next = map[string]string{}
	}
	seen := map[string]bool{}
	for _, op := range r.Configs {
		if seen[op.Name] {
			return nil, fmt.Errorf("%w: config %q appears more than once", ErrInvalidRequest, op.Name)
		}
		seen[op.Name] = true
		e, err := alterableEntry(r.Resource, op.Name)
		if err != nil {
			return nil, err
		}
		switch op.Op {
		case OpSet:
			if op.Value == nil {
				return nil, fmt.Errorf("%w: null value for config %q", ErrInvalidRequest, op.Name)
			}
			next[op.Name] = *op.Value
		case OpDelete:
			delete(next, op.Name)
		case OpAppend, OpSubtract:
			if e.Type != config.TypeList {
				return nil, fmt.Errorf("%w: %w: config %q is not a list; append and subtract apply to lists only", ErrInvalidConfig, config.ErrInvalidConfig, op.Name)
			}
			if op.Value == nil {
				return nil, fmt.Errorf("%w: null value for config %q", ErrInvalidRequest, op.Name)
			}
			items := config.ParseList(c.currentValue(img, r.Resource, next, op.Name))
			for _, v := range config.ParseList(*op.Value) {
				has := slices.Contains(items, v)
				switch {
				case op.Op == OpAppend && !has:
					items = append(items, v)
				case op.Op == OpSubtract && has:
					items = slices.DeleteFunc(items, func(s string) bool { return s == v })
				}
			}
			next[op.Name] = strings.Join(items, ",")
		default:
			return nil, fmt.Errorf("%w: unknown alter config operation %d", ErrInvalidRequest, op.Op)
		}
		if v, ok := next[op.Name]; ok {
			if err := e.Validate(v); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
			}
		}
	}
	return next, nil
}

// currentValue resolves a config as it stands with the overrides in next
// (the base for append and subtract).
func (c *Controller) currentValue(img *metadata.Image, r ConfigResource, next map[string]string, name string) string {
	static := config.Layer{Source: config.SourceStaticBrokerConfig, Values: c.cfg.Defaults.StaticBrokerConfigs}
	self := strconv.FormatInt(int64(c.cfg.NodeID), 10)
	if r.Type == metadata.ResourceGroup {
		v, _, _ := config.ResolveGroup(name, next,
			config.Layer{Source: config.SourceDynamicBrokerConfig, Values: img.BrokerConfigs(self)},
			config.Layer{Source: config.SourceDynamicDefaultBrokerConfig, Values: img.BrokerConfigs("")},
			static)
		return v
	}
	if r.Type == metadata.ResourceTopic {
		v, _ := config.ResolveTopic(name, next,
			config.Layer{Source: config.SourceDynamicBrokerConfig, Values: img.BrokerConfigs(self)},
			config.Layer{Source: config.SourceDynamicDefaultBrokerConfig, Values: img.BrokerConfigs("")},
			static)
		return v
	}
	layers := []config.Layer{{Source: config.SourceDynamicBrokerConfig, Values: next}}
	if r.Name != "" {
		layers = append(layers, config.Layer{Source: config.SourceDynamicDefaultBrokerConfig, Values: img.BrokerConfigs("")})
	}
	v, _, _ := config.ResolveBroker(name, append(layers, static)...)
	return v
}

// appendConfigChanges appends a ConfigRecord per config whose override
// differs between current and next, in name order.
func appendConfigChanges(recs []metadata.Record, r ConfigResource, current, next map[string]string) []metadata.Record {
	names := map[string]struct{}{}
	for k := range current {
		names[k] = struct{}{}
	}
	for k := range next {
		names[k] = struct{}{}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		cv, inCur := current[name]
		nv, inNext := next[name]
		switch {
		case inNext && (!inCur || cv != nv):
			recs = append(recs, &metadata.ConfigRecord{ResourceType: r.Type, ResourceName: r.Name, Name: name, Value: &nv})
		case !inNext && inCur:
			recs = append(recs, &metadata.ConfigRecord{ResourceType: r.Type, ResourceName: r.Name, Name: name})
		}
	}
	return recs
}
