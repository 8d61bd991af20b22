#!/usr/bin/python3
"""TLS, SASL and ACLs with real Python clients (issue 12).

usage: security_python.py --client confluent-kafka|kafka-python
           --ssl HOST:PORT --sasl-ssl HOST:PORT --ca CA.pem --cert CLIENT.pem
           --topic T --group-prefix P --scram USER:PW --plain USER:PW
           --noacl USER:PW --noacl-topic T2 --noacl-group G2

Run by internal/node's TestSecurityConfluentKafkaPython and
TestSecurityKafkaPython against a node with an SSL listener (the client
certificate in CLIENT.pem, key and certificate, maps to a principal allowed
to read and write T and join groups starting with P), a SASL_SSL listener
(SCRAM-SHA-512 user --scram and PLAIN user --plain, both allowed the same)
and the ACL authorizer on. The --noacl user (SCRAM-SHA-512) starts without
any ACL. The script:

  - produces records with unique values and reads exactly them back in a
    consumer group, over SSL, over SASL_SSL with SCRAM-SHA-512 and with
    PLAIN;
  - sees a wrong SCRAM-SHA-512 and a wrong PLAIN password fail to
    authenticate;
  - as the --noacl user: a produce fails with TOPIC_AUTHORIZATION_FAILED;
    prints "GRANT describe" and waits for a line on stdin (the test grants
    DESCRIBE on T2); a produce fails with TOPIC_AUTHORIZATION_FAILED, a
    group join with GROUP_AUTHORIZATION_FAILED and an idempotent producer
    with CLUSTER_AUTHORIZATION_FAILED; prints "GRANT group-describe" and
    waits (DESCRIBE on G2: the coordinator is found, JoinGroup needs READ):
    a group join fails with GROUP_AUTHORIZATION_FAILED; prints "GRANT all"
    and waits (the test grants WRITE and READ on T2 and READ on G2); the
    same calls succeed.

Prints one PASS:, FAIL: or SKIP: line per check (SKIP: with the reason the
client cannot do it) and exits non-zero when any failed. Debian:
python3-kafka and python3-confluent-kafka; run with /usr/bin/python3.
"""
import argparse
import logging
import sys
import time
import uuid

failed = False
CLIENT = ""


def report(verdict, check, detail=""):
    global failed
    print("%s: %s %s%s" % (verdict, CLIENT, check, (": " + detail) if detail else ""), flush=True)
    failed = failed or verdict == "FAIL"


def check(check_name, ok, detail=""):
    report("PASS" if ok else "FAIL", check_name, "" if ok else detail)


def wait_grant(step):
    print("GRANT " + step, flush=True)
    if sys.stdin.readline() == "":
        raise SystemExit("stdin closed before the grant")


def user_pw(s):
    u, p = s.split(":", 1)
    return u, p


