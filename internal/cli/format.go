package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordFormat is a compiled --format template: literal bytes interleaved
// with record fields.
type recordFormat []formatPart

type formatPart struct {
	field byte   // one of the % verbs, or 0 for a literal
	lit   []byte // set when field == 0
}

// parseFormat compiles a template. Verbs: %t topic, %p partition, %o offset,
// %k key, %v value, %h headers (k=v,k2=v2), %T timestamp (Unix ms), %e
// leader epoch, %% a percent sign. Escapes: \n, \t, \r, \0, \\. Anything
// else after % or \ is an error, so typos do not print silently.
func parseFormat(s string) (recordFormat, error) {
	var (
		parts recordFormat
		lit   []byte
	)
	flush := func() {
		if len(lit) > 0 {
			parts = append(parts, formatPart{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+1 == len(s) {
				return nil, fmt.Errorf("--format %q: lone %% at the end", s)
			}
			i++
			switch v := s[i]; v {
			case 't', 'p', 'o', 'k', 'v', 'h', 'T', 'e':
				flush()
				parts = append(parts, formatPart{field: v})
			case '%':
				lit = append(lit, '%')
			default:
				return nil, fmt.Errorf("--format %q: unknown verb %%%c (want %%t %%p %%o %%k %%v %%h %%T %%e or %%%%)", s, v)
			}
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("--format %q: lone \\ at the end", s)
			}
			i++
			switch e := s[i]; e {
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case 'r':
				lit = append(lit, '\r')
			case '0':
				lit = append(lit, 0)
			case '\\':
				lit = append(lit, '\\')
			default:
				return nil, fmt.Errorf("--format %q: unknown escape \\%c (want \\n \\t \\r \\0 or \\\\)", s, e)
			}
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return parts, nil
}

// appendRecord appends r rendered by f to dst.
func (f recordFormat) appendRecord(dst []byte, r *kgo.Record) []byte {
	for _, p := range f {
		switch p.field {
		case 0:
			dst = append(dst, p.lit...)
		case 't':
			dst = append(dst, r.Topic...)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 'k':
			dst = append(dst, r.Key...)
		case 'v':
			dst = append(dst, r.Value...)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, h.Key...)
				dst = append(dst, '=')
				dst = append(dst, h.Value...)
			}
		case 'T':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case 'e':
			dst = strconv.AppendInt(dst, int64(r.LeaderEpoch), 10)
		}
	}
	return dst
}

// jsonRecord is the --json shape of a record; see the package doc.
type jsonRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     int64        `json:"timestamp"`
	LeaderEpoch   int32        `json:"leader_epoch"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

// encodingBase64 marks a field whose bytes were not valid UTF-8.
const encodingBase64 = "base64"

// jsonBytes renders b as a JSON string value: nil stays null, valid UTF-8 is
// kept as text, anything else becomes base64 with the encoding marker set.
func jsonBytes(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, encodingBase64
}

func newJSONRecord(r *kgo.Record) jsonRecord {
	jr := jsonRecord{
		Topic:       r.Topic,
		Partition:   r.Partition,
		Offset:      r.Offset,
		Timestamp:   r.Timestamp.UnixMilli(),
		LeaderEpoch: r.LeaderEpoch,
		Headers:     make([]jsonHeader, 0, len(r.Headers)),
	}
	jr.Key, jr.KeyEncoding = jsonBytes(r.Key)
	jr.Value, jr.ValueEncoding = jsonBytes(r.Value)
	for _, h := range r.Headers {
		jh := jsonHeader{Key: h.Key}
		jh.Value, jh.ValueEncoding = jsonBytes(h.Value)
		jr.Headers = append(jr.Headers, jh)
	}
	return jr
}

// recordWriter prints consumed records in the chosen output mode.
type recordWriter struct {
	w   io.Writer
	f   recordFormat  // used unless enc is set
	enc *json.Encoder // set for --json
	tmp []byte        // reused render buffer for f
}

func newRecordWriter(w io.Writer, f recordFormat, asJSON bool) *recordWriter {
	rw := &recordWriter{w: w, f: f}
	if asJSON {
		rw.enc = json.NewEncoder(w)
		rw.enc.SetEscapeHTML(false)
	}
	return rw
}

func (rw *recordWriter) write(r *kgo.Record) error {
	if rw.enc != nil {
		return rw.enc.Encode(newJSONRecord(r))
	}
	rw.tmp = rw.f.appendRecord(rw.tmp[:0], r)
	_, err := rw.w.Write(rw.tmp)
	return err
}
