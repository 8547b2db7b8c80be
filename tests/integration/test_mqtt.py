"""MQTT against a real mosquitto on loopback (harness.mosquitto_server):
events published QoS 1 on <prefix>/<kind>/<status>, every one, in stream
order per message, across a broker restart, by one instance of two; jobs
taken from the intake topic, also while the broker restarts and while
pregond is away (persistent session); TLS with CA verification, and user
name and password (a wrong one is logged and retried, never fatal)."""

import http.client
import json
import os
import re
import signal
import threading
import time

import paho.mqtt.client as mqtt

import harness
from harness import wait_for


def sanitizer_clean(log_path):
    with open(log_path, errors="replace") as f:
        text = f.read()
    for bad in ("Sanitizer", "runtime error:", "handles still open"):
        assert bad not in text, "%s in %s:\n%s" % (bad, log_path, text[-3000:])
    return text


class Gateway:
    """A pregond with [mqtt] pointing at broker; outbox adapters."""

    def __init__(self, broker, mqtt_conf=None, cfg=None, prefix="t/ev", log=None):
        conf = {"url": broker.url(), "events_topic_prefix": prefix, "keepalive": "5s"}
        conf.update(mqtt_conf or {})
        self.cfg = cfg or harness.write_config(sections={"mqtt": conf,
                                                         "schedule": {"tick": "20ms"}})
        self.r = self.cfg.server.client
        self.log = log or os.path.join(self.cfg.dir, "pregond-%d.log" % time.monotonic_ns())
        self.proc = harness.start_daemon(self.cfg, log=self.log)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10):
        return wait_for(lambda: re.search(pattern, self.text()), timeout=timeout,
                        what="%r in pregond's log" % pattern)

    def metrics(self):
        port = int(self.wait_log(r"http: listening on \S+ \(port (\d+)\)").group(1))
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("GET", "/metrics")
            return c.getresponse().read().decode()
        finally:
            c.close()

    def stop(self):
        rc = harness.stop(self.proc, timeout=20)
        assert rc == 0, "pregond exited %s:\n%s" % (rc, self.text()[-3000:])
        sanitizer_clean(self.log)

    def job(self, jid):
        self.r.xadd(self.cfg.key("jobs"), {"job": json.dumps(
            {"id": jid, "kind": "message", "body": "Court is on Dec 1 at 8:30.",
             "recipient": {"id": "c-" + jid, "phone": "+13235550100"}})})

    def stream_events(self):
        """[(entry id, event JSON text)] of <p>events, in order."""
        return [(i, f["event"]) for i, f in self.r.xrange(self.cfg.key("events"))]


class Subscriber:
    """A paho client (persistent session, fixed id, QoS 1) on <prefix>/#,
    recording (topic, payload) in arrival order; reconnects by itself."""

    def __init__(self, broker, prefix, client_id, auth=None):
        self.got = []
        self.lock = threading.Lock()
        self.prefix = prefix
        c = mqtt.Client(client_id=client_id, clean_session=False)
        if auth:
            c.username_pw_set(*auth)
        c.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        c.on_connect = lambda cl, u, flags, rc: cl.subscribe(prefix + "/#", qos=1)
        c.on_message = self._on_message
        c.connect("127.0.0.1", broker.port, keepalive=5)
        c.loop_start()
        self.client = c
        wait_for(lambda: c.is_connected(), timeout=5, what="subscriber connected")
        time.sleep(0.2)  # the SUBACK

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.got.append((msg.topic, msg.payload.decode()))

    def payloads(self):
        with self.lock:
            return [p for _, p in self.got]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def check_delivery(sub, stream, prefix):
    """Every stream event was received on its topic, in stream order per
    message (first receptions; repeats allowed). Returns the repeats."""
    want = [e for _, e in stream]
    got = sub.payloads()
    assert set(got) == set(want), "missing %d, unexpected %d" % (
        len(set(want) - set(got)), len(set(got) - set(want)))
    with sub.lock:
        for topic, payload in sub.got:
            e = json.loads(payload)
            assert topic == "%s/%s/%s" % (prefix, e["kind"] or "none", e["status"]), topic
    first, seen = [], set()
    for p in got:
        if p not in seen:
            seen.add(p)
            first.append(p)

    def per_message(seq):
        out = {}
        for p in seq:
            e = json.loads(p)
            out.setdefault(e["message"] or e["job"], []).append(p)
        return out
    assert per_message(first) == per_message(want), "order per message differs"
    return len(got) - len(set(got))


