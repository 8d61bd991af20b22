#!/usr/bin/python3
"""Topic and group admin as kafka-python's KafkaAdminClient does it (issue 11).

usage: admin_python.py --bootstrap HOST:PORT --broker-id N --topic TOPIC --group GROUP

Against a one-broker cluster, with kafka-python's own version choices
(CreateTopics, CreatePartitions, DeleteTopics, Metadata, ListGroups,
DescribeGroups, OffsetFetch, DeleteGroups, FindCoordinator):
(a) create_topics and create_partitions with validate_only change nothing;
    then they create the topic and add partitions;
(b) describe_cluster names the broker, the cluster id and the controller;
    list_topics and describe_topics show the topic;
(c) a KafkaConsumer in GROUP consumes and commits: while it runs, the group
    is listed and described Stable with one member; after it leaves it is
    Empty, its offsets are what it committed, and delete_consumer_groups
    deletes it (an unknown group gets GROUP_ID_NOT_FOUND);
(d) delete_topics deletes the topic.
TOPIC and GROUP must not exist. Prints one PASS or FAIL line per check and
exits non-zero when any failed. Debian: python3-kafka; run with
/usr/bin/python3.
"""
import argparse
import sys
import time

failed = False


def report(ok, name, detail=""):
    global failed
    print(f"{'PASS' if ok else 'FAIL'}: {name}" + (f": {detail}" if detail else ""))
    failed |= not ok


def wait(what, cond, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        ok, last = cond()
        if ok:
            return True, last
        time.sleep(0.2)
    return False, last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--broker-id", type=int, required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    args = ap.parse_args()
    topic, group = args.topic, args.group

    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
    from kafka.errors import GroupIdNotFoundError, NoError

    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, client_id="admin-compat")

    # (a) validate_only, then for real.
    admin.create_topics([NewTopic(topic, 2, 1)], validate_only=True)
    report(topic not in admin.list_topics(), "create_topics validate_only creates nothing")
    admin.create_topics([NewTopic(topic, 2, 1)])
    ok, names = wait("topic listed", lambda: (topic in (n := admin.list_topics()), n))
    report(ok, "create_topics creates the topic", f"listed {names}")
    admin.create_partitions({topic: NewPartitions(3)}, validate_only=True)
    parts = len(admin.describe_topics([topic])[0]["partitions"])
    report(parts == 2, "create_partitions validate_only adds nothing", f"{parts} partitions")
    admin.create_partitions({topic: NewPartitions(3)})
    ok, parts = wait("3 partitions", lambda: ((n := len(admin.describe_topics([topic])[0]["partitions"])) == 3, n))
    report(ok, "create_partitions adds a partition", f"{parts} partitions")

    # (b) the cluster and the topic.
    c = admin.describe_cluster()
    brokers = [b["node_id"] for b in c["brokers"]]
    report(brokers == [args.broker_id] and c["controller_id"] == args.broker_id and bool(c["cluster_id"]),
           "describe_cluster names the broker, the controller and the cluster id", str(c))
    d = admin.describe_topics([topic])[0]
    leaders = sorted((p["partition"], p["leader"], p["replicas"], p["isr"]) for p in d["partitions"])
    want = [(i, args.broker_id, [args.broker_id], [args.broker_id]) for i in range(3)]
    report(d["error_code"] == 0 and d["topic"] == topic and leaders == want, "describe_topics shows each partition's leader, replicas and ISR",
           str(leaders))

    # (c) a consumer group.
    producer = KafkaProducer(bootstrap_servers=args.bootstrap)
    for p in range(3):
        for i in range(4):
            producer.send(topic, value=f"v-{p}-{i}".encode(), partition=p)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=args.bootstrap, group_id=group, client_id="admin-compat-consumer",
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=1000)
    seen = 0
    deadline = time.time() + 30
    while seen < 12 and time.time() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            seen += len(batch)
    consumer.commit()
    report(seen == 12, "the consumer reads every record", f"{seen} of 12")

    ok, listed = wait("group listed", lambda: ((group, "consumer") in (g := admin.list_consumer_groups()), g))
    report(ok, "list_consumer_groups lists the live group with protocol type consumer", str(listed))
    g = admin.describe_consumer_groups([group])[0]
    members = [(m.client_id, sorted(m.member_assignment.assignment[0][1]) if m.member_assignment.assignment else []) for m in g.members]
    report(g.error_code == 0 and g.state == "Stable" and g.protocol_type == "consumer" and g.protocol == "range" and
           members == [("admin-compat-consumer", [0, 1, 2])],
           "describe_consumer_groups shows the Stable group, its assignor and its member's assignment", str(g))
    consumer.close()

    ok, g = wait("group empty", lambda: ((g := admin.describe_consumer_groups([group])[0]).state == "Empty", g))
    report(ok and g.error_code == 0 and g.members == [], "after the member leaves the group is Empty", str(g))
    offsets = admin.list_consumer_group_offsets(group)
    got = sorted((tp.topic, tp.partition, om.offset) for tp, om in offsets.items())
    report(got == [(topic, p, 4) for p in range(3)], "list_consumer_group_offsets shows the committed offsets", str(got))
    res = dict(admin.delete_consumer_groups([group, group + "-unknown"]))
    report(res.get(group) is NoError and res.get(group + "-unknown") is GroupIdNotFoundError,
           "delete_consumer_groups deletes the Empty group and refuses an unknown one", str(res))
    listed = admin.list_consumer_groups()
    report(all(g[0] != group for g in listed), "the deleted group is no longer listed", str(listed))

    # (d) delete the topic.
    admin.delete_topics([topic])
    ok, names = wait("topic gone", lambda: (topic not in (n := admin.list_topics()), n))
    report(ok, "delete_topics deletes the topic", f"listed {names}")
    admin.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
