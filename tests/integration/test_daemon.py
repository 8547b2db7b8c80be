"""pregond end to end against a real redis-server: intake, validation,
idempotency, the message state machine, retries, fallback, consent, and
faults (Redis restarted, pregond killed or stopped mid-run)."""

import json
import re
import os
import shutil
import signal
import time

import harness
from harness import wait_for

PHONE = "+13235550100"
EMAIL = "ana@example.org"


def job(i, **kw):
    j = {"id": "job-%s" % i, "kind": "message",
         "recipient": {"id": "contact-%s" % i, "phone": PHONE},
         "body": "Reminder %s: court on Dec 1 at 8:30." % i}
    j.update(kw)
    return j


def xadd(cfg, j, r=None):
    r = r or cfg.server.client
    text = j if isinstance(j, str) else json.dumps(j)
    return r.xadd(cfg.key("jobs"), {"job": text})


def outbox_lines(cfg, channel="sms"):
    path = os.path.join(cfg.outbox, channel + ".jsonl")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    # The last line may be mid-write while we read.
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def events(cfg, r=None):
    r = r or cfg.server.client
    return [json.loads(f["event"]) for _, f in r.xrange(cfg.key("events"))]


def events_of(cfg, job_id):
    return [e for e in events(cfg) if e["job"] == job_id]


def daemon(cfg):
    p = harness.start_daemon(cfg)
    return p


def stop_ok(p):
    rc = harness.stop(p, signal.SIGTERM, timeout=20)
    assert rc == 0, "pregond exited with %s" % rc


def log_of(cfg):
    with open(os.path.join(cfg.dir, "pregond.log")) as f:
        return f.read()


# ---- the flow ----

def test_message_job_reaches_outbox_with_events_in_order():
    cfg = harness.write_config()
    p = daemon(cfg)
    try:
        xadd(cfg, job(1, subject="ignored on sms"))
        line = wait_for(lambda: outbox_lines(cfg), what="outbox line")[0]
        assert line["job"] == "job-1" and line["to"] == PHONE and line["channel"] == "sms"
        assert line["body"].startswith("Reminder 1") and line["at"].endswith("Z")
        mid = line["message"]
        wait_for(lambda: [e for e in events_of(cfg, "job-1") if e["status"] == "sent"], what="sent event")
        ev = events_of(cfg, "job-1")
        assert [e["status"] for e in ev] == ["accepted", "sending", "sent"], ev
        assert all(e["message"] == mid and e["contact"] == "contact-1" and e["kind"] == "message" for e in ev)
        assert ev[1]["attempt"] == 1 and ev[2]["provider_id"]
        r = cfg.server.client
        st = harness.job_status(cfg, "job-1")
        assert st["kind"] == "message" and st["messages"] == 1, st
        assert st["channels"] == {"sms": {"sent": 1}}, st
        assert r.hget(cfg.key("msg:" + mid), "status") == "sent"
        assert r.ttl(cfg.key("msg:" + mid)) > 0, "records expire after retention_days"
        assert r.xpending(cfg.key("jobs"), "pregon")["pending"] == 0
    finally:
        stop_ok(p)


def test_email_channel_carries_subject():
    cfg = harness.write_config()
    p = daemon(cfg)
    try:
        xadd(cfg, {"id": "e1", "kind": "message", "subject": "Your hearing",
                   "recipient": {"id": "c", "email": EMAIL}, "body": "hello"})
        line = wait_for(lambda: outbox_lines(cfg, "email"), what="email line")[0]
        assert line["subject"] == "Your hearing" and line["to"] == EMAIL
    finally:
        stop_ok(p)


def test_events_never_carry_addresses_or_text():
    cfg = harness.write_config()
    p = daemon(cfg)
    try:
        xadd(cfg, job(1))
        xadd(cfg, {"id": "bad", "kind": "message", "recipient": {"id": "c", "phone": "323-555"}, "body": "secret text"})
        wait_for(lambda: len([e for e in events(cfg) if e["status"] in ("sent", "rejected")]) == 2, what="events")
        raw = json.dumps(events(cfg))
        assert "3235550100" not in raw and "323-555" not in raw and "Reminder" not in raw and "secret" not in raw, raw
        log = log_of(cfg)
        assert "3235550100" not in log and "323-555" not in log, log
    finally:
        stop_ok(p)


