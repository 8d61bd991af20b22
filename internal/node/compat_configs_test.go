package node

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPythonClientsSeeConfigSources runs test/compat/configs_python.py:
// kafka-python's and confluent-kafka-python's (librdkafka) admin clients
// describe a fresh broker (DEFAULT_CONFIG for everything nobody set,
// STATIC_BROKER_CONFIG for what the harness set) and follow the source of
// retention.ms through a cluster-wide default, a per-broker value and a
// topic override. Skipped when neither client is installed.
func TestPythonClientsSeeConfigSources(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python clients")
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if out, err := exec.Command(py, "-c", "import confluent_kafka, kafka").CombinedOutput(); err != nil {
		t.Skipf("kafka-python or confluent-kafka-python not installed: %s", strings.TrimSpace(string(out)))
	}
	tn := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "../../test/compat/configs_python.py", "--bootstrap", tn.addr,
		"--broker-id", "1", "--topic", "compat-configs",
		"--static", "log.dirs="+filepath.Join(tn.cfg.DataDir, "logs"),
		"--static", "listeners=PLAINTEXT://"+tn.cfg.Listen,
		"--static", "log.retention.check.interval.ms=100",
	).CombinedOutput()
	t.Logf("configs_python.py:\n%s", out)
	if err != nil {
		t.Fatalf("configs_python.py: %v", err)
	}
	if n := strings.Count(string(out), "PASS:"); n != 14 || strings.Contains(string(out), "FAIL:") || strings.Contains(string(out), "SKIP:") {
		t.Fatalf("configs_python.py passed %d checks, want 14 and no failure or skip", n)
	}
}
