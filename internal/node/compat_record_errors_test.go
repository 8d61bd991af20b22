package node

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestConfluentKafkaRecordErrors runs test/compat/record_errors_confluent.py
// (confluent-kafka-python over librdkafka: a batch mixing keyed and keyless
// records on a compacted topic fails as a whole and is not retried, one
// record per batch fails exactly the keyless ones, an idempotent producer
// recovers, a timestamp out of range fails with INVALID_TIMESTAMP) against
// a broker. Skipped when the client is not installed.
func TestConfluentKafkaRecordErrors(t *testing.T) {
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
	tn := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "../../test/compat/record_errors_confluent.py", "--bootstrap", tn.addr).CombinedOutput()
	t.Logf("record_errors_confluent.py:\n%s", out)
	if err != nil {
		t.Fatalf("record_errors_confluent.py: %v", err)
	}
	if n := strings.Count(string(out), "PASS:"); n != 4 || strings.Contains(string(out), "FAIL:") {
		t.Fatalf("record_errors_confluent.py passed %d checks, want 4 and no failure", n)
	}
}
