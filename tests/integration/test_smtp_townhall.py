"""A town hall end to end through a real SMTP server (issue 14): Debian's
aiosmtpd on loopback with STARTTLS and AUTH (test_smtp.py's Sink), texts
and replies through the Twilio fake, on the test clock. Every email is
parsed back with Python's email package, and its invitation line by line.

1. A registration sends the confirmation email with its invitation (a
   text/calendar alternative and an .ics attachment) and the text.
2. The reminders go out at their instants.
3. A `2` by text cancels the remaining reminders.
4. A changed start time sends a change notice with an updated invitation
   (same UID, higher SEQUENCE) and moves the reminders.
5. The event is cancelled: everyone gets a METHOD:CANCEL invitation.
6. Join links are opened: `clicked` is recorded, the 302 goes to the real
   URL, and the figures of `pregon status --event` add up."""

import email.policy
import os
import re
import sys
import time

import harness
from harness import wait_for

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_court import ms  # noqa: E402
import test_smtp  # noqa: E402
import test_sms  # noqa: E402
from test_townhall import TownHall, ics, STARTS  # noqa: E402

ANA, BEN = "ana@example.org", "ben@example.org"
ANA_PHONE, BEN_PHONE = "+12135550121", "+12135550122"


def registration(jid, rid, mail, phone, starts="2027-01-14T18:00:00", ends="2027-01-14T19:30:00",
                 name=None, lang=None):
    rc = {"id": rid, "email": mail, "phone": phone}
    if name:
        rc["name"] = name
    if lang:
        rc["lang"] = lang
    return {"id": jid, "kind": "townhall_confirmation",
            "event": {"ref": "th-smtp", "title": "Re-Imagine LA Town Hall · Año nuevo",
                      "starts_at": starts,
                      "ends_at": ends, "tz": "America/Los_Angeles", "location": "Online",
                      "join_url": "https://example.org/join/abc"},
            "recipient": rc, "reminders": ["P2D", "P1D", "PT1H"]}


def parts(msg):
    """{content type: part} of a message's leaves, and its attachments."""
    leaves, attached = {}, []
    for p in msg.walk():
        if p.is_multipart():
            continue
        if p.get_content_disposition() == "attachment":
            attached.append(p)
        else:
            leaves[p.get_content_type()] = p
    return leaves, attached


def check_invitation(msg, method, to):
    """The structure Gmail, Outlook and Apple Calendar expect; returns the
    calendar text."""
    assert msg.get_content_type() == "multipart/mixed", msg.get_content_type()
    leaves, attached = parts(msg)
    assert set(leaves) == {"text/plain", "text/html", "text/calendar"}, leaves.keys()
    for p in leaves.values():
        assert p.get_content_charset() == "utf-8"
    cal_part = leaves["text/calendar"]
    assert cal_part.get_param("method") == method
    cal = cal_part.get_content()
    if isinstance(cal, bytes):
        cal = cal.decode()
    cal = cal.replace("\r\n", "\n").replace("\n", "\r\n")
    assert len(attached) == 1 and attached[0].get_filename() == "invite.ics"
    ics_file = attached[0].get_payload(decode=True).decode()
    assert ics_file.replace("\r\n", "\n") == cal.replace("\r\n", "\n")
    assert ics(cal, "METHOD") == [method]
    assert ics(cal, "ATTENDEE")[0].lower().endswith("mailto:" + to)
    # The VTIMEZONE carries Los Angeles' rules: PDT from the second Sunday
    # of March, PST from the first Sunday of November.
    flat = cal.replace("\r\n ", "")
    assert "BEGIN:VTIMEZONE\r\nTZID:America/Los_Angeles" in flat
    assert re.search(r"BEGIN:DAYLIGHT\r\n(?:[^\r]*\r\n)*?TZOFFSETTO:-0700", flat)
    assert re.search(r"BEGIN:STANDARD\r\n(?:[^\r]*\r\n)*?TZOFFSETTO:-0800", flat)
    assert "BYDAY=2SU;BYMONTH=3" in flat and "BYDAY=1SU;BYMONTH=11" in flat, flat
    assert msg["List-Unsubscribe"] and "<mailto:" in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return cal


