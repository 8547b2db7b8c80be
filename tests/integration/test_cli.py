#!/usr/bin/python3
"""test_cli.py: the operator CLI `pregon` against a real redis-server.

Keys follow include/keys.h; jobs, job hashes, events and dead letters are
written here by hand, so these tests need pregon only, not pregond.
"""

import datetime
import json
import os
import signal
import time

import harness

PHONE = "+13235550100"          # NANP fictional range 555-0100..0199
EMAIL = "ana@example.org"


def message_job(job_id="msg-1", phone=PHONE, body="Your hearing is tomorrow at 9:00."):
    return json.dumps({"id": job_id, "kind": "message",
                       "recipient": {"id": "contact-1", "phone": phone},
                       "body": body})


def event(job, status, message="m1", channel="sms"):
    return json.dumps({"job": job, "kind": "message", "message": message,
                       "contact": "contact-1", "channel": channel, "status": status,
                       "attempt": 1, "provider_id": None,
                       "at": "2026-11-22T19:03:11.250Z", "error": None, "meaning": None},
                      separators=(",", ":"))


def iso_ms(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def entries(cfg, stream):
    """[(id, fields)] of a stream under cfg's prefix."""
    return cfg.server.client.xrange(cfg.key(stream))


def wait_for_xread_client(cfg):
    """Waits until a client is blocked in XREAD (tail has taken its start
    id), so events added afterwards are certainly seen."""
    def blocked():
        return any(c.get("cmd") == "xread" for c in cfg.server.client.client_list())
    harness.wait_for(blocked, timeout=10, what="pregon tail to block in XREAD")


# ---- send ----

def test_send_queues_a_valid_job_and_prints_its_id():
    cfg = harness.write_config()
    path = os.path.join(cfg.dir, "job.json")
    job = message_job("court-42")
    with open(path, "w") as f:
        f.write(job)
    r = harness.run_cli(cfg, "send", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "court-42\n", r.stdout
    got = entries(cfg, "jobs")
    assert len(got) == 1, got
    assert got[0][1] == {"job": job}, got


def test_send_reads_the_job_from_stdin():
    cfg = harness.write_config()
    job = message_job("from-stdin")
    r = harness.run_cli(cfg, "send", "-", input=job)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "from-stdin\n"
    assert [f for _, f in entries(cfg, "jobs")] == [{"job": job}]


def test_send_rejects_invalid_job_with_reason():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "send", "-", input=message_job(phone="323-555"))
    reason = harness.one_line_error(r)
    assert r.returncode == 1
    assert reason.startswith("recipient.phone"), reason
    assert r.stdout == ""
    assert cfg.server.client.xlen(cfg.key("jobs")) == 0


def test_send_reason_never_echoes_a_phone_number():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "send", "-", input=message_job(phone="3235550100"))
    reason = harness.one_line_error(r)
    assert "3235550100" not in reason, reason
    assert cfg.server.client.xlen(cfg.key("jobs")) == 0


def test_send_rejects_text_that_is_not_json():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "send", "-", input="this is not a job\n")
    harness.one_line_error(r)
    assert r.returncode == 1
    assert cfg.server.client.xlen(cfg.key("jobs")) == 0


def test_send_rejects_job_over_max_bytes():
    cfg = harness.write_config(sections={"jobs": {"max_bytes": "256"}})
    r = harness.run_cli(cfg, "send", "-", input=message_job(body="x" * 300))
    reason = harness.one_line_error(r)
    assert "max_bytes" in reason, reason
    assert cfg.server.client.xlen(cfg.key("jobs")) == 0


def test_send_of_a_missing_file_fails_with_one_line():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "send", os.path.join(cfg.dir, "nope.json"))
    reason = harness.one_line_error(r)
    assert "nope.json" in reason, reason



# ---- issue 13, finding 14: fields pregon does not know ----

def typo_job(job_id="typo-1"):
    return json.dumps({"id": job_id, "kind": "message", "body": "Hearing moved to Dec 9.",
                       "recipient": {"id": "contact-1", "phone": PHONE, "lnag": "es"},
                       "sendAt": "2030-12-08T09:00:00Z"})


def test_send_warns_about_unknown_fields_then_queues_the_job():
    """Before: sendAt was ignored without a word, and the message went out
    at once instead of on Dec 8."""
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "send", "-", input=typo_job())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "typo-1\n", r.stdout
    assert r.stderr == ("pregon: warning: unknown fields sendAt (did you mean send_at?), "
                        "recipient.lnag (did you mean lang?) (accepted, not used)\n"), r.stderr
    assert len(entries(cfg, "jobs")) == 1


def test_send_strict_refuses_unknown_fields_and_queues_nothing():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "send", "--strict", "-", input=typo_job())
    reason = harness.one_line_error(r)
    assert reason == ("unknown fields sendAt (did you mean send_at?), recipient.lnag "
                      "(did you mean lang?) (--strict: not sent)"), reason
    assert entries(cfg, "jobs") == []
    ok = harness.run_cli(cfg, "send", "--strict", "-", input=message_job("clean-1"))
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr


