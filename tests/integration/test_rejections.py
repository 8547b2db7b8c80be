"""Rejections tell the producer what is wrong and tell nobody else what the
job said (issue 12; CONTRACT.md section 3: a `rejected` event's error names
the field and the problem and never quotes a value from the job, the dead
letter's reason may). Every refused document of tests/fixtures/jobs/ and
the findings of issue 12 go through the jobs stream and the MQTT intake of
a running pregond with MQTT events; no event in <p>events, no MQTT payload
and no log line may hold seven digits in a row, an at sign, or any string
of the job but its id. Also: a stream entry whose fields are not exactly
one "job" is dead-lettered whole, and invisible formatting characters are
refused on both ways in."""

import glob
import json
import os
import re
import threading
import time

import paho.mqtt.client as mqtt
import redis

import harness
from harness import wait_for

FIXTURES = os.path.join(harness.ROOT, "tests", "fixtures", "jobs")

# Issue 12's findings, seen in `rejected` events of a running pregond.
FINDINGS = [
    {"id": "f-country", "kind": "message", "body": "Hola",
     "recipient": {"id": "c-1", "phone": "+99912345678"}},
    {"id": "f-dup", "kind": "action_alert", "message": "Go now.",
     "audience": {"recipients": [{"id": "+13235550155", "phone": "+13235550155"},
                                 {"id": "+13235550155", "email": "ana.lopez@example.org"}]}},
    {"id": "f-key", "kind": "action_alert", "message": "Go now.",
     "audience": {"list": "south-la"}, "replies": {"my name is Ana Lopez": 3}},
    {"id": "f-key-phone", "kind": "action_alert", "message": "Go now.",
     "audience": {"list": "south-la"}, "replies": {"Ana Lopez Garcia, call me at 3235550199": "x"}},
    {"id": "f-lang", "kind": "action_alert", "audience": {"list": "south-la"},
     "message": {"en": "Go.", "ana.lopez@example.org": "x"}},
    {"id": "f-email", "kind": "message", "body": "Hola",
     "recipient": {"id": "c-1", "email": "ana lopez@example.org"}},
    {"id": "f-time", "kind": "message", "body": "Hola", "send_at": "3235550177",
     "recipient": {"id": "c-1", "phone": "+13235550100"}},
    {"id": "f-tz", "kind": "message", "body": "Hola",
     "recipient": {"id": "c-1", "phone": "+13235550100", "tz": "Ana/3235550166"}},
    {"id": "f-channel", "kind": "message", "body": "Hola",
     "recipient": {"id": "c-1", "phone": "+13235550100", "channels": ["sms", "ana@example.org"]}},
    {"id": "f-rlo", "kind": "message", "body": "Hola",
     "recipient": {"id": "c-1", "name": "Court \u202eX", "phone": "+13235550100"}},
    {"id": "f-zw", "kind": "contact_upsert",
     "contact": {"id": "c-9", "name": "Ana\u200bLopez", "email": "ana@example.org"}},
    {"id": "f-kind", "kind": "ana@example.org 3235550144"},
]
# Not JSON: jansson's error quotes up to 20 bytes near it.
RAW_FINDINGS = [
    '{"id": "f-near-1", "kind": "message", "recipient": {"id": "c", "phone": "+13235550133\t"}}',
    '{"id": "f-near-2", "kind": "message", "recipient": {"id": "c", "email": ana.lopez@example.org}}',
    '{"id": "f-near-3", "kind": "message", "recipient": {"id": "c", "phone": +13235550122}}',
]
ALLOWED = {  # strings of a job an event may carry: the contract's own words
    "message", "court_reminder", "action_alert", "townhall_confirmation", "cancel",
    "contact_upsert", "contact_delete", "sms", "email", "signal",
}
SEVEN_DIGITS = re.compile(r"\d{7}")  # \d: any Unicode decimal digit


def documents():
    """[(raw text, parsed or None)]: every bad fixture, then the findings."""
    docs = []
    for path in sorted(glob.glob(os.path.join(FIXTURES, "bad-*.json"))):
        with open(path, "rb") as f:
            raw = f.read().decode("utf-8", errors="surrogateescape")
        docs.append(raw)
    docs += [json.dumps(d) for d in FINDINGS] + RAW_FINDINGS
    return docs


