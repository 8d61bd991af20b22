package kafkaapi

// Request frame reuse (server.FrameReuser). The server pools request frames
// and reuses one only when the handler says nothing refers to it any more
// once the request's response exists. Produce is the API whose frames
// matter (they carry the records) and Fetch the most frequent one.
//
// NB: kmsg decodes byte fields as sub-slices of the frame. Produce may say
// yes because its records are written to the log (a copy, in the page
// cache) before the response exists and neither the partition nor the
// response keeps a reference; Fetch because its request has no byte
// fields (kmsg copies strings). Anything that starts keeping a request's
// bytes beyond its response (group member metadata and assignments do)
// must not be listed here.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/server"
)

var _ server.FrameReuser = (*Handler)(nil)

// ReusesFrame reports whether the request's frame may be reused once its
// response exists.
func (h *Handler) ReusesFrame(hdr protocol.RequestHeader) bool {
	switch kmsg.Key(hdr.APIKey) {
	case kmsg.Produce, kmsg.Fetch:
		return true
	}
	return false
}