def test_a_town_hall_through_smtp_and_the_twilio_fake():
    sink = test_smtp.Sink(starttls=True, auth=True)
    pw = os.path.join(harness.tempdir("pregon-smtp-th-"), "smtp.pw")
    with open(pw, "w") as f:
        f.write(test_smtp.PASSWORD + "\n")
    os.chmod(pw, 0o600)
    t = TownHall(now=ms("2027-01-04T20:00:00Z"), extra={"email": {
        "provider": "smtp", "url": "smtp://127.0.0.1:%d" % sink.port,
        "from": "La Defensa <%s>" % test_smtp.FROM, "ca_file": test_smtp.certs()["ca.crt"],
        "username": test_smtp.USER, "password_file": pw, "starttls": "required"}})
    try:
        # 1. The confirmations.
        t.xadd(registration("reg-a", "member-a", ANA, ANA_PHONE, name="Ana"))
        t.xadd(registration("reg-b", "member-b", BEN, BEN_PHONE, name="Benito", lang="es"))
        wait_for(lambda: len(sink.parsed()) == 2, what="two confirmation emails")
        wait_for(lambda: len(t.texts(ANA_PHONE)) == 1 and len(t.texts(BEN_PHONE)) == 1,
                 what="two confirmation texts")
        ana = sink.parsed(ANA)[0]
        cal_a = check_invitation(ana, "REQUEST", ANA)
        uid_a = ics(cal_a, "UID")
        assert ics(cal_a, "SEQUENCE") == ["0"]
        assert ana["Subject"] and "Re-Imagine LA Town Hall" in ana["Subject"]
        assert "Ana" in parts(ana)[0]["text/plain"].get_content()
        ben = sink.parsed(BEN)[0]
        check_invitation(ben, "REQUEST", BEN)
        # Non-ASCII subject, RFC 2047-encoded on the wire.
        raw_ben = sink.raw(BEN)[0].decode("ascii")
        assert re.search(r"^Subject: =\?(?i:utf-8)\?[BQ]\?", raw_ben, re.M), raw_ben[:600]
        assert "Re-Imagine LA Town Hall · Año nuevo" in ben["Subject"], ben["Subject"]
        assert "1" in t.texts(ANA_PHONE)[0] and "2" in t.texts(ANA_PHONE)[0]
        # 2. The first reminders at their instant (two days before).
        at = STARTS - 2 * 86400000
        t.set_clock(at - 2000)
        time.sleep(0.3)
        assert len(t.texts(ANA_PHONE)) == 1
        t.set_clock(at)
        wait_for(lambda: len(t.texts(ANA_PHONE)) == 2 and len(t.texts(BEN_PHONE)) == 2,
                 what="the two-day reminders")
        # 3. Ana answers 2: her two remaining reminders are cancelled.
        t.inbound(ANA_PHONE, "2")
        wait_for(lambda: len(t.scheduled("reg-a")) == 0, what="Ana's reminders cancelled")
        assert len(t.scheduled("reg-b")) == 2
        # 4. Ben's registration moves an hour later.
        t.xadd(registration("reg-b2", "member-b", BEN, BEN_PHONE, starts="2027-01-14T19:00:00",
                            ends="2027-01-14T20:30:00", name="Benito", lang="es"))
        wait_for(lambda: len(sink.parsed(BEN)) == 2, what="Ben's change notice")
        cal_b2 = check_invitation(sink.parsed(BEN)[1], "REQUEST", BEN)
        assert ics(cal_b2, "SEQUENCE") == ["1"]
        assert ics(cal_b2, "UID") == ics(check_invitation(ben, "REQUEST", BEN), "UID")
        assert ics(cal_b2, "DTSTART") == ["20270114T190000"]
        # Moved an hour on: the two-day one is ahead again (now is two days
        # before the old start).
        hour, day = 3600000, 86400000
        assert sorted(t.scheduled("reg-b2").values()) == [STARTS + hour - 2 * day,
                                                          STARTS + hour - day, STARTS]
        assert t.scheduled("reg-b") == {}
        # 6 (before the cancel, so that links still lead somewhere).
        link = re.search(r"/j/[A-Za-z0-9_-]{22}", parts(ana)[0]["text/plain"].get_content())
        status, location, _ = t.open_link(link.group(0))
        assert (status, location) == (302, "https://example.org/join/abc")
        assert any(e["status"] == "clicked" for e in t.events("reg-a"))
        f = t.figures("th-smtp")
        assert (f["registered"], f["cancel"], f["attending"], f["joined"]) == (2, 1, 0, 1), f
        # The notices of each person's current registration: Ana's two,
        # Ben's change notice by email and by text.
        wait_for(lambda: t.figures("th-smtp")["confirmations_sent"] == 4, what="four notices")
        assert t.figures("th-smtp")["reminders_pending"] == 3
        # 5. The event is cancelled.
        t.xadd({"id": "cancel-smtp", "kind": "cancel", "event_ref": "th-smtp"})
        wait_for(lambda: len(sink.parsed(ANA)) == 2 and len(sink.parsed(BEN)) == 3,
                 what="the cancellations")
        for to, msg in ((ANA, sink.parsed(ANA)[1]), (BEN, sink.parsed(BEN)[2])):
            cal = check_invitation(msg, "CANCEL", to)
            assert ics(cal, "STATUS") == ["CANCELLED"]
        assert ics(check_invitation(sink.parsed(ANA)[1], "CANCEL", ANA), "UID") == uid_a
        assert ics(check_invitation(sink.parsed(BEN)[2], "CANCEL", BEN), "SEQUENCE") == ["2"]
        f = t.figures("th-smtp")
        assert (f["reminders_pending"], f["cancelled_by"]) == (0, "cancel-smtp"), f
        # No connection left open but the pool's, and nothing lost.
        assert sink.open <= 4
        for jid in ("reg-a", "reg-b", "reg-b2", "cancel-smtp"):
            for e in t.events(jid):
                assert ANA not in str(e) and BEN not in str(e)
    finally:
        t.stop()
        sink.stop()


if __name__ == "__main__":
    harness.main(globals())