def strings_of(raw):
    """Every string of a document (values and keys), or for text that is
    not JSON, everything between double quotes, and bare words; without
    its id and the contract's own words; 4 characters or more."""
    out = set()
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
        out |= set(re.findall(r'"([^"\\]{4,})"', raw))
        out |= set(re.findall(r"[\w.@+-]{7,}", raw))
        ident = re.search(r'"id":\s*"([^"]*)"', raw)
        ids = {ident.group(1)} if ident else set()
    else:
        ids = set()

        def walk(v):
            if isinstance(v, str):
                out.add(v)
            elif isinstance(v, dict):
                for k, x in v.items():
                    out.add(k)
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(doc)
        if isinstance(doc, dict) and isinstance(doc.get("id"), str):
            ids = {doc["id"]}
    keys = {"id", "kind", "recipient", "contact", "contact_id", "lists", "name", "phone",
            "email", "signal", "lang", "channels", "body", "subject", "send_at", "case",
            "case_ref", "ref", "court", "address", "department", "appearance", "offsets",
            "urgent", "audience", "list", "recipients", "message", "expires_at", "replies",
            "event", "title", "starts_at", "ends_at", "location", "join_url", "reminders",
            "event_ref", "job_id"}
    return {s for s in out if len(s) >= 4 and s not in ids and s not in ALLOWED and s not in keys}


def leaks(text, job_strings):
    """What of a job text (an event, a payload, the log) holds, or None."""
    m = SEVEN_DIGITS.search(text)
    if m:
        return "seven digits %r" % m.group(0)
    if "@" in text or "\uff20" in text:
        return "an at sign"
    for s in job_strings:
        if s in text:
            return "the job's string %r" % s
    return None


