package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func frameOf(req kmsg.Request, correlationID int32, clientID string) []byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))
	b := f.AppendRequest(nil, req, correlationID)
	return b[4:] // drop the size prefix
}

func TestParseRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		give kmsg.Request
	}{
		{"metadata v1 (header v1)", func() kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			r.Version = 1
			r.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("a")}}
			return r
		}()},
		{"metadata v12 (header v2, tags)", func() kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			r.Version = 12
			return r
		}()},
		{"api versions v3", func() kmsg.Request {
			r := kmsg.NewPtrApiVersionsRequest()
			r.Version = 3
			r.ClientSoftwareName = "x"
			r.ClientSoftwareVersion = "1"
			return r
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := frameOf(tt.give, 42, "client-1")
			h, req, body, err := ParseRequest(frame)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if h.CorrelationID != 42 || h.ClientID != "client-1" || h.APIKey != tt.give.Key() || h.APIVersion != tt.give.GetVersion() {
				t.Fatalf("ParseRequest header = %+v", h)
			}
			if h.Flexible != tt.give.IsFlexible() {
				t.Fatalf("Flexible = %v, want %v", h.Flexible, tt.give.IsFlexible())
			}
			if err := req.ReadFrom(body); err != nil {
				t.Fatalf("ReadFrom body: %v", err)
			}
			if got, want := req.AppendTo(nil), tt.give.AppendTo(nil); !bytes.Equal(got, want) {
				t.Fatalf("re-encoded body differs:\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestParseRequestRejects(t *testing.T) {
	tests := []struct {
		name string
		give []byte
		want error
	}{
		{"short", []byte{0, 3, 0}, ErrFrameInvalid},
		{"unknown key", []byte{0x7f, 0x00, 0, 1, 0, 0, 0, 1, 0xff, 0xff}, ErrUnknownAPI},
		{"client id past end", []byte{0, 3, 0, 1, 0, 0, 0, 1, 0x00, 0x50}, ErrFrameInvalid},
		{"negative client id length", []byte{0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0x00}, ErrFrameInvalid},
		{"bad header tags", []byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0x05, 0x01}, ErrFrameInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := ParseRequest(tt.give)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseRequest(%x) error = %v, want %v", tt.give, err, tt.want)
			}
		})
	}
}

func TestReadFrameSizeBounds(t *testing.T) {
	tests := []struct {
		name string
		give int32
		want error
	}{
		{"negative", -1, ErrFrameTooLarge},
		{"over limit", 1001, ErrFrameTooLarge},
		{"too small for a header", 3, ErrFrameInvalid},
		{"ok", 1000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(tt.give))
			var scratch [4]byte
			n, err := ReadFrameSize(bytes.NewReader(b[:]), &scratch, 1000)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadFrameSize(%d) error = %v, want %v", tt.give, err, tt.want)
			}
			if err == nil && n != tt.give {
				t.Fatalf("ReadFrameSize(%d) = %d", tt.give, n)
			}
		})
	}
}

func TestAppendResponseHeaders(t *testing.T) {
	// ApiVersions v3 is flexible but its response header stays v0.
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 3
	b := AppendResponse(nil, 7, av)
	if got := int32(binary.BigEndian.Uint32(b)); int(got) != len(b)-4 {
		t.Fatalf("size prefix %d for %d bytes", got, len(b)-4)
	}
	parsed := kmsg.NewPtrApiVersionsResponse()
	parsed.Version = 3
	if err := parsed.ReadFrom(b[8:]); err != nil {
		t.Fatalf("ApiVersions body after a v0 header: %v", err)
	}
	// Metadata v12 uses header v1: one empty tag byte after the correlation id.
	md := kmsg.NewPtrMetadataResponse()
	md.Version = 12
	b = AppendResponse(nil, 7, md)
	if b[8] != 0 {
		t.Fatalf("metadata v12 header tag byte = %x, want 0", b[8])
	}
	parsedMD := kmsg.NewPtrMetadataResponse()
	parsedMD.Version = 12
	if err := parsedMD.ReadFrom(b[9:]); err != nil {
		t.Fatalf("metadata body: %v", err)
	}
}

func TestAdvertisedMatchesAccepted(t *testing.T) {
	for _, k := range Advertised() {
		r, ok := Accepted(k.ApiKey)
		if !ok || r.Max != k.MaxVersion {
			t.Fatalf("api %d advertised max %d, accepted %+v", k.ApiKey, k.MaxVersion, r)
		}
		req := kmsg.RequestForKey(k.ApiKey)
		if req == nil || req.MaxVersion() < k.MaxVersion {
			t.Fatalf("api %d advertised to v%d beyond what kmsg encodes", k.ApiKey, k.MaxVersion)
		}
	}
}