def test_pregond_records_the_unknown_field_names_in_the_job():
    """Names only (never values): in a message's payload (a message job
    has no job hash) and in the job hash of other kinds; and logged."""
    cfg = harness.write_config()
    d = harness.start_daemon(cfg)
    rc = cfg.server.client
    try:
        assert harness.run_cli(cfg, "send", "-", input=typo_job("typo-2")).returncode == 0
        alert = json.dumps({"id": "alert-typo", "kind": "action_alert", "urgnet": True,
                            "audience": {"recipients": [{"id": "p1", "phone": PHONE}]},
                            "message": "ICE reported at 5th and Main."})
        assert harness.run_cli(cfg, "send", "-", input=alert).returncode == 0
        harness.wait_for(lambda: rc.hget(cfg.key("job:alert-typo"), "unknown") is not None,
                         what="the alert recorded")
        assert rc.hget(cfg.key("job:alert-typo"), "unknown") == "urgnet (did you mean urgent?)"
        seq = rc.get(cfg.key("seen:typo-2"))
        harness.wait_for(lambda: rc.hget(cfg.key("msg:m%s.1" % seq), "d") is not None,
                         what="the message recorded")
        d_ = json.loads(rc.hget(cfg.key("msg:m%s.1" % seq), "d"))
        assert d_["unknown"] == ("sendAt (did you mean send_at?), recipient.lnag "
                                 "(did you mean lang?)"), d_
        with open(os.path.join(cfg.dir, "pregond.log")) as f:
            log = f.read()
        assert "job alert-typo (action_alert): fields this version does not know, accepted " \
            "and not used: urgnet (did you mean urgent?)" in log, log
    finally:
        assert harness.stop(d) == 0

def test_send_honours_password_and_db_in_the_url():
    srv = harness.RedisServer(password="s3cr3t")
    cfg = harness.write_config(srv, url=srv.url(db=3))
    r = harness.run_cli(cfg, "send", "-", input=message_job("with-auth"))
    assert r.returncode == 0, r.stderr
    assert srv.connect(db=3).xlen(cfg.key("jobs")) == 1
    assert srv.connect(db=0).xlen(cfg.key("jobs")) == 0
    srv.stop()


def test_send_over_a_unix_socket():
    srv = harness.RedisServer(unixsocket=True)
    cfg = harness.write_config(srv, url="unix:" + srv.unixsocket)
    r = harness.run_cli(cfg, "send", "-", input=message_job("via-socket"))
    assert r.returncode == 0, r.stderr
    assert srv.client.xlen(cfg.key("jobs")) == 1
    srv.stop()


def test_wrong_password_fails_without_printing_it():
    srv = harness.RedisServer(password="right-one")
    cfg = harness.write_config(srv, url="redis://:wrong-one@127.0.0.1:%d/0" % srv.port)
    r = harness.run_cli(cfg, "send", "-", input=message_job())
    reason = harness.one_line_error(r)
    assert "wrong-one" not in reason and "right-one" not in reason, reason
    srv.stop()


def test_unreachable_redis_fails_with_one_line():
    cfg = harness.write_config(url="redis://127.0.0.1:%d/0" % harness.free_port())
    r = harness.run_cli(cfg, "status", "x")
    reason = harness.one_line_error(r)
    assert r.returncode == 1
    assert "redis" in reason and "connect" in reason, reason


# ---- status ----

def make_job_hash(cfg, job_id, created_ms):
    cfg.server.client.hset(cfg.key("job:" + job_id), mapping={
        "kind": "action_alert", "created": str(created_ms), "messages": "4",
        "c:sms:delivered": "1", "c:email:delivered": "1", "c:sms:failed": "1",
        "c:signal:sending": "1", "c:signal:sent": "0",
    })


def test_status_prints_counts_per_status_and_channel():
    cfg = harness.write_config()
    created = 1795893791250
    make_job_hash(cfg, "alert-1", created)
    r = harness.run_cli(cfg, "status", "alert-1")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    lines = [l.split() for l in out.splitlines()]
    assert ["kind", "action_alert"] in lines, out
    # Local time in [schedule] default_tz (America/Los_Angeles), with the zone.
    assert "created   2026-11-28 11:23:11 UTC-08:00 America/Los_Angeles\n" in out, out
    assert ["messages", "4"] in lines, out
    for row in (["delivered", "2"], ["failed", "1"], ["sending", "1"],
                ["sms", "delivered", "1"], ["email", "delivered", "1"],
                ["sms", "failed", "1"], ["signal", "sending", "1"]):
        assert row in lines, (row, out)
    assert "scheduled" not in out and "sent " not in out, "zero counts are skipped: " + out


def test_status_json_is_machine_readable():
    cfg = harness.write_config()
    created = 1795893791250
    make_job_hash(cfg, "alert-2", created)
    r = harness.run_cli(cfg, "status", "--json", "alert-2")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc == {
        "job": "alert-2", "kind": "action_alert", "created": iso_ms(created), "messages": 4,
        "statuses": {"sending": 1, "delivered": 2, "failed": 1},
        "channels": {"sms": {"delivered": 1, "failed": 1}, "email": {"delivered": 1},
                     "signal": {"sending": 1}},
    }, doc