class Confluent:
    """confluent-kafka-python over librdkafka."""

    def __init__(self, a):
        import confluent_kafka
        self.ck = confluent_kafka
        self.a = a
        self.version = "confluent-kafka %s, librdkafka %s" % (confluent_kafka.version()[0], confluent_kafka.libversion()[0])

    def conf(self, mode, user=None, pw=None, mech=None):
        if mode == "SSL":
            return {"bootstrap.servers": self.a.ssl, "security.protocol": "SSL", "ssl.ca.location": self.a.ca,
                    "ssl.certificate.location": self.a.cert, "ssl.key.location": self.a.cert}
        return {"bootstrap.servers": self.a.sasl_ssl, "security.protocol": "SASL_SSL", "ssl.ca.location": self.a.ca,
                "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": pw}

    def produce(self, conf, topic, values, idempotent=False):
        """Returns (delivery errors, client errors) as KafkaError lists."""
        errs, cb_errs = [], []
        p = self.ck.Producer(dict(conf, **{"acks": "all", "enable.idempotence": idempotent,
                                           "message.timeout.ms": 15000, "error_cb": cb_errs.append}))
        for v in values:
            p.produce(topic, v.encode(), on_delivery=lambda err, _m: err and errs.append(err))
        left = p.flush(30)
        if left:
            errs.append("%d messages not delivered" % left)
        return errs, cb_errs

    def group_consume(self, conf, topic, group, prefix, n, timeout=30):
        """Returns (values starting with prefix, errors), stopping at n values."""
        c = self.ck.Consumer(dict(conf, **{"group.id": group, "auto.offset.reset": "earliest"}))
        c.subscribe([topic])
        got, errs = [], []
        deadline = time.time() + timeout
        while time.time() < deadline and len(got) < n:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                errs.append(m.error())
                if not m.error().retriable() or len(errs) > 20:
                    break
                continue
            v = m.value().decode()
            if v.startswith(prefix):
                got.append(v)
        c.close()
        return got, errs

    def wrong_password(self, mech, user):
        errs = []
        p = self.ck.Producer(dict(self.conf("SASL_SSL", user, "wrong-password", mech), error_cb=errs.append))
        deadline = time.time() + 15
        while time.time() < deadline and not errs:
            p.poll(0.5)
        auth = [e for e in errs if e.code() == self.ck.KafkaError._AUTHENTICATION]
        return bool(auth), "errors %s" % [e.str() for e in errs]

    def code(self, name):
        return getattr(self.ck.KafkaError, name)

    def is_code(self, err, name):
        if isinstance(err, self.ck.KafkaException):  # raised by flush() once fatal
            err = err.args[0]
        return isinstance(err, self.ck.KafkaError) and err.code() == self.code(name)

    def idempotent_refused(self, conf, topic):
        # librdkafka makes a refused InitProducerId a fatal error: the
        # error_cb gets it, and flush() raises it.
        try:
            errs, cb = self.produce(conf, topic, ["never"], idempotent=True)
        except self.ck.KafkaException as e:
            e = e.args[0]
            return e.fatal() and e.code() == self.code("CLUSTER_AUTHORIZATION_FAILED"), "flush raised %s" % e
        fatal = [e for e in cb if e.fatal() and e.code() == self.code("CLUSTER_AUTHORIZATION_FAILED")]
        return bool(fatal), "delivery %s, error_cb %s" % ([str(e) for e in errs], [e.str() for e in cb])