def all_sent(g, jobs):
    sent = {json.loads(e)["job"] for _, e in g.stream_events()
            if json.loads(e)["status"] == "sent"}
    return set(jobs) <= sent


def test_every_event_reaches_a_subscriber_in_stream_order():
    broker = harness.mosquitto_server()
    sub = Subscriber(broker, "t/ev", "sub-order-%d" % os.getpid())
    g = Gateway(broker)
    try:
        g.wait_log(r"mqtt events: publishing events after")
        t0 = time.monotonic()
        jobs = ["ord-%d" % i for i in range(25)]
        for j in jobs:
            g.job(j)
        wait_for(lambda: all_sent(g, jobs), timeout=15, what="all sent")
        stream = g.stream_events()
        assert len(stream) == 3 * len(jobs), len(stream)
        wait_for(lambda: set(sub.payloads()) >= {e for _, e in stream}, timeout=10,
                 what="subscriber has every event")
        dups = check_delivery(sub, stream, "t/ev")
        assert dups == 0, "duplicates in normal operation: %d" % dups
        # The lease (10 s) is renewed every 2 s, and the cursor saved with it.
        time.sleep(max(0, 4.5 - (time.monotonic() - t0)))
        assert g.r.pttl(g.cfg.key("mqtt:leader")) > 7000
        assert g.r.hget(g.cfg.key("mqtt:cursor"), "id") == stream[-1][0]
        m = g.metrics()
        for line in ('pregon_mqtt_connected{role="events"} 1', "pregon_mqtt_events_leader 1",
                     "pregon_mqtt_published_total %d" % len(stream)):
            assert line in m, line
    finally:
        g.stop()
        sub.close()
    # The cursor was saved at the stop, at the last event, and the lease let go.
    cur = g.r.hgetall(g.cfg.key("mqtt:cursor"))
    assert cur["id"] == stream[-1][0] and cur["n"] == str(len(stream)), cur
    assert g.r.get(g.cfg.key("mqtt:leader")) is None


def test_no_event_is_lost_across_a_broker_restart():
    broker = harness.mosquitto_server()
    sub = Subscriber(broker, "t/ev", "sub-restart-%d" % os.getpid())
    g = Gateway(broker)
    jobs = ["rst-%d" % i for i in range(60)]
    try:
        g.wait_log(r"mqtt events: publishing events after")

        def produce():
            for j in jobs:
                g.job(j)
                time.sleep(0.05)
        t = threading.Thread(target=produce)
        t.start()
        time.sleep(0.8)
        # SIGTERM: the broker saves the subscriber's session and queue (a
        # SIGKILLed broker loses what it had not saved: its durability,
        # not pregond's, is then the limit).
        broker.stop(signal.SIGTERM)
        time.sleep(1.5)      # jobs keep coming; events pile up in Redis
        broker.start()
        t.join()
        wait_for(lambda: all_sent(g, jobs), timeout=20, what="all sent")
        stream = g.stream_events()
        wait_for(lambda: set(sub.payloads()) >= {e for _, e in stream}, timeout=20,
                 what="subscriber has every event")
        dups = check_delivery(sub, stream, "t/ev")
        print("# broker restart: %d events, %d received, %d duplicates"
              % (len(stream), len(sub.payloads()), dups))
        text = g.text()
        assert "mqtt events: connection to" in text and "lost" in text
    finally:
        g.stop()
        sub.close()


