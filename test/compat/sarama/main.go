// Command sarama checks transactions through a running broker with
// IBM/sarama, as its users would write them (issue 10). It is its own
// module so that sarama stays out of the broker's go.mod.
//
//	cd test/compat/sarama && go run . --bootstrap HOST:PORT TOPIC
//
// `go run . security ...` runs the TLS, SASL and ACL checks instead
// (security.go).
//
// (a) A transactional producer commits K records, aborts K records, then
// commits one "end" record. A ReadCommitted consumer sees exactly the
// committed records; a ReadUncommitted one sees all of them.
// (b) A second producer with the same transactional id fences the first:
// the first's next send or commit fails with a fencing error, and its open
// transaction's record never becomes visible to ReadCommitted.
//
// TOPIC (one partition is enough) is created when missing and may be
// shared with other runs: every value carries an id unique to this run.
// Prints one PASS or FAIL line per check; exits non-zero when any failed.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

const (
	k       = 10
	timeout = 30 * time.Second
)

var failed bool

func report(ok bool, name, detail string) {
	verdict := "PASS"
	if !ok {
		verdict, failed = "FAIL", true
	}
	if detail != "" {
		detail = ": " + detail
	}
	fmt.Printf("%s: sarama %s%s\n", verdict, name, detail)
}

func runID(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func baseConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "strata-compat"
	cfg.Version = sarama.V2_8_0_0
	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	return cfg
}

func newProducer(brokers []string, txnID string) (sarama.SyncProducer, error) {
	cfg := baseConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 3
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Transaction.ID = txnID
	cfg.Producer.Transaction.Timeout = time.Minute
	cfg.Net.MaxOpenRequests = 1
	return sarama.NewSyncProducer(brokers, cfg)
}

func send(p sarama.SyncProducer, topic string, values []string) error {
	msgs := make([]*sarama.ProducerMessage, len(values))
	for i, v := range values {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)}
	}
	return p.SendMessages(msgs)
}

