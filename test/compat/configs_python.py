#!/usr/bin/python3
"""Config sources as Python admin clients see them (issue 11).

usage: configs_python.py --bootstrap HOST:PORT --broker-id N --topic TOPIC
                         [--static NAME=VALUE ...]

Describes the broker's and a new topic's configs with kafka-python's
KafkaAdminClient and confluent-kafka-python's AdminClient (librdkafka) and
checks the source of every config:
(a) on a fresh broker every config is DEFAULT_CONFIG except the --static
    ones, which are STATIC_BROKER_CONFIG with the given values; a new topic's
    configs are all DEFAULT_CONFIG;
(b) after a cluster-wide dynamic default (AlterConfigs on broker ""),
    retention.ms of the topic and log.retention.ms of the broker are
    DYNAMIC_DEFAULT_BROKER_CONFIG;
(c) after a per-broker value, DYNAMIC_BROKER_CONFIG;
(d) after a topic override, retention.ms is DYNAMIC_TOPIC_CONFIG.
Both clients must agree at every step. TOPIC must not exist. Prints one
PASS or FAIL line per check and exits non-zero when any failed. Debian:
python3-kafka and python3-confluent-kafka; run with /usr/bin/python3.
"""
import argparse
import sys
import time

failed = False

DEFAULT, STATIC, DYN_DEFAULT, DYN_BROKER, DYN_TOPIC = 5, 4, 3, 2, 1
NAMES = {1: "DYNAMIC_TOPIC_CONFIG", 2: "DYNAMIC_BROKER_CONFIG", 3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
         4: "STATIC_BROKER_CONFIG", 5: "DEFAULT_CONFIG"}


def report(ok, name, detail=""):
    global failed
    print(f"{'PASS' if ok else 'FAIL'}: {name}" + (f": {detail}" if detail else ""))
    failed |= not ok


class KafkaPython:
    name = "kafka-python"

    def __init__(self, bootstrap):
        from kafka.admin import KafkaAdminClient
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="configs-compat")

    def describe(self, kind, name):
        from kafka.admin import ConfigResource, ConfigResourceType
        typ = ConfigResourceType.BROKER if kind == "broker" else ConfigResourceType.TOPIC
        out = {}
        for resp in self.admin.describe_configs([ConfigResource(typ, name)]):
            for res in resp.resources:
                err, entries = res[0], res[4]
                if err:
                    raise RuntimeError(f"kafka-python describe {kind} {name}: error {err}")
                for e in entries:
                    # v1+: (name, value, read_only, source, is_sensitive, synonyms)
                    out[e[0]] = (e[1], e[3])
        return out

    def alter(self, kind, name, configs):
        from kafka.admin import ConfigResource, ConfigResourceType
        typ = ConfigResourceType.BROKER if kind == "broker" else ConfigResourceType.TOPIC
        resp = self.admin.alter_configs([ConfigResource(typ, name, configs)])
        for res in resp.resources:
            if res[0]:
                raise RuntimeError(f"kafka-python alter {kind} {name!r}: error {res[0]} {res[1]}")


class Confluent:
    name = "confluent-kafka"

    def __init__(self, bootstrap):
        from confluent_kafka.admin import AdminClient
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def describe(self, kind, name):
        from confluent_kafka.admin import ConfigResource
        res = ConfigResource(kind, name)
        entries = self.admin.describe_configs([res])[res].result(timeout=30)
        return {k: (e.value, int(e.source)) for k, e in entries.items()}

    def alter(self, kind, name, configs):
        from confluent_kafka.admin import ConfigResource
        res = ConfigResource(kind, name, set_config=configs)
        self.admin.alter_configs([res])[res].result(timeout=30)

    def create_topic(self, topic):
        from confluent_kafka.admin import NewTopic
        self.admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)


def not_default(configs):
    return {k: (v, NAMES.get(s, s)) for k, (v, s) in configs.items() if s != DEFAULT}


def wait_source(client, kind, name, config, source, value):
    deadline = time.time() + 15
    got = None
    while time.time() < deadline:
        got = client.describe(kind, name).get(config)
        if got == (value, source):
            return True, got
        time.sleep(0.2)
    return False, got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--broker-id", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--static", action="append", default=[])
    args = ap.parse_args()
    static = dict(kv.split("=", 1) for kv in args.static)
    want_static = {k: (v, "STATIC_BROKER_CONFIG") for k, v in static.items()}

    clients = []
    for cls in (KafkaPython, Confluent):
        try:
            clients.append(cls(args.bootstrap))
        except ImportError as e:
            print(f"SKIP: {cls.name}: {e}")
    if not clients:
        print("FAIL: no client installed")
        return 1
    confluent = next((c for c in clients if isinstance(c, Confluent)), None)

    # (a) fresh broker and topic
    for c in clients:
        got = not_default(c.describe("broker", args.broker_id))
        report(got == want_static, f"{c.name} fresh broker: only the static configs are not DEFAULT_CONFIG",
               "" if got == want_static else f"got {got}, want {want_static}")
    if confluent is None:
        from kafka.admin import NewTopic
        clients[0].admin.create_topics([NewTopic(args.topic, 1, 1)])
    else:
        confluent.create_topic(args.topic)
    time.sleep(0.5)
    for c in clients:
        got = not_default(c.describe("topic", args.topic))
        report(got == {}, f"{c.name} new topic: every config DEFAULT_CONFIG", "" if got == {} else f"got {got}")
    kafka_python = next((c for c in clients if isinstance(c, KafkaPython)), None)
    if confluent is None or kafka_python is None:
        print("SKIP: dynamic changes need both clients (librdkafka 1.x cannot name the cluster-wide broker resource)")
        return 1 if failed else 0

    # (b) cluster-wide dynamic default, (c) per-broker, (d) topic override
    # Legacy AlterConfigs: kafka-python for the cluster-wide resource "",
    # which confluent-kafka 1.x refuses to send.
    steps = [
        (kafka_python, "cluster-wide default", "broker", "", {"log.retention.ms": "1000000"}, DYN_DEFAULT, "1000000"),
        (confluent, "per-broker value", "broker", args.broker_id, {"log.retention.ms": "2000000"}, DYN_BROKER, "2000000"),
        (confluent, "topic override", "topic", args.topic, {"retention.ms": "3000000"}, DYN_TOPIC, "3000000"),
    ]
    for alterer, what, kind, name, configs, source, value in steps:
        alterer.alter(kind, name, configs)
        for c in clients:
            ok, got = wait_source(c, "topic", args.topic, "retention.ms", source, value)
            report(ok, f"{c.name} {what}: topic retention.ms is {NAMES[source]} {value}", "" if ok else f"got {got}")
            if kind == "broker":
                ok, got = wait_source(c, "broker", args.broker_id, "log.retention.ms", source, value)
                report(ok, f"{c.name} {what}: broker log.retention.ms is {NAMES[source]} {value}", "" if ok else f"got {got}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
