package node

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// BenchmarkSASLHandshake measures a whole authentication on a fresh TCP
// connection: dial, SaslHandshake v1, SaslAuthenticate round trips (the
// client's side included: SCRAM's PBKDF2 with 4096 iterations runs in the
// client), one authenticated Metadata request.
func BenchmarkSASLHandshake(b *testing.B) {
	j := newJWTIssuerTB(b)
	tn := startNode(b, withSASL(j, nil))
	adm := kadm.NewClient(tn.client(adminSASL()))
	if _, err := adm.AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{
		{User: "bench", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "pw"},
		{User: "bench", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "pw"}}); err != nil {
		b.Fatal(err)
	}
	token := j.tokenTB(b, "bench", time.Now().Add(time.Hour))
	for _, bb := range []struct {
		name string
		mech kgosasl.Mechanism
	}{
		{"PLAIN", plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()},
		{"SCRAM-SHA-256", scram.Auth{User: "bench", Pass: "pw"}.AsSha256Mechanism()},
		{"SCRAM-SHA-512", scram.Auth{User: "bench", Pass: "pw"}.AsSha512Mechanism()},
		{"OAUTHBEARER", oauth.Auth{Token: token}.AsMechanism()},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := authenticateOnce(tn.addr, bb.mech); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/login")
		})
	}
}

func authenticateOnce(addr string, mech kgosasl.Mechanism) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	corr := int32(0)
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench"))
	roundTrip := func(req kmsg.Request) (kmsg.Response, error) {
		corr++
		if _, err := c.Write(f.AppendRequest(nil, req, corr)); err != nil {
			return nil, err
		}
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return nil, err
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(c, body); err != nil {
			return nil, err
		}
		resp := req.ResponseKind()
		body = body[4:]
		if resp.IsFlexible() {
			body = body[1:]
		}
		return resp, resp.ReadFrom(body)
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, mech.Name()
	if _, err := roundTrip(hs); err != nil {
		return err
	}
	sess, tok, err := mech.Authenticate(context.Background(), addr)
	if err != nil {
		return err
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version, req.SASLAuthBytes = 2, tok
		r, err := roundTrip(req)
		if err != nil {
			return err
		}
		resp := r.(*kmsg.SASLAuthenticateResponse)
		if resp.ErrorCode != 0 {
			return io.ErrUnexpectedEOF
		}
		done, next, err := sess.Challenge(resp.SASLAuthBytes)
		if err != nil {
			return err
		}
		if done {
			break
		}
		tok = next
	}
	_, err = roundTrip(kmsg.NewPtrMetadataRequest())
	return err
}