def test_status_of_an_alert_gives_percent_done_and_an_eta():
    cfg = harness.write_config()
    now = int(time.time() * 1000)
    cfg.server.client.hset(cfg.key("job:eta-1"), mapping={
        "kind": "action_alert", "created": str(now - 40000), "messages": "11",
        "x": "done", "xn": "10", "xdup": "0", "list": "south-la",
        "c:sms:sent": "3", "c:email:delivered": "1", "c:sms:scheduled": "6",
        "c:sms:failed": "1"})
    r = harness.run_cli(cfg, "status", "eta-1")
    assert r.returncode == 0, r.stderr
    # Per channel (eta.h): 4 texts done in 40 s, 6 to go at that rate: about
    # 60 s more; email has nothing left.
    assert "people    10 people, 11 messages (1 fallbacks)\n" in r.stdout, r.stdout
    assert "progress  5 of 11 messages done (45.5%), all done about 20" in r.stdout, r.stdout
    assert "America/Los_Angeles\n" in r.stdout.split("progress")[1], r.stdout
    js = json.loads(harness.run_cli(cfg, "status", "--json", "eta-1").stdout)
    eta = datetime.datetime.strptime(js["progress"]["eta"], "%Y-%m-%dT%H:%M:%S.%fZ")
    eta_ms = int(eta.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    assert abs(eta_ms - (now + 60000)) < 5000, (eta_ms - now, js)
    assert js["progress"]["final"] == 5 and js["progress"]["messages"] == 11, js


def test_status_groups_failure_reasons_by_count_and_tells_retrying_from_scheduled():
    cfg = harness.write_config()
    c = cfg.server.client
    msgs = ([("failed", "1", "twilio 21211: invalid To number")] * 3 +
            [("scheduled", "1", "http 503")] * 2 +
            [("scheduled", "0", "held by quiet hours")] +
            [("failed", "2", "twilio 30003: unreachable")] +
            [("sent", "1", "")] * 2)
    c.hset(cfg.key("job:grp-1"), mapping={
        "kind": "action_alert", "created": "1795893791250", "messages": str(len(msgs)),
        "seq": "1795893791250-0", "x": "done", "xn": str(len(msgs)), "xdup": "0",
        "c:sms:failed": "4", "c:sms:scheduled": "3", "c:sms:sent": "2"})
    for k, (st, attempt, err) in enumerate(msgs, 1):
        h = {"job": "grp-1", "kind": "action_alert", "channel": "sms", "status": st,
             "attempt": attempt}
        if err:
            h["error"] = err
        c.hset(cfg.key("msg:m1795893791250-0.%d" % k), mapping=h)
    r = harness.run_cli(cfg, "status", "grp-1")
    assert r.returncode == 0, r.stderr
    tail = r.stdout.split("why not sent, by reason:\n")[1].splitlines()
    assert [l.split(None, 2) for l in tail] == [
        ["3", "failed", "twilio 21211: invalid To number"],
        ["2", "retrying", "http 503"],
        ["1", "failed", "twilio 30003: unreachable"]], r.stdout
    js = json.loads(harness.run_cli(cfg, "status", "--json", "grp-1").stdout)
    assert js["retrying"] == 2, js
    assert js["reasons"][0] == {"status": "failed", "reason": "twilio 21211: invalid To number",
                                "count": 3}, js


def read_jobs_as_pregond(cfg):
    """What a running pregond leaves: the group on <p>jobs and a consumer
    that has just read (XINFO CONSUMERS idle near 0)."""
    c = cfg.server.client
    try:
        c.xgroup_create(cfg.key("jobs"), "pregon", id="$", mkstream=True)
    except Exception:
        pass
    c.xgroup_createconsumer(cfg.key("jobs"), "pregon", "test-reader")


def test_status_of_an_unknown_job_says_no_such_job():
    cfg = harness.write_config()
    # Nobody ever read the queue: the reason why nothing is known is said.
    r = harness.run_cli(cfg, "status", "never-sent")
    assert r.returncode == 1
    assert r.stderr == ("pregon: no such job (no pregond has ever read %s: is pregond running "
                        "on this Redis and prefix?)\n" % cfg.key("jobs")), r.stderr
    read_jobs_as_pregond(cfg)
    r = harness.run_cli(cfg, "status", "never-sent")
    assert r.returncode == 1
    assert r.stderr == "pregon: no such job\n", r.stderr


def test_status_of_a_job_still_in_the_queue_says_queued_not_yet_read():
    cfg = harness.write_config()
    read_jobs_as_pregond(cfg)
    for i in range(1200):        # more than a page of the scan ahead of it
        cfg.server.client.xadd(cfg.key("jobs"), {"job": message_job("other-%d" % i)})
    entry = cfg.server.client.xadd(cfg.key("jobs"), {"job": message_job("waiting")})
    r = harness.run_cli(cfg, "status", "waiting")
    assert r.returncode == 0, r.stderr
    assert ("state     queued; not yet read (entry %s, 1200 jobs ahead of it)\n" % entry
            in r.stdout), r.stdout
    assert "note" not in r.stdout, r.stdout
    js = json.loads(harness.run_cli(cfg, "status", "--json", "waiting").stdout)
    assert js["state"] == "queued" and js["entry"] == entry and js["ahead"] == 1200, js
    assert js["statuses"] == {} and js["channels"] == {} and js["note"] is None, js
    # With no reader the job waits because nobody reads, and that is said.
    # (Redis cannot age a consumer on demand, so the idle-for-a-while
    # branch is the same line with the consumer's idle time.)
    cfg2 = harness.write_config()
    e2 = cfg2.server.client.xadd(cfg2.key("jobs"), {"job": message_job("w2")})
    r = harness.run_cli(cfg2, "status", "w2")
    assert r.returncode == 0, r.stderr
    assert "state     queued; not yet read (entry %s, 0 jobs ahead of it)" % e2 in r.stdout
    assert ("note      no pregond has ever read %s: is pregond running" % cfg2.key("jobs")
            in r.stdout), r.stdout


def test_status_of_a_job_read_but_not_yet_recorded_is_not_no_such_job():
    # Between pregond's read and its accept script a job has no record:
    # `status --watch` started then must not stop at "no such job".
    cfg = harness.write_config()
    c = cfg.server.client
    read_jobs_as_pregond(cfg)
    lease = c.xadd(cfg.key("jobs"), {"job": message_job("held-lease")})
    taken = c.xadd(cfg.key("jobs"), {"job": message_job("being-read")})
    c.xadd(cfg.key("jobs"), {"job": message_job("bad-acked")})
    c.xreadgroup("pregon", "test-reader", {cfg.key("jobs"): ">"}, count=3)
    r = harness.run_cli(cfg, "status", "being-read")
    assert r.returncode == 0, r.stderr
    assert ("state     read by pregond (entry %s); its messages are being recorded\n" % taken
            in r.stdout), r.stdout
    js = json.loads(harness.run_cli(cfg, "status", "--json", "being-read").stdout)
    assert js["state"] == "reading" and js["entry"] == taken, js
    # A read and acknowledged job behind an older held entry (a message's
    # lease) was dealt with: its dead letter answers.
    bad = c.xrange(cfg.key("jobs"))[-1][0]
    c.xack(cfg.key("jobs"), "pregon", bad, taken)
    add_dead(cfg, message_job("bad-acked"), "body: too long", "2026-11-28T19:23:11.250Z")
    assert lease in [e["message_id"] for e in c.xpending_range(cfg.key("jobs"), "pregon",
                                                                "-", "+", 10)]
    r = harness.run_cli(cfg, "status", "bad-acked")
    assert "state     rejected: body: too long\n" in r.stdout, r.stdout
    r = harness.run_cli(cfg, "status", "being-read")
    assert r.returncode == 1 and r.stderr == "pregon: no such job\n", r


def test_status_of_a_rejected_job_gives_the_dead_letters_reason():
    cfg = harness.write_config()
    read_jobs_as_pregond(cfg)
    bad = json.dumps({"id": "bad-1", "kind": "message", "body": "x",
                      "recipient": {"id": "c", "phone": "323-555-0100"}})
    entry = add_dead(cfg, bad, 'recipient.phone: not an E.164 number: "323-555-0100"',
                     "2026-11-28T19:23:11.250Z")
    for i in range(700):         # newer dead letters of other jobs
        add_dead(cfg, message_job("other-%d" % i), "r", "1")
    r = harness.run_cli(cfg, "status", "bad-1")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "state     rejected: recipient.phone: not an E.164 number" in out, out
    assert "323-555-0100" not in out, "addresses are redacted: " + out
    assert "at        2026-11-28 11:23:11 UTC-08:00 America/Los_Angeles\n" in out, out
    assert "dead      %s (pregon dead show %s" % (entry, entry) in out, out
    js = json.loads(harness.run_cli(cfg, "status", "--json", "bad-1").stdout)
    assert js["state"] == "rejected" and js["dead_entry"] == entry, js
    assert js["reason"].startswith("recipient.phone: not an E.164 number"), js


# ---- tail ----

def test_tail_count_prints_new_events_then_exits():
    cfg = harness.write_config()
    key = cfg.key("events")
    cfg.server.client.xadd(key, {"event": event("old", "accepted")})
    p = harness.start_cli(cfg, "tail", "--count", "2")
    wait_for_xread_client(cfg)
    sent = [event("j1", "accepted"), event("j1", "sent"), event("j1", "delivered")]
    for e in sent:
        cfg.server.client.xadd(key, {"event": e})
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert out.splitlines() == sent[:2], out


def test_tail_all_reads_from_the_start_and_filters_by_job():
    cfg = harness.write_config()
    key = cfg.key("events")
    evs = [event("a", "accepted"), event("b", "accepted"), event("a", "sent"),
           event("b", "sent"), event("a", "delivered")]
    for e in evs:
        cfg.server.client.xadd(key, {"event": e})
    r = harness.run_cli(cfg, "tail", "--all", "--job", "a", "--count", "3", timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [evs[0], evs[2], evs[4]], r.stdout


def test_tail_from_starts_after_the_given_id():
    cfg = harness.write_config()
    key = cfg.key("events")
    ids = [cfg.server.client.xadd(key, {"event": event("j", s)})
           for s in ("accepted", "sent", "delivered")]
    r = harness.run_cli(cfg, "tail", "--from", ids[0], "--count", "2", timeout=10)
    assert r.returncode == 0, r.stderr
    assert [json.loads(l)["status"] for l in r.stdout.splitlines()] == ["sent", "delivered"]


def test_tail_stops_on_sigterm_and_sigint_with_exit_0():
    for sig in (signal.SIGTERM, signal.SIGINT):
        cfg = harness.write_config()
        p = harness.start_cli(cfg, "tail")
        wait_for_xread_client(cfg)
        t0 = time.monotonic()
        p.send_signal(sig)
        out, err = p.communicate(timeout=5)
        assert p.returncode == 0, (sig, p.returncode, err)
        assert err == "", err
        assert time.monotonic() - t0 < 1.0, "tail should stop at once, not after BLOCK"


def test_tail_rejects_from_and_all_together():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "tail", "--all", "--from", "0-0")
    harness.one_line_error(r)
    assert r.returncode == 2


# ---- dead ----

def add_dead(cfg, job, reason, at):
    return cfg.server.client.xadd(cfg.key("dead"), {"job": job, "reason": reason, "at": at})


def test_dead_list_prints_one_line_per_entry_without_addresses():
    cfg = harness.write_config()
    bad = json.dumps({"id": "evt-551", "kind": "message",
                      "recipient": {"id": "c1", "phone": "323-555", "email": EMAIL},
                      "body": "call " + PHONE})
    id1 = add_dead(cfg, bad, 'recipient.phone: not an E.164 number: "323-555"',
                   "2026-11-22T19:03:11.250Z")
    id2 = add_dead(cfg, "{not json " + PHONE, "job: not JSON", "1795893791250")
    id3 = add_dead(cfg, message_job("evt-9", phone="3235550100"),
                   'recipient.phone: not an E.164 number: "3235550100"', "1795893791250")
    r = harness.run_cli(cfg, "dead", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3, r.stdout
    assert lines[0] == ('%s 2026-11-22T19:03:11.250Z evt-551 recipient.phone: '
                        'not an E.164 number: "323-555"' % id1), lines[0]
    assert lines[1] == "%s %s - job: not JSON" % (id2, iso_ms(1795893791250)), lines[1]
    assert lines[2].startswith("%s %s evt-9 recipient.phone" % (id3, iso_ms(1795893791250)))
    for secret in (PHONE, "3235550100", EMAIL, "call"):
        assert secret not in r.stdout, (secret, r.stdout)


def test_dead_list_count_shows_the_most_recent_oldest_first():
    cfg = harness.write_config()
    ids = [add_dead(cfg, message_job("d%d" % i), "reason %d" % i, "1795893791250")
           for i in range(5)]
    r = harness.run_cli(cfg, "dead", "list", "--count", "2")
    assert r.returncode == 0, r.stderr
    assert [l.split()[0] for l in r.stdout.splitlines()] == ids[3:], r.stdout


def test_dead_list_pages_through_a_long_stream():
    cfg = harness.write_config()
    pipe = cfg.server.client.pipeline(transaction=False)
    for i in range(250):
        pipe.xadd(cfg.key("dead"), {"job": message_job("p%d" % i), "reason": "r", "at": "1"})
    ids = pipe.execute()
    r = harness.run_cli(cfg, "dead", "list")
    assert r.returncode == 0, r.stderr
    assert [l.split()[0] for l in r.stdout.splitlines()] == ids


def test_dead_list_of_an_empty_stream_prints_nothing():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "dead", "list")
    assert r.returncode == 0 and r.stdout == "", (r.returncode, r.stdout, r.stderr)


def test_dead_show_prints_the_stored_job():
    cfg = harness.write_config()
    job = message_job("shown", phone="323-555")
    id1 = add_dead(cfg, job, "bad phone", "1")
    r = harness.run_cli(cfg, "dead", "show", id1)
    assert r.returncode == 0, r.stderr
    assert r.stdout == job + "\n", r.stdout


def test_dead_show_of_an_unknown_entry_fails():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "dead", "show", "1-0")
    reason = harness.one_line_error(r)
    assert r.returncode == 1 and "no such" in reason, reason


