package storage

import "testing"

// TestTxnVerificationGuard: a transactional batch that would start a
// transaction appends through AppendVerifiedAsLeader only with the
// producer's current guard; a marker between StartTxnVerification and the
// append drops the guard (KIP-890 part 1).
func TestTxnVerificationGuard(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	const pid = 7
	seq := int32(0)
	txn := func() []byte {
		b := buildBatch(t, spec(1).inTxn(pid, 0, seq))
		return b
	}
	appendVerified := func(g *VerificationGuard) error {
		_, err := l.AppendVerifiedAsLeader(txn(), 1, t0, g)
		if err == nil {
			seq++
		}
		return err
	}

	t.Run("no guard is refused", func(t *testing.T) {
		wantErr(t, "AppendVerifiedAsLeader(nil guard)", appendVerified(nil), ErrTxnNotVerified)
		if l.LogEndOffset() != 0 {
			t.Fatalf("refused append moved the log end offset to %d", l.LogEndOffset())
		}
	})
	t.Run("marker between verification and append", func(t *testing.T) {
		g := l.StartTxnVerification(pid, 0, t0)
		if g == nil {
			t.Fatal("StartTxnVerification with no ongoing transaction = nil, want a guard")
		}
		if _, err := l.AppendControlAsLeader(pid, 0, 0, false, 1, t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "AppendVerifiedAsLeader after a marker", appendVerified(g), ErrTxnNotVerified)
	})
	t.Run("guard of an older epoch", func(t *testing.T) {
		g := l.StartTxnVerification(pid, 0, t0)
		if g2 := l.StartTxnVerification(pid, 0, t0); g2 != g {
			t.Fatal("a second verification in the same epoch did not share the guard")
		}
		l.StartTxnVerification(pid, 1, t0)
		wantErr(t, "AppendVerifiedAsLeader with a replaced guard", appendVerified(g), ErrTxnNotVerified)
	})
	t.Run("verified batch starts the transaction", func(t *testing.T) {
		g := l.StartTxnVerification(pid, 0, t0)
		if err := appendVerified(g); err != nil {
			t.Fatalf("AppendVerifiedAsLeader with the current guard: %v", err)
		}
		if !l.HasOngoingTxn(pid, 0) || l.HasOngoingTxn(pid, 1) {
			t.Fatalf("HasOngoingTxn(epoch 0, 1) = %v, %v; want true, false", l.HasOngoingTxn(pid, 0), l.HasOngoingTxn(pid, 1))
		}
		if g := l.StartTxnVerification(pid, 0, t0); g != nil {
			t.Fatal("StartTxnVerification with an ongoing transaction returned a guard")
		}
		// Continuing the transaction needs no guard.
		if err := appendVerified(nil); err != nil {
			t.Fatalf("AppendVerifiedAsLeader continuing the transaction: %v", err)
		}
	})
	t.Run("after the commit a new transaction needs a new guard", func(t *testing.T) {
		if _, err := l.AppendControlAsLeader(pid, 0, 0, true, 1, t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "AppendVerifiedAsLeader(nil) after the commit", appendVerified(nil), ErrTxnNotVerified)
	})
	t.Run("unverified appends are unchecked", func(t *testing.T) {
		if _, err := l.AppendAsLeader(txn(), 1, t0); err != nil {
			t.Fatalf("AppendAsLeader: %v", err)
		}
	})
}
