#!/usr/bin/python3
"""Produce and consume over an SSL listener with confluent-kafka-python
(librdkafka) and kafka-python, with and without a client certificate.

  /usr/bin/python3 test/compat/tls_clients.py --bootstrap 127.0.0.1:9093 \
      --ca certs/ca.pem --cert certs/alice.pem TOPIC

--cert is a PEM file holding the client's key and certificate (what
`strata cert --clients alice` writes). TOPIC should exist; every value
carries an id unique to the run. Prints one PASS:/FAIL: line per check and
exits non-zero when any failed.
"""
import argparse
import sys
import time
import uuid

failed = False


def check(name, ok, detail=""):
    global failed
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else " " + detail), flush=True)
    failed = failed or not ok


def confluent(args, run):
    from confluent_kafka import Consumer, Producer

    base = {"bootstrap.servers": args.bootstrap, "security.protocol": "SSL", "ssl.ca.location": args.ca}
    with_cert = dict(base, **{"ssl.certificate.location": args.cert, "ssl.key.location": args.cert})
    want = [("confluent-%s-%d" % (run, i)).encode() for i in range(100)]
    errs = []
    p = Producer(dict(with_cert, acks="all"))
    for v in want:
        p.produce(args.topic, value=v, on_delivery=lambda err, _m: err and errs.append(err))
    left = p.flush(30)
    check("confluent-kafka produces over SSL with a client certificate", left == 0 and not errs, "unflushed %d, errors %s" % (left, errs[:3]))
    c = Consumer(dict(base, **{"group.id": "tls-" + run, "auto.offset.reset": "earliest"}))
    c.subscribe([args.topic])
    got = []
    deadline = time.time() + 30
    while time.time() < deadline and len(got) < len(want):
        m = c.poll(1.0)
        if m is not None and m.error() is None and m.value() in want:
            got.append(m.value())
    c.close()
    check("confluent-kafka consumes over SSL without a client certificate", got == want, "got %d of %d" % (len(got), len(want)))


def kafka_python(args, run):
    from kafka import KafkaConsumer, KafkaProducer

    ssl = {"bootstrap_servers": args.bootstrap, "security_protocol": "SSL", "ssl_cafile": args.ca}
    want = [("kafka-python-%s-%d" % (run, i)).encode() for i in range(50)]
    p = KafkaProducer(acks="all", ssl_certfile=args.cert, ssl_keyfile=args.cert, **ssl)
    for v in want:
        p.send(args.topic, v).get(timeout=30)
    p.close()
    check("kafka-python produces over SSL with a client certificate", True)
    c = KafkaConsumer(args.topic, auto_offset_reset="earliest", consumer_timeout_ms=10000, **ssl)
    got = [m.value for m in c if m.value in want]
    c.close()
    check("kafka-python consumes over SSL without a client certificate", got == want, "got %d of %d" % (len(got), len(want)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("topic")
    args = ap.parse_args()
    run = uuid.uuid4().hex[:8]
    for f in (confluent, kafka_python):
        try:
            f(args, run)
        except Exception as e:  # a client that fails outright is one failed check
            check(f.__name__ + " runs", False, repr(e))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
