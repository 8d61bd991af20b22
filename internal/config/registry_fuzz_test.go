package config

import (
	"errors"
	"testing"
)

func FuzzValidate(f *testing.F) {
	f.Add("segment.bytes", "14")
	f.Add("cleanup.policy", "compact,delete")
	f.Add("min.cleanable.dirty.ratio", "0.5")
	f.Fuzz(func(t *testing.T, name, value string) {
		e, ok := Lookup(ScopeTopic, name)
		if !ok {
			if err := ValidateTopicConfigs(map[string]string{name: value}); !errors.Is(err, ErrUnknownConfig) {
				t.Fatalf("ValidateTopicConfigs(%q) = %v, want ErrUnknownConfig", name, err)
			}
			return
		}
		if err := e.Validate(value); err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Validate(%q) = %v, want nil or ErrInvalidConfig", value, err)
		}
	})
}
