package quota

import (
	"errors"
	"fmt"
	"math"
	"net/netip"

	"github.com/strata-io/strata/internal/metadata"
)

// Quota keys, as Kafka names them (QuotaConfig).
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	ConnectionCreationRate = "connection_creation_rate"
)

// ErrInvalid means an entity, key or value that Kafka refuses with
// INVALID_REQUEST.
var ErrInvalid = errors.New("invalid client quota")

// ErrUnsupportedEntityType is a describe filter naming an entity type other
// than user, client-id and ip (Kafka answers UNSUPPORTED_VERSION).
var ErrUnsupportedEntityType = errors.New("unsupported quota entity type")

type valueType uint8

const (
	typeLong valueType = iota
	typeDouble
	typeInt
)

// userClientKeys are the keys of user and client-id entities; ipKeys of
// ip entities.
var (
	userClientKeys = map[string]valueType{
		ProducerByteRate:       typeLong,
		ConsumerByteRate:       typeLong,
		RequestPercentage:      typeDouble,
		ControllerMutationRate: typeDouble,
	}
	ipKeys = map[string]valueType{ConnectionCreationRate: typeInt}
)

// ValidateEntity checks an entity as Kafka's controller does: known types,
// each once, no empty names, ip alone and an IP address.
func ValidateEntity(entity []metadata.QuotaEntityComponent) error {
	if len(entity) == 0 {
		return fmt.Errorf("%w: invalid empty client quota entity", ErrInvalid)
	}
	var hasUser, hasClient, hasIP bool
	for i, c := range entity {
		for _, o := range entity[:i] {
			if o.Type == c.Type {
				return fmt.Errorf("%w: invalid client quota entity, duplicate entity entry %s", ErrInvalid, c.Type)
			}
		}
		switch c.Type {
		case metadata.QuotaEntityUser:
			hasUser = true
		case metadata.QuotaEntityClientID:
			hasClient = true
		case metadata.QuotaEntityIP:
			hasIP = true
			if c.Name != nil {
				if _, err := netip.ParseAddr(*c.Name); err != nil {
					return fmt.Errorf("%w: %s is not a valid IP", ErrInvalid, *c.Name)
				}
			}
		default:
			return fmt.Errorf("%w: unhandled client quota entity type: %s", ErrInvalid, c.Type)
		}
		if c.Name != nil && *c.Name == "" {
			return fmt.Errorf("%w: empty %s not supported", ErrInvalid, c.Type)
		}
	}
	if hasIP && (hasUser || hasClient) {
		return fmt.Errorf("%w: invalid quota entity combination, IP entity should not be combined with User or ClientId", ErrInvalid)
	}
	return nil
}

// ValidateValue checks that key is a quota of entity (already validated)
// and that value suits it: positive, and whole for integer quotas.
func ValidateValue(entity []metadata.QuotaEntityComponent, key string, value float64) error {
	keys := userClientKeys
	if entity[0].Type == metadata.QuotaEntityIP {
		keys = ipKeys
	}
	t, ok := keys[key]
	if !ok {
		return fmt.Errorf("%w: invalid configuration key %s", ErrInvalid, key)
	}
	if !(value > 0) || math.IsInf(value, 0) {
		return fmt.Errorf("%w: quota %s must be greater than 0", ErrInvalid, key)
	}
	switch t {
	case typeInt:
		if value > math.MaxInt32 {
			return fmt.Errorf("%w: proposed value for %s is too large for an INT", ErrInvalid, key)
		}
	case typeLong:
		if value > math.MaxInt64 {
			return fmt.Errorf("%w: proposed value for %s is too large for a LONG", ErrInvalid, key)
		}
	case typeDouble:
		return nil
	}
	if math.Abs(math.Mod(value, 1)) > 1e-6 {
		return fmt.Errorf("%w: %s cannot be a fractional value", ErrInvalid, key)
	}
	return nil
}
