// Package protocol owns the Kafka wire framing around franz-go's kmsg codecs:
// size-prefixed frames, request headers v1/v2 (KIP-482 tagged fields),
// response headers v0/v1, and the table of API versions the broker
// advertises. The message bodies themselves are encoded and decoded by kmsg;
// this package never interprets them.
//
// A request frame on the wire:
//
//	int32   size (bytes that follow)
//	int16   api key
//	int16   api version
//	int32   correlation id
//	int16+  client id (nullable string, never compact, even in header v2)
//	...     tagged fields (header v2, flexible versions only)
//	...     request body
//
// A response frame: int32 size, int32 correlation id, tagged fields (header
// v1, flexible versions only, except ApiVersions which always uses v0), body.
package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors from framing. Any of them means the connection must be closed.
var (
	ErrFrameTooLarge = errors.New("request frame larger than socket.request.max.bytes")
	ErrFrameInvalid  = errors.New("invalid request frame")
	ErrUnknownAPI    = errors.New("unknown api key")
)

// ReadFrameSize reads the 4-byte size prefix and checks it against max
// before anything is allocated.
func ReadFrameSize(r io.Reader, scratch *[4]byte, max int32) (int32, error) {
	if _, err := io.ReadFull(r, scratch[:]); err != nil {
		return 0, err
	}
	n := int32(binary.BigEndian.Uint32(scratch[:]))
	if n < 0 || n > max {
		return 0, fmt.Errorf("%w: size %d, limit %d", ErrFrameTooLarge, n, max)
	}
	// The smallest valid request header is 2+2+4+2 bytes.
	if n < 10 {
		return 0, fmt.Errorf("%w: size %d is shorter than a request header", ErrFrameInvalid, n)
	}
	return n, nil
}

// RequestHeader is a decoded request header.
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      string // "" when null
	Flexible      bool   // header v2 with tagged fields
}

// ParseRequest decodes the header of frame and returns it with a kmsg request
// of the right type and version and the undecoded body, which CheckBody has
// found safe to decode. For an API key kmsg does not know it returns
// ErrUnknownAPI (with the header filled, so the caller may answer or log).
func ParseRequest(frame []byte) (RequestHeader, kmsg.Request, []byte, error) {
	var h RequestHeader
	if len(frame) < 10 {
		return h, nil, nil, fmt.Errorf("%w: %d bytes", ErrFrameInvalid, len(frame))
	}
	be := binary.BigEndian
	h.APIKey = int16(be.Uint16(frame[0:]))
	h.APIVersion = int16(be.Uint16(frame[2:]))
	h.CorrelationID = int32(be.Uint32(frame[4:]))
	idLen := int(int16(be.Uint16(frame[8:])))
	rest := frame[10:]
	if idLen > 0 {
		if idLen > len(rest) {
			return h, nil, nil, fmt.Errorf("%w: client id length %d", ErrFrameInvalid, idLen)
		}
		h.ClientID = string(rest[:idLen])
		rest = rest[idLen:]
	} else if idLen < -1 {
		return h, nil, nil, fmt.Errorf("%w: client id length %d", ErrFrameInvalid, idLen)
	}
	req := kmsg.RequestForKey(h.APIKey)
	if req == nil {
		return h, nil, nil, fmt.Errorf("%w %d", ErrUnknownAPI, h.APIKey)
	}
	req.SetVersion(h.APIVersion)
	if req.IsFlexible() {
		h.Flexible = true
		var err error
		if rest, err = skipTags(rest); err != nil {
			return h, nil, nil, err
		}
	}
	// Before kmsg decodes anything: see CheckBody.
	if err := CheckBody(h.APIKey, h.APIVersion, rest); err != nil {
		return h, nil, nil, err
	}
	return h, req, rest, nil
}

// skipTags skips a tagged-field section: uvarint count, then per field
// uvarint tag, uvarint size, size bytes.
func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	// Each tagged field takes at least two bytes.
	if n > MaxTaggedFields || n > uint64(len(b)/2) {
		return nil, fmt.Errorf("%w: %d header tagged fields with %d bytes left", ErrFrameInvalid, n, len(b))
	}
	for i := uint64(0); i < n; i++ {
		if _, b, err = uvarint(b); err != nil {
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field of %d bytes", ErrFrameInvalid, size)
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || v > 1<<31 {
		return 0, nil, fmt.Errorf("%w: bad varint in header tags", ErrFrameInvalid)
	}
	return v, b[n:], nil
}

// AppendResponse appends a complete response frame (size, header, body) to
// dst. flexibleHeader selects response header v1 (with an empty tag section).
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	// NB: ApiVersions responses always use header v0 so that a client can
	// parse the answer before it knows which versions the broker speaks.
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