# ---- validation ----

def dead_entries(cfg):
    return [f for _, f in cfg.server.client.xrange(cfg.key("dead"))]


def test_invalid_phone_is_dead_lettered_with_reason_naming_the_field():
    cfg = harness.write_config()
    p = daemon(cfg)
    try:
        bad = json.dumps({"id": "j-bad", "kind": "message", "recipient": {"id": "c", "phone": "323-555"}, "body": "x"})
        xadd(cfg, bad)
        d = wait_for(lambda: dead_entries(cfg), what="dead letter")[0]
        assert d["reason"] == 'recipient.phone: not an E.164 number: "323-555"', d
        assert d["job"] == bad and d["at"].endswith("Z")
        ev = wait_for(lambda: [e for e in events(cfg) if e["status"] == "rejected"], what="rejected event")[0]
        assert ev["job"] == "j-bad" and ev["error"] == "recipient.phone: not an E.164 number", ev
        assert cfg.server.client.xpending(cfg.key("jobs"), "pregon")["pending"] == 0
        # Issue 13: the log line names the job, with the public reason whole.
        log = os.path.join(cfg.dir, "pregond.log")
        wait_for(lambda: "job j-bad rejected (kind message): recipient.phone: not an E.164 "
                 "number\n" in open(log).read(), what="the rejection logged with the job id")
        # pregon status finds it in the dead letters.
        out = harness.run_cli(cfg, "status", "j-bad")
        assert out.returncode == 0, out.stderr
        assert "state     rejected: recipient.phone: not an E.164 number" in out.stdout, out.stdout
        assert re.search(r"\nat        20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC-0[78]:00 "
                         r"America/Los_Angeles\n", out.stdout), out.stdout
    finally:
        stop_ok(p)


def test_garbage_entries_are_dead_lettered_not_dropped():
    cfg = harness.write_config(sections={"jobs": {"max_bytes": "300"}})
    p = daemon(cfg)
    try:
        r = cfg.server.client
        xadd(cfg, "{not json")
        r.xadd(cfg.key("jobs"), {"other": "field"})
        xadd(cfg, {"id": "k", "kind": "fax"})
        xadd(cfg, job("big", body="x" * 400))
        xadd(cfg, {"id": "th", "kind": "townhall_confirmation",
                   "event": {"ref": "th-1", "title": "Town Hall", "tz": "America/Los_Angeles",
                             "starts_at": "2026-12-05T18:00:00",
                             "ends_at": "2026-12-05T17:00:00"},
                   "recipient": {"id": "c", "phone": PHONE}})
        d = wait_for(lambda: len(dead_entries(cfg)) == 5 and dead_entries(cfg), what="5 dead letters")
        reasons = [x["reason"] for x in d]
        assert reasons[0].startswith("job: not valid JSON"), reasons
        assert reasons[1].startswith('job: the entry must hold exactly one field, "job"; it has '
                                     '0 "job" fields and 1 other'), reasons
        assert reasons[2] == 'kind: unknown kind "fax"', reasons
        assert reasons[3].startswith("job: larger than 300 bytes"), reasons
        assert reasons[4] == "event.ends_at: must be after event.starts_at", reasons
        assert not outbox_lines(cfg)
    finally:
        stop_ok(p)


def test_a_job_naming_more_people_than_the_dead_letter_index_takes_is_kept_without_its_text():
    # Issue 12, finding 4: a dead letter is erased with the people it
    # names (dead_index.h); one naming more than 4,096 could not all be
    # indexed, so its text is not kept at all.
    cfg = harness.write_config()
    p = daemon(cfg)
    try:
        numbers = " ".join("+1323%07d" % i for i in range(4200))
        xadd(cfg, job("many", body=numbers))
        d = wait_for(lambda: dead_entries(cfg), what="the dead letter")[0]
        assert d["job"] == "", d["job"][:80]
        assert d["reason"].endswith("(job text not kept: it names more than 4096 people or "
                                    "addresses)"), d["reason"]
        assert not cfg.server.client.keys(cfg.key("dx:*"))
    finally:
        stop_ok(p)


