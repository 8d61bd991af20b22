package restproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Content types of the v2 API: application/vnd.kafka[.format].v2+json.
const (
	contentTypeV2     = "application/vnd.kafka.v2+json"
	contentTypeV2JSON = "application/vnd.kafka.json.v2+json"
	contentTypeV2Bin  = "application/vnd.kafka.binary.v2+json"
	contentTypeV3     = "application/json"
)

// embeddedFormat is how record keys and values travel inside JSON: base64
// strings (binary) or JSON values (json).
type embeddedFormat string

const (
	formatBinary embeddedFormat = "binary"
	formatJSON   embeddedFormat = "json"
)

func (f embeddedFormat) contentType() string {
	if f == formatJSON {
		return contentTypeV2JSON
	}
	return contentTypeV2Bin
}

// schemaFormats are embedded formats of Confluent's proxy that need a schema
// registry, which Strata does not have.
var schemaFormats = map[string]bool{"avro": true, "protobuf": true, "jsonschema": true}

// produceFormat reads the embedded format of a v2 produce request from its
// Content-Type. Types without an embedded format (application/json,
// application/vnd.kafka.v2+json, none at all) mean binary, as Confluent's
// API reference says.
func produceFormat(r *http.Request) (embeddedFormat, *restError) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return formatBinary, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", errorf(http.StatusUnsupportedMediaType, codeUnsupportedContentType, "Content-Type %q: %v", ct, err)
	}
	switch mt {
	case contentTypeV2Bin, "application/vnd.kafka.binary+json", contentTypeV2, "application/vnd.kafka+json", "application/json", "application/octet-stream":
		return formatBinary, nil
	case contentTypeV2JSON, "application/vnd.kafka.json+json":
		return formatJSON, nil
	}
	if f, ok := vndFormat(mt); ok && schemaFormats[f] {
		return "", errorf(http.StatusUnsupportedMediaType, codeUnsupportedContentType,
			"embedded format %q needs a schema registry, which Strata's REST proxy does not have; use binary or json", f)
	}
	return "", errorf(http.StatusUnsupportedMediaType, codeUnsupportedContentType,
		"Content-Type %q: want %s or %s", ct, contentTypeV2Bin, contentTypeV2JSON)
}

// vndFormat returns the embedded format named in a media type such as
// application/vnd.kafka.avro.v2+json.
func vndFormat(mt string) (string, bool) {
	rest, ok := strings.CutPrefix(mt, "application/vnd.kafka.")
	if !ok {
		return "", false
	}
	f, _, ok := strings.Cut(rest, ".")
	if !ok {
		f, _, _ = strings.Cut(rest, "+")
	}
	if f == "" || f == "v1" || f == "v2" || f == "v3" {
		return "", false
	}
	return f, true
}

// acceptedFormat returns the embedded format a records request asks for in
// its Accept header, or "" when it names none (then the instance's format
// is used).
func acceptedFormat(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if f, ok := vndFormat(mt); ok {
			return f
		}
	}
	return ""
}

// readBody reads the whole request body, at most maxBytes of it, within
// timeout. An empty body returns nil.
func (p *Proxy) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *restError) {
	if r.ContentLength > p.cfg.MaxBodyBytes {
		return nil, tooLarge(p.cfg.MaxBodyBytes)
	}
	rc := http.NewResponseController(w)
	// Not every ResponseWriter can (httptest's recorder cannot); the
	// server's own timeouts apply then.
	deadline := rc.SetReadDeadline(time.Now().Add(p.cfg.BodyReadTimeout)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes))
	if err != nil {
		// NB: keep the deadline. After the handler the server drains
		// what is left of the body to reuse the connection; without a
		// deadline a stalled client would hold it (and the response)
		// forever.
		w.Header().Set("Connection", "close")
		return nil, bodyError(err, p.cfg.MaxBodyBytes)
	}
	if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	w.Header().Del("Connection") // read in full: the connection can be reused
	return body, nil
}

func tooLarge(limit int64) *restError {
	return errorf(http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge,
		"request body larger than %d bytes", limit)
}

// bodyError maps an error reading a request body to 413 (too large), 408
// (the client stopped sending) or 400.
func bodyError(err error, limit int64) *restError {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errorf(http.StatusRequestTimeout, http.StatusRequestTimeout, "request body not received in time: %v", err)
	}
	return badRequest("read request body: %v", err)
}

// decodeJSON parses body into v: one JSON value and nothing after it.
func decodeJSON(body []byte, v any) *restError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed JSON: data after the request object")
	}
	return nil
}

// jsonError says what was wrong with a JSON body: a syntax error is 400, a
// field of the wrong type 422 (Confluent's proxy answers 400 and 422 the
// same way).
func jsonError(err error) *restError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("malformed JSON at byte %d: %v", se.Offset, err)
	case errors.As(err, &te):
		return unprocessable("JSON field %q: got %s, want %s", te.Field, te.Value, te.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: unexpected end of the request body")
	}
	return badRequest("malformed JSON: %v", err)
}

// writeJSON answers status with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Everything written is built from plain types here; failing
		// to encode one is a bug, but the client still gets JSON.
		status, body = http.StatusInternalServerError, []byte(`{"error_code":500,"message":"encode response"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeError answers e as Confluent's proxy does.
func writeError(w http.ResponseWriter, contentType string, e *restError) {
	writeJSON(w, e.status, contentType, errorBody{Code: e.code, Message: e.msg})
}

type errorBody struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}
