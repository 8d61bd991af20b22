package protocol

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestEverySupportedRequestHasASchema(t *testing.T) {
	for key, r := range supported {
		for v := r.Min; v <= r.Max; v++ {
			if !HasSchema(int16(key), v) {
				t.Errorf("%s v%d is served but CheckBody has no schema for it", key.Name(), v)
			}
		}
	}
}

// fill sets every field of a kmsg message to a non-default value: slices
// get two elements, strings and bytes content, pointers a target, unknown
// tags one entry; so that encoding exercises every field of a version.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(kmsg.Tags{}) {
			tags := v.Addr().Interface().(*kmsg.Tags)
			tags.Set(1000, []byte{7, 7})
			return
		}
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() || v.Type().Field(i).Name == "Version" {
				continue
			}
			fill(f, depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{1, 2, 3})
			return
		}
		if depth > 8 {
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.String:
		v.SetString("ab")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	}
}

// TestCheckBodyWalksWhatKmsgWrites encodes every request kmsg knows and
// CheckBody has a schema for, at every version, with every field set, and
// with every field at its default: the walk must accept it and end exactly
// at its last byte, and kmsg must decode it back.
func TestCheckBodyWalksWhatKmsgWrites(t *testing.T) {
	checked := 0
	defer func() {
		if checked < 500 {
			t.Errorf("walked %d encodings, want every request version kmsg knows (over 500)", checked)
		}
	}()
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			if !HasSchema(key, v) {
				continue
			}
			for _, filled := range []bool{false, true} {
				r := kmsg.RequestForKey(key)
				if filled {
					fill(reflect.ValueOf(r).Elem(), 0)
				}
				r.SetVersion(v)
				body := r.AppendTo(nil)
				checked++
				m := schemas()[key]
				w := walker{b: body, v: v, flex: m.flexibleFrom >= 0 && v >= m.flexibleFrom}
				if err := w.structure(m.fields); err != nil {
					t.Errorf("%s v%d (filled %v): walk: %v", kmsg.Key(key).Name(), v, filled, err)
					continue
				}
				if len(w.b) != 0 {
					t.Errorf("%s v%d (filled %v): walk left %d of %d bytes", kmsg.Key(key).Name(), v, filled, len(w.b), len(body))
				}
				again := kmsg.RequestForKey(key)
				again.SetVersion(v)
				if err := again.ReadFrom(body); err != nil {
					t.Errorf("%s v%d (filled %v): kmsg cannot decode its own encoding: %v", kmsg.Key(key).Name(), v, filled, err)
				}
			}
		}
	}
}

func TestCheckBodyRefusesOversizedClaims(t *testing.T) {
	uv := func(n uint64) []byte { return binary.AppendUvarint(nil, n) }
	be32 := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	cat := func(parts ...[]byte) (b []byte) {
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	tests := []struct {
		name         string
		key, version int16
		give         []byte
		wantOK       bool
		stillDecodes bool // kmsg alone would accept it (the caps are Kafka's)
	}{
		{name: "metadata v12 with no topics", key: 3, version: 12, give: cat(uv(0), []byte{1, 0}, uv(0)), wantOK: true},
		// A 12-byte body kmsg would loop on for about a minute.
		{name: "2^32-1 tagged fields", key: 3, version: 12, give: cat(uv(0), []byte{1, 0}, uv(1<<32-1))},
		{name: "10,001 tagged fields", key: 3, version: 12, give: cat(uv(0), []byte{1, 0}, uv(10_001), make([]byte, 2*10_001))},
		{name: "10,000 tagged fields", key: 3, version: 12, give: cat(uv(0), []byte{1, 0}, uv(10_000), make([]byte, 2*10_000)), wantOK: true},
		{name: "2^31 element array in a small frame", key: 3, version: 4, give: cat(be32(1<<31-1), make([]byte, 80))},
		{name: "compact array beyond the bytes", key: 3, version: 12, give: cat(uv(1000), make([]byte, 100))},
		{name: "1,000,001 topics", key: 3, version: 4, give: cat(be32(1_000_001), make([]byte, 2*1_000_001+1)), stillDecodes: true},
		{name: "string past the end", key: 3, version: 4, give: cat(be32(1), []byte{0, 50, 'a'})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := CheckBody(tt.key, tt.version, tt.give)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("CheckBody took %v", took) // a guard against the loop, not a speed test
			}
			if tt.wantOK != (err == nil) || (err != nil && !errors.Is(err, ErrFrameInvalid)) {
				t.Fatalf("CheckBody(%s) = %v, want ok %v", tt.name, err, tt.wantOK)
			}
			if tt.stillDecodes {
				r := kmsg.RequestForKey(tt.key)
				r.SetVersion(tt.version)
				if err := r.ReadFrom(tt.give); err != nil {
					t.Errorf("kmsg refused %s too (%v): the test no longer shows the cap", tt.name, err)
				}
			}
		})
	}
}

// TestClaimedArrayDoesNotAllocate: a 100-byte request claiming a 2^31
// element array is refused by ParseRequest without allocating.
func TestClaimedArrayDoesNotAllocate(t *testing.T) {
	frame := []byte{0, 3, 0, 4, 0, 0, 0, 1, 0xff, 0xff} // Metadata v4, null client id
	frame = binary.BigEndian.AppendUint32(frame, 1<<31-1)
	frame = append(frame, make([]byte, 100-len(frame))...)
	var err error
	allocs := testing.AllocsPerRun(20, func() { _, _, _, err = ParseRequest(frame) })
	if !errors.Is(err, ErrFrameInvalid) {
		t.Fatalf("ParseRequest(2^31 topics in 100 bytes) = %v, want ErrFrameInvalid", err)
	}
	// The error message is all that is allocated.
	if allocs > 10 {
		t.Errorf("ParseRequest allocated %.0f times for a refused claim", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		ParseRequest(frame)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > 4096 {
		t.Errorf("ParseRequest allocated %d bytes per refused 100-byte frame", per)
	}
}

// TestHostileSeedsAreRefused: the hand-made seeds of FuzzParseRequest's
// corpus (frames claiming huge arrays or tag sections) are refused by
// ParseRequest before kmsg decodes them.
func TestHostileSeedsAreRefused(t *testing.T) {
	for _, name := range []string{"metadata_v12_tag_count_2p32", "metadata_v4_array_2p31", "produce_v9_header_tags_2p31", "describe_configs_v4_compact_array_1m"} {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParseRequest", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		lit, ok := strings.CutPrefix(lines[1], "[]byte(")
		if !ok {
			t.Fatalf("%s: not a fuzz corpus file", name)
		}
		frame, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, _, _, err := ParseRequest([]byte(frame)); !errors.Is(err, ErrFrameInvalid) {
			t.Errorf("ParseRequest(%s) = %v, want ErrFrameInvalid", name, err)
		}
	}
}

func BenchmarkCheckBody(b *testing.B) {
	for _, n := range []int{1, 100} {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 13
		t := kmsg.NewFetchRequestTopic()
		for i := range n {
			p := kmsg.NewFetchRequestTopicPartition()
			p.Partition = int32(i)
			t.Partitions = append(t.Partitions, p)
		}
		req.Topics = []kmsg.FetchRequestTopic{t}
		body := req.AppendTo(nil)
		b.Run(strconv.Itoa(n)+"-partitions", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := CheckBody(int16(kmsg.Fetch), 13, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
