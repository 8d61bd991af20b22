package node

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestConfluentKafkaTransactions runs test/compat/txn_confluent.py
// (confluent-kafka-python over librdkafka: commit and abort visibility
// for read_committed and read_uncommitted consumers, fencing by a second
// producer of the same transactional id) against a broker. Skipped when
// the client is not installed (.ci/run installs python3-confluent-kafka).
func TestConfluentKafkaTransactions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Python client")
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if out, err := exec.Command(py, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		t.Skipf("confluent-kafka-python not installed: %s", strings.TrimSpace(string(out)))
	}
	tn := startNode(t, withTxnPartitions(3))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "../../test/compat/txn_confluent.py", "--bootstrap", tn.addr, "compat-txn").CombinedOutput()
	t.Logf("txn_confluent.py:\n%s", out)
	if err != nil {
		t.Fatalf("txn_confluent.py: %v", err)
	}
	if n := strings.Count(string(out), "PASS:"); n != 4 || strings.Contains(string(out), "FAIL:") {
		t.Fatalf("txn_confluent.py passed %d checks, want 4 and no failure", n)
	}
}