class Subscriber:
    def __init__(self, broker, prefix):
        self.got, self.lock = [], threading.Lock()
        c = mqtt.Client(client_id="rej-sub-%d" % os.getpid(), clean_session=True)
        c.on_connect = lambda cl, u, flags, rc: cl.subscribe(prefix + "/#", qos=1)
        c.on_message = self._on_message
        c.connect("127.0.0.1", broker.port, keepalive=5)
        c.loop_start()
        self.client = c
        wait_for(lambda: c.is_connected(), timeout=5, what="subscriber connected")
        time.sleep(0.3)  # the SUBACK

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.got.append(msg.payload.decode("utf-8", errors="replace"))

    def payloads(self):
        with self.lock:
            return list(self.got)

    def publish(self, topic, payload):
        info = self.client.publish(topic, payload.encode("utf-8", errors="surrogateescape"), qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def gateway(broker):
    cfg = harness.write_config(sections={"mqtt": {
        "url": broker.url(), "events_topic_prefix": "t/rej", "keepalive": "5s",
        "intake_topic": "t/rej-jobs", "client_id": "pregon-rej-%d" % os.getpid()}})
    proc = harness.start_daemon(cfg)
    log = os.path.join(cfg.dir, "pregond.log")
    wait_for(lambda: "mqtt intake: subscribing to t/rej-jobs" in open(log, errors="replace").read(),
             timeout=15, what="the MQTT intake")
    return cfg, proc, log


def settled(r, cfg, want, timeout=60):
    """Waits until intake has read and acknowledged every entry and the
    dead letters stop growing (want of them, or a second of no change
    once all are read, for a build that accepts some)."""
    def done():
        g = [x for x in r.xinfo_groups(cfg.key("jobs")) if x["name"] == "pregon"]
        return g and g[0]["pending"] == 0 and g[0]["lag"] == 0
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = r.xlen(cfg.key("dead"))
        if n == want and done():
            return
        if n != last:
            last, since = n, time.monotonic()
        elif done() and time.monotonic() - since > 3:
            return
        time.sleep(0.1)


def outbox_empty(cfg):
    path = os.path.join(cfg.outbox, "sms.jsonl")
    return not os.path.exists(path) or os.path.getsize(path) == 0


def stop_clean(proc, log):
    rc = harness.stop(proc, timeout=20)
    text = open(log, errors="replace").read()
    assert rc == 0, "pregond exited %s:\n%s" % (rc, text[-3000:])
    for bad in ("Sanitizer", "runtime error:"):
        assert bad not in text, text[-3000:]
    return text


def test_rejections_carry_no_value_of_the_job_in_events_mqtt_or_log():
    broker = harness.mosquitto_server()
    cfg, proc, log = gateway(broker)
    r = cfg.server.client
    sub = Subscriber(broker, "t/rej")
    docs = documents()
    try:
        for raw in docs:   # the jobs stream
            r.xadd(cfg.key("jobs"), {"job": raw.encode("utf-8", errors="surrogateescape")})
        for raw in docs:   # the MQTT intake
            sub.publish("t/rej-jobs", raw)
        want = 2 * len(docs)
        settled(r, cfg, want)
        wait_for(lambda: len([p for p in sub.payloads() if '"rejected"' in p]) >= r.xlen(cfg.key("dead")),
                 timeout=20, what="the rejected events over MQTT")
        strings = set()
        for raw in docs:
            strings |= strings_of(raw)
        for e in r.xrange(cfg.key("events")):
            text = e[1]["event"]
            why = leaks(text, strings)
            assert why is None, "event holds %s: %s" % (why, text)
            assert json.loads(text)["error"], text   # a reason, though
        for p in sub.payloads():
            why = leaks(p, strings)
            assert why is None, "MQTT payload holds %s: %s" % (why, p)
        # Every document was refused (after the leak checks, so that a
        # build that accepts some still shows what it leaks).
        assert r.xlen(cfg.key("dead")) == want, (r.xlen(cfg.key("dead")), want)
        assert len([e for e in r.xrange(cfg.key("events"))
                    if json.loads(e[1]["event"])["status"] == "rejected"]) == want
        # The dead letter keeps the detail for the producer.
        raw_r = redis.Redis(host="127.0.0.1", port=cfg.server.port,
                            password=cfg.server.password)   # dead letters hold raw bytes
        reasons = [f[b"reason"].decode() for _, f in raw_r.xrange(cfg.key("dead"))]
        assert any('unknown country code: "+99912345678"' in x for x in reasons), reasons
        assert any('(key "my name is Ana Lopez")' in x for x in reasons), reasons
        assert outbox_empty(cfg)
    finally:
        sub.close()
        text = stop_clean(proc, log)
    # The log: ids, codes and public reasons only.
    for line in text.splitlines():
        line = line.split(" ", 2)[-1]   # after the timestamp and level
        assert "@" not in line, line
        for s in ("3235550", "99912345678", "Ana Lopez", "ana.lopez"):
            assert s not in line, line


def test_entry_with_two_job_fields_or_other_fields_is_dead_lettered_whole():
    cfg = harness.write_config()
    proc = harness.start_daemon(cfg)
    log = os.path.join(cfg.dir, "pregond.log")
    r = cfg.server.client
    a = json.dumps({"id": "two-a", "kind": "message", "body": "first",
                    "recipient": {"id": "c-a", "phone": "+13235550111"}})
    b = json.dumps({"id": "two-b", "kind": "message", "body": "second",
                    "recipient": {"id": "c-b", "phone": "+13235550112"}})
    try:
        r.execute_command("XADD", cfg.key("jobs"), "*", "job", a, "job", b)
        r.execute_command("XADD", cfg.key("jobs"), "*", "job", a, "note", "ana@example.org")
        dead = wait_for(lambda: len(r.xrange(cfg.key("dead"))) == 2 and r.xrange(cfg.key("dead")),
                        timeout=15, what="two dead letters")
        one, other = dead[0][1], dead[1][1]
        assert json.loads(one["job"]) == ["job", a, "job", b], one
        assert one["reason"] == ('job: the entry must hold exactly one field, "job"; it has 2 '
                                 '"job" fields and 0 others (the dead letter\'s job holds them '
                                 'all as a JSON array)'), one
        assert json.loads(other["job"]) == ["job", a, "note", "ana@example.org"], other
        assert 'it has 1 "job" field and 1 other' in other["reason"], other
        evs = [json.loads(f["event"]) for _, f in r.xrange(cfg.key("events"))]
        assert [e["status"] for e in evs] == ["rejected", "rejected"], evs
        for e in evs:
            assert "ana@" not in json.dumps(e) and "3235550" not in json.dumps(e), e
        # neither job ran
        assert outbox_empty(cfg)
        assert r.xpending(cfg.key("jobs"), "pregon")["pending"] == 0
    finally:
        stop_clean(proc, log)


def test_invisible_formatting_characters_are_refused_on_both_ways_in():
    broker = harness.mosquitto_server()
    cfg, proc, log = gateway(broker)
    r = cfg.server.client
    sub = Subscriber(broker, "t/rej")
    try:
        court = {"id": "bidi-stream", "kind": "message", "body": "Hola",
                 "recipient": {"id": "c-1", "name": "Court \u202eX", "phone": "+13235550100"}}
        r.xadd(cfg.key("jobs"), {"job": json.dumps(court)})
        court["id"] = "bidi-mqtt"
        sub.publish("t/rej-jobs", json.dumps(court))
        ok = {"id": "rtl-body", "kind": "message",
              "body": "\u0645\u0648\u0639\u062f\u0643 \u200f10:30\u200f \U0001f468\u200d\U0001f469",
              "recipient": {"id": "c-2", "phone": "+13235550101"}}
        sub.publish("t/rej-jobs", json.dumps(ok))
        dead = wait_for(lambda: len(r.xrange(cfg.key("dead"))) == 2 and r.xrange(cfg.key("dead")),
                        timeout=15, what="two dead letters")
        for _, f in dead:
            assert f["reason"] == ("recipient.name: must not contain invisible formatting "
                                   "characters (U+202E)"), f
        path = os.path.join(cfg.outbox, "sms.jsonl")
        line = wait_for(lambda: os.path.exists(path) and open(path).read(), timeout=15,
                        what="the RTL body sent")
        assert json.loads(line.splitlines()[0])["body"] == ok["body"]
    finally:
        sub.close()
        stop_clean(proc, log)


if __name__ == "__main__":
    harness.main(globals())
