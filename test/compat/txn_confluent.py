#!/usr/bin/python3
"""Transactions through a running broker with confluent-kafka-python
(librdkafka), as its users would write them (issue 10).

usage: txn_confluent.py --bootstrap HOST:PORT TOPIC

(a) A transactional producer commits K records, aborts K records, then
    commits one "end" record. A read_committed consumer sees exactly the
    committed records; a read_uncommitted one sees all of them.
(b) A second producer with the same transactional.id fences the first: the
    first's next send or commit fails with a fencing error, and its open
    transaction's record never becomes visible to read_committed.

TOPIC (one partition is enough) is created when missing and may be shared
with other runs: every value carries an id unique to this run, and only
those values are checked. Prints one PASS or FAIL line per check and exits
non-zero when any failed. Debian: python3-confluent-kafka; run with
/usr/bin/python3.
"""
import argparse
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
import confluent_kafka

K = 10
TIMEOUT = 30  # seconds for each wait on the broker

failed = False


def report(ok, name, detail=""):
    global failed
    print(f"{'PASS' if ok else 'FAIL'}: confluent-kafka {name}" + (f": {detail}" if detail else ""))
    failed |= not ok


def ensure_topic(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
        try:
            f.result(TIMEOUT)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def producer(bootstrap, txn_id):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                  "transaction.timeout.ms": 60000})
    p.init_transactions(TIMEOUT)
    return p


def send(p, topic, values):
    for v in values:
        p.produce(topic, value=v.encode(), partition=0)
    if p.flush(TIMEOUT) != 0:
        raise RuntimeError("records still in flight after flush")


def read(bootstrap, topic, isolation, run, until):
    """Values of this run from partition 0, from the start up to and
    including the value until."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-" + run,
                  "enable.auto.commit": False, "isolation.level": isolation})
    # From the log start (not offset 0: DeleteRecords may have moved it).
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = []
    deadline = time.time() + TIMEOUT
    try:
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            v = m.value().decode()
            if not v.startswith(run + "-"):
                continue
            got.append(v)
            if v == until:
                return got
        raise RuntimeError(f"{isolation}: no {until!r} within {TIMEOUT}s (read {len(got)} of this run)")
    finally:
        c.close()


def is_fenced(e):
    err = e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None
    if err is None:
        return False, str(e)
    names = {"_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"}
    return err.name() in names or err.fatal(), f"{err.name()} (fatal={err.fatal()}): {err.str()}"


def commit_abort(bootstrap, topic):
    run = "ck-" + uuid.uuid4().hex[:8]
    committed = [f"{run}-c{i}" for i in range(K)]
    aborted = [f"{run}-a{i}" for i in range(K)]
    end = f"{run}-end"
    p = producer(bootstrap, "compat-" + run)
    p.begin_transaction()
    send(p, topic, committed)
    p.commit_transaction(TIMEOUT)
    p.begin_transaction()
    send(p, topic, aborted)
    p.abort_transaction(TIMEOUT)
    p.begin_transaction()
    send(p, topic, [end])
    p.commit_transaction(TIMEOUT)

    got = read(bootstrap, topic, "read_committed", run, end)
    want = committed + [end]
    report(got == want, "read_committed sees only committed records",
           "" if got == want else f"got {got}, want {want}")
    got = read(bootstrap, topic, "read_uncommitted", run, end)
    want = committed + aborted + [end]
    report(got == want, "read_uncommitted sees committed and aborted records",
           "" if got == want else f"got {got}, want {want}")


def fencing(bootstrap, topic):
    run = "ckf-" + uuid.uuid4().hex[:8]
    txn_id = "compat-" + run
    p1 = producer(bootstrap, txn_id)
    p1.begin_transaction()
    send(p1, topic, [f"{run}-zombie0"])
    p2 = producer(bootstrap, txn_id)  # bumps the epoch and aborts p1's transaction
    # The next send fails, or at the latest the commit. A broker may first
    # refuse the send with an abortable error (INVALID_TXN_STATE when the
    # partition is no longer in a transaction of that producer); the abort
    # that follows then reaches the coordinator, which must fence it.
    errs = []
    try:
        p1.produce(topic, value=f"{run}-zombie1".encode(), partition=0)
        p1.flush(TIMEOUT)
        p1.commit_transaction(TIMEOUT)
    except KafkaException as e:
        errs.append(e)
        if not e.args[0].fatal() and e.args[0].txn_requires_abort():
            try:
                p1.abort_transaction(TIMEOUT)
            except KafkaException as e2:
                errs.append(e2)
    if not errs:
        report(False, "second producer fences the first", "the first producer committed after being fenced")
    else:
        verdicts = [is_fenced(e) for e in errs]
        report(any(ok for ok, _ in verdicts), "second producer fences the first",
               "; then ".join(d for _, d in verdicts))

    end = f"{run}-end"
    p2.begin_transaction()
    send(p2, topic, [end])
    p2.commit_transaction(TIMEOUT)
    got = read(bootstrap, topic, "read_committed", run, end)
    report(got == [end], "fenced producer's records are not committed",
           "" if got == [end] else f"read_committed got {got}, want only {end!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("topic")
    args = ap.parse_args()
    print(f"confluent-kafka {confluent_kafka.version()[0]} (librdkafka {confluent_kafka.libversion()[0]})")
    ensure_topic(args.bootstrap, args.topic)
    for check in (commit_abort, fencing):
        try:
            check(args.bootstrap, args.topic)
        except Exception as e:  # a broken step fails its check, the others still run
            report(False, check.__name__, f"{type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
