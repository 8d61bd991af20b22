package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Limits on what a request may claim, as Kafka 4.4 enforces them when it
// reads a request: an array of more elements, or a tag section of more
// tagged fields, is refused before anything is decoded.
const (
	MaxArrayElements = 1_000_000
	MaxTaggedFields  = 10_000
)

// CheckBody walks a request body by its schema before kmsg decodes it, and
// refuses (with an error wrapping ErrFrameInvalid) a body that claims an
// array of more than MaxArrayElements elements, a tag section of more than
// MaxTaggedFields fields, or more elements, tags or bytes than the bytes
// left could hold. It allocates nothing and its work is bounded by the
// body's length.
//
// NB: kmsg's decoders allocate make([]T, n) for a claimed array length n
// (bounded by the bytes left, but not by what T costs in memory) and loop
// over a claimed tag count with no bound at all: a 12-byte Metadata body
// claiming 2^32-1 tagged fields kept a reader goroutine busy for a minute.
// CheckBody is what makes decoding the request afterwards safe.
//
// A key or version without a schema (see schema_gen.go) is not checked:
// the caller must not decode it either.
func CheckBody(key, version int16, body []byte) error {
	m, ok := schemas()[key]
	if !ok || version < 0 || version > m.maxVersion {
		return nil
	}
	w := walker{b: body, v: version, flex: m.flexibleFrom >= 0 && version >= m.flexibleFrom}
	if err := w.structure(m.fields); err != nil {
		return fmt.Errorf("%w: %s v%d: %v", ErrFrameInvalid, m.name, version, err)
	}
	return nil
}

// HasSchema reports whether CheckBody knows key at version.
func HasSchema(key, version int16) bool {
	m, ok := schemas()[key]
	return ok && version >= 0 && version <= m.maxVersion
}

type kind uint8

const (
	kindFixed   kind = iota // size bytes
	kindVarint              // zigzag varint, at most 5 bytes
	kindVarlong             // zigzag varint, at most 10 bytes
	kindString
	kindBytes
	kindArray
	kindStruct
)

// fieldType is a field's wire type. nullableFrom is the first version in
// which the value may be null (-1: never).
type fieldType struct {
	kind         kind
	size         int
	nullableFrom int16
	elem         *fieldType // kindArray
	fields       []field    // kindStruct
}

func (t *fieldType) nullable(v int16) bool { return t.nullableFrom >= 0 && v >= t.nullableFrom }

type field struct {
	name       string
	typ        *fieldType
	minV, maxV int16 // versions the field exists in; maxV -1: no end
	tag        int   // tag number of a tagged field, -1 for a positional one
}

func (f *field) in(v int16) bool { return v >= f.minV && (f.maxV < 0 || v <= f.maxV) }

type message struct {
	name         string
	maxVersion   int16
	flexibleFrom int16 // -1: never flexible
	fields       []field
}

var schemas = sync.OnceValue(func() map[int16]*message {
	ms, err := parseSchemas(requestSchemaText)
	if err != nil {
		panic("protocol: request schemas: " + err.Error()) // generated text; a test parses it
	}
	return ms
})

// walker reads a body without keeping anything of it.
type walker struct {
	b    []byte
	v    int16
	flex bool
}