def test_two_instances_publish_each_event_once():
    broker = harness.mosquitto_server()
    sub = Subscriber(broker, "t/ev", "sub-two-%d" % os.getpid())
    a = Gateway(broker)
    a.wait_log(r"mqtt events: publishing events after")
    b = Gateway(broker, cfg=a.cfg)
    stopped_a = False
    try:
        b.wait_log(r"mqtt events: instance \S+ publishes the events; this one stands by")
        jobs = ["two-%d" % i for i in range(30)]
        for j in jobs:
            a.job(j)
        wait_for(lambda: all_sent(a, jobs), timeout=15, what="all sent")
        stream = a.stream_events()
        wait_for(lambda: set(sub.payloads()) >= {e for _, e in stream}, timeout=10,
                 what="subscriber has every event")
        time.sleep(0.3)
        assert check_delivery(sub, stream, "t/ev") == 0, "an event was published twice"
        # The leader stops cleanly: the other takes over from the saved
        # cursor, without a gap or a repeat.
        a.stop()
        stopped_a = True
        b.wait_log(r"mqtt events: publishing events after", timeout=15)
        more = ["two-b-%d" % i for i in range(10)]
        for j in more:
            b.job(j)
        wait_for(lambda: all_sent(b, more), timeout=15, what="all sent after the handover")
        stream = b.stream_events()
        wait_for(lambda: set(sub.payloads()) >= {e for _, e in stream}, timeout=10,
                 what="subscriber has every event after the handover")
        assert check_delivery(sub, stream, "t/ev") == 0, "repeats after a clean handover"
    finally:
        if not stopped_a:
            a.stop()
        b.stop()
        sub.close()


class Publisher:
    def __init__(self, broker, auth=None):
        c = mqtt.Client(client_id="pub-%d-%d" % (os.getpid(), time.monotonic_ns()))
        if auth:
            c.username_pw_set(*auth)
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        self.client = c

    def job(self, topic, jid, raw=None):
        payload = raw if raw is not None else json.dumps(
            {"id": jid, "kind": "message", "body": "Town hall tonight.",
             "recipient": {"id": "c-" + jid, "phone": "+13235550100"}})
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published(), "broker did not take %s" % jid

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def accepted_jobs(g):
    return {json.loads(e)["job"] for _, e in g.stream_events()
            if json.loads(e)["status"] == "accepted"}


def test_jobs_published_on_the_intake_topic_are_accepted():
    broker = harness.mosquitto_server()
    g = Gateway(broker, mqtt_conf={"intake_topic": "t/jobs",
                                   "client_id": "pregon-intake-%d" % os.getpid()})
    # [jobs] max_bytes is 65536 by default: one job over it.
    pub = None
    try:
        g.wait_log(r"mqtt intake: subscribing to t/jobs")
        pub = Publisher(broker)
        jobs = ["mq-%d" % i for i in range(20)]
        for j in jobs:
            pub.job("t/jobs", j)
        pub.job("t/jobs", None, raw="x" * 70000)
        wait_for(lambda: set(jobs) <= accepted_jobs(g), timeout=15, what="all accepted")
        dead = wait_for(lambda: g.r.xrange(g.cfg.key("dead")), timeout=10, what="dead letter")
        assert len(dead) == 1 and "larger than 65536 bytes" in dead[0][1]["reason"], dead
        assert len(dead[0][1]["job"]) == 65536
        m = g.metrics()
        assert 'pregon_mqtt_connected{role="intake"} 1' in m
        assert "pregon_mqtt_intake_total 21" in m
        assert "pregon_mqtt_intake_received_total 21" in m
        assert "pregon_mqtt_intake_oversized_total 1" in m
        assert "pregon_mqtt_intake_failed_total 0" in m
        assert 'pregon_mqtt_connects_total{role="intake"} 1' in m
        text = g.text()
        assert "70000 bytes, over [jobs] max_bytes" in text
        assert "Town hall" not in text and "3235550100" not in text  # no payload in logs
    finally:
        if pub:
            pub.close()
        g.stop()


