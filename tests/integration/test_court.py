"""Court reminders end to end against a real redis-server, with the test
clock ([schedule] test_clock: the time is moved through <prefix>test:clock,
never by sleeping): reminders at their instants across DST and quiet hours,
the enrolment and change notices, replacement by case and recipient,
cancel by case, past offsets, overdue reminders after a downtime in due
order, two instances sending 1,000 reminders due in the same second
exactly once, quiet hours for other messages, templates refused at intake
and reloaded on SIGHUP."""

import calendar
import datetime
import json
import re
import os
import shutil
import signal
import time

import harness
from harness import wait_for

LA = "America/Los_Angeles"


def ms(iso):
    """'2027-01-14T21:30:00Z' -> Unix ms."""
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")
    return calendar.timegm(t.timetuple()) * 1000


def real_ms():
    return int(time.time() * 1000)


class Court:
    """A pregond (or several) with the test clock on, and helpers."""

    def __init__(self, sections=None, instances=1, now=None, server=None):
        base = {"schedule": {"tick": "20ms", "test_clock": "yes",
                             "quiet_hours": "21:00-08:00", "default_tz": LA},
                "jobs": {"reclaim_after": "1s"}}
        for k, v in (sections or {}).items():
            base.setdefault(k, {}).update(v)
        self.cfg = harness.write_config(server=server, sections=base)
        self.r = self.cfg.server.client
        if now is not None:
            self.set_clock(now)
        self.procs, self.logs = [], []
        for _ in range(instances):
            self.start()

    def start(self):
        log = os.path.join(self.cfg.dir, "pregond-%d.log" % time.monotonic_ns())
        self.logs.append(log)
        self.procs.append(harness.start_daemon(self.cfg, log=log))
        wait_for(lambda: "test clock: offset" in open(log, errors="replace").read(),
                 what="pregond reading the test clock")
        wait_for(lambda: "store ready" in open(log, errors="replace").read(),
                 what="pregond ready")

    def set_clock(self, at_ms):
        """Moves every instance's clock to at_ms (it runs on from there)."""
        self.r.set(self.cfg.key("test:clock"), at_ms - real_ms())
        # The instances poll every 20 ms.
        time.sleep(0.1)

    def log_text(self):
        out = ""
        for p in self.logs:
            with open(p, errors="replace") as f:
                out += f.read()
        return out

    def xadd(self, job):
        self.r.xadd(self.cfg.key("jobs"), {"job": json.dumps(job)})

    def outbox(self, ch="sms"):
        path = os.path.join(self.cfg.outbox, ch + ".jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def events(self, job=None, status=None):
        out = []
        for _, f in self.r.xrange(self.cfg.key("events")):
            e = json.loads(f["event"])
            if (job is None or e["job"] == job) and (status is None or e["status"] == status):
                out.append(e)
        return out

    def job(self, jid):
        return self.r.hgetall(self.cfg.key("job:" + jid))

    def counts(self, jid, channel="sms"):
        """{status: n} of a job's messages on channel (pregon status)."""
        return harness.job_status(self.cfg, jid)["channels"].get(channel, {})

    def first_message(self, jid):
        return self.events(jid, "accepted")[0]["message"]

    def msg(self, mid):
        return self.r.hgetall(self.cfg.key("msg:" + mid))

    def scheduled(self, job=None):
        """{message id: due ms} of the schedule, for one job or all."""
        out = {}
        for mid, score in self.r.zrange(self.cfg.key("scheduled"), 0, -1, withscores=True):
            if job is None or self.msg(mid).get("job") == job:
                out[mid] = int(score)
        return out

    def stop(self):
        for p in self.procs:
            harness.stop(p)
        self.procs = []


def reminder(jid, appearance, ref="LA-24CR-01234", rid="client-7", lang="en", tz=None,
             offsets=None, court="Clara Shortridge Foltz CJC", **extra):
    rcp = {"id": rid, "name": "Ana", "phone": "+13235550100", "lang": lang}
    if tz:
        rcp["tz"] = tz
    job = {"id": jid, "kind": "court_reminder",
           "case": {"ref": ref, "court": court, "department": "Dept. 30",
                    "address": "210 W Temple St, Los Angeles, CA 90012", "tz": LA},
           "appearance": appearance, "recipient": rcp}
    if offsets is not None:
        job["offsets"] = offsets
    job.update(extra)
    return job


def sent_at(c, mid):
    """The outbox line of message mid, or None."""
    for line in c.outbox():
        if line["message"] == mid:
            return line
    return None


def test_reminders_go_out_at_their_instants_and_never_name_the_charge():
    # Thursday 2027-01-14 13:30 PST (21:30Z); the job arrives ten days before.
    appearance = ms("2027-01-14T21:30:00Z")
    c = Court(now=ms("2027-01-04T20:00:00Z"))
    try:
        job = reminder("evt-1", "2027-01-14T13:30:00", offsets=["P7D", "P1D", "PT3H"],
                       charge="PC 459 burglary")
        job["case"]["charge"] = "PC 459 burglary"
        c.xadd(job)
        # The enrolment notice goes out now (12:00 PST: not quiet hours).
        wait_for(lambda: len(c.outbox()) == 1, what="the enrolment notice")
        notice = c.outbox()[0]
        assert "Thursday, January 14" in notice["body"] and "1:30 PM" in notice["body"], notice
        assert "STOP" in notice["body"]
        want = {ms("2027-01-07T21:30:00Z"), ms("2027-01-13T21:30:00Z"), ms("2027-01-14T18:30:00Z")}
        wait_for(lambda: set(c.scheduled("evt-1").values()) == want,
                 what="three reminders at appearance minus 7 days, 1 day, 3 hours")
        assert len(c.events("evt-1", "scheduled")) == 3
        # pregon status lists each message with its due time.
        r = harness.run_cli(c.cfg, "status", "evt-1")
        assert r.returncode == 0, r.stderr
        assert "case      LA-24CR-01234" in r.stdout, r.stdout
        # Issue 13: in the court's zone, with the offset it stands for.
        for due, lead in (("2027-01-07 13:30:00 UTC-08:00", "7d 00h00m"),
                          ("2027-01-13 13:30:00 UTC-08:00", "1d 00h00m"),
                          ("2027-01-14 10:30:00 UTC-08:00", "0d 03h00m")):
            want = "scheduled  at %s America/Los_Angeles: a reminder %s before the hearing" % (
                due, lead)
            assert any(want in line for line in r.stdout.splitlines()), (want, r.stdout)
        assert "+1323" not in r.stdout
        by_due = sorted(c.scheduled("evt-1").items(), key=lambda kv: kv[1])
        for k, (mid, due) in enumerate(by_due):
            c.set_clock(due - 3000)
            time.sleep(0.3)
            assert sent_at(c, mid) is None, "%s went out before its time" % mid
            c.set_clock(due)
            line = wait_for(lambda: sent_at(c, mid), timeout=5, what="reminder %d" % k)
            # The outbox stamps lines with pregond's clock: within a second.
            late = ms(line["at"][:19] + "Z") - due
            assert 0 <= late < 2000, (line["at"], due)
            assert line["to"] == "+13235550100"
        texts = [sent_at(c, mid)["body"] for mid, _ in by_due]
        assert "tomorrow" in texts[1] and "today" in texts[2], texts
        for t in texts + [notice["body"]]:
            assert "459" not in t and "burglary" not in t.lower(), t
        assert c.r.hget(c.cfg.key("job:evt-1"), "vars").find("459") < 0
        for e in c.events("evt-1"):
            assert "+1323" not in json.dumps(e)
    finally:
        c.stop()


def test_dst_weeks_and_quiet_hours_in_the_recipients_zone():
    # Monday 2027-03-15 08:30 PDT, the day after spring forward (03-14).
    c = Court(now=ms("2027-03-01T20:00:00Z"))
    try:
        c.xadd(reminder("dst-la", "2027-03-15T08:30:00", offsets=["P7D", "P1D", "PT3H"]))
        c.xadd(reminder("dst-ny", "2027-03-15T08:30:00", ref="NY-1", rid="client-ny",
                        tz="America/New_York", offsets=["PT3H"]))
        # P7D is 08:30 PST (16:30Z), P1D 08:30 PDT (15:30Z): calendar days,
        # not 24-hour steps. PT3H is 05:30 PDT, in Los Angeles' quiet hours:
        # it moves to the last allowed minute before them, 20:59 PDT the
        # evening before (03:59Z). In New York 05:30 PDT is 08:30 EDT: not
        # quiet there, so it stays.
        want_la = {ms("2027-03-08T16:30:00Z"), ms("2027-03-14T15:30:00Z"),
                   ms("2027-03-15T03:59:00Z")}
        wait_for(lambda: set(c.scheduled("dst-la").values()) == want_la,
                 what="Los Angeles reminders across DST")
        wait_for(lambda: set(c.scheduled("dst-ny").values()) == {ms("2027-03-15T12:30:00Z")},
                 what="the New York recipient's reminder")
    finally:
        c.stop()


def test_a_rescheduled_case_replaces_the_old_reminders_and_says_so():
    c = Court(now=ms("2027-01-04T20:00:00Z"))
    try:
        c.xadd(reminder("r-1", "2027-01-14T13:30:00"))
        wait_for(lambda: len(c.scheduled("r-1")) == 4, what="four reminders (default offsets)")
        wait_for(lambda: len(c.outbox()) == 1, what="the enrolment notice")
        old = set(c.scheduled("r-1"))
        # The court continues the hearing to January 21.
        c.xadd(reminder("r-2", "2027-01-21T09:00:00"))
        wait_for(lambda: len(c.scheduled("r-2")) == 4, what="the new reminders")
        assert not c.scheduled("r-1"), "the old reminders left the schedule"
        cancelled = {e["message"] for e in c.events("r-1", "cancelled")}
        assert cancelled == old, (cancelled, old)
        assert all(e["error"] == "replaced by job r-2" for e in c.events("r-1", "cancelled"))
        for mid in old:
            assert c.msg(mid)["status"] == "cancelled"
        # A change notice with the new date, not a second welcome.
        wait_for(lambda: len(c.outbox()) == 2, what="the change notice")
        first, change = c.outbox()[0]["body"], c.outbox()[1]["body"]
        assert "January 21" in change and "9:00 AM" in change and first != change, change
        # The same date and place again: the reminders are replaced, no notice.
        c.xadd(reminder("r-3", "2027-01-21T09:00:00"))
        wait_for(lambda: len(c.scheduled("r-3")) == 4, what="replaced again")
        time.sleep(0.3)
        assert len(c.outbox()) == 2
        # Another recipient of the same case is a first enrolment of its own.
        c.xadd(reminder("r-4", "2027-01-21T09:00:00", rid="client-8"))
        wait_for(lambda: len(c.outbox()) == 3, what="the second recipient's notice")
        assert len(c.scheduled("r-3")) == 4
        assert c.outbox()[2]["body"] == first.replace("January 14", "January 21").replace(
            "1:30 PM", "9:00 AM"), (first, c.outbox()[2]["body"])
        # After the hearing, the next one of the case is a new enrolment
        # (not a "change"), and the day-before reminder of the past one is
        # not cancelled by it (it went out already).
        c.set_clock(ms("2027-01-21T20:00:00Z"))
        c.xadd(reminder("r-5", "2027-02-11T09:00:00"))
        wait_for(lambda: c.outbox()[-1]["job"] == "r-5",
                 what="the next hearing's notice")
        assert "February 11" in c.outbox()[-1]["body"]
        assert c.outbox()[-1]["body"] == first.replace("Thursday, January 14", "Thursday, February 11").replace(
            "1:30 PM", "9:00 AM"), c.outbox()[-1]["body"]
    finally:
        c.stop()


def test_cancel_by_case_ref_cancels_every_pending_reminder_of_the_case():
    c = Court(now=ms("2027-01-04T20:00:00Z"),
              sections={"court_reminder": {"confirm_on_enrol": "no"}})
    try:
        c.xadd(reminder("c-1", "2027-01-14T13:30:00", ref="LA-9"))
        c.xadd(reminder("c-2", "2027-01-14T13:30:00", ref="LA-9", rid="client-8"))
        c.xadd(reminder("c-3", "2027-01-14T13:30:00", ref="LA-10", rid="client-9"))
        wait_for(lambda: len(c.scheduled()) == 12, what="twelve reminders")
        c.xadd({"id": "cancel-1", "kind": "cancel", "case_ref": "LA-9"})
        wait_for(lambda: len(c.scheduled()) == 4, what="the case's reminders cancelled")
        assert set(c.scheduled()) == set(c.scheduled("c-3"))
        assert len(c.events("c-1", "cancelled")) == 4 and len(c.events("c-2", "cancelled")) == 4
        assert c.job("cancel-1")["result"] == "8"
        assert [e["status"] for e in c.events("cancel-1")] == ["accepted"]
        # No enrolment notices at all with confirm_on_enrol = no.
        time.sleep(0.2)
        assert c.outbox() == []
        # Records live for the retention period after they are due, not
        # after the job came in (30 days by default).
        day = 86400
        mid = max(c.scheduled("c-3").items(), key=lambda kv: kv[1])[0]   # due on 01-14
        for key in ("job:c-3", "msg:" + mid, "case:LA-10", "cmz:client-9"):
            assert c.r.ttl(c.cfg.key(key)) > 30 * day + 9 * day, key
        c.xadd({"id": "later-1", "kind": "message", "body": "See you in March.",
                "send_at": "2027-03-05T18:00:00Z",
                "recipient": {"id": "m9", "phone": "+13235550119"}})
        wait_for(lambda: c.counts("later-1").get("scheduled") == 1, what="send_at")
        # The record and the key that finds it (a job of one message has
        # no job hash) live 30 days after March 5.
        for key in ("seen:later-1", "msg:" + c.first_message("later-1")):
            assert c.r.ttl(c.cfg.key(key)) > 30 * day + 59 * day, key
        # A cancel for a case nobody has is accepted and changes nothing.
        c.xadd({"id": "cancel-2", "kind": "cancel", "case_ref": "LA-404"})
        wait_for(lambda: c.job("cancel-2").get("result") == "0", what="empty cancel")
    finally:
        c.stop()


def test_past_offsets_expire_and_one_reminder_goes_out_now():
    # 10:00 PST on the day of an appearance at 13:30: every offset but PT3H
    # is past; PT3H (10:30) is ahead.
    c = Court(now=ms("2027-01-14T18:00:00Z"),
              sections={"court_reminder": {"confirm_on_enrol": "no"}})
    try:
        c.xadd(reminder("p-1", "2027-01-14T13:30:00"))
        wait_for(lambda: len(c.events("p-1", "expired")) == 3, what="three offsets expired")
        assert list(c.scheduled("p-1").values()) == [ms("2027-01-14T18:30:00Z")]
        # At 12:00 every offset is past, the appearance is not: one now.
        c.set_clock(ms("2027-01-14T20:00:00Z"))
        c.xadd(reminder("p-2", "2027-01-14T13:30:00", ref="LA-2"))
        wait_for(lambda: len(c.events("p-2", "expired")) == 4, what="four offsets expired")
        line = wait_for(lambda: [o for o in c.outbox() if o["job"] == "p-2"],
                        what="the catch-up reminder")[0]
        assert "today" in line["body"], line
        # After the appearance: nothing is sent at all.
        c.set_clock(ms("2027-01-14T22:00:00Z"))
        c.xadd(reminder("p-3", "2027-01-14T13:30:00", ref="LA-3"))
        wait_for(lambda: len(c.events("p-3", "expired")) == 4, what="all expired")
        time.sleep(0.3)
        assert not [o for o in c.outbox() if o["job"] == "p-3"]
    finally:
        c.stop()


def test_overdue_reminders_after_an_hour_down_go_out_in_due_order_unless_expired():
    c = Court(now=ms("2027-01-10T16:00:00Z"),
              sections={"court_reminder": {"confirm_on_enrol": "no"},
                        "sms": {"concurrency": "1"}})
    try:
        # Appearances 12:30..15:30 PST (20:30Z..23:30Z) on 01-10 with PT3H:
        # reminders due 17:30Z..20:30Z, one per job, in reverse order of
        # arrival.
        for i in range(4):
            hour = 15 - i
            c.xadd(reminder("o-%d" % i, "2027-01-10T%02d:30:00" % hour, ref="LA-o%d" % i,
                            rid="client-o%d" % i, offsets=["PT3H"]))
        wait_for(lambda: len(c.scheduled()) == 4, what="four reminders")
        c.stop()
        # pregond is down while all of them fall due; by 20:45Z the
        # earliest appearance (12:30 PST = 20:30Z) is past: that one expires.
        c.set_clock(ms("2027-01-10T20:45:00Z"))
        c.start()
        wait_for(lambda: len(c.outbox()) == 3, what="three overdue reminders")
        assert [o["job"] for o in c.outbox()] == ["o-2", "o-1", "o-0"]
        wait_for(lambda: len(c.events("o-3", "expired")) == 1, what="the stale one expired")
        assert not c.scheduled()
    finally:
        c.stop()


def test_reminders_survive_a_redis_crash_and_go_out_once():
    # Redis with AOF fsynced at every write, SIGKILLed with 50 reminders
    # scheduled and pregond running: they are all still there and each is
    # sent once when due.
    red = harness.RedisServer(extra=("--appendfsync", "always"))
    c = Court(now=ms("2027-01-10T18:00:00Z"), server=red,
              sections={"court_reminder": {"confirm_on_enrol": "no"}})
    try:
        for i in range(50):
            c.xadd(reminder("rc-%d" % i, "2027-01-12T13:30:00", ref="LA-r%d" % i,
                            rid="client-r%d" % i, offsets=["P1D"]))
        wait_for(lambda: c.r.zcard(c.cfg.key("scheduled")) == 50, what="50 scheduled")
        red.restart(signal.SIGKILL)
        c.r = red.client
        assert c.r.zcard(c.cfg.key("scheduled")) == 50
        # pregond reconnects on its own; the test clock key came back too.
        wait_for(lambda: "redis writer: down" in c.log_text(), what="pregond saw the crash")
        wait_for(lambda: "redis: store ready" in c.log_text().split("redis writer: down")[-1],
                 timeout=15, what="pregond back on Redis")
        c.set_clock(ms("2027-01-11T21:30:00Z"))
        wait_for(lambda: len(c.outbox()) >= 50, timeout=15, what="50 reminders out")
        time.sleep(0.3)
        assert sorted(o["job"] for o in c.outbox()) == sorted("rc-%d" % i for i in range(50))
    finally:
        c.stop()
        red.stop()


def test_two_instances_send_1000_reminders_due_in_the_same_second_exactly_once():
    c = Court(now=ms("2027-01-10T18:00:00Z"), instances=2,
              sections={"court_reminder": {"confirm_on_enrol": "no"},
                        "sms": {"concurrency": "64"}})
    try:
        p = c.r.pipeline(transaction=False)
        for i in range(1000):
            p.xadd(c.cfg.key("jobs"), {"job": json.dumps(reminder(
                "x-%d" % i, "2027-01-12T13:30:00", ref="LA-x%d" % i, rid="client-x%d" % i,
                offsets=["P1D"]))})
        p.execute()
        wait_for(lambda: c.r.zcard(c.cfg.key("scheduled")) == 1000, timeout=30,
                 what="1000 reminders scheduled")
        due = ms("2027-01-11T21:30:00Z")
        assert set(int(s) for _, s in c.r.zrange(c.cfg.key("scheduled"), 0, -1,
                                                 withscores=True)) == {due}
        c.set_clock(due)
        wait_for(lambda: len(c.outbox()) >= 1000, timeout=30, what="1000 reminders out")
        time.sleep(0.5)
        lines = c.outbox()
        mids = [o["message"] for o in lines]
        assert len(mids) == 1000 and len(set(mids)) == 1000, (len(mids), len(set(mids)))
        assert {o["job"] for o in lines} == {"x-%d" % i for i in range(1000)}
        sent = c.events(status="sent")
        assert len(sent) == 1000 and len({e["message"] for e in sent}) == 1000
        # Each instance's own count of what it sent adds up to the 1,000.
        counts = [harness.metric(log, r'pregon_messages_total\{channel="sms",outcome="sent"\} (\d+)')
                  for log in c.logs]
        print("# 1000 reminders due in one second: sent %s by the two instances" % counts)
        assert sum(counts) == 1000, counts
    finally:
        c.stop()


def test_quiet_hours_hold_messages_and_normal_alerts_but_not_urgent_ones():
    # 23:00 PST: quiet in Los Angeles until 08:00 (16:00Z the next day).
    c = Court(now=ms("2027-01-11T07:00:00Z"))
    try:
        c.xadd({"id": "qm-1", "kind": "message", "body": "Town hall tomorrow.",
                "recipient": {"id": "m1", "phone": "+13235550111"}})
        c.xadd({"id": "qa-urgent", "kind": "action_alert", "urgent": True,
                "audience": {"recipients": [{"id": "m2", "phone": "+13235550112"}]},
                "message": "ICE activity at 5th & Main."})
        c.xadd({"id": "qa-normal", "kind": "action_alert",
                "audience": {"recipients": [{"id": "m3", "phone": "+13235550113"},
                                            {"id": "m4", "phone": "+13235550114",
                                             "tz": "Pacific/Honolulu"}]},
                "message": "Meeting Thursday."})
        wait_for(lambda: [o["job"] for o in c.outbox()] == ["qa-urgent"],
                 what="only the urgent alert goes out at night")
        open_ms = ms("2027-01-11T16:00:00Z")
        wait_for(lambda: open_ms in c.scheduled("qm-1").values(),
                 what="the message due when quiet hours end")
        # The normal alert is held by the engine in each recipient's zone:
        # Honolulu (21:00 HST, quiet) opens at 08:00 HST = 18:00Z.
        # (The engine holds it for the time left, counted from when it
        # looked: due a few milliseconds after the window opens.)
        def held():
            due = sorted(c.scheduled("qa-normal").values())
            return len(due) == 2 and all(0 <= d - w < 1000 for d, w in zip(
                due, [open_ms, ms("2027-01-11T18:00:00Z")]))
        wait_for(held, what="the normal alert held")
        held = c.events("qa-normal", "scheduled")
        assert len(held) == 2 and all(e["error"] == "held by quiet hours" for e in held), held
        # Held when read, never claimed: no `sending`, no attempt counted.
        assert not c.events("qa-normal", "sending")
        assert all(e["attempt"] == 0 for e in held), held
        c.set_clock(open_ms + 1000)
        wait_for(lambda: {o["job"] for o in c.outbox()} == {"qa-urgent", "qm-1", "qa-normal"},
                 what="quiet hours over in Los Angeles")
        time.sleep(0.3)
        assert len(c.outbox()) == 3, "Honolulu's recipient still waits"
        assert any(0 <= d - ms("2027-01-11T18:00:00Z") < 1000
                   for d in c.scheduled("qa-normal").values())
        c.set_clock(ms("2027-01-11T18:00:01Z"))
        wait_for(lambda: len(c.outbox()) == 4, what="quiet hours over in Honolulu")
    finally:
        c.stop()


def test_a_retry_that_falls_due_in_quiet_hours_waits_for_them_to_end():
    # 20:59:50 PST: a message fails for now; its retry falls due after 21:00
    # and is read inside quiet hours: held (from the schedule's ready entry,
    # which carries the recipient's zone), never claimed, until 08:00.
    c = Court(now=ms("2027-01-11T04:59:50Z"),
              sections={"sms": {"provider": "faulty"},
                        "retry": {"base_delay": "20s", "max_delay": "20s"}})
    try:
        c.xadd({"id": "rq-1", "kind": "message", "body": "Meeting moved. [temp-fail:1]",
                "recipient": {"id": "m1", "phone": "+13235550111"}})
        wait_for(lambda: len(c.events("rq-1", "scheduled")) == 1, what="the retry scheduled")
        retry_at = c.scheduled("rq-1")
        c.set_clock(max(retry_at.values()) + 100)
        open_ms = ms("2027-01-11T16:00:00Z")
        wait_for(lambda: any(0 <= d - open_ms < 1000 for d in c.scheduled("rq-1").values()),
                 what="held until 08:00")
        assert c.events("rq-1", "scheduled")[-1]["error"] == "held by quiet hours"
        assert len(c.events("rq-1", "sending")) == 1, "the retry was never claimed"
        assert not c.outbox()
        c.set_clock(open_ms + 1000)
        line = wait_for(lambda: c.outbox(), what="sent when the window opens")[0]
        assert line["attempt"] == 2, line
    finally:
        c.stop()


def test_a_message_whose_sender_died_is_held_not_lost_when_taken_over_at_night():
    # 20:59:50 PST: a message is claimed at intake (status sending) and its
    # pregond is killed in the middle of the send. The next instance takes
    # the job entry over at 21:30, queues the message again, reads it inside
    # quiet hours and holds it until 08:00: a message in `sending` is held
    # like any other (it was once acknowledged and lost to every queue).
    c = Court(now=ms("2027-01-11T04:59:50Z"), sections={"sms": {"provider": "faulty"}})
    try:
        c.xadd({"id": "hs-1", "kind": "message", "body": "Meeting moved. [slow:60000]",
                "recipient": {"id": "m1", "phone": "+13235550111"}})
        wait_for(lambda: len(c.events("hs-1", "sending")) == 1, what="claimed at intake")
        for p in c.procs:
            p.kill()
            p.wait()
        c.procs = []
        c.set_clock(ms("2027-01-11T05:30:00Z"))
        c.start()
        open_ms = ms("2027-01-11T16:00:00Z")
        wait_for(lambda: any(0 <= d - open_ms < 1000 for d in c.scheduled("hs-1").values()),
                 what="held until 08:00")
        held = c.events("hs-1", "scheduled")
        assert [e["error"] for e in held] == ["held by quiet hours"], held
        assert c.msg(c.first_message("hs-1"))["status"] == "scheduled"
        assert len(c.events("hs-1", "sending")) == 1, "not claimed again at night"
        c.set_clock(open_ms + 1000)
        wait_for(lambda: [e["attempt"] for e in c.events("hs-1", "sending")] == [1, 2],
                 what="claimed again when the window opens")
    finally:
        c.stop()


def test_a_reminder_retry_in_quiet_hours_waits_unless_the_hearing_comes_first():
    # Two reminders due 20:59 PST, the last minute before quiet hours, both
    # fail for now; their retries fall due after 21:00. The one for a 10:00
    # hearing is held until 08:00; the one for a 07:30 hearing, whose window
    # opens only after it, goes out at night: a late text beats none.
    c = Court(now=ms("2027-01-12T04:58:00Z"),
              sections={"sms": {"provider": "faulty"},
                        "court_reminder": {"confirm_on_enrol": "no"},
                        "retry": {"base_delay": "5m", "max_delay": "5m"}})
    try:
        c.xadd(reminder("rr-late", "2027-01-12T10:00:00", ref="LA-rr1", rid="client-r1",
                        offsets=["PT13H1M"], recipient={"id": "client-r1", "name": "Ana [temp-fail:1]",
                                                        "phone": "+13235550101"}))
        c.xadd(reminder("rr-early", "2027-01-12T07:30:00", ref="LA-rr2", rid="client-r2",
                        offsets=["PT10H31M"], recipient={"id": "client-r2", "name": "Bo [temp-fail:1]",
                                                         "phone": "+13235550102"}))
        wait_for(lambda: len(c.scheduled()) == 2, what="two reminders")
        due = ms("2027-01-12T04:59:00Z")
        assert set(c.scheduled().values()) == {due}
        c.set_clock(due + 100)
        wait_for(lambda: all(len(c.events(j, "scheduled")) == 2 for j in ("rr-late", "rr-early")),
                 what="both retries scheduled")
        retry_at = max(c.scheduled().values())
        assert retry_at > ms("2027-01-12T05:00:00Z"), "the retries fall due inside quiet hours"
        c.set_clock(retry_at + 100)
        line = wait_for(lambda: [o for o in c.outbox() if o["job"] == "rr-early"],
                        what="the 07:30 hearing's reminder sent at night")[0]
        assert line["attempt"] == 2, line
        open_ms = ms("2027-01-12T16:00:00Z")
        wait_for(lambda: any(0 <= d - open_ms < 1000 for d in c.scheduled("rr-late").values()),
                 what="the 10:00 hearing's reminder held until 08:00")
        assert c.events("rr-late", "scheduled")[-1]["error"] == "held by quiet hours"
        assert not [o for o in c.outbox() if o["job"] == "rr-late"]
        assert not [e for e in c.events("rr-early") if e["error"] == "held by quiet hours"]
        c.set_clock(open_ms + 1000)
        line = wait_for(lambda: [o for o in c.outbox() if o["job"] == "rr-late"],
                        what="sent when the window opens")[0]
        assert line["attempt"] == 2, line
        assert "Hi Ana" in line["body"], line
    finally:
        c.stop()


def test_the_contact_index_drops_the_ids_of_records_past_retention():
    # cmz:<contact> lists the messages that hold a contact's addresses (for
    # contact_delete); its TTL is refreshed by every message, so without
    # pruning a contact messaged every day would keep every id for ever.
    c = Court(now=ms("2027-01-10T18:00:00Z"))
    try:
        def send(jid):
            c.xadd({"id": jid, "kind": "message", "body": "Office hours moved.",
                    "recipient": {"id": "ix", "phone": "+13235550131"}})
            wait_for(lambda: c.counts(jid).get("sent") == 1, what=jid + " sent")
            return c.first_message(jid)
        first = send("ix-1")
        second = send("ix-2")
        assert c.r.zrange(c.cfg.key("cmz:ix"), 0, -1) == [first, second]
        # 31 days on, past [events] retention_days (30): the first two
        # records are gone, and so are their ids.
        c.set_clock(ms("2027-02-10T18:00:01Z"))
        third = send("ix-3")
        assert c.r.zrange(c.cfg.key("cmz:ix"), 0, -1) == [third]
    finally:
        c.stop()


def test_templates_refuse_a_job_they_cannot_render_and_reload_on_sighup():
    tdir = harness.tempdir("pregon-templates-")
    src = os.path.join(harness.ROOT, "config", "templates")
    for name in ("court_reminder", "court_enrolment"):
        shutil.copytree(os.path.join(src, name), os.path.join(tdir, name))
    # An English SMS that needs the address, unconditionally.
    path = os.path.join(tdir, "court_reminder", "en.sms")
    with open(path, "w") as f:
        f.write("Court {{date}} {{time}} at {{address}}. Reply STOP to stop.")
    c = Court(now=ms("2027-01-04T20:00:00Z"), sections={"templates": {"dir": tdir}})
    try:
        job = reminder("t-1", "2027-01-14T13:30:00")
        del job["case"]["address"]
        c.xadd(job)
        # Said at load already: the template prints a value jobs may lack.
        assert ('court_reminder/en.sms: line 1, column 28: variable "address" has no value: '
                'jobs without that value will be refused') in c.log_text(), c.log_text()
        dead = wait_for(lambda: c.r.xrange(c.cfg.key("dead")), what="dead letter")
        reason = dead[0][1]["reason"]
        assert reason == ('court_reminder/en.sms: line 1, column 28: variable "address" '
                          'has no value'), reason
        # The template's place and variable are ours, not the job's: public.
        assert [e["error"] for e in c.events("t-1", "rejected")] == [
            'court_reminder/en.sms: line 1, column 28: variable "address" has no value']
        c.xadd(reminder("t-2", "2027-01-14T13:30:00", offsets=["P1D"]))
        wait_for(lambda: len(c.scheduled("t-2")) == 1, what="scheduled")
        with open(path, "w") as f:
            f.write("New text: court {{date}}. Reply STOP to stop.")
        for p in c.procs:
            p.send_signal(signal.SIGHUP)
        wait_for(lambda: "templates: reloaded" in c.log_text(), what="reload")
        # A template that does not compile is refused; the loaded set stays.
        with open(path, "w") as f:
            f.write("Court {{cort}}.")
        for p in c.procs:
            p.send_signal(signal.SIGHUP)
        wait_for(lambda: 'unknown variable \\"cort\\"' in c.log_text() or
                 'unknown variable "cort"' in c.log_text(), what="reload refused")
        c.set_clock(ms("2027-01-13T21:30:00Z"))
        line = wait_for(lambda: [o for o in c.outbox() if o["job"] == "t-2" and
                                 o["body"].startswith("New text")], what="the new text")[0]
        assert line["body"] == "New text: court Thursday, January 14. Reply STOP to stop."
    finally:
        c.stop()


def test_email_reminders_have_a_subject_and_html_in_the_recipients_language():
    c = Court(now=ms("2027-01-04T20:00:00Z"))
    try:
        job = reminder("e-1", "2027-01-14T13:30:00", lang="es", offsets=["P1D"])
        job["recipient"] = {"id": "client-e", "name": "Ana <b>", "email": "ana@example.org",
                            "lang": "es"}
        c.xadd(job)
        line = wait_for(lambda: c.outbox("email"), what="the enrolment email")[0]
        assert line["subject"] and "jueves, 14 de enero" in line["body"], line
        assert "Ana &lt;b&gt;" in line["html"] and "Ana <b>" in line["body"], line
    finally:
        c.stop()


def test_clients_read_their_script_with_sender_date_and_address_through_pregond():
    """Issue 13: zh-TW and yue read traditional characters, fil Tagalog;
    every text names [templates] sender and carries the date, time,
    court, department and street address, in each language, as pregond
    sends it (the day-before reminder keeps its date)."""
    c = Court(sections={"templates": {"sender": "La Defensa"}},
              now=ms("2027-01-04T20:00:00Z"))
    try:
        cases = [("zh-TW", "+13235550181", "請您於", "1月14日 星期四", "下午1:30"),
                 ("yue", "+13235550182", "請您於", "1月14日 星期四", "下午1:30"),
                 ("fil", "+13235550183", "May pagdinig po kayo", "Huwebes, Enero 14", "1:30 PM"),
                 ("vi", "+13235550184", "Quý vị ra tòa ngày mai", "Thứ Năm, 14 tháng 1",
                  "1:30 chiều"),
                 ("hy", "+13235550185", "վաղը", "հունվարի 14, հինգշաբթի", "13:30")]
        for i, (lang, phone, _, _, _) in enumerate(cases):
            job = reminder("script-%d" % i, "2027-01-14T13:30:00", ref="LA-sc%d" % i,
                           rid="client-sc%d" % i, lang=lang, offsets=["P1D"])
            job["recipient"]["phone"] = phone
            c.xadd(job)
        wait_for(lambda: len(c.outbox()) == len(cases), what="the enrolment notices")
        c.set_clock(ms("2027-01-13T21:30:00Z"))
        wait_for(lambda: len(c.outbox()) == 2 * len(cases), what="the day-before reminders")
        for i, (lang, phone, words, date, time_) in enumerate(cases):
            lines = [o for o in c.outbox() if o["job"] == "script-%d" % i]
            assert len(lines) == 2, lines
            reminder_text = lines[1]["body"]
            assert words in reminder_text, (lang, reminder_text)
            for line in lines:
                body = line["body"]
                for part in ("La Defensa", date, time_, "Clara Shortridge Foltz CJC", "Dept. 30",
                             "210 W Temple St, Los Angeles, CA 90012", "STOP"):
                    assert part in body, (lang, part, body)
            if lang in ("zh-TW", "yue"):
                assert "请" not in reminder_text and "回覆英文STOP" in reminder_text, reminder_text
    finally:
        c.stop()


def test_pregon_template_render_prints_the_text_and_its_segments():
    cfg = harness.write_config()
    vars_json = json.dumps({"name": "Ana", "court": "Foltz CJC", "department": "Dept. 30",
                            "appearance": "2026-12-01T08:30:00", "tz": LA, "tomorrow": True})
    r = harness.run_cli(cfg, "template", "render", "court_reminder", "es", "sms", "-",
                        input=vars_json)
    assert r.returncode == 0, r.stderr
    assert "martes, 1 de diciembre" in r.stdout and "8:30 a. m." in r.stdout, r.stdout
    assert "SMS segment" in r.stderr, r.stderr
    r = harness.run_cli(cfg, "template", "render", "court_reminder", "en", "email", "-",
                        input=vars_json)
    assert r.returncode == 0 and r.stdout.startswith("Subject: "), r.stdout
    # A missing value is an error naming the line and the variable.
    r = harness.run_cli(cfg, "template", "render", "court_reminder", "en", "sms", "-",
                        input=json.dumps({"name": "Ana"}))
    reason = harness.one_line_error(r)
    assert "has no value" in reason and "court_reminder/en.sms" in reason, reason
    r = harness.run_cli(cfg, "template", "render", "court_reminder", "en", "sms", "-",
                        input=json.dumps({"charge": "PC 459"}))
    assert "not a variable of court_reminder" in harness.one_line_error(r)
    r = harness.run_cli(cfg, "template", "render", "court_reminder", "fr", "sms", "-",
                        input="{}")
    assert "not found" in harness.one_line_error(r)
    r = harness.run_cli(cfg, "template", "render", "nope", "en", "sms", "-", input="{}")
    assert "unknown template" in harness.one_line_error(r)
    # [templates] sender is given to every template, as pregond does.
    named = harness.write_config(sections={"templates": {"sender": "La Defensa"}})
    r = harness.run_cli(named, "template", "render", "court_reminder", "zh-Hant", "sms", "-",
                        input=vars_json)
    assert r.returncode == 0 and r.stdout.startswith("【La Defensa】"), r.stdout + r.stderr
    # Signal has no files of its own: the SMS text, said so.
    r = harness.run_cli(cfg, "template", "render", "court_reminder", "ko", "signal", "-",
                        input=vars_json)
    assert r.returncode == 0 and "Signal sends ko.sms" in r.stderr, r.stderr


def test_status_says_why_a_message_waits_and_why_a_job_was_rejected():
    # Issue 13, item 12: `pregon status` gives the reason and the time in
    # the recipient's zone, for a real pregond's records.
    c = Court(now=ms("2027-01-11T20:00:00Z"),          # 12:00 PST
              sections={"sms": {"provider": "faulty"},
                        "retry": {"base_delay": "1h", "max_delay": "1h"}})
    try:
        c.xadd({"id": "why-retry", "kind": "message", "body": "Moved. [temp-fail:1]",
                "recipient": {"id": "m1", "phone": "+13235550111"}})
        c.xadd({"id": "why-later", "kind": "message", "body": "Town hall.",
                "send_at": "2027-01-12T10:00:00-08:00",
                "recipient": {"id": "m2", "phone": "+13235550112"}})
        c.xadd({"id": "why-bad", "kind": "message", "body": "x",
                "recipient": {"id": "m3", "phone": "323-555-0113"}})
        wait_for(lambda: len(c.events("why-retry", "scheduled")) == 1, what="the retry")
        wait_for(lambda: c.events("why-bad", "rejected"), what="the rejection")
        wait_for(lambda: c.scheduled("why-later"), what="send_at scheduled")
        # The records say why (the status below reads it).
        assert c.msg(c.first_message("why-retry"))["why"] == "retry"
        assert c.msg(c.first_message("why-later"))["why"] == "send_at"

        out = harness.run_cli(c.cfg, "status", "why-retry")
        assert out.returncode == 0, out.stderr
        # Retrying is told apart from scheduled, with the error.
        assert re.search(r"sms +retrying +at 2027-01-11 1[23]:\d\d:\d\d UTC-08:00 "
                         r"America/Los_Angeles: attempt 1 failed: faulty: temporary failure "
                         r"1/1 \(test\)\n", out.stdout), out.stdout
        assert "note" not in out.stdout, "pregond reads the queue: " + out.stdout
        out = harness.run_cli(c.cfg, "status", "why-later")
        assert re.search(r"sms +scheduled +at 2027-01-12 10:00:00 UTC-08:00 "
                         r"America/Los_Angeles: send_at\n", out.stdout), out.stdout
        out = harness.run_cli(c.cfg, "status", "why-bad")
        assert out.returncode == 0, out.stderr
        assert "state     rejected: recipient.phone: not an E.164 number" in out.stdout, out.stdout
        assert "0113" not in out.stdout, out.stdout

        # 23:00 PST: a message waits for quiet hours to end at 08:00.
        c.set_clock(ms("2027-01-12T07:00:00Z"))
        c.xadd({"id": "why-quiet", "kind": "message", "body": "Meeting tomorrow.",
                "recipient": {"id": "m4", "phone": "+13235550114"}})
        wait_for(lambda: c.scheduled("why-quiet"), what="held for quiet hours")
        out = harness.run_cli(c.cfg, "status", "why-quiet")
        assert re.search(r"sms +scheduled +until 2027-01-12 08:00:00 UTC-08:00 "
                         r"America/Los_Angeles: quiet hours \(21:00-08:00 in "
                         r"America/Los_Angeles\)\n", out.stdout), out.stdout
        # The retry, read at night, is held by the engine: said the same way.
        c.set_clock(ms("2027-01-12T07:30:00Z"))
        wait_for(lambda: c.events("why-retry", "scheduled")[-1]["error"] == "held by quiet hours",
                 what="the retry held")
        out = harness.run_cli(c.cfg, "status", "why-retry")
        assert "scheduled  until 2027-01-12 08:00:0" in out.stdout, out.stdout
        assert "quiet hours (21:00-08:00 in America/Los_Angeles)" in out.stdout, out.stdout
        # Sent: the finish time, in local time.
        c.set_clock(ms("2027-01-12T16:00:05Z"))
        wait_for(lambda: len(c.outbox()) == 2, what="both sent at 08:00")
        out = harness.run_cli(c.cfg, "status", "why-quiet")
        assert re.search(r"sms +sent +at 2027-01-12 08:00:\d\d UTC-08:00 America/Los_Angeles",
                         out.stdout), out.stdout
        # The job's finish time: when its last message was final.
        assert re.search(r"\nfinished  2027-01-12 08:00:\d\d UTC-08:00 America/Los_Angeles\n",
                         out.stdout), out.stdout
        js = json.loads(harness.run_cli(c.cfg, "status", "--json", "why-quiet").stdout)
        assert js["finished"].startswith("2027-01-12T16:00:"), js
    finally:
        c.stop()


def test_status_reads_why_from_the_record_and_infers_it_only_for_older_records():
    # Issue 13, item 12: the reason a message waits is kept where it was
    # decided (intake, court planning, the engine's hold, a retry), so
    # status says it without guessing: a court enrolment notice held at
    # night says quiet hours (not "a reminder"), a reminder its offset.
    c = Court(now=ms("2027-01-12T07:00:00Z"),          # 23:00 PST
              sections={"sms": {"provider": "faulty"}})
    try:
        c.xadd(reminder("why-court", "2027-01-20T09:00:00", offsets=["P1D"]))
        c.xadd({"id": "why-night", "kind": "message", "body": "Meeting tomorrow.",
                "recipient": {"id": "m5", "phone": "+13235550115"}})
        c.xadd({"id": "why-at", "kind": "message", "body": "Town hall.",
                "send_at": "2027-01-13T10:00:00-08:00",
                "recipient": {"id": "m6", "phone": "+13235550116"}})
        wait_for(lambda: len(c.scheduled("why-court")) == 2, what="notice and reminder")
        wait_for(lambda: c.scheduled("why-night") and c.scheduled("why-at"),
                 what="both messages scheduled")
        whys = sorted(c.msg(mid).get("why") for mid in c.scheduled("why-court"))
        assert whys == ["offset", "quiet"], whys
        night, = c.scheduled("why-night")
        at, = c.scheduled("why-at")
        assert (c.msg(night)["why"], c.msg(at)["why"]) == ("quiet", "send_at")
        out = harness.run_cli(c.cfg, "status", "why-court")
        assert out.returncode == 0, out.stderr
        assert re.search(r"sms +scheduled +until 2027-01-12 08:00:00 UTC-08:00 "
                         r"America/Los_Angeles: quiet hours \(21:00-08:00 in "
                         r"America/Los_Angeles\)\n", out.stdout), out.stdout
        assert re.search(r"sms +scheduled +at 2027-01-19 09:00:00 UTC-08:00 "
                         r"America/Los_Angeles: a reminder 1d 00h00m before the hearing\n",
                         out.stdout), out.stdout
        out = harness.run_cli(c.cfg, "status", "why-night")
        assert re.search(r"sms +scheduled +until 2027-01-12 08:00:00 UTC-08:00 "
                         r"America/Los_Angeles: quiet hours", out.stdout), out.stdout
        # A record written before records kept why: inferred as before.
        c.r.hdel(c.cfg.key("msg:" + night), "why")
        out = harness.run_cli(c.cfg, "status", "why-night")
        assert re.search(r"sms +scheduled +until 2027-01-12 08:00:00 UTC-08:00 "
                         r"America/Los_Angeles: quiet hours", out.stdout), out.stdout
        out = harness.run_cli(c.cfg, "status", "why-at")
        assert re.search(r"sms +scheduled +at 2027-01-13 10:00:00 UTC-08:00 "
                         r"America/Los_Angeles: send_at\n", out.stdout), out.stdout
    finally:
        c.stop()


if __name__ == "__main__":
    harness.main(globals())