class KafkaPython:
    """kafka-python (SaslHandshake v0 and raw SASL tokens)."""

    def __init__(self, a):
        import kafka
        import kafka.errors
        self.kafka = kafka
        self.errors = kafka.errors
        self.a = a
        self.version = "kafka-python %s" % kafka.__version__

    def conf(self, mode, user=None, pw=None, mech=None):
        if mode == "SSL":
            return {"bootstrap_servers": self.a.ssl, "security_protocol": "SSL", "ssl_cafile": self.a.ca,
                    "ssl_certfile": self.a.cert, "ssl_keyfile": self.a.cert}
        return {"bootstrap_servers": self.a.sasl_ssl, "security_protocol": "SASL_SSL", "ssl_cafile": self.a.ca,
                "sasl_mechanism": mech, "sasl_plain_username": user, "sasl_plain_password": pw}

    def produce(self, conf, topic, values, idempotent=False, max_block_ms=15000):
        extra = {"enable_idempotence": True} if idempotent else {}
        errs = []
        p = self.kafka.KafkaProducer(acks="all", retries=0, max_block_ms=max_block_ms, **dict(conf, **extra))
        try:
            for v in values:
                try:
                    p.send(topic, v.encode()).get(timeout=30)
                except self.errors.KafkaError as e:
                    errs.append(e)
        finally:
            p.close(timeout=5)
        return errs, []

    def group_consume(self, conf, topic, group, prefix, n, timeout=30):
        c = self.kafka.KafkaConsumer(topic, group_id=group, auto_offset_reset="earliest", **conf)
        got, errs = [], []
        deadline = time.time() + timeout
        try:
            while time.time() < deadline and len(got) < n:
                try:
                    for recs in c.poll(timeout_ms=500).values():
                        got += [r.value.decode() for r in recs if r.value.decode().startswith(prefix)]
                except self.errors.KafkaError as e:
                    errs.append(e)
                    if not e.retriable or len(errs) > 20:
                        break
        finally:
            c.close()
        return got, errs

    def wrong_password(self, mech, user):
        # SaslHandshake v0 (raw tokens) carries no error: the broker closes
        # the connection after the failed exchange, as Kafka does, and
        # kafka-python logs the closed connection while authenticating,
        # never "Authenticated as", and finds no broker.
        rec = []

        class Keep(logging.Handler):
            def emit(self, r):
                rec.append((r.levelno, r.getMessage()))
        h = Keep(level=logging.DEBUG)
        lg = logging.getLogger("kafka.conn")
        lg.addHandler(h)
        lg.setLevel(logging.DEBUG)
        lg.propagate = False
        try:
            self.kafka.KafkaProducer(request_timeout_ms=5000, **self.conf("SASL_SSL", user, "wrong-password", mech)).close()
            return False, "connected with a wrong password"
        except self.errors.NoBrokersAvailable as e:
            authed = [m for _, m in rec if "Authenticated as" in m]
            closed = [m for lvl, m in rec if lvl >= logging.ERROR and "Error receiving reply from server" in m]
            ok = closed and not authed
            if ok:
                print("NOTE: kafka-python %s wrong password: %r, after %r" % (mech, e, closed[0]), flush=True)
            return ok, "log %s" % rec[-6:]
        except self.errors.KafkaError as e:
            return "uthenticat" in type(e).__name__, repr(e)
        finally:
            lg.removeHandler(h)
            lg.setLevel(logging.WARNING)
            lg.propagate = True

    def is_code(self, err, name):
        cls = {"TOPIC_AUTHORIZATION_FAILED": self.errors.TopicAuthorizationFailedError,
               "GROUP_AUTHORIZATION_FAILED": self.errors.GroupAuthorizationFailedError,
               "CLUSTER_AUTHORIZATION_FAILED": self.errors.ClusterAuthorizationFailedError}[name]
        return isinstance(err, cls)

    def idempotent_refused(self, conf, topic):
        errs, _ = self.produce(conf, topic, ["never"], idempotent=True)
        return any(self.is_code(e, "CLUSTER_AUTHORIZATION_FAILED") for e in errs), "errors %r" % errs

    def produce_undescribable(self, conf, topic):
        """A produce to a topic the client may not describe. kafka-python
        2.0 drops a single-topic Metadata error in
        ClusterMetadata.update_metadata (failed_update, before it records
        unauthorized_topics), so send() raises KafkaTimeoutError. Returns
        (errors send raised, the errors the metadata updates failed with),
        the latter seen by wrapping failed_update."""
        cm = self.kafka.cluster.ClusterMetadata
        orig, seen = cm.failed_update, []

        def record(md, exc):
            seen.append(exc)
            return orig(md, exc)
        cm.failed_update = record
        try:
            errs, _ = self.produce(conf, topic, ["never"], max_block_ms=5000)
        finally:
            cm.failed_update = orig
        return errs, seen

    def can_idempotent(self):
        cfg = self.kafka.KafkaProducer.DEFAULT_CONFIG
        if "enable_idempotence" in cfg:
            return True, ""
        return False, "%s has no idempotent producer (no enable_idempotence in KafkaProducer.DEFAULT_CONFIG)" % self.version


