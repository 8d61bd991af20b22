package protocol

import (
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzParseRequest feeds arbitrary frames through header parsing, CheckBody
// and kmsg body decoding, as a connection's reader does. Properties: no
// panic; decoding what ParseRequest let through allocates at most
// maxDecodeAmplification bytes per frame byte (plus a constant); a body
// that decodes re-encodes and decodes to the same bytes. Seeds in
// testdata/fuzz/FuzzParseRequest include frames that claim huge arrays and
// tag sections.
// maxDecodeAmplification bounds the bytes kmsg allocates per byte of a
// request it decodes (Go structs are larger than their wire form).
const maxDecodeAmplification = 64

func FuzzParseRequest(f *testing.F) {
	for _, req := range []kmsg.Request{
		func() kmsg.Request { r := kmsg.NewPtrMetadataRequest(); r.Version = 12; return r }(),
		func() kmsg.Request { r := kmsg.NewPtrApiVersionsRequest(); r.Version = 3; return r }(),
		func() kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.Version = 9
			r.Acks = -1
			r.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: []byte{1, 2, 3}}}}}
			return r
		}(),
		func() kmsg.Request { r := kmsg.NewPtrFetchRequest(); r.Version = 11; return r }(),
	} {
		f.Add(frameOf(req, 1, "seed"))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, req, body, err := ParseRequest(frame)
		if err != nil || !HasSchema(h.APIKey, h.APIVersion) {
			// NB: the server decodes only the versions it serves, all of
			// which have a schema; kmsg decoding a body at version 12336
			// is slow and nobody's contract.
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		derr := req.ReadFrom(body)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > uint64(maxDecodeAmplification*len(frame)+64<<10) {
			t.Fatalf("decoding a %d-byte %T v%d allocated %d bytes", len(frame), req, req.GetVersion(), n)
		}
		if derr != nil {
			return
		}
		enc := req.AppendTo(nil)
		again := kmsg.RequestForKey(req.Key())
		again.SetVersion(req.GetVersion())
		if err := again.ReadFrom(enc); err != nil {
			t.Fatalf("re-decoding an encoded %T v%d: %v", req, req.GetVersion(), err)
		}
		if string(again.AppendTo(nil)) != string(enc) {
			t.Fatalf("decode-encode-decode of %T v%d is not stable", req, req.GetVersion())
		}
	})
}
