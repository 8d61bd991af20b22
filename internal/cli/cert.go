package cli

import (
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-io/strata/internal/tlsconfig"
)

const certLong = `Cert creates a test certificate authority and PEM certificates signed by it,
so that TLS listeners can be tried without openssl. Into --dir it writes:

  ca.pem, ca-key.pem  the CA (reused when already there): the trust store of
                      brokers and clients (--tls-ca, ssl.truststore.location)
  broker.pem          a key store (private key and certificate chain) for
                      --hosts, for brokers (--tls-cert, ssl.keystore.location
                      with ssl.keystore.type=PEM)
  NAME.pem            with --clients NAME,...: a client key store whose
                      subject is CN=NAME (the principal User:CN=NAME, or
                      User:NAME with a mapping rule)

Existing certificate files are never overwritten. Keys are ECDSA P-256,
written with mode 0600. These certificates are for tests and trials: a
production cluster takes its certificates from the operator's PKI.`

// NewCertCommand returns `strata cert`.
func NewCertCommand() *cobra.Command {
	var dir, hosts, clients string
	var validity time.Duration
	cmd := silence(&cobra.Command{
		Use:   "cert",
		Short: "Create a test CA and PEM certificates for brokers and clients",
		Long:  certLong,
		Args:  cobra.NoArgs,
	})
	fs := cmd.Flags()
	fs.StringVar(&dir, "dir", "./certs", "directory to write into (created if missing)")
	fs.StringVar(&hosts, "hosts", "localhost,127.0.0.1", "comma-separated host names and IP addresses the broker certificate is valid for")
	fs.StringVar(&clients, "clients", "", "comma-separated names of client certificates to create (CN=name)")
	fs.DurationVar(&validity, "validity", 365*24*time.Hour, "how long the certificates are valid")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if validity <= 0 {
			return errors.New("--validity must be positive")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		caFile, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
		ca, err := tlsconfig.LoadCA(caFile, caKey)
		switch {
		case err == nil:
			fmt.Fprintf(out, "using the CA in %s\n", caFile)
		case errors.Is(err, os.ErrNotExist):
			if ca, err = tlsconfig.NewCA("Strata test CA", validity); err != nil {
				return err
			}
			if err := ca.WriteCA(caFile, caKey); err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %s (trust store) and %s\n", caFile, caKey)
		default:
			return fmt.Errorf("CA in %s: %w", dir, err)
		}
		type want struct {
			file  string
			subj  pkix.Name
			hosts []string
		}
		wants := []want{{filepath.Join(dir, "broker.pem"), pkix.Name{CommonName: "strata-broker"}, splitList(hosts)}}
		for _, c := range splitList(clients) {
			if strings.ContainsAny(c, `/\`) || c == "ca" || c == "ca-key" || c == "broker" {
				return fmt.Errorf("--clients: %q cannot name a certificate file", c)
			}
			wants = append(wants, want{filepath.Join(dir, c+".pem"), pkix.Name{CommonName: c}, nil})
		}
		for _, w := range wants {
			if _, err := os.Stat(w.file); err == nil {
				fmt.Fprintf(out, "kept %s (already there)\n", w.file)
				continue
			}
			leaf, err := ca.Issue(w.subj, w.hosts, validity)
			if err != nil {
				return err
			}
			if err := leaf.WriteKeyStore(w.file); err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %s (key store, subject CN=%s)\n", w.file, w.subj.CommonName)
		}
		fmt.Fprintf(out, "broker: strata serve --listeners SSL://:9093 --tls-cert %s --tls-ca %s\n", wants[0].file, caFile)
		fmt.Fprintf(out, "client: strata topic list --bootstrap localhost:9093 --tls-ca %s\n", caFile)
		return nil
	}
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
