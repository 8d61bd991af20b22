package cli

import (
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultSASLPassword is the default of --sasl-password; main may set it
// (from STRATA_SASL_PASSWORD) so the password need not be on the command
// line.
var DefaultSASLPassword = ""

// saslFlags are the SASL options of every command's client (a
// SASL_PLAINTEXT listener).
type saslFlags struct {
	mechanism string
	username  string
	password  string
}

func (f *saslFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.mechanism, "sasl-mechanism", "", "authenticate with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&f.username, "sasl-username", "", "SASL user name")
	fs.StringVar(&f.password, "sasl-password", DefaultSASLPassword, "SASL password (default from STRATA_SASL_PASSWORD)")
}

// opts returns the kgo SASL option, if a mechanism is set. An unknown
// mechanism is reported by validate.
func (f *saslFlags) opts() []kgo.Opt {
	switch strings.ToUpper(f.mechanism) {
	case "PLAIN":
		return []kgo.Opt{kgo.SASL(plain.Auth{User: f.username, Pass: f.password}.AsMechanism())}
	case "SCRAM-SHA-256":
		return []kgo.Opt{kgo.SASL(scram.Auth{User: f.username, Pass: f.password}.AsSha256Mechanism())}
	case "SCRAM-SHA-512":
		return []kgo.Opt{kgo.SASL(scram.Auth{User: f.username, Pass: f.password}.AsSha512Mechanism())}
	}
	return nil
}
