#!/usr/bin/env python3
"""A minimal Confluent REST Proxy v2 client on the standard library.

Usage: rest_client.py BASE_URL TOPIC. Produces a binary and a JSON record,
then consumes the topic from the start with a consumer instance, commits
and deletes the instance. The last line printed is a JSON summary.
"""
import base64
import json
import sys
import time
import urllib.error
import urllib.request

V2 = "application/vnd.kafka.v2+json"


def call(method, url, body=None, content_type=V2, accept=V2):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
            print(method, url, resp.status, file=sys.stderr)
            return json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        sys.exit("%s %s: HTTP %d %s" % (method, url, e.code, e.read().decode()))


def main():
    base, topic = sys.argv[1], sys.argv[2]
    b64 = lambda b: base64.b64encode(b).decode()
    produced = []
    r = call("POST", base + "/topics/" + topic, {"records": [{"value": b64(b"py\x00bin")}]},
             content_type="application/vnd.kafka.binary.v2+json")
    produced += [o["offset"] for o in r["offsets"]]
    r = call("POST", base + "/topics/" + topic, {"records": [{"value": {"from": "python"}}]},
             content_type="application/vnd.kafka.json.v2+json")
    produced += [o["offset"] for o in r["offsets"]]

    inst = call("POST", base + "/consumers/py-group",
                {"name": "py", "format": "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false"})
    uri = inst["base_uri"]
    call("POST", uri + "/subscription", {"topics": [topic]})
    consumed = []
    deadline = time.time() + 60
    while len(consumed) < 3 and time.time() < deadline:
        recs = call("GET", uri + "/records?timeout=1000", accept="application/vnd.kafka.binary.v2+json")
        consumed += [rec["value"] for rec in recs]
    call("POST", uri + "/offsets")
    committed = call("GET", uri + "/offsets", {"partitions": [{"topic": topic, "partition": 0}]})
    call("DELETE", uri)
    print(json.dumps({"produced": produced, "consumed": consumed, "committed": committed["offsets"]}))


if __name__ == "__main__":
    main()