func (w *walker) structure(fields []field) error {
	for i := range fields {
		f := &fields[i]
		if f.tag >= 0 || !f.in(w.v) {
			continue
		}
		if err := w.value(f.typ); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if w.flex {
		return w.tags(fields)
	}
	return nil
}

// tags reads a tag section; a known tagged field's value is walked inside
// its own bytes, as kmsg decodes it.
func (w *walker) tags(fields []field) error {
	n, err := w.uvarint()
	if err != nil {
		return err
	}
	// Each tagged field takes at least two bytes (tag and size).
	if n > MaxTaggedFields || n > uint64(len(w.b)/2) {
		return fmt.Errorf("%d tagged fields with %d bytes left (at most %d)", n, len(w.b), MaxTaggedFields)
	}
	for range n {
		tag, err := w.uvarint()
		if err != nil {
			return err
		}
		size, err := w.uvarint()
		if err != nil {
			return err
		}
		if size > uint64(len(w.b)) {
			return fmt.Errorf("tagged field %d of %d bytes with %d left", tag, size, len(w.b))
		}
		payload := w.b[:size]
		w.b = w.b[size:]
		for i := range fields {
			f := &fields[i]
			if f.tag == int(tag) && f.in(w.v) {
				sub := walker{b: payload, v: w.v, flex: w.flex}
				if err := sub.value(f.typ); err != nil {
					return fmt.Errorf("tagged field %s: %w", f.name, err)
				}
			}
		}
	}
	return nil
}

func (w *walker) value(t *fieldType) error {
	switch t.kind {
	case kindFixed:
		return w.skip(t.size)
	case kindVarint, kindVarlong:
		max := 5
		if t.kind == kindVarlong {
			max = 10
		}
		_, n := binary.Varint(w.b)
		if n <= 0 || n > max {
			return fmt.Errorf("bad varint")
		}
		w.b = w.b[n:]
		return nil
	case kindString, kindBytes:
		l, err := w.length(t.kind == kindString)
		if err != nil {
			return err
		}
		if l < 0 {
			if !t.nullable(w.v) && t.kind == kindString {
				return fmt.Errorf("null string")
			}
			return nil
		}
		return w.skip(int(l))
	case kindArray:
		l, err := w.length(false)
		if err != nil {
			return err
		}
		if l < 0 {
			return nil // null (or, as kmsg reads it, empty)
		}
		// Each element takes at least a byte, except a struct with no
		// field at this version: kmsg refuses counts beyond the bytes
		// left either way.
		if l > MaxArrayElements || int64(l) > int64(len(w.b)) {
			return fmt.Errorf("array of %d elements with %d bytes left (at most %d)", l, len(w.b), MaxArrayElements)
		}
		for range l {
			if err := w.value(t.elem); err != nil {
				return err
			}
		}
		return nil
	case kindStruct:
		if t.nullableFrom >= 0 && w.v >= t.nullableFrom {
			if len(w.b) < 1 {
				return fmt.Errorf("short nullable struct")
			}
			present := int8(w.b[0])
			w.b = w.b[1:]
			if present < 0 {
				return nil
			}
		}
		return w.structure(t.fields)
	}
	return fmt.Errorf("unknown kind %d", t.kind)
}

// length reads a string, bytes or array length: int16 (strings) or int32
// before flexible versions, uvarint minus one in them; negative is null.
func (w *walker) length(short bool) (int64, error) {
	if w.flex {
		u, err := w.uvarint()
		if err != nil {
			return 0, err
		}
		return int64(int32(uint32(u))) - 1, nil
	}
	if short {
		if len(w.b) < 2 {
			return 0, fmt.Errorf("short length")
		}
		l := int16(binary.BigEndian.Uint16(w.b))
		w.b = w.b[2:]
		return int64(l), nil
	}
	if len(w.b) < 4 {
		return 0, fmt.Errorf("short length")
	}
	l := int32(binary.BigEndian.Uint32(w.b))
	w.b = w.b[4:]
	return int64(l), nil
}

// uvarint reads an unsigned varint of at most 32 bits, as kmsg does.
func (w *walker) uvarint() (uint64, error) {
	u, n := binary.Uvarint(w.b)
	if n <= 0 || n > 5 || u > math.MaxUint32 {
		return 0, fmt.Errorf("bad uvarint")
	}
	w.b = w.b[n:]
	return u, nil
}

func (w *walker) skip(n int) error {
	if n < 0 || n > len(w.b) {
		return fmt.Errorf("%d bytes with %d left", n, len(w.b))
	}
	w.b = w.b[n:]
	return nil
}

// parseSchemas reads the schema text of schema_gen.go: per request a
// header line "Name key K max M flexible F" (F -1: never), then one field
// per line, indented two spaces per level:
//
//	Name type [vMIN[-MAX]] [tag N]
//
// type is int8|int16|int32|int64|uint16|uint32|float64|bool|uuid|varint|
// varlong|string|bytes|struct|array:TYPE, with a "?V" suffix when it may be
// null from version V; a struct's or struct array's fields follow,
// indented one level deeper.
func parseSchemas(text string) (map[int16]*message, error) {
	out := map[int16]*message{}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i := 0; i < len(lines); {
		hdr := strings.Fields(lines[i])
		if len(hdr) != 7 || hdr[1] != "key" || hdr[3] != "max" || hdr[5] != "flexible" {
			return nil, fmt.Errorf("line %d: bad header %q", i+1, lines[i])
		}
		key, err1 := strconv.Atoi(hdr[2])
		maxV, err2 := strconv.Atoi(hdr[4])
		flex, err3 := strconv.Atoi(hdr[6])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("line %d: bad header %q", i+1, lines[i])
		}
		m := &message{name: hdr[0], maxVersion: int16(maxV), flexibleFrom: int16(flex)}
		i++
		var err error
		if m.fields, i, err = parseFields(lines, i, 1); err != nil {
			return nil, err
		}
		out[int16(key)] = m
	}
	return out, nil
}

