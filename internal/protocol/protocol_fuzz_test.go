package protocol

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzParseRequest feeds arbitrary frames through header parsing and kmsg
// body decoding, as a connection's reader does. Properties: no panic; a body
// that decodes re-encodes and decodes to the same bytes.
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
		_, req, body, err := ParseRequest(frame)
		if err != nil {
			return
		}
		if err := req.ReadFrom(body); err != nil {
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
