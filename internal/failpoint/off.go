//go:build !failpoints

package failpoint

import (
	"fmt"
	"os"
)

// Compiled reports whether this binary was built with the failpoints tag.
const Compiled = false

// Inject reports whether the call site should take its failure branch:
// never, in a build without the failpoints tag (the call inlines to false).
func Inject(Name) bool { return false }

// CheckEnv fails when STRATA_FAILPOINTS is set but this binary cannot honour
// it (built without the failpoints tag).
func CheckEnv() error {
	if v := os.Getenv(EnvVar); v != "" {
		return fmt.Errorf("%s=%q is set, but this binary was built without the failpoints build tag (make build-failpoints)", EnvVar, v)
	}
	return nil
}

// Active lists the failpoints switched on: none without the tag.
func Active() string { return "" }