def test_dead_replay_moves_the_job_back_to_the_queue():
    cfg = harness.write_config()
    job = message_job("replay-me")
    keep = add_dead(cfg, message_job("stay"), "r", "1")
    id1 = add_dead(cfg, job, "temporary", "1")
    r = harness.run_cli(cfg, "dead", "replay", id1)
    assert r.returncode == 0, r.stderr
    new_id = r.stdout.strip()
    assert entries(cfg, "jobs") == [(new_id, {"job": job})]
    assert [i for i, _ in entries(cfg, "dead")] == [keep]


def test_dead_replay_all_moves_every_entry():
    cfg = harness.write_config()
    pipe = cfg.server.client.pipeline(transaction=False)
    jobs = [message_job("all-%d" % i) for i in range(230)]
    for j in jobs:
        pipe.xadd(cfg.key("dead"), {"job": j, "reason": "r", "at": "1"})
    pipe.execute()
    r = harness.run_cli(cfg, "dead", "replay", "--all")
    assert r.returncode == 0, r.stderr
    queued = entries(cfg, "jobs")
    assert r.stdout.split() == [i for i, _ in queued]
    assert [f["job"] for _, f in queued] == jobs
    assert cfg.server.client.xlen(cfg.key("dead")) == 0


def test_dead_replay_of_an_unknown_entry_queues_nothing():
    cfg = harness.write_config()
    add_dead(cfg, message_job("x"), "r", "1")
    r = harness.run_cli(cfg, "dead", "replay", "1-1")
    reason = harness.one_line_error(r)
    assert r.returncode == 1 and "no such" in reason, reason
    assert cfg.server.client.xlen(cfg.key("jobs")) == 0
    assert cfg.server.client.xlen(cfg.key("dead")) == 1