def run(c, a):
    run_id = uuid.uuid4().hex[:8]
    scram, plain, noacl = user_pw(a.scram), user_pw(a.plain), user_pw(a.noacl)
    modes = [("SSL produce and consume", c.conf("SSL")),
             ("SASL_SSL SCRAM-SHA-512 produce and consume", c.conf("SASL_SSL", scram[0], scram[1], "SCRAM-SHA-512")),
             ("SASL_SSL PLAIN produce and consume", c.conf("SASL_SSL", plain[0], plain[1], "PLAIN"))]
    for i, (name, conf) in enumerate(modes):
        try:
            prefix = "%s-%s-%d-" % (CLIENT, run_id, i)
            want = [prefix + str(j) for j in range(5)]
            errs, cb = c.produce(conf, a.topic, want)
            if errs:
                check(name, False, "produce errors %s" % errs)
                continue
            got, cerrs = c.group_consume(conf, a.topic, "%s%s-%d-%s" % (a.group_prefix, CLIENT, i, run_id), prefix, len(want))
            check(name, got == want, "consumed %s, errors %s; want %s" % (got, cerrs, want))
        except Exception as e:
            check(name, False, repr(e))
    for name, mech, user in (("SCRAM-SHA-512 wrong password fails authentication", "SCRAM-SHA-512", scram[0]),
                             ("PLAIN wrong password fails authentication", "PLAIN", plain[0])):
        try:
            ok, detail = c.wrong_password(mech, user)
            check(name, ok, detail)
        except Exception as e:
            check(name, False, repr(e))

    bob = c.conf("SASL_SSL", noacl[0], noacl[1], "SCRAM-SHA-512")

    def refused(name, code, fn):
        try:
            errs = fn()
            check(name, any(c.is_code(e, code) for e in errs), "errors %s" % [str(e) for e in errs])
        except Exception as e:
            check(name, c.is_code(e, code), repr(e))

    name = "no ACLs: produce gets TOPIC_AUTHORIZATION_FAILED"
    if hasattr(c, "produce_undescribable"):
        errs, seen = c.produce_undescribable(bob, a.noacl_topic)
        if any(c.is_code(e, "TOPIC_AUTHORIZATION_FAILED") for e in errs):
            check(name, True)
        elif errs and all(isinstance(e, c.errors.KafkaTimeoutError) for e in errs) and seen and \
                all(c.is_code(e, "TOPIC_AUTHORIZATION_FAILED") for e in seen):
            report("SKIP", name, "%s raises %r: its metadata update failed with %r, which "
                   "ClusterMetadata.update_metadata does not record as an unauthorized topic" % (c.version, errs[0], seen[0]))
        else:
            check(name, False, "send raised %r, metadata updates failed with %r" % (errs, seen))
    else:
        refused(name, "TOPIC_AUTHORIZATION_FAILED", lambda: sum(c.produce(bob, a.noacl_topic, ["never"]), []))
    wait_grant("describe")
    refused("DESCRIBE only: produce gets TOPIC_AUTHORIZATION_FAILED", "TOPIC_AUTHORIZATION_FAILED",
            lambda: sum(c.produce(bob, a.noacl_topic, ["never"]), []))
    refused("DESCRIBE only: group join gets GROUP_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED",
            lambda: c.group_consume(bob, a.noacl_topic, a.noacl_group, "", 1, timeout=20)[1])
    idem_ok, idem_why = c.can_idempotent() if hasattr(c, "can_idempotent") else (True, "")
    name = "DESCRIBE only: idempotent producer gets CLUSTER_AUTHORIZATION_FAILED"
    if idem_ok:
        try:
            check(name, *c.idempotent_refused(bob, a.noacl_topic))
        except Exception as e:
            check(name, c.is_code(e, "CLUSTER_AUTHORIZATION_FAILED"), repr(e))
    else:
        report("SKIP", name, idem_why)
    wait_grant("group-describe")
    refused("DESCRIBE on the group: JoinGroup gets GROUP_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED",
            lambda: c.group_consume(bob, a.noacl_topic, a.noacl_group, "", 1, timeout=20)[1])
    wait_grant("all")

    prefix = "%s-%s-bob-" % (CLIENT, run_id)
    want = []
    name = "after the grant: produce succeeds"
    try:
        errs, _ = c.produce(bob, a.noacl_topic, [prefix + "0"])
        check(name, not errs, "errors %s" % [str(e) for e in errs])
        want += [prefix + "0"] if not errs else []
    except Exception as e:
        check(name, False, repr(e))
    name = "after the grant: idempotent produce succeeds"
    if idem_ok:
        try:
            errs, cb = c.produce(bob, a.noacl_topic, [prefix + "1"], idempotent=True)
            check(name, not errs and not cb, "errors %s %s" % ([str(e) for e in errs], [str(e) for e in cb]))
            want += [prefix + "1"] if not errs else []
        except Exception as e:
            check(name, False, repr(e))
    else:
        report("SKIP", name, idem_why)
    name = "after the grant: group consume reads the exact records"
    try:
        got, errs = c.group_consume(bob, a.noacl_topic, a.noacl_group, prefix, len(want))
        check(name, want and got == want, "consumed %s, errors %s; want %s" % (got, [str(e) for e in errs], want))
    except Exception as e:
        check(name, False, repr(e))


def main():
    global CLIENT
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=["confluent-kafka", "kafka-python"])
    for f in ("ssl", "sasl-ssl", "ca", "cert", "topic", "group-prefix", "scram", "plain", "noacl", "noacl-topic", "noacl-group"):
        ap.add_argument("--" + f, required=True)
    a = ap.parse_args()
    CLIENT = a.client
    c = Confluent(a) if a.client == "confluent-kafka" else KafkaPython(a)
    print("client: " + c.version, flush=True)
    run(c, a)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