def test_intake_survives_broker_restarts_and_pregond_being_away():
    broker = harness.mosquitto_server()
    conf = {"intake_topic": "t/jobs", "client_id": "pregon-away-%d" % os.getpid()}
    g = Gateway(broker, mqtt_conf=conf)
    cfg = g.cfg
    pub = Publisher(broker)
    sent = []

    def publish(n, tag):
        for i in range(n):
            jid = "%s-%d" % (tag, i)
            pub.job("t/jobs", jid)
            sent.append(jid)
    try:
        g.wait_log(r"mqtt intake: subscribing to t/jobs")
        publish(10, "before")
        # The broker restarts while pregond is connected.
        pub.close()
        broker.restart(signal.SIGTERM, down_for=0.5)
        pub = Publisher(broker)
        publish(10, "after-restart")
        wait_for(lambda: set(sent) <= accepted_jobs(g), timeout=20,
                 what="accepted across the restart")
        # pregond away: the broker keeps what is published for its session,
        # also across a broker restart.
        g.stop()
        publish(10, "away")
        pub.close()
        broker.restart(signal.SIGTERM)
        pub = Publisher(broker)
        publish(10, "away-restarted")
        g = Gateway(broker, cfg=cfg)
        wait_for(lambda: set(sent) <= accepted_jobs(g), timeout=20,
                 what="jobs published while pregond was away")
        assert "session kept by the broker" in g.text()
    finally:
        pub.close()
        g.stop()


def test_intake_loses_nothing_when_pregond_is_killed():
    broker = harness.mosquitto_server()
    conf = {"url": broker.url(), "events_topic_prefix": "t/ev", "keepalive": "5s",
            "intake_topic": "t/jobs", "client_id": "pregon-kill-%d" % os.getpid()}
    # Job entries the killed instance had read but not yet accepted stay in
    # its pending list until another consumer reclaims them: after
    # reclaim_after (60 s by default, longer than this test waits).
    cfg = harness.write_config(sections={"mqtt": conf, "schedule": {"tick": "20ms"},
                                         "jobs": {"reclaim_after": "1s"}})
    g = Gateway(broker, cfg=cfg)
    pub = Publisher(broker)
    jobs = ["kill-%d" % i for i in range(300)]
    try:
        g.wait_log(r"mqtt intake: subscribing to t/jobs")

        def produce():
            for j in jobs:
                pub.job("t/jobs", j)
        t = threading.Thread(target=produce)
        t.start()
        wait_for(lambda: len(accepted_jobs(g)) >= 40, timeout=15, what="some accepted")
        # A PUBACK leaves only after Redis has the job: whatever pregond
        # held when it died is still the broker's.
        harness.stop(g.proc, signal.SIGKILL)
        t.join()
        g = Gateway(broker, cfg=cfg)
        wait_for(lambda: set(jobs) <= accepted_jobs(g), timeout=30,
                 what="every job after the SIGKILL")
        twice = sum(1 for _, e in g.stream_events() if json.loads(e)["status"] == "duplicate")
        reclaimed = sum(int(n) for n in re.findall(r"reclaimed (\d+) job entries", g.text()))
        print("# SIGKILL: %d jobs published, all accepted, %d delivered again (duplicate), "
              "%d reclaimed from the killed instance" % (len(jobs), twice, reclaimed))
    finally:
        pub.close()
        g.stop()


def test_intake_leaves_jobs_with_the_broker_while_redis_is_down():
    red = harness.RedisServer()
    broker = harness.mosquitto_server()
    cfg = harness.write_config(server=red, sections={"mqtt": {
        "url": broker.url(), "intake_topic": "t/jobs", "keepalive": "5s",
        "client_id": "pregon-redis-%d" % os.getpid()}})
    g = Gateway(broker, cfg=cfg)
    pub = Publisher(broker)
    try:
        g.wait_log(r"mqtt intake: subscribing to t/jobs")
        pub.job("t/jobs", "rd-0")
        wait_for(lambda: "rd-0" in accepted_jobs(g), timeout=10, what="rd-0 accepted")
        harness.stop(red.proc, signal.SIGKILL)
        # No Redis, no intake: the connection is closed, the broker keeps the jobs.
        g.wait_log(r"mqtt intake: disconnected from")
        jobs = ["rd-%d" % i for i in range(1, 11)]
        for j in jobs:
            pub.job("t/jobs", j)
        red.proc = harness.spawn(red.args, stdout=harness.subprocess.DEVNULL,
                                 stderr=harness.subprocess.DEVNULL)
        red._wait_ready()
        red.client = red.connect()
        g.r = red.client
        wait_for(lambda: set(jobs) <= accepted_jobs(g), timeout=20,
                 what="jobs held by the broker while Redis was down")
    finally:
        pub.close()
        g.stop()


