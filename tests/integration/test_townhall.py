"""Town halls end to end (issue 14) against a real redis-server, the Twilio
fake for SMS (replies come in through its signed webhooks) and, here, the
outbox for email (tests/integration/test_smtp_townhall.py sends the same
through a real SMTP server), on the test clock: the confirmation with its
invitation, reminders at their instants, replies 1 and 2, a changed
registration, the event cancelled, tracked join links, and the figures of
`pregon status --event`."""

import http.client
import json
import os
import re
import sys
import time

import harness
from harness import wait_for

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_court import ms, real_ms  # noqa: E402
import test_sms  # noqa: E402

LA = "America/Los_Angeles"
PHONE = "+12135550111"
EMAIL = "m3@example.org"


class TownHall(test_sms.Gateway):
    """A pregond on the Twilio fake (SMS), the outbox (email) and the test
    clock."""

    def __init__(self, now, extra=None):
        sections = {"schedule": {"test_clock": "yes", "quiet_hours": "21:00-08:00",
                                 "default_tz": LA},
                    "email": {"from": "La Defensa <alerts@defensa.example.org>"},
                    "templates": {"sender": "La Defensa"}}
        for k, v in (extra or {}).items():
            sections.setdefault(k, {}).update(v)
        # The clock is set before pregond starts, so nothing runs on the
        # real date first.
        self._now = now
        super().__init__(extra=sections)
        self.set_clock(now)

    def set_clock(self, at_ms):
        self.r.set(self.cfg.key("test:clock"), at_ms - real_ms())
        time.sleep(0.1)

    def xadd(self, job):
        self.r.xadd(self.cfg.key("jobs"), {"job": json.dumps(job)})

    def emails(self):
        path = os.path.join(self.cfg.outbox, "email.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def texts(self, phone=PHONE):
        return [r["params"]["Body"] for r in test_sms.sent_to(phone)]

    def scheduled(self, job):
        out = {}
        for mid, score in self.r.zrange(self.cfg.key("scheduled"), 0, -1, withscores=True):
            if self.r.hget(self.cfg.key("msg:" + mid), "job") == job:
                out[mid] = int(score)
        return out

    def figures(self, ref):
        r = harness.run_cli(self.cfg, "status", "--event", ref, "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def open_link(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.getheader("Location"), r.read().decode()
        finally:
            c.close()


def registration(jid, starts="2027-01-14T18:00:00", ends="2027-01-14T19:30:00", rid="member-3",
                 location="Online", **extra):
    job = {"id": jid, "kind": "townhall_confirmation",
           "event": {"ref": "th-1", "title": "Re-Imagine LA Town Hall", "starts_at": starts,
                     "ends_at": ends, "tz": LA, "location": location,
                     "join_url": "https://example.org/join/abc"},
           "recipient": {"id": rid, "email": EMAIL, "phone": PHONE}}
    job.update(extra)
    return job


def ics_fields(text):
    """The unfolded content lines of an iCalendar text: [(name, value)]."""
    assert "\n" not in text.replace("\r\n", ""), "bare LF in the calendar"
    lines = text.replace("\r\n ", "").split("\r\n")
    return [tuple(line.split(":", 1)) for line in lines if line]


def ics(text, name):
    """The values of property name in the VEVENT (or the calendar itself
    for METHOD): not those of the VTIMEZONE's rules."""
    out, where = [], []
    for k, v in ics_fields(text):
        if k == "BEGIN":
            where.append(v)
        elif k == "END":
            where.pop()
        elif k.split(";")[0] == name and where and where[-1] in ("VEVENT", "VCALENDAR"):
            out.append(v)
    return out


STARTS = ms("2027-01-15T02:00:00Z")	# 2027-01-14 18:00 PST


def test_a_registration_sends_an_invitation_and_a_text_then_reminders_at_their_instants():
    t = TownHall(now=ms("2027-01-04T20:00:00Z"))
    try:
        t.xadd(registration("reg-1"))
        wait_for(lambda: len(t.emails()) == 1 and len(t.texts()) == 1, what="the confirmation")
        mail, text = t.emails()[0], t.texts()[0]
        assert mail["to"] == EMAIL and mail["calendar_method"] == "REQUEST"
        assert "Re-Imagine LA Town Hall" in mail["subject"]
        cal = mail["calendar"]
        assert ics(cal, "METHOD") == ["REQUEST"] and ics(cal, "SEQUENCE") == ["0"]
        assert ics(cal, "DTSTART") == ["20270114T180000"], cal
        assert "DTSTART;TZID=America/Los_Angeles:20270114T180000" in cal.replace("\r\n ", "")
        uid = ics(cal, "UID")[0]
        assert uid.endswith("@defensa.example.org") and "member" not in uid and "th-1" not in uid
        # The join link is pregon's, tracked; the unsubscribe link sealed.
        link = re.search(r"https?://127\.0\.0\.1:\d+/j/[A-Za-z0-9_-]{22}", mail["body"]).group(0)
        assert ics(cal, "URL") == [link]
        assert mail["unsubscribe"].startswith(t.public + "/unsubscribe/")
        assert EMAIL not in mail["unsubscribe"]
        # The text: when, where, and the digits to answer.
        assert "Thursday, January 14" in text and "6:00 PM" in text and "Online" in text, text
        assert "1" in text and "2" in text and "La Defensa" in text
        # Reminders a day and an hour before, by text (the first channel).
        due = sorted(t.scheduled("reg-1").values())
        assert due == [STARTS - 86400000, STARTS - 3600000], due
        for k, at in enumerate(due):
            t.set_clock(at - 2000)
            time.sleep(0.3)
            assert len(t.texts()) == 1 + k, "a reminder went out early"
            t.set_clock(at)
            wait_for(lambda: len(t.texts()) == 2 + k, what="reminder %d" % k)
        assert "/j/" in t.texts()[2], t.texts()[2]
        f = t.figures("th-1")
        assert (f["registered"], f["confirmations_sent"], f["reminders_pending"]) == (1, 2, 0), f
        # The registration's own status ends with its event's figures.
        st = harness.run_cli(t.cfg, "status", "reg-1").stdout
        assert "event     th-1" in st and "registered           1" in st, st
        for e in t.events("reg-1"):
            assert EMAIL not in json.dumps(e) and PHONE not in json.dumps(e)
    finally:
        t.stop()


def test_a_2_cancels_the_reminders_and_a_later_1_puts_them_back():
    t = TownHall(now=ms("2027-01-04T20:00:00Z"))
    try:
        t.xadd(registration("reg-2a"))
        wait_for(lambda: len(t.texts()) == 1, what="the confirmation text")
        # The CRM sends it again, unchanged: nothing is sent, and the
        # reminders are the new job's; the 2 answers the first job's text.
        t.xadd(registration("reg-2"))
        wait_for(lambda: len(t.scheduled("reg-2")) == 2, what="two reminders")
        t.inbound(PHONE, " 2 ")
        wait_for(lambda: len(t.scheduled("reg-2")) == 0, what="the reminders cancelled")
        assert len(t.texts()) == 1
        f = t.figures("th-1")
        assert (f["cancel"], f["attending"], f["reminders_pending"]) == (1, 0, 0), f
        replied = [e for e in t.events("reg-2a") if e["status"] == "replied"]
        assert replied and replied[-1]["meaning"] == "cancel"
        t.inbound(PHONE, "1")
        wait_for(lambda: len(t.scheduled("reg-2")) == 2, what="the reminders back")
        f = t.figures("th-1")
        assert (f["cancel"], f["attending"], f["reminders_pending"]) == (0, 1, 2), f
        # The reminders still go out at their instants.
        t.set_clock(STARTS - 86400000)
        wait_for(lambda: len(t.texts()) == 2, what="the day-before reminder")
    finally:
        t.stop()


def test_a_changed_time_sends_a_change_notice_and_moves_the_reminders_an_unchanged_one_nothing():
    t = TownHall(now=ms("2027-01-04T20:00:00Z"))
    try:
        t.xadd(registration("reg-3"))
        wait_for(lambda: len(t.emails()) == 1 and len(t.texts()) == 1, what="the confirmation")
        uid = ics(t.emails()[0]["calendar"], "UID")
        # The same again (a CRM re-sync): nothing new to say.
        t.xadd(registration("reg-3b"))
        wait_for(lambda: len(t.scheduled("reg-3b")) == 2, what="the second job's reminders")
        time.sleep(0.5)
        assert len(t.emails()) == 1 and len(t.texts()) == 1
        assert t.scheduled("reg-3") == {}
        # An hour later, and elsewhere: a change notice, SEQUENCE 1.
        t.xadd(registration("reg-3c", starts="2027-01-14T19:00:00", ends="2027-01-14T20:30:00",
                            location="Boyle Heights City Hall"))
        wait_for(lambda: len(t.emails()) == 2 and len(t.texts()) == 2, what="the change notice")
        cal = t.emails()[1]["calendar"]
        assert ics(cal, "UID") == uid and ics(cal, "SEQUENCE") == ["1"]
        assert ics(cal, "DTSTART") == ["20270114T190000"]
        assert "Boyle Heights" in t.texts()[1] and "7:00 PM" in t.texts()[1], t.texts()[1]
        due = sorted(t.scheduled("reg-3c").values())
        assert due == [STARTS + 3600000 - 86400000, STARTS], due
        assert t.scheduled("reg-3b") == {}
        assert t.figures("th-1")["registered"] == 1
    finally:
        t.stop()


def test_cancelling_the_event_cancels_reminders_and_sends_method_cancel():
    t = TownHall(now=ms("2027-01-04T20:00:00Z"))
    try:
        t.xadd(registration("reg-4"))
        t.xadd(registration("reg-5", rid="member-4", recipient={
            "id": "member-4", "email": "m4@example.org", "lang": "es"}))
        wait_for(lambda: len(t.emails()) == 2, what="two confirmations")
        seq0 = {m["to"]: ics(m["calendar"], "UID")[0] for m in t.emails()}
        t.xadd({"id": "cancel-th-1", "kind": "cancel", "event_ref": "th-1"})
        wait_for(lambda: len(t.emails()) == 4, what="two cancellations")
        for m in t.emails()[2:]:
            cal = m["calendar"]
            assert m["calendar_method"] == "CANCEL"
            assert ics(cal, "METHOD") == ["CANCEL"] and ics(cal, "STATUS") == ["CANCELLED"]
            assert ics(cal, "UID") == [seq0[m["to"]]] and ics(cal, "SEQUENCE") == ["1"]
        spanish = [m for m in t.emails()[2:] if m["to"] == "m4@example.org"][0]
        assert "cancel" in spanish["subject"].lower(), spanish["subject"]
        wait_for(lambda: len(t.texts()) == 2, what="the cancellation by text")
        assert t.scheduled("reg-4") == {} and t.scheduled("reg-5") == {}
        assert len([e for e in t.events("reg-4") if e["status"] == "cancelled"]) == 2
        f = t.figures("th-1")
        assert f["cancelled_by"] == "cancel-th-1" and f["reminders_pending"] == 0, f
        r = harness.run_cli(t.cfg, "status", "--event", "th-1")
        assert "CANCELLED by job cancel-th-1" in r.stdout, r.stdout
        # A second cancel tells nobody again.
        t.xadd({"id": "cancel-th-1b", "kind": "cancel", "event_ref": "th-1"})
        wait_for(lambda: t.r.hget(t.cfg.key("job:cancel-th-1b"), "result") ==
                 "already cancelled by job cancel-th-1", what="the second cancel")
        time.sleep(0.3)
        assert len(t.emails()) == 4 and len(t.texts()) == 2
    finally:
        t.stop()


def test_join_links_record_clicked_redirect_and_add_up_in_the_figures():
    t = TownHall(now=ms("2027-01-04T20:00:00Z"))
    try:
        t.xadd(registration("reg-6"))
        t.xadd(registration("reg-7", rid="member-5", recipient={
            "id": "member-5", "email": "m5@example.org", "phone": "+12135550112"}))
        wait_for(lambda: len(t.emails()) == 2, what="two confirmations")
        links = [re.search(r"/j/[A-Za-z0-9_-]{22}", m["body"]).group(0) for m in t.emails()]
        assert links[0] != links[1]
        status, location, _ = t.open_link(links[0])
        assert (status, location) == (302, "https://example.org/join/abc")
        # Opened twice: one click, one person.
        assert t.open_link(links[0])[0] == 302
        clicked = [e for e in t.events("reg-6") if e["status"] == "clicked"]
        assert len(clicked) == 1 and clicked[0]["channel"] == "email", clicked
        mid = clicked[0]["message"]
        assert t.r.hget(t.cfg.key("msg:" + mid), "status") == "clicked"
        status, location, body = t.open_link("/j/" + "A" * 22)
        assert status == 404 and location is None and "not valid" in body
        assert t.open_link("/j/short")[0] == 404
        f = t.figures("th-1")
        # Each confirmed by email and by text.
        assert (f["registered"], f["joined"], f["confirmations_sent"]) == (2, 1, 4), f
        text = harness.run_cli(t.cfg, "status", "--event", "th-1").stdout
        assert "joined by the link   1" in text and "registered           2" in text, text
        metrics = t.get("/metrics")[1]
        assert 'pregon_link_requests_total{outcome="join"} 2' in metrics, metrics
        assert 'pregon_link_requests_total{outcome="refused"} 2' in metrics
    finally:
        t.stop()


def test_one_click_unsubscribe_opts_the_address_out_of_email_only():
    t = TownHall(now=ms("2027-01-04T20:00:00Z"))
    try:
        t.xadd(registration("reg-8"))
        wait_for(lambda: len(t.emails()) == 1, what="the confirmation")
        url = t.emails()[0]["unsubscribe"]
        path = url[len(t.public):]
        # GET shows a page and changes nothing (mail scanners open links).
        status, _, body = t.open_link(path)
        assert status == 200 and "<form method=\"post\">" in body and EMAIL not in body
        assert not t.r.sismember(t.cfg.key("optout:email"), EMAIL)
        c = http.client.HTTPConnection("127.0.0.1", t.http_port, timeout=5)
        c.request("POST", path, body="List-Unsubscribe=One-Click",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        page = r.read().decode()
        c.close()
        assert r.status == 200 and "unsubscribed" in page and EMAIL not in page
        assert t.r.sismember(t.cfg.key("optout:email"), EMAIL)
        assert not t.r.sismember(t.cfg.key("optout:sms"), PHONE)
        ledger = harness.run_cli(t.cfg, "optout", "history", EMAIL).stdout
        assert "email one-click" in ledger, ledger
        # An altered token is refused and changes nothing.
        bad = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
        assert t.open_link(bad)[0] == 404
        # The next email to the address is suppressed; texts go on.
        t.xadd(registration("reg-9", location="Boyle Heights City Hall"))
        wait_for(lambda: any(e["status"] == "suppressed" and e["channel"] == "email"
                             for e in t.events("reg-9")), what="email suppressed")
        wait_for(lambda: len(t.texts()) == 2, what="the change notice by text")
    finally:
        t.stop()


if __name__ == "__main__":
    harness.main(globals())
