package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-io/strata/internal/version"
)

// NewVersionCommand builds `strata version`, which prints the same line as
// `strata --version`: version, git commit and Go version of this binary.
func NewVersionCommand() *cobra.Command {
	return silence(&cobra.Command{
		Use:   "version",
		Short: "Print the version, git commit and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), version.Get())
			return err
		},
	})
}
