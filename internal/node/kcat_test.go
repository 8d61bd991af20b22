package node

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestKcatRoundTripEveryCodec drives the broker with librdkafka through
// kcat: 100,000 keyed records with headers into a 3-partition topic per
// codec, read back identical and in order per partition.
func TestKcatRoundTripEveryCodec(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (.ci/run installs it)")
	}
	if testing.Short() {
		t.Skip("100,000 records per codec")
	}
	tn := startNode(t)
	out, err := exec.Command(kcat, "-b", tn.addr, "-L").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("1 brokers:")) {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	const n = 100000
	var input bytes.Buffer
	for i := range n {
		fmt.Fprintf(&input, "key-%d:value-%d\n", i%1000, i)
	}
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			tn.createTopic(topic, 3, nil)
			prod := exec.Command(kcat, "-P", "-b", tn.addr, "-t", topic, "-K:", "-H", "source=kcat", "-H", "codec="+codec,
				"-z", codec, "-X", "acks=all")
			prod.Stdin = bytes.NewReader(input.Bytes())
			if out, err := prod.CombinedOutput(); err != nil {
				t.Fatalf("kcat -P: %v\n%s", err, out)
			}
			cons := exec.Command(kcat, "-C", "-b", tn.addr, "-t", topic, "-o", "beginning", "-e", "-q",
				"-f", "%p|%o|%k|%s|%h\n")
			got, err := cons.Output()
			if err != nil {
				t.Fatalf("kcat -C: %v", err)
			}
			count := 0
			nextOffset := map[int]int64{}
			lastIndex := map[int]int{}
			keyPartition := map[string]int{}
			sc := bufio.NewScanner(bytes.NewReader(got))
			for sc.Scan() {
				f := strings.Split(sc.Text(), "|")
				if len(f) != 5 {
					t.Fatalf("kcat output line %q", sc.Text())
				}
				p, _ := strconv.Atoi(f[0])
				off, _ := strconv.ParseInt(f[1], 10, 64)
				key, value, headers := f[2], f[3], f[4]
				if off != nextOffset[p] {
					t.Fatalf("partition %d: offset %d, want %d", p, off, nextOffset[p])
				}
				nextOffset[p]++
				i, err := strconv.Atoi(strings.TrimPrefix(value, "value-"))
				if err != nil || key != fmt.Sprintf("key-%d", i%1000) {
					t.Fatalf("record %q/%q does not match its input line", key, value)
				}
				if prev, ok := lastIndex[p]; ok && i <= prev {
					t.Fatalf("partition %d: value-%d after value-%d", p, i, prev)
				}
				lastIndex[p] = i
				if kp, ok := keyPartition[key]; ok && kp != p {
					t.Fatalf("key %s in partitions %d and %d", key, kp, p)
				}
				keyPartition[key] = p
				if headers != "source=kcat,codec="+codec {
					t.Fatalf("headers %q", headers)
				}
				count++
			}
			if count != n {
				t.Fatalf("kcat consumed %d records, produced %d", count, n)
			}
			if len(nextOffset) != 3 {
				t.Fatalf("records landed in %d partitions, want 3", len(nextOffset))
			}
		})
	}
}