def test_dead_replay_needs_an_id_or_all():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "dead", "replay")
    harness.one_line_error(r)
    assert r.returncode == 2


# ---- usage ----

def test_unknown_command_exits_2_with_one_line():
    r = harness.run_cli(None, "frobnicate")
    reason = harness.one_line_error(r)
    assert r.returncode == 2
    assert "frobnicate" in reason, reason


def test_no_command_exits_2_with_one_line():
    r = harness.run_cli(None)
    reason = harness.one_line_error(r)
    assert r.returncode == 2
    assert "--help" in reason, reason


def test_unknown_option_exits_2():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "status", "--bogus", "x")
    harness.one_line_error(r)
    assert r.returncode == 2


def test_help_works_everywhere():
    for args in (["--help"], ["-h"], ["send", "--help"], ["status", "--help"],
                 ["tail", "--help"], ["dead", "--help"], ["dead", "list", "--help"],
                 ["dead", "replay", "--help"], ["optout", "--help"], ["contacts", "--help"],
                 ["template", "--help"]):
        # No -c and no Redis: help must not need either.
        r = harness.run_cli(None, *args)
        assert r.returncode == 0, (args, r.returncode, r.stderr)
        assert "usage" in r.stdout, (args, r.stdout)
        assert r.stderr == "", (args, r.stderr)


