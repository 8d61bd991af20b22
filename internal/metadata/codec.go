package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// appendString appends a string as uvarint length + bytes.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendNullableString appends uvarint(length+1) + bytes; 0 means null.
func appendNullableString(b []byte, s *string) []byte {
	if s == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(*s))+1)
	return append(b, *s...)
}

// appendBytes appends a byte string as uvarint length + bytes.
func appendBytes(b []byte, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendInt32s(b []byte, vs []int32) []byte {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// reader decodes primitives from a byte slice. The first error sticks; later
// reads return zero values, so decoders check err once at the end.
//
// Every length read from the input is checked against the bytes left before
// anything is allocated, so allocation is bounded by the input size.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("unexpected end of data")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) uint8() uint8 {
	v := r.take(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) bool() bool {
	switch r.uint8() {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail(errors.New("boolean is neither 0 nor 1"))
		return false
	}
}

func (r *reader) int8() int8 { return int8(r.uint8()) }

func (r *reader) int16() int16 {
	v := r.take(2)
	if v == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(v))
}

func (r *reader) int32() int32 {
	v := r.take(4)
	if v == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(v))
}

func (r *reader) int64() int64 {
	v := r.take(8)
	if v == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errors.New("bad uvarint"))
		return 0
	}
	r.b = r.b[n:]
	return v
}

// length reads a uvarint length and checks that at least length*unit bytes
// remain.
func (r *reader) length(unit int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/unit) || n > math.MaxInt32 {
		r.fail(fmt.Errorf("length %d exceeds the %d bytes left", n, len(r.b)))
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.length(1)
	return string(r.take(n))
}

// bytes reads a byte string (a copy: records outlive their input); an
// empty one is nil.
func (r *reader) bytes() []byte {
	n := r.length(1)
	if r.err != nil || n == 0 {
		return nil
	}
	return append([]byte(nil), r.take(n)...)
}

func (r *reader) nullableString() *string {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return nil
	}
	if n-1 > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	s := string(r.take(int(n - 1)))
	return &s
}

func (r *reader) uuid() UUID {
	var u UUID
	copy(u[:], r.take(16))
	return u
}

func (r *reader) int32s() []int32 {
	n := r.length(4)
	if r.err != nil || n == 0 {
		return nil
	}
	vs := make([]int32, n)
	for i := range vs {
		vs[i] = r.int32()
	}
	return vs
}