def test_dead_letter_replay_after_fix_is_processed():
    # `pregon dead replay` queues the stored job as it was, so what gets
    # fixed is what refused it: here the enrolment text, which needs an
    # address the job lacks, is fixed and reloaded with SIGHUP.
    tdir = harness.tempdir("pregon-templates-")
    shutil.copytree(os.path.join(harness.ROOT, "config", "templates"), tdir, dirs_exist_ok=True)
    path = os.path.join(tdir, "court_enrolment", "en.sms")
    with open(path) as f:
        good = f.read()
    with open(path, "w") as f:
        f.write("Court {{date}} {{time}} at {{address}}. Reply STOP to stop.")
    cfg = harness.write_config(sections={"templates": {"dir": tdir}})
    p = daemon(cfg)
    try:
        appearance = time.strftime("%Y-%m-%dT10:00:00", time.gmtime(time.time() + 30 * 86400))
        xadd(cfg, {"id": "r1", "kind": "court_reminder",
                   "case": {"ref": "LA-24CR-01234", "court": "Clara Shortridge Foltz CJC",
                            "tz": "America/Los_Angeles"},
                   "appearance": appearance,
                   "recipient": {"id": "c", "name": "Ana", "phone": PHONE, "lang": "en"}})
        wait_for(lambda: dead_entries(cfg), what="dead letter")
        r = cfg.server.client
        (eid, dead), = r.xrange(cfg.key("dead"))
        assert dead["reason"] == ('court_enrolment/en.sms: line 1, column 28: '
                                  'variable "address" has no value'), dead
        assert not outbox_lines(cfg)
        with open(path, "w") as out:
            out.write(good)
        p.send_signal(signal.SIGHUP)
        wait_for(lambda: "templates: reloaded" in log_of(cfg), what="templates reloaded")
        rep = harness.run_cli(cfg, "dead", "replay", eid)
        assert rep.returncode == 0, rep.stderr
        assert [i for i, _ in r.xrange(cfg.key("jobs"))][-1] == rep.stdout.strip(), rep.stdout
        assert not dead_entries(cfg)
        line = wait_for(lambda: outbox_lines(cfg), what="outbox after fix")[0]
        assert line["job"] == "r1" and line["to"] == PHONE, line
        assert line["body"].startswith("Hi Ana, your next court date is "), line
    finally:
        stop_ok(p)


# ---- idempotency ----

def test_same_job_id_twice_is_sent_once_with_duplicate_event():
    cfg = harness.write_config()
    p = daemon(cfg)
    try:
        xadd(cfg, job(7))
        xadd(cfg, job(7, body="changed"))
        wait_for(lambda: [e for e in events_of(cfg, "job-7") if e["status"] == "duplicate"], what="duplicate event")
        wait_for(lambda: outbox_lines(cfg), what="outbox")
        time.sleep(0.5)
        assert len(outbox_lines(cfg)) == 1
        assert outbox_lines(cfg)[0]["body"].startswith("Reminder 7")
        assert cfg.server.client.ttl(cfg.key("seen:job-7")) > 29 * 86400
    finally:
        stop_ok(p)


# ---- retries and fallback ----

FAULTY = {"sms": {"provider": "faulty"}, "retry": {"base_delay": "50ms", "max_delay": "200ms", "max_attempts": "4"}}


def statuses(cfg, job_id):
    return [(e["channel"], e["status"], e["attempt"]) for e in events_of(cfg, job_id)]