func parseFields(lines []string, i, depth int) ([]field, int, error) {
	indent := strings.Repeat("  ", depth)
	var fields []field
	for i < len(lines) && strings.HasPrefix(lines[i], indent) && !strings.HasPrefix(lines[i], indent+" ") {
		parts := strings.Fields(lines[i])
		if len(parts) < 2 {
			return nil, i, fmt.Errorf("line %d: bad field %q", i+1, lines[i])
		}
		f := field{name: parts[0], maxV: -1, tag: -1}
		for _, p := range parts[2:] {
			switch {
			case strings.HasPrefix(p, "v"):
				lo, hi, ranged := strings.Cut(p[1:], "-")
				a, err := strconv.Atoi(lo)
				if err != nil {
					return nil, i, fmt.Errorf("line %d: bad versions %q", i+1, p)
				}
				f.minV = int16(a)
				if ranged {
					b, err := strconv.Atoi(hi)
					if err != nil {
						return nil, i, fmt.Errorf("line %d: bad versions %q", i+1, p)
					}
					f.maxV = int16(b)
				}
			case strings.HasPrefix(p, "tag"):
				n, err := strconv.Atoi(p[3:])
				if err != nil {
					return nil, i, fmt.Errorf("line %d: bad tag %q", i+1, p)
				}
				f.tag = n
			default:
				return nil, i, fmt.Errorf("line %d: bad attribute %q", i+1, p)
			}
		}
		t, err := parseType(parts[1])
		if err != nil {
			return nil, i, fmt.Errorf("line %d: %v", i+1, err)
		}
		f.typ = t
		i++
		if inner := structOf(t); inner != nil {
			if inner.fields, i, err = parseFields(lines, i, depth+1); err != nil {
				return nil, i, err
			}
		}
		fields = append(fields, f)
	}
	return fields, i, nil
}

// structOf returns the struct whose fields follow t's line, if any.
func structOf(t *fieldType) *fieldType {
	for t.kind == kindArray {
		t = t.elem
	}
	if t.kind == kindStruct {
		return t
	}
	return nil
}

func parseType(s string) (*fieldType, error) {
	t := &fieldType{nullableFrom: -1}
	if base, v, ok := strings.Cut(s, "?"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("bad nullable version in %q", s)
		}
		t.nullableFrom = int16(n)
		s = base
	}
	if elem, ok := strings.CutPrefix(s, "array:"); ok {
		e, err := parseType(elem)
		if err != nil {
			return nil, err
		}
		t.kind, t.elem = kindArray, e
		return t, nil
	}
	sizes := map[string]int{"bool": 1, "int8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "float64": 8, "uuid": 16}
	if n, ok := sizes[s]; ok {
		t.kind, t.size = kindFixed, n
		return t, nil
	}
	switch s {
	case "varint":
		t.kind = kindVarint
	case "varlong":
		t.kind = kindVarlong
	case "string":
		t.kind = kindString
	case "bytes":
		t.kind = kindBytes
	case "struct":
		t.kind = kindStruct
	default:
		return nil, fmt.Errorf("unknown type %q", s)
	}
	return t, nil
}