def test_events_trimmed_before_they_were_published_are_counted():
    broker = harness.mosquitto_server()
    sub = Subscriber(broker, "t/ev", "sub-trim-%d" % os.getpid())
    g = Gateway(broker)
    try:
        g.wait_log(r"mqtt events: publishing events after")
        broker.stop()
        g.wait_log(r"mqtt events: connection to \S+ lost")
        # 50 events while the broker is away, the stream capped at 10.
        for i in range(50):
            g.r.xadd(g.cfg.key("events"), {"event": json.dumps(
                {"job": "trim-%d" % i, "kind": "message", "message": "m%d" % i,
                 "status": "accepted"})}, maxlen=10, approximate=False)
        broker.start()
        g.wait_log(r"mqtt events: 40 events were trimmed from the events stream")
        stream = g.stream_events()
        assert len(stream) == 10
        wait_for(lambda: len(sub.payloads()) >= 10, timeout=10, what="the 10 left")
        assert set(sub.payloads()) == {e for _, e in stream}
    finally:
        g.stop()
        sub.close()


def test_tls_with_ca_verification_and_passwords():
    broker = harness.mosquitto_server(tls=True, users={"pregon": "s3cret-pw", "sub": "sub-pw"})
    d = harness.tempdir("pregon-mqtt-pw-")
    good, bad = os.path.join(d, "good"), os.path.join(d, "bad")
    with open(good, "w") as f:
        f.write("s3cret-pw\n")
    with open(bad, "w") as f:
        f.write("not-the-password\n")
    sub = Subscriber(broker, "t/tls", "sub-tls-%d" % os.getpid(), auth=("sub", "sub-pw"))
    conf = {"url": broker.url(tls=True, host="localhost"), "cafile": broker.cafile,
            "username": "pregon", "password_file": good, "intake_topic": "t/tls-jobs",
            "client_id": "pregon-tls-%d" % os.getpid()}
    g = Gateway(broker, mqtt_conf=conf, prefix="t/tls")
    wrong = Gateway(broker, mqtt_conf=dict(conf, password_file=bad,
                                           client_id="pregon-wrong-%d" % os.getpid()),
                    prefix="t/tls")
    other_ca = harness.mosquitto_server(tls=True)  # a CA that did not sign the broker's cert
    untrusted = Gateway(broker, mqtt_conf=dict(conf, cafile=other_ca.cafile,
                                               client_id="pregon-ca-%d" % os.getpid()),
                        prefix="t/tls")
    pub = None
    try:
        g.wait_log(r"mqtt events: up \(localhost:\d+, TLS")
        g.wait_log(r"mqtt intake: up \(localhost:\d+, TLS")
        pub = Publisher(broker, auth=("sub", "sub-pw"))
        pub.job("t/tls-jobs", "tls-0")
        wait_for(lambda: "tls-0" in accepted_jobs(g), timeout=15, what="TLS intake")
        wait_for(lambda: all_sent(g, ["tls-0"]), timeout=15, what="sent")
        stream = g.stream_events()
        wait_for(lambda: set(sub.payloads()) >= {e for _, e in stream}, timeout=10,
                 what="events over TLS")
        check_delivery(sub, stream, "t/tls")
        # A wrong password: a clear error, retried with backoff, no crash.
        wrong.wait_log(r"mqtt (events|intake): cannot connect to localhost:\d+: broker refused "
                       r"the connection: (Bad user name or password|Not authorized|"
                       r"Connection Refused: not authorised|"
                       r"Connection Refused: bad user name or password)")
        time.sleep(1.5)
        assert wrong.proc.poll() is None
        assert "s3cret" not in wrong.text() and "not-the-password" not in wrong.text()
        # A CA that does not vouch for the broker: the handshake fails, said so.
        untrusted.wait_log(r"mqtt events: cannot connect to localhost:\d+: TLS handshake "
                           r"failed.*certificate verify failed")
        assert untrusted.proc.poll() is None
    finally:
        if pub:
            pub.close()
        for gw in (g, wrong, untrusted):
            gw.stop()
        sub.close()


if __name__ == "__main__":
    harness.main(globals())