def test_template_usage_errors_exit_2():
    for args in (["template"], ["template", "show", "a", "b", "c", "d"],
                 ["template", "render", "court_reminder", "en", "sms"]):
        r = harness.run_cli(None, *args)
        assert r.returncode == 2, (args, r.returncode)
        assert r.stderr == ("pregon: template: usage: template render NAME LANG CHANNEL "
                            "VARS.json\n"), r.stderr


# ---- optout ----

def test_optout_add_list_history_remove_keeps_a_ledger():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "optout", "add", "sms", PHONE, "called the office")
    assert r.returncode == 0, r.stderr
    assert "opted out" in r.stdout
    assert cfg.server.client.sismember(cfg.key("optout:sms"), PHONE)
    r = harness.run_cli(cfg, "optout", "add", "sms", PHONE)
    assert "(no change)" in r.stdout
    r = harness.run_cli(cfg, "optout", "add", "email", "Ana@Example.ORG")
    assert r.returncode == 0, r.stderr
    assert cfg.server.client.sismember(cfg.key("optout:email"), "ana@example.org")
    r = harness.run_cli(cfg, "optout", "list")
    assert r.stdout.splitlines() == ["sms " + PHONE, "email ana@example.org"], r.stdout
    r = harness.run_cli(cfg, "optout", "list", "email")
    assert r.stdout.splitlines() == ["email ana@example.org"], r.stdout
    r = harness.run_cli(cfg, "optout", "remove", "sms", PHONE, "asked to resume")
    assert "opted in" in r.stdout and not cfg.server.client.sismember(cfg.key("optout:sms"), PHONE)
    r = harness.run_cli(cfg, "optout", "history", PHONE)
    entries = [json.loads(l) for l in r.stdout.splitlines()]
    assert [(e["action"], e["source"], e["changed"]) for e in entries] == [
        ("out", "operator", True), ("out", "operator", False), ("in", "operator", True)], entries
    assert entries[0]["detail"] == "called the office" and entries[0]["channel"] == "sms"
    assert entries[0]["at"].endswith("Z")


