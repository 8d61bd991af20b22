#!/usr/bin/env bash
# metrics-overhead.sh — what metrics cost a broker under W1 (../shared/bench's
# standard produce workload: 1 KiB records, 1 partition, acks=all, then
# consume all back), measured in one run on this machine:
#
#   A  a broker with the HTTP listener on, its /metrics scraped every second
#   B  a broker with --http-listen off (no instrumentation at all)
#
# W1 runs against A and B alternately (A B A B ...), REPS times each; the
# report gives each run's produce MB/s and broker CPU-seconds per GB, the
# medians and the same-run ratio A/B. Then it scrapes A 200 times back to
# back and reports the broker CPU one scrape costs, and what scraping once a
# second costs as a share of the broker's CPU during W1.
#
# usage: test/bench/metrics-overhead.sh [REPS]   (env SCALE=0.25 shrinks W1)
#
# CONTROL=1 runs B with metrics on as well (not scraped): an A/A run that
# shows how far apart two identical brokers measure on this machine.
set -euo pipefail
REPS=${1:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=${BENCH:-$ROOT/../shared/bench}
[ -d "$BENCH" ] || BENCH=/work/shared/bench
source "$BENCH/lib/common.sh"
source "$BENCH/lib/workloads.sh"
build_tools
OUT=$WORK/metrics-overhead-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
(cd "$ROOT" && go build -o "$OUT/strata" ./cmd/strata)

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(port); PB=$(port); HA=$(port)
"$OUT/strata" serve --data-dir "$OUT/a" --listen 127.0.0.1:$PA --http-listen 127.0.0.1:$HA --log-level warn 2>"$OUT/a.log" &
A=$!
BHTTP=off
[ -n "${CONTROL:-}" ] && BHTTP=127.0.0.1:$(port)
"$OUT/strata" serve --data-dir "$OUT/b" --listen 127.0.0.1:$PB --http-listen "$BHTTP" --log-level warn 2>"$OUT/b.log" &
B=$!
SCRAPER=""
cleanup() { [ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null; kill "$A" "$B" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port "$PA" 20 && wait_port "$PB" 20 && wait_port "$HA" 20 || die "brokers did not start"

# The 1 Hz scraper of A, for the whole run.
( while :; do curl -s -o /dev/null "http://127.0.0.1:$HA/metrics"; sleep 1; done ) &
SCRAPER=$!

args=$(wl_args W1)
# A warm-up run on each broker, not counted: a fresh broker's first run
# pays for its own start (the page cache, the Go heap growing).
warm=$(SCALE=$(python3 -c "print(${SCALE:-1}/10)") wl_args W1)
for bs in 127.0.0.1:$PA 127.0.0.1:$PB; do
  # shellcheck disable=SC2086
  "$BIN/kload" -brokers "$bs" $warm -max-secs 600 >/dev/null 2>>"$OUT/kload.stderr" || die "warm-up W1 on $bs failed"
done
for rep in $(seq 1 "$REPS"); do
  for t in A B; do
    if [ $t = A ]; then bs=127.0.0.1:$PA pid=$A; else bs=127.0.0.1:$PB pid=$B; fi
    # shellcheck disable=SC2086
    "$BIN/kload" -brokers "$bs" $args -server-pid "$pid" -max-secs 600 -label "target=$t;rep=$rep" 2>>"$OUT/kload.stderr" | tail -1 >>"$OUT/w1.jsonl"
    tail -1 "$OUT/w1.jsonl" | python3 -c 'import json,sys; r=json.load(sys.stdin); p=r.get("produce") or {}; print(" ", r.get("label"), "ok" if r.get("ok") else "FAILED", "produce %.1f MB/s, broker %.2f CPU-s/GB" % (p.get("MB_per_s",0), p.get("server_cpu_s_per_GB",0)))' >&2
  done
done
kill "$SCRAPER"; SCRAPER=""

# The CPU of one scrape, on A after the runs, scraped as Prometheus does:
# one kept-alive connection, gzip.
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
c0=$(cpu $A); t0=$(date +%s.%N)
python3 - "$HA" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(200):
    c.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
c1=$(cpu $A); t1=$(date +%s.%N)
bytes=$(curl -s "http://127.0.0.1:$HA/metrics" | wc -c)
series=$(curl -s "http://127.0.0.1:$HA/metrics" | grep -vc '^#')

python3 - "$OUT/w1.jsonl" "$c0" "$c1" "$t0" "$t1" "$bytes" "$series" <<'PY'
import json, statistics, sys
path, c0, c1, t0, t1, nbytes, nseries = sys.argv[1:]
runs = {"A": [], "B": []}
for line in open(path):
    r = json.loads(line)
    t = dict(kv.split("=") for kv in r["label"].split(";"))["target"]
    if r.get("ok"):
        runs[t].append(r)
def med(t, f):
    return statistics.median([f(r) for r in runs[t]]) if runs[t] else float("nan")
mb = lambda r: r["produce"]["MB_per_s"]
cpugb = lambda r: r["produce"]["server_cpu_s_per_GB"]
cpus = lambda r: r["produce"]["server_cpu_s"] / r["produce"]["secs"] if r["produce"].get("secs") else float("nan")
print("W1 produce MB/s   A (metrics on, 1 Hz scrape):", [round(mb(r), 1) for r in runs["A"]], " B (off):", [round(mb(r), 1) for r in runs["B"]])
print("W1 broker CPU-s/GB A:", [round(cpugb(r), 2) for r in runs["A"]], " B:", [round(cpugb(r), 2) for r in runs["B"]])
print("median produce MB/s A %.1f  B %.1f  ratio A/B %.3f" % (med("A", mb), med("B", mb), med("A", mb) / med("B", mb)))
print("median broker CPU-s/GB A %.3f  B %.3f  ratio A/B %.3f" % (med("A", cpugb), med("B", cpugb), med("A", cpugb) / med("B", cpugb)))
by_rep = {t: {dict(kv.split("=") for kv in r["label"].split(";"))["rep"]: r for r in runs[t]} for t in runs}
pairs = [(by_rep["A"][k], by_rep["B"][k]) for k in by_rep["A"] if k in by_rep["B"]]
if pairs:
    print("paired (same rep) ratios A/B: produce MB/s median %.3f %s, CPU-s/GB median %.3f %s" % (
        statistics.median([mb(a) / mb(b) for a, b in pairs]), [round(mb(a) / mb(b), 3) for a, b in pairs],
        statistics.median([cpugb(a) / cpugb(b) for a, b in pairs]), [round(cpugb(a) / cpugb(b), 3) for a, b in pairs]))
per_scrape = (float(c1) - float(c0)) / 100 / 200  # USER_HZ 100
busy = med("A", cpus)
print("one scrape: %.2f ms broker CPU (%d bytes, %d samples); at 1 Hz that is %.3f%% of the broker's CPU during W1 (%.2f cores busy)" % (
    per_scrape * 1e3, int(nbytes), int(nseries), 100 * per_scrape / busy if busy == busy else float("nan"), busy))
PY
echo "raw: $OUT/w1.jsonl" >&2
