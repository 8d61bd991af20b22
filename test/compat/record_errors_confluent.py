#!/usr/bin/python3
"""KIP-467 per-record produce errors through a running broker with
confluent-kafka-python (librdkafka), as Kafka 4.4 answers them (issue 11).

usage: record_errors_confluent.py --bootstrap HOST:PORT

Kafka refuses a whole batch when any of its records is invalid: nothing of
it is appended, and the producer's delivery reports fail every message of
that batch with a non-retriable error. librdkafka (2.0: Produce v7, no
record_errors on the wire) fails the batch's messages all alike and does
not retry them; the error names the invalid records only on Produce v8+.

(a) On a compacted topic, one batch mixing keyed and keyless records:
    every message of it fails with INVALID_RECORD, none is retried, and
    the partition's high watermark does not move.
(b) The same records sent one batch each (flush after each): exactly the
    keyless ones fail with INVALID_RECORD; the keyed ones are delivered at
    consecutive offsets and a consumer reads exactly them, in order.
(c) An idempotent producer whose mixed batch was refused keeps working:
    its next keyed record is delivered (no fatal error, no sequence gap).
(d) On a topic with message.timestamp.after.max.ms of one hour, a record
    stamped two hours ahead fails with INVALID_TIMESTAMP; one stamped now
    is delivered.

Topics are created per run (unique names). Prints one PASS or FAIL line per
check and exits non-zero when any failed. Debian: python3-confluent-kafka;
run with /usr/bin/python3.
"""
import argparse
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TIMEOUT = 30  # seconds for each wait on the broker

failed = False


def report(ok, name, detail=""):
    global failed
    print(f"{'PASS' if ok else 'FAIL'}: confluent-kafka {name}" + (f": {detail}" if detail else ""))
    failed |= not ok


def create_topic(bootstrap, topic, config):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config=config)]).values():
        f.result(TIMEOUT)


class Reports:
    """Delivery reports by message value, in the order they arrived."""

    def __init__(self):
        self.by_value = {}

    def cb(self, err, msg):
        self.by_value[msg.value().decode()] = (err, msg.offset())


def produce_all(p, topic, records, flush_each):
    """records: (key or None, value, timestamp ms or None). Returns Reports."""
    r = Reports()
    for key, value, ts in records:
        kw = {"timestamp": ts} if ts is not None else {}
        p.produce(topic, key=key, value=value.encode(), partition=0, on_delivery=r.cb, **kw)
        if flush_each:
            p.flush(TIMEOUT)
    p.flush(TIMEOUT)
    return r


def high_watermark(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "record-errors-" + uuid.uuid4().hex})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), TIMEOUT)[1]
    finally:
        c.close()


def read_all(bootstrap, topic, n):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "record-errors-" + uuid.uuid4().hex,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    deadline = time.time() + TIMEOUT
    try:
        while len(out) < n and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out.append((m.key(), m.value().decode(), m.offset()))
        # Anything beyond n would be a record that should not be there.
        m = c.poll(1.0)
        if m is not None and not m.error():
            out.append((m.key(), m.value().decode(), m.offset()))
    finally:
        c.close()
    return out


def codes(reports, values):
    """Each value's delivery error code: None when delivered, "missing"
    when no report came."""
    out = []
    for v in values:
        if v not in reports.by_value:
            out.append("missing")
            continue
        err = reports.by_value[v][0]
        out.append(None if err is None else err.code())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    args = ap.parse_args()
    b = args.bootstrap
    run = uuid.uuid4().hex[:8]
    keys = [b"k0", None, b"k2", b"k3", None, b"k5"]
    keyed = [f"v{i}" for i, k in enumerate(keys) if k is not None]
    keyless = [f"v{i}" for i, k in enumerate(keys) if k is None]

    # (a) one mixed batch: linger long enough that all six go together.
    topic = f"record-errors-a-{run}"
    create_topic(b, topic, {"cleanup.policy": "compact"})
    p = Producer({"bootstrap.servers": b, "linger.ms": 500})
    r = produce_all(p, topic, [(k, f"v{i}", None) for i, k in enumerate(keys)], flush_each=False)
    got = codes(r, [f"v{i}" for i in range(len(keys))])
    retriable = [v for v, (err, _) in r.by_value.items() if err is not None and err.retriable()]
    hw = high_watermark(b, topic)
    report(got == [KafkaError.INVALID_RECORD] * len(keys) and not retriable and hw == 0,
           "mixed batch on a compacted topic fails as a whole",
           f"codes {got}, retriable {retriable}, high watermark {hw}")

    # (b) one batch per record.
    topic = f"record-errors-b-{run}"
    create_topic(b, topic, {"cleanup.policy": "compact"})
    r = produce_all(p, topic, [(k, f"v{i}", None) for i, k in enumerate(keys)], flush_each=True)
    bad = codes(r, keyless)
    offsets = [r.by_value[v][1] for v in keyed if codes(r, [v]) == [None]]
    read = read_all(b, topic, len(keyed))
    want_read = [(keys[int(v[1:])], v, i) for i, v in enumerate(keyed)]
    report(bad == [KafkaError.INVALID_RECORD] * len(keyless) and offsets == list(range(len(keyed))) and read == want_read,
           "one record per batch: exactly the keyless ones fail",
           f"keyless codes {bad}, keyed offsets {offsets}, consumed {read}")

    # (c) idempotent producer recovers after a refused batch.
    topic = f"record-errors-c-{run}"
    create_topic(b, topic, {"cleanup.policy": "compact"})
    ip = Producer({"bootstrap.servers": b, "linger.ms": 500, "enable.idempotence": True})
    r1 = produce_all(ip, topic, [(b"a", "c0", None), (None, "c1", None)], flush_each=False)
    r2 = produce_all(ip, topic, [(b"b", "c2", None)], flush_each=False)
    first = codes(r1, ["c0", "c1"])
    after = codes(r2, ["c2"])
    offset = r2.by_value.get("c2", (None, None))[1]
    report(first == [KafkaError.INVALID_RECORD] * 2 and after == [None] and offset == 0,
           "idempotent producer keeps producing after a refused batch",
           f"refused batch codes {first}, next record {after} at offset {offset}")

    # (d) timestamps out of range.
    topic = f"record-errors-d-{run}"
    create_topic(b, topic, {"message.timestamp.after.max.ms": "3600000"})
    now = int(time.time() * 1000)
    r = produce_all(p, topic, [(b"x", "late", now + 2 * 3600 * 1000), (b"y", "now", now)], flush_each=True)
    got = codes(r, ["late", "now"])
    ontime = r.by_value.get("now", (None, None))[1]
    report(got == [KafkaError.INVALID_TIMESTAMP, None] and ontime == 0,
           "timestamp two hours ahead fails with INVALID_TIMESTAMP",
           f"codes {got}, on-time record at offset {ontime}")

    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