def test_optout_rejects_bad_channel_and_address():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "optout", "add", "fax", PHONE)
    assert r.returncode == 2
    r = harness.run_cli(cfg, "optout", "add", "sms", "323-555")
    reason = harness.one_line_error(r)
    assert reason.startswith("address: not an E.164 number"), reason
    r = harness.run_cli(cfg, "optout", "history", "+1323555")
    assert r.returncode == 1


# ---- config ----

# Issue 13, finding 15: one way to find the config, for both binaries.

def env_without_conf(**extra):
    env = dict(os.environ)
    env.pop("PREGON_CONF", None)
    env.update(extra)
    return env


def pregon(args, env, cwd=None):
    import subprocess
    return subprocess.run([harness.binary("pregon")] + args, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=20)


def no_installed_config():
    import subprocess
    r = subprocess.run([harness.binary("pregon"), "--help"], capture_output=True, text=True,
                       env=env_without_conf())
    if "config: no config file" not in r.stdout:
        harness.skip("a config is installed on this machine: %s" % r.stdout.splitlines()[-1])


def test_the_config_is_c_then_pregon_conf_and_none_is_an_error_not_defaults():
    """Before: without -c, pregon read config/pregon.conf from the working
    directory or silently ran on built-in defaults (another Redis)."""
    no_installed_config()
    srv = harness.redis_server()
    a = harness.write_config(srv)
    b = harness.write_config(srv)
    srv.client.hset(a.key("job:in-a"), mapping={"kind": "message", "messages": "1"})
    # PREGON_CONF when there is no -c; --verbose says which file and why.
    r = pregon(["--verbose", "status", "in-a"], env_without_conf(PREGON_CONF=a.path))
    assert r.returncode == 0, r.stderr
    assert r.stderr == "pregon: config %s (from PREGON_CONF)\n" % a.path, r.stderr
    # -c wins over PREGON_CONF.
    r = pregon(["--verbose", "-c", b.path, "status", "in-a"], env_without_conf(PREGON_CONF=a.path))
    assert r.returncode == 1 and r.stderr.startswith("pregon: config %s (from -c)\n" % b.path), \
        r.stderr
    # --help names the file a command would read.
    r = pregon(["--help"], env_without_conf(PREGON_CONF=a.path))
    assert r.stdout.endswith("\nconfig: %s (from PREGON_CONF)\n" % a.path), r.stdout
    # Neither, nor an installed one: an error naming all three ways, even
    # with a config/pregon.conf in the working directory (no more guessing).
    work = harness.tempdir()
    os.mkdir(os.path.join(work, "config"))
    harness.write_config(srv, directory=os.path.join(work, "config"))
    r = pregon(["status", "in-a"], env_without_conf(), cwd=work)
    reason = harness.one_line_error(r)
    assert r.returncode == 1
    assert reason == ("no config file: give -c FILE, set PREGON_CONF, or install "
                      "/etc/pregon/pregon.conf (make install; config/pregon.conf is the "
                      "example)"), reason
    r = pregon(["--help"], env_without_conf())
    assert r.returncode == 0 and "\nconfig: no config file: give -c FILE" in r.stdout, r.stdout


def test_pregond_finds_its_config_the_same_way_and_says_which():
    import subprocess
    no_installed_config()
    pregond = harness.binary("pregond")
    r = subprocess.run([pregond], capture_output=True, text=True, env=env_without_conf(),
                       timeout=20)
    assert r.returncode == 1, r
    assert r.stderr == ("pregond: no config file: give -c FILE, set PREGON_CONF, or install "
                        "/etc/pregon/pregon.conf (make install; config/pregon.conf is the "
                        "example)\n"), r.stderr
    cfg = harness.write_config()
    r = subprocess.run([pregond, "--help"], capture_output=True, text=True,
                       env=env_without_conf(PREGON_CONF=cfg.path), timeout=20)
    assert r.returncode == 0 and "config: %s (from PREGON_CONF)\n" % cfg.path in r.stdout, r.stdout
    log = os.path.join(cfg.dir, "pregond.log")
    with open(log, "ab") as out:
        p = harness.spawn([pregond, "--verbose"], stdout=out, stderr=out,
                          env=env_without_conf(PREGON_CONF=cfg.path), cwd=harness.ROOT)
    try:
        harness.wait_for(lambda: "redis: store ready" in open(log).read(), what="pregond up")
        text = open(log).read()
        assert "pregond: config %s (from PREGON_CONF)\n" % cfg.path in text, text
        assert "starting: config %s (from PREGON_CONF); redis" % cfg.path in text, text
    finally:
        assert harness.stop(p) == 0


def test_bad_config_is_reported_with_its_line():
    d = harness.tempdir()
    path = os.path.join(d, "bad.conf")
    with open(path, "w") as f:
        f.write("[retry]\nmax_attempts = 0\n")
    r = harness.run_cli(path, "status", "x")
    reason = harness.one_line_error(r)
    assert "max_attempts" in reason and ":2" in reason, reason


def test_missing_config_file_is_an_error():
    r = harness.run_cli("/nonexistent/pregon.conf", "status", "x")
    reason = harness.one_line_error(r)
    assert "/nonexistent/pregon.conf" in reason, reason


