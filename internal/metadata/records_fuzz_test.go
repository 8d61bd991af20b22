package metadata

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func FuzzDecode(f *testing.F) {
	for _, r := range sampleRecords() {
		b, _ := Encode(r)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownRecord) {
				t.Fatalf("Decode(%x) = %v, want ErrCorrupt or ErrUnknownRecord", b, err)
			}
			return
		}
		again, err := Encode(rec)
		if err != nil {
			t.Fatalf("Encode(Decode(%x)) error: %v", b, err)
		}
		rec2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%x))) error: %v", b, err)
		}
		if diff := cmp.Diff(rec, rec2, cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("decode-encode-decode of %x changed the record (-first +second):\n%s", b, diff)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	b, _ := EncodeBatch(sampleRecords())
	f.Add(b)
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeBatch(b)
		if err != nil {
			return
		}
		if len(recs) > len(b) {
			t.Fatalf("DecodeBatch(%d bytes) returned %d records", len(b), len(recs))
		}
		// Applying arbitrary records must fail cleanly or succeed, never
		// panic, and never modify the image applied to.
		base := sampleImage(t)
		before, _ := base.MarshalSnapshot()
		_, _, _ = base.Apply(base.Index()+1, recs...)
		after, _ := base.MarshalSnapshot()
		if string(before) != string(after) {
			t.Fatalf("Apply modified the image it was applied to")
		}
	})
}