// transact sends values in one transaction and commits or aborts it.
func transact(p sarama.SyncProducer, topic string, commit bool, values []string) error {
	if err := p.BeginTxn(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := send(p, topic, values); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if commit {
		return p.CommitTxn()
	}
	return p.AbortTxn()
}

// read returns the values of this run in partition 0, from the start up to
// and including the value until.
func read(brokers []string, topic, run, until string, level sarama.IsolationLevel) ([]string, error) {
	cfg := baseConfig()
	cfg.Consumer.IsolationLevel = level
	c, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	var got []string
	deadline := time.After(timeout)
	for {
		select {
		case m := <-pc.Messages():
			v := string(m.Value)
			if !strings.HasPrefix(v, run+"-") {
				continue
			}
			got = append(got, v)
			if v == until {
				return got, nil
			}
		case err := <-pc.Errors():
			return got, err
		case <-deadline:
			return got, fmt.Errorf("no %q within %s (read %d of this run)", until, timeout, len(got))
		}
	}
}

func commitAbort(brokers []string, topic string) error {
	run := runID("srm")
	var committed, aborted []string
	for i := range k {
		committed = append(committed, fmt.Sprintf("%s-c%d", run, i))
		aborted = append(aborted, fmt.Sprintf("%s-a%d", run, i))
	}
	end := run + "-end"
	p, err := newProducer(brokers, "compat-"+run)
	if err != nil {
		return err
	}
	defer p.Close()
	for _, step := range []struct {
		commit bool
		values []string
	}{{true, committed}, {false, aborted}, {true, []string{end}}} {
		if err := transact(p, topic, step.commit, step.values); err != nil {
			return err
		}
	}

	got, err := read(brokers, topic, run, end, sarama.ReadCommitted)
	if err != nil {
		return fmt.Errorf("read_committed: %w", err)
	}
	want := append(slices.Clone(committed), end)
	report(slices.Equal(got, want), "read_committed sees only committed records", diff(got, want))
	got, err = read(brokers, topic, run, end, sarama.ReadUncommitted)
	if err != nil {
		return fmt.Errorf("read_uncommitted: %w", err)
	}
	want = slices.Concat(committed, aborted, []string{end})
	report(slices.Equal(got, want), "read_uncommitted sees committed and aborted records", diff(got, want))
	return nil
}

func diff(got, want []string) string {
	if slices.Equal(got, want) {
		return ""
	}
	return fmt.Sprintf("got %v, want %v", got, want)
}

func isFenced(err error) bool {
	return errors.Is(err, sarama.ErrProducerFenced) || errors.Is(err, sarama.ErrInvalidProducerEpoch) ||
		strings.Contains(strings.ToLower(err.Error()), "fenced")
}

func fencing(brokers []string, topic string) error {
	run := runID("srmf")
	txnID := "compat-" + run
	p1, err := newProducer(brokers, txnID)
	if err != nil {
		return err
	}
	defer p1.Close()
	if err := p1.BeginTxn(); err != nil {
		return err
	}
	if err := send(p1, topic, []string{run + "-zombie0"}); err != nil {
		return err
	}
	// Creating p2 runs InitProducerId: the epoch bump fences p1 and
	// aborts p1's open transaction.
	p2, err := newProducer(brokers, txnID)
	if err != nil {
		return err
	}
	defer p2.Close()

	var errs []error
	if err := send(p1, topic, []string{run + "-zombie1"}); err != nil {
		errs = append(errs, fmt.Errorf("send: %w", err))
	}
	// A broker may refuse the send with an abortable error first; the
	// commit or abort then reaches the coordinator, which must fence it.
	if p1.TxnStatus()&sarama.ProducerTxnFlagAbortableError != 0 {
		if err := p1.AbortTxn(); err != nil {
			errs = append(errs, fmt.Errorf("abort: %w", err))
		}
	} else if p1.TxnStatus()&sarama.ProducerTxnFlagFatalError == 0 {
		if err := p1.CommitTxn(); err != nil {
			errs = append(errs, fmt.Errorf("commit: %w", err))
		}
	}
	var details []string
	fenced := false
	for _, e := range errs {
		details = append(details, e.Error())
		fenced = fenced || isFenced(e)
	}
	if len(errs) == 0 {
		details = []string{"the first producer committed after being fenced"}
	}
	report(fenced, "second producer fences the first", strings.Join(details, "; then "))

	end := run + "-end"
	if err := transact(p2, topic, true, []string{end}); err != nil {
		return fmt.Errorf("second producer: %w", err)
	}
	got, err := read(brokers, topic, run, end, sarama.ReadCommitted)
	if err != nil {
		return fmt.Errorf("read_committed: %w", err)
	}
	report(slices.Equal(got, []string{end}), "fenced producer's records are not committed", diff(got, []string{end}))
	return nil
}

func ensureTopic(brokers []string, topic string) error {
	adm, err := sarama.NewClusterAdmin(brokers, baseConfig())
	if err != nil {
		return err
	}
	defer adm.Close()
	err = adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "security" {
		runSecurity(os.Args[2:])
		return
	}
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "comma-separated host:port list")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: go run . --bootstrap HOST:PORT TOPIC")
		os.Exit(2)
	}
	topic := flag.Arg(0)
	brokers := strings.Split(*bootstrap, ",")
	fmt.Println("sarama (IBM/sarama v1.61.1)")
	if err := ensureTopic(brokers, topic); err != nil {
		report(false, "setup", err.Error())
		os.Exit(1)
	}
	for _, check := range []struct {
		name string
		fn   func([]string, string) error
	}{{"commit and abort", commitAbort}, {"fencing", fencing}} {
		if err := check.fn(brokers, topic); err != nil {
			report(false, check.name, err.Error())
		}
	}
	if failed {
		os.Exit(1)
	}
}