def test_dead_delete_drops_one_entry_and_refuses_an_unknown_one():
    # Contract 1.1: pregon dead delete ID (a dead letter holds a whole job).
    cfg = harness.write_config()
    keep = add_dead(cfg, message_job("stay"), "r", "1")
    gone = add_dead(cfg, message_job("go"), "r", "1")
    r = harness.run_cli(cfg, "dead", "delete", gone)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "deleted %s\n" % gone, r.stdout
    assert [i for i, _ in entries(cfg, "dead")] == [keep]
    r = harness.run_cli(cfg, "dead", "delete", gone)
    assert r.returncode == 1 and r.stderr == "pregon: no such dead-letter entry: %s\n" % gone, r
    r = harness.run_cli(cfg, "dead", "delete", "x")
    assert r.returncode == 2 and "not a stream id" in r.stderr, r
    assert [i for i, _ in entries(cfg, "dead")] == [keep]


# ---- issue 13: CLI conventions ----

def test_version_on_both_binaries():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "--version")
    assert r.returncode == 0 and r.stdout.startswith("pregon ") and r.stdout.count(".") >= 2, r
    import subprocess
    d = subprocess.run([os.path.join(harness.BIN, "pregond"), "--version"],
                       capture_output=True, text=True, timeout=10)
    assert d.returncode == 0 and d.stdout == "pregond " + r.stdout[len("pregon "):], (d, r)


def test_tail_n_prints_the_last_events_of_a_job_and_no_follow_exits():
    cfg = harness.write_config()
    key = cfg.key("events")
    evs = [event("a" if i % 3 == 0 else "b", "s%d" % i) for i in range(2500)]
    pipe = cfg.server.client.pipeline()
    for e in evs:
        pipe.xadd(key, {"event": e})
    pipe.execute()
    want = [e for e in evs if json.loads(e)["job"] == "a"][-400:]
    r = harness.run_cli(cfg, "tail", "-n", "400", "--job", "a", "--no-follow", timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == want, r.stdout[:300]
    r = harness.run_cli(cfg, "tail", "-n", "3", "--no-follow", timeout=10)
    assert r.returncode == 0 and r.stdout.splitlines() == evs[-3:], r
    # --all --no-follow: the whole stream, then exit.
    r = harness.run_cli(cfg, "tail", "--all", "--no-follow", timeout=20)
    assert r.returncode == 0 and r.stdout.splitlines() == evs, r.stderr


def test_tail_n_then_follows_new_events():
    cfg = harness.write_config()
    key = cfg.key("events")
    old = [event("j", "accepted"), event("j", "sending")]
    for e in old:
        cfg.server.client.xadd(key, {"event": e})
    p = harness.start_cli(cfg, "tail", "-n", "1", "--count", "1")
    wait_for_xread_client(cfg)
    cfg.server.client.xadd(key, {"event": event("j", "sent")})
    out, err = p.communicate(timeout=10)
    # --count counts the new events only; the history comes first.
    assert p.returncode == 0, err
    assert out.splitlines() == [old[1], event("j", "sent")], out


def test_tail_n_is_bounded_and_not_with_from():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "tail", "-n", "0")
    assert r.returncode == 2 and "-n: must be 1..100000" in r.stderr, r
    r = harness.run_cli(cfg, "tail", "-n", "5", "--all")
    assert r.returncode == 2 and "not with --from or --all" in r.stderr, r


def test_listing_commands_take_json():
    cfg = harness.write_config()
    e1 = add_dead(cfg, message_job("j-1"), "recipient.phone: not an E.164 number", "2026-11-22T19:03:11.250Z")
    r = harness.run_cli(cfg, "dead", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert [json.loads(l) for l in r.stdout.splitlines()] == [
        {"entry": e1, "at": "2026-11-22T19:03:11.250Z", "job": "j-1",
         "reason": "recipient.phone: not an E.164 number"}], r.stdout
    assert harness.run_cli(cfg, "optout", "add", "sms", PHONE).returncode == 0
    r = harness.run_cli(cfg, "optout", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert [json.loads(l) for l in r.stdout.splitlines()] == [
        {"channel": "sms", "address": PHONE}], r.stdout
    for args in (("dead", "show", e1, "--json"), ("optout", "add", "sms", PHONE, "--json")):
        assert harness.run_cli(cfg, *args).returncode == 2, args


def test_cli_errors_show_the_operators_input_with_the_right_form():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "optout", "add", "sms", "(323) 555-0100")
    reason = harness.one_line_error(r)
    assert '"(323) 555-0100"' in reason, reason
    assert "expected +<country code><number>, e.g. +13235550100" in reason, reason
    r = harness.run_cli(cfg, "optout", "add", "email", "ana.example.org")
    reason = harness.one_line_error(r)
    assert "ana.example.org" in reason and "e.g. ana@example.org" in reason, reason


if __name__ == "__main__":
    harness.main(globals())
