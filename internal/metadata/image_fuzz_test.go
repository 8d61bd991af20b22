package metadata

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzUnmarshalSnapshot(f *testing.F) {
	b, _ := sampleImage(f).MarshalSnapshot()
	f.Add(b)
	e, _ := Empty().MarshalSnapshot()
	f.Add(e)
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := UnmarshalSnapshot(b)
		if err != nil {
			return
		}
		again, err := img.MarshalSnapshot()
		if err != nil {
			t.Fatalf("MarshalSnapshot of a decoded snapshot: %v", err)
		}
		img2, err := UnmarshalSnapshot(again)
		if err != nil {
			t.Fatalf("UnmarshalSnapshot(MarshalSnapshot(UnmarshalSnapshot(b))): %v", err)
		}
		if diff := cmp.Diff(stateOf(img), stateOf(img2)); diff != "" {
			t.Fatalf("snapshot decode-encode-decode changed the image:\n%s", diff)
		}
	})
}