def test_temporary_failures_are_retried_with_backoff_then_sent():
    cfg = harness.write_config(sections=FAULTY)
    p = daemon(cfg)
    try:
        xadd(cfg, job(1, body="[temp-fail:2] hello"))
        line = wait_for(lambda: outbox_lines(cfg), timeout=15, what="sent after retries")[0]
        assert line["attempt"] == 3
        wait_for(lambda: ("sms", "sent", 3) in statuses(cfg, "job-1"), what="sent event")
        assert statuses(cfg, "job-1") == [
            ("sms", "accepted", 0), ("sms", "sending", 1), ("sms", "scheduled", 1),
            ("sms", "sending", 2), ("sms", "scheduled", 2), ("sms", "sending", 3), ("sms", "sent", 3)]
        sched = [e for e in events_of(cfg, "job-1") if e["status"] == "scheduled"]
        assert all("temporary failure" in e["error"] for e in sched)
    finally:
        stop_ok(p)


def test_permanent_failure_falls_back_to_next_channel():
    cfg = harness.write_config(sections=FAULTY)
    p = daemon(cfg)
    try:
        xadd(cfg, job(2, body="[perm-fail] hi", recipient={"id": "c2", "phone": PHONE, "email": EMAIL,
                                                          "channels": ["sms", "email"]}))
        line = wait_for(lambda: outbox_lines(cfg, "email"), what="fallback email")[0]
        assert line["to"] == EMAIL
        wait_for(lambda: ("email", "sent", 1) in statuses(cfg, "job-2"), what="email sent")
        st = statuses(cfg, "job-2")
        assert st[:3] == [("sms", "accepted", 0), ("sms", "sending", 1), ("sms", "failed", 1)], st
        assert ("email", "accepted", 0) in st
        msgs = {e["message"] for e in events_of(cfg, "job-2")}
        assert len(msgs) == 2, "the fallback is a new message on the new channel"
        st = harness.job_status(cfg, "job-2")
        assert st["messages"] == 2, st
        assert st["channels"] == {"sms": {"failed": 1}, "email": {"sent": 1}}, st
        assert not outbox_lines(cfg, "sms")
    finally:
        stop_ok(p)


def test_retries_exhausted_mark_failed_then_fall_back():
    cfg = harness.write_config(sections=FAULTY)
    p = daemon(cfg)
    try:
        xadd(cfg, job(3, body="[temp-fail:99] hi", recipient={"id": "c3", "phone": PHONE, "email": EMAIL}))
        wait_for(lambda: outbox_lines(cfg, "email"), timeout=15, what="fallback after max attempts")
        failed = [e for e in events_of(cfg, "job-3") if e["status"] == "failed"]
        assert len(failed) == 1 and failed[0]["attempt"] == 4
        assert failed[0]["error"].startswith("gave up after 4 attempts"), failed
    finally:
        stop_ok(p)


def test_retry_after_hint_is_honoured():
    cfg = harness.write_config(sections=FAULTY)
    p = daemon(cfg)
    try:
        t0 = time.monotonic()
        xadd(cfg, job(4, body="[temp-fail:1][retry-after:1500] hi"))
        wait_for(lambda: outbox_lines(cfg), timeout=10, what="sent")
        assert time.monotonic() - t0 >= 1.4
    finally:
        stop_ok(p)


