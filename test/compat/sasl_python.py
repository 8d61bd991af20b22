#!/usr/bin/python3
"""SASL_PLAINTEXT with real Python clients (issue 12).

usage: sasl_python.py --bootstrap HOST:PORT --topic TOPIC
                      --plain USER:PASSWORD --scram USER:PASSWORD

For confluent-kafka-python (librdkafka: SaslHandshake v1 + SaslAuthenticate)
and kafka-python (SaslHandshake v0 + raw SASL tokens), with PLAIN and with
SCRAM-SHA-512: produce three records, read them back, and check that a wrong
password fails to authenticate. --scram names a user that has a
SCRAM-SHA-512 credential. Prints one PASS or FAIL line per check and exits
non-zero when any failed. Debian: python3-kafka and python3-confluent-kafka;
run with /usr/bin/python3.
"""
import argparse
import sys
import time

failed = False


def check(name, ok, detail=""):
    global failed
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else " -- " + detail), flush=True)
    failed = failed or not ok


def confluent(bootstrap, topic, mech, user, pw):
    from confluent_kafka import Producer, Consumer, KafkaException
    conf = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": pw}
    values = ["confluent-%s-%d" % (mech, i) for i in range(3)]
    p = Producer(dict(conf, **{"acks": "all"}))
    errs = []
    for v in values:
        p.produce(topic, v.encode(), on_delivery=lambda err, msg: err and errs.append(err))
    left = p.flush(30)
    check("confluent-kafka %s produce" % mech, left == 0 and not errs, "left %d errors %s" % (left, errs))
    c = Consumer(dict(conf, **{"group.id": "g-confluent-" + mech, "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = []
    deadline = time.time() + 30
    while time.time() < deadline and len([g for g in got if g.startswith("confluent-%s-" % mech)]) < 3:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            check("confluent-kafka %s consume" % mech, False, str(m.error()))
            break
        got.append(m.value().decode())
    c.close()
    mine = [g for g in got if g.startswith("confluent-%s-" % mech)]
    check("confluent-kafka %s consume" % mech, mine == values, "got %s" % mine)
    # Wrong password: librdkafka reports an authentication error.
    errors = []
    bad = Producer(dict(conf, **{"sasl.password": pw + "-wrong", "error_cb": lambda e: errors.append(e)}))
    bad.produce(topic, b"never")
    bad.flush(5)
    auth = [e for e in errors if "uthentication" in e.str() or e.code() == -169]  # _AUTHENTICATION
    check("confluent-kafka %s wrong password" % mech, len(auth) > 0, "errors %s" % [e.str() for e in errors])


def kafka_python(bootstrap, topic, mech, user, pw):
    from kafka import KafkaProducer, KafkaConsumer
    from kafka.errors import KafkaError
    conf = {"bootstrap_servers": bootstrap, "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": mech, "sasl_plain_username": user, "sasl_plain_password": pw}
    values = ["kafka-python-%s-%d" % (mech, i) for i in range(3)]
    p = KafkaProducer(acks="all", **conf)
    for v in values:
        p.send(topic, v.encode()).get(timeout=30)
    p.close()
    check("kafka-python %s produce" % mech, True)
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10000,
                      group_id="g-kafka-python-" + mech, **conf)
    got = [m.value.decode() for m in c]
    c.close()
    mine = [g for g in got if g.startswith("kafka-python-%s-" % mech)]
    check("kafka-python %s consume" % mech, mine == values, "got %s" % mine)
    try:
        bad = KafkaProducer(**dict(conf, sasl_plain_password=pw + "-wrong"))
        bad.close()
        check("kafka-python %s wrong password" % mech, False, "connected")
    except KafkaError as e:
        check("kafka-python %s wrong password" % mech, True)
    except Exception as e:  # kafka-python 2.0 raises NoBrokersAvailable or an auth error
        check("kafka-python %s wrong password" % mech, "Authentication" in type(e).__name__ or "NoBrokers" in type(e).__name__, repr(e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--plain", required=True)
    ap.add_argument("--scram", required=True)
    a = ap.parse_args()
    for mech, cred in (("PLAIN", a.plain), ("SCRAM-SHA-512", a.scram)):
        user, pw = cred.split(":", 1)
        try:
            confluent(a.bootstrap, a.topic, mech, user, pw)
        except Exception as e:
            check("confluent-kafka %s" % mech, False, repr(e))
        try:
            kafka_python(a.bootstrap, a.topic, mech, user, pw)
        except Exception as e:
            check("kafka-python %s" % mech, False, repr(e))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
