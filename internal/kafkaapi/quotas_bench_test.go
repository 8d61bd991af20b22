//go:build linux

package kafkaapi

import (
	"context"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/quota"
	"github.com/strata-io/strata/internal/server"
)

// BenchmarkProduceQuotaOverhead serves acks=1 produce requests of one
// 16-record batch straight through Handle (decode, validate, append) to
// show what quotas cost on the produce path:
//
//   - before: no quota manager (the handler as it was before quotas).
//   - no-quotas: a manager, nothing configured (every broker's default).
//   - other-client: quotas set for another client id, so this client's
//     quota is looked up and not found.
//   - measured: this client has a producer_byte_rate high enough never to
//     throttle it: lookup, rate update and throttle computation.
func BenchmarkProduceQuotaOverhead(b *testing.B) {
	strp := func(s string) *string { return &s }
	for _, bb := range []struct {
		name   string
		quotas []*metadata.ClientQuotaRecord
		none   bool
	}{
		{name: "before", none: true},
		{name: "no-quotas"},
		{name: "other-client", quotas: []*metadata.ClientQuotaRecord{{Entity: []metadata.QuotaEntityComponent{{Type: "client-id", Name: strp("other")}}, Key: quota.ProducerByteRate, Value: 1e6}}},
		{name: "measured", quotas: []*metadata.ClientQuotaRecord{{Entity: []metadata.QuotaEntityComponent{{Type: "client-id", Name: strp("bench")}}, Key: quota.ProducerByteRate, Value: 1e15}}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			wh := newWireHandler(b)
			if !bb.none {
				m, err := quota.New(quota.DefaultConfig())
				if err != nil {
					b.Fatal(err)
				}
				var recs []metadata.Record
				for _, r := range bb.quotas {
					recs = append(recs, r)
				}
				img, _, err := metadata.Empty().Apply(1, recs...)
				if err != nil {
					b.Fatal(err)
				}
				m.Update(img)
				wh.h.SetQuotas(m)
			}
			req := kmsg.NewPtrProduceRequest()
			req.Version, req.Acks, req.TimeoutMillis = 9, 1, 30000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "t"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = batchOf(b, 0, 16, 64)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			body := req.AppendTo(nil)
			hdr := protocol.RequestHeader{APIKey: 0, APIVersion: 9, ClientID: "bench", Flexible: true}
			conn := &server.Conn{Logger: slog.New(slog.DiscardHandler)}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := kmsg.NewPtrProduceRequest()
				r.Version = 9
				resp := wh.h.Handle(ctx, conn, hdr, r, body)
				if resp.Msg == nil || resp.Throttle != 0 {
					b.Fatalf("Handle(produce) = %+v", resp)
				}
			}
		})
	}
}
