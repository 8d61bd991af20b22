package metadata

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScramCredentialsApplyAndSnapshot(t *testing.T) {
	cred := &UserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512, Salt: []byte("s"), StoredKey: []byte("k1"), ServerKey: []byte("k2"), Iterations: 8192}
	img, d, err := Empty().Apply(1, cred,
		&UserScramCredentialRecord{Name: "bob", Mechanism: ScramSHA256, Salt: []byte("t"), StoredKey: []byte("k3"), ServerKey: []byte("k4"), Iterations: 4096})
	if err != nil {
		t.Fatalf("Apply(credentials) error: %v", err)
	}
	if !d.ScramChanged {
		t.Errorf("Apply(credentials).ScramChanged = false, want true")
	}
	got, ok := img.ScramCredential(ScramSHA512, "alice")
	want := ScramCredential{Salt: []byte("s"), StoredKey: []byte("k1"), ServerKey: []byte("k2"), Iterations: 8192}
	if !ok || !cmp.Equal(got, want) {
		t.Errorf("ScramCredential(512, alice) = %+v, %v; want %+v, true", got, ok, want)
	}
	if _, ok := img.ScramCredential(ScramSHA256, "alice"); ok {
		t.Errorf("ScramCredential(256, alice) found, want none")
	}
	if diff := cmp.Diff(map[string][]int8{"alice": {ScramSHA512}, "bob": {ScramSHA256}}, img.ScramUsers()); diff != "" {
		t.Errorf("ScramUsers() mismatch (-want +got):\n%s", diff)
	}
	snap, err := img.MarshalSnapshot()
	if err != nil {
		t.Fatalf("MarshalSnapshot() error: %v", err)
	}
	back, err := UnmarshalSnapshot(snap)
	if err != nil {
		t.Fatalf("UnmarshalSnapshot() error: %v", err)
	}
	if diff := cmp.Diff(img.ScramUsers(), back.ScramUsers()); diff != "" {
		t.Errorf("snapshot round trip lost credentials (-want +got):\n%s", diff)
	}
	if d := Diff(img, back); d.ScramChanged {
		t.Errorf("Diff(image, snapshot).ScramChanged = true, want false")
	}

	img2, d, err := img.Apply(2, &RemoveUserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512})
	if err != nil {
		t.Fatalf("Apply(remove) error: %v", err)
	}
	if !d.ScramChanged {
		t.Errorf("Apply(remove).ScramChanged = false, want true")
	}
	if _, ok := img2.ScramCredential(ScramSHA512, "alice"); ok {
		t.Errorf("removed credential still present")
	}
	if _, ok := img.ScramCredential(ScramSHA512, "alice"); !ok {
		t.Errorf("removing from a new image changed the old one")
	}
	if _, _, err := img2.Apply(3, &RemoveUserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512}); !errors.Is(err, ErrInconsistent) {
		t.Errorf("Apply(remove missing) error = %v, want ErrInconsistent", err)
	}
	if _, _, err := img2.Apply(3, &UserScramCredentialRecord{Name: "x", Mechanism: 3, Salt: []byte("s"), StoredKey: []byte("k"), ServerKey: []byte("k"), Iterations: 4096}); !errors.Is(err, ErrInconsistent) {
		t.Errorf("Apply(unknown mechanism) error = %v, want ErrInconsistent", err)
	}
}