def test_send_at_in_future_is_scheduled_then_sent():
    cfg = harness.write_config()
    p = daemon(cfg)
    try:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
        xadd(cfg, job(5, send_at=at))
        wait_for(lambda: [e for e in events_of(cfg, "job-5") if e["status"] == "scheduled"], what="scheduled")
        assert not outbox_lines(cfg)
        line = wait_for(lambda: outbox_lines(cfg), timeout=8, what="sent at send_at")[0]
        sent_at = time.mktime(time.strptime(line["at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert sent_at >= time.mktime(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone - 0.01
    finally:
        stop_ok(p)


# ---- consent ----

def test_opted_out_channel_is_skipped_for_the_next_one():
    cfg = harness.write_config()
    r = cfg.server.client
    r.sadd(cfg.key("optout:sms"), PHONE)
    p = daemon(cfg)
    try:
        xadd(cfg, job(6, recipient={"id": "c6", "phone": PHONE, "email": EMAIL}))
        wait_for(lambda: outbox_lines(cfg, "email"), what="email instead of opted-out sms")
        assert not outbox_lines(cfg, "sms")
        xadd(cfg, job(8))
        ev = wait_for(lambda: [e for e in events_of(cfg, "job-8") if e["status"] == "suppressed"], what="suppressed")
        assert ev[0]["error"] == "opted out"
    finally:
        stop_ok(p)


def test_opt_out_after_queueing_is_honoured_at_send_time():
    cfg = harness.write_config(sections={"sms": {"provider": "faulty"}})
    p = daemon(cfg)
    try:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        xadd(cfg, job(9, send_at=at))
        wait_for(lambda: [e for e in events_of(cfg, "job-9") if e["status"] == "scheduled"], what="scheduled")
        cfg.server.client.sadd(cfg.key("optout:sms"), PHONE)
        wait_for(lambda: [e for e in events_of(cfg, "job-9") if e["status"] == "suppressed"], timeout=8, what="suppressed")
        assert not outbox_lines(cfg)
    finally:
        stop_ok(p)


# ---- operations ----

def test_sighup_reopens_outbox_file():
    cfg = harness.write_config()
    p = daemon(cfg)
    try:
        xadd(cfg, job(1))
        wait_for(lambda: outbox_lines(cfg), what="first line")
        path = os.path.join(cfg.outbox, "sms.jsonl")
        os.rename(path, path + ".1")
        p.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        xadd(cfg, job(2))
        wait_for(lambda: outbox_lines(cfg), what="line in the new file")
        assert outbox_lines(cfg)[0]["job"] == "job-2"
    finally:
        stop_ok(p)


def test_bad_config_exits_with_line_and_key():
    cfg = harness.write_config(sections={"retry": {"max_attempts": "0"}})
    p = daemon(cfg)
    assert p.wait(10) == 1
    assert "[retry] max_attempts: must be 1..100, got 0" in log_of(cfg)


def test_starts_before_redis_and_connects_when_it_appears():
    port = harness.free_port()
    cfg = harness.write_config(url="redis://127.0.0.1:%d/0" % port)
    p = daemon(cfg)
    time.sleep(1.0)
    assert p.poll() is None, "pregond must wait for Redis, not exit"
    srv = harness.RedisServer.__new__(harness.RedisServer)
    # start a server on exactly that port
    d = harness.tempdir()
    proc = harness.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                          "--save", "", "--appendonly", "no"],
                         stdout=harness.subprocess.DEVNULL, stderr=harness.subprocess.DEVNULL)
    import redis as redislib
    r = redislib.Redis(port=port, decode_responses=True)
    wait_for(lambda: _ping(r), what="redis up")
    try:
        xadd(cfg, job(1), r=r)
        wait_for(lambda: outbox_lines(cfg), timeout=15, what="sent once Redis is up")
    finally:
        stop_ok(p)
        harness.stop(proc)
    del srv


def _ping(r):
    try:
        return r.ping()
    except Exception:
        return False



def test_trim_script_removes_every_acknowledged_entry_in_one_call():
    """The Lua op that keeps the queues short: 30,000 acknowledged entries
    go in one call (with "~" and no LIMIT, Redis stops at 10,000 a call,
    and a queue filling faster than that per trim interval grew without
    bound). Entries still pending stay."""
    cfg = harness.write_config()
    r = cfg.server.client
    lib = harness.Library(cfg)
    key = cfg.key("ready:sms:normal")
    r.xgroup_create(key, "pregon", id="0", mkstream=True)
    p = r.pipeline(transaction=False)
    for i in range(30000):
        p.xadd(key, {"m": "m%d" % i})
    p.execute()
    got = r.xreadgroup("pregon", "c1", {key: ">"}, count=30000)[0][1]
    ids = [eid for eid, _ in got]
    for i in range(0, 29990, 1000):
        r.xack(key, "pregon", *ids[i:min(i + 1000, 29990)])
    trimmed = lib.call("trim", key)
    # "~" frees whole nodes (100 entries each): all but the last partial one.
    assert trimmed >= 29900, trimmed
    assert r.xlen(key) <= 100, r.xlen(key)
    assert [eid for eid, _ in r.xrange(key, ids[29990], "+")] == ids[29990:]

if __name__ == "__main__":
    harness.main(globals())
