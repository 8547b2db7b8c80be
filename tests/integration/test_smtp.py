"""Email through the SMTP provider, end to end: a real pregond against
Debian's aiosmtpd on loopback, started here (in a thread of this process,
so the test reads what it received and how many connections it had).

Delivery with STARTTLS and AUTH (a CA and certificate made by openssl
here), smtps://, starttls = required against a server without STARTTLS
(temporary, never in the clear), opportunistic; each message parsed back
with the email package; then the failures (server down, 421/451, 550 at
RCPT and the bounce, a stall inside DATA) ending in the right status and
attempts with no connection left open, and connection reuse."""

import asyncio
import email
import email.policy
import json
import logging
import os
import re
import ssl
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

import harness
from harness import wait_for

# aiosmtpd warns about AUTH without STARTTLS for smtps (it is TLS).
warnings.filterwarnings("ignore", module="aiosmtpd")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

FROM = "alerts@defensa.example.org"
USER, PASSWORD = "pregon", "smtp-pass-0123"
_certs = None


def certs():
    """A CA and a server certificate for 127.0.0.1, made once."""
    global _certs
    if _certs is None:
        _certs = harness.make_certs(harness.tempdir("pregon-smtp-ca-"))
    return _certs


def server_tls():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs()["server.crt"], certs()["server.key"])
    return ctx


class Handler:
    """What the server does: keeps every message, and answers from a plan
    of replies per recipient: rcpt[addr] and data[addr] are lists of
    replies ("451 4.3.0 later") given one per attempt before accepting;
    stall[addr] is how many DATA answers to hold back for stall_s."""

    def __init__(self):
        self.messages = []          # (rcpt list, raw bytes)
        self.rcpt, self.data, self.stall = {}, {}, {}
        self.stall_s = 5.0
        self.stall_started = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options):
        with self.lock:
            plan = self.rcpt.get(address)
            reply = plan.pop(0) if plan else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        to = envelope.rcpt_tos[0]
        with self.lock:
            plan = self.data.get(to)
            reply = plan.pop(0) if plan else None
            stall = self.stall.get(to, 0)
            if stall:
                self.stall[to] = stall - 1
        if stall:
            self.stall_started.append(time.monotonic())
            await asyncio.sleep(self.stall_s)
            return "451 4.4.2 too slow"
        if reply:
            return reply
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"


class CountingSMTP(SMTP):
    """Counts the connections it is given and how many are open."""

    def __init__(self, counter, *args, **kw):
        super().__init__(*args, **kw)
        self.counter = counter
        self.counted = False

    def connection_made(self, transport):
        # STARTTLS calls it again for the TLS transport: one connection.
        if not self.counted:
            self.counted = True
            with self.counter.lock:
                self.counter.total += 1
                self.counter.open += 1
        super().connection_made(transport)

    def connection_lost(self, error):
        if self.counted:
            self.counted = False
            with self.counter.lock:
                self.counter.open -= 1
        super().connection_lost(error)


class Sink(Controller):
    """aiosmtpd on a free loopback port: starttls (offered; required
    before AUTH), implicit TLS (smtps), auth (USER/PASSWORD required)."""

    def __init__(self, starttls=True, smtps=False, auth=False, port=None):
        self.handler_ = Handler()
        self.lock = threading.Lock()
        self.total = self.open = 0
        kw = {}
        if starttls and not smtps:
            kw["tls_context"] = server_tls()
            kw["require_starttls"] = True
        if auth:
            kw["authenticator"] = self._auth
            kw["auth_required"] = True
            # aiosmtpd counts only STARTTLS as TLS: with smtps it would
            # never offer AUTH.
            kw["auth_require_tls"] = not smtps
        self.port = port or harness.free_port()
        super().__init__(self.handler_, hostname="127.0.0.1", port=self.port,
                         ssl_context=server_tls() if smtps else None, **kw)
        self.start()

    def factory(self):
        return CountingSMTP(self, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self):
        super()._trigger_server()
        # The controller's own probe connection is not pregond's.
        wait_for(lambda: self.open == 0, timeout=5, what="probe connection closed")
        with self.lock:
            self.total = 0

    @staticmethod
    def _auth(server, session, envelope, mechanism, auth_data):
        if auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode():
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Authentication credentials invalid")

    @property
    def h(self):
        return self.handler_

    def parsed(self, to=None):
        """The messages received (for to only, if given), parsed."""
        with self.h.lock:
            raw = [m for rc, m in self.h.messages if to is None or to in rc]
        return [email.message_from_bytes(m, policy=email.policy.default) for m in raw]

    def raw(self, to):
        with self.h.lock:
            return [m for rc, m in self.h.messages if to in rc]


class Gateway:
    """A pregond on the SMTP provider."""

    def __init__(self, sink, scheme="smtp", email_conf=None, extra=None):
        d = harness.tempdir("pregon-smtp-")
        pw = os.path.join(d, "smtp.pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pw, 0o600)
        conf = {"provider": "smtp", "url": "%s://127.0.0.1:%d" % (scheme, sink.port),
                "from": FROM, "ca_file": certs()["ca.crt"], "timeout": "3s",
                "connections": "2", "username": USER, "password_file": pw}
        conf.update(email_conf or {})
        sections = {"email": conf, "templates": {"sender": "La Defensa"},
                    "retry": {"base_delay": "100ms", "max_delay": "500ms", "max_attempts": "5"},
                    "schedule": {"tick": "20ms"}}
        for k, v in (extra or {}).items():
            sections.setdefault(k, {}).update(v)
        self.cfg = harness.write_config(sections=sections, directory=d)
        self.r = self.cfg.server.client
        self.log = os.path.join(d, "pregond.log")
        self.proc = harness.start_daemon(self.cfg)
        wait_for(lambda: "starting" in self.log_text() or self.proc.poll() is not None,
                 what="pregond start")
        assert self.proc.poll() is None, self.log_text()

    def get(self, path):
        """GET on pregond's HTTP listener (its port is in the log)."""
        port = int(re.search(r"http: listening on \S+ \(port (\d+)\)", self.log_text()).group(1))
        return harness.http_get(port, path)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        assert harness.stop(self.proc) == 0, self.log_text()

    def job(self, jid, to, subject="Your hearing", body="Hello.\n", kind="message"):
        self.r.xadd(self.cfg.key("jobs"), {"job": json.dumps(
            {"id": jid, "kind": kind, "subject": subject, "body": body,
             "recipient": {"id": "c-" + jid, "email": to, "channels": ["email"]}})})

    def message(self, jid):
        for _, f in self.r.xrange(self.cfg.key("events")):
            e = json.loads(f["event"])
            if e["job"] == jid and e.get("message"):
                return self.r.hgetall(self.cfg.key("msg:" + e["message"]))
        return None

    def status(self, jid):
        m = self.message(jid)
        return m.get("status") if m else None

    def wait_status(self, jid, want, timeout=20):
        try:
            wait_for(lambda: self.status(jid) == want, timeout=timeout, what="%s %s" % (jid, want))
        except AssertionError:
            raise AssertionError("%s: not %s but %s; events %s" % (jid, want, self.status(jid),
                                                                   self.statuses(jid)))
        return self.message(jid)

    def statuses(self, jid):
        return [json.loads(f["event"])["status"] for _, f in self.r.xrange(self.cfg.key("events"))
                if json.loads(f["event"])["job"] == jid]


def no_connection_left(sink, g, most):
    """While pregond runs it holds at most `most` connections; once it
    stops, none."""
    assert sink.open <= most, "%d connections open, at most %d expected" % (sink.open, most)
    g.stop()
    wait_for(lambda: sink.open == 0, timeout=5, what="connections closed (open %d)" % sink.open)


def sent_once(sink, g, jid, to, timeout=20):
    """Job jid's message ends `sent` and the server has it once; returns
    its record."""
    m = g.wait_status(jid, "sent", timeout=timeout)
    assert len(sink.parsed(to)) == 1, "%d messages to %s" % (len(sink.parsed(to)), to)
    return m


# ---- delivery ----

def test_starttls_and_auth_deliver_a_message_mail_clients_read():
    sink = Sink(starttls=True, auth=True)
    g = Gateway(sink)
    try:
        subject = "Audiencia del 7 de diciembre: ¿vendrá? Señora Núñez, confirme por favor su asistencia hoy"
        body = ("Hola,\n.a line that starts with a dot\n" + "x" * 200 + "\nçà et là = égal\n"
                "trailing space \n")
        g.job("e-ok", "ana@example.org", subject=subject, body=body)
        m = g.wait_status("e-ok", "sent")
        assert m["attempt"] == "1", m
        assert m["provider_id"].startswith(m.get("id", "m")), m
        msg = sink.parsed("ana@example.org")
        assert len(msg) == 1
        msg = msg[0]
        raw = sink.raw("ana@example.org")[0]
        # CRLF only, and every line within 78 characters (RFC 5322 2.1.1).
        assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF"
        assert b"\r" not in raw.replace(b"\r\n", b""), "a bare CR"
        for line in raw.split(b"\r\n"):
            assert len(line) <= 78, line
        assert msg["Subject"] == subject, msg["Subject"]
        assert b"=?UTF-8?B?" in raw.split(b"\r\n\r\n")[0]
        assert msg["From"].addresses[0].addr_spec == FROM
        assert msg["From"].addresses[0].display_name == "La Defensa"
        assert msg["To"].addresses[0].addr_spec == "ana@example.org"
        assert msg["MIME-Version"] == "1.0"
        assert msg["Date"].datetime is not None and msg["Date"].datetime.utcoffset().total_seconds() == 0
        assert abs(msg["Date"].datetime.timestamp() - time.time()) < 120
        mid = msg["Message-ID"]
        assert mid.startswith("<m") and mid.endswith("@defensa.example.org>"), mid
        assert msg.get_content_type() == "text/plain"
        assert msg.get_content_charset() == "utf-8"
        assert msg["Content-Transfer-Encoding"] == "quoted-printable"
        text = msg.get_content()
        assert text.replace("\r\n", "\n") == body, repr(text)
        assert "List-Unsubscribe" not in msg
        # What the engine recorded says nothing of the address.
        assert "ana@example.org" not in json.dumps(g.statuses("e-ok"))
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def test_smtps_delivers_with_tls_from_the_first_byte():
    sink = Sink(smtps=True, auth=True)
    g = Gateway(sink, scheme="smtps")
    try:
        g.job("e-smtps", "bo@example.org", subject="Plain subject")
        g.wait_status("e-smtps", "sent")
        msg = sink.parsed("bo@example.org")[0]
        assert msg["Subject"] == "Plain subject"
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def test_starttls_required_never_sends_in_the_clear_to_a_server_without_it():
    # No STARTTLS offered and no AUTH: required means no mail at all.
    # Temporary (the message waits for the setup to be fixed), and the
    # breaker counts it.
    sink = Sink(starttls=False)
    g = Gateway(sink, email_conf={"username": "", "starttls": "required"},
                extra={"retry": {"max_attempts": "2"}})
    try:
        g.job("e-notls", "cy@example.org")
        m = g.wait_status("e-notls", "failed")
        assert m["attempt"] == "2", m
        assert "offers no STARTTLS" in m["error"], m
        assert "scheduled" in g.statuses("e-notls")
        assert sink.parsed() == []
        assert "offers no STARTTLS" in g.log_text()
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def test_starttls_opportunistic_sends_in_the_clear_when_not_offered():
    sink = Sink(starttls=False)
    g = Gateway(sink, email_conf={"username": "", "starttls": "opportunistic"})
    try:
        g.job("e-opp", "di@example.org")
        sent_once(sink, g, "e-opp", "di@example.org")
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def test_wrong_password_is_temporary_and_logged_once():
    sink = Sink(starttls=True, auth=True)
    g = Gateway(sink, extra={"retry": {"max_attempts": "3"}})
    try:
        with open(os.path.join(g.cfg.dir, "smtp.pw"), "w") as f:
            f.write("wrong\n")
        g.stop()
        g.proc = harness.start_daemon(g.cfg)
        g.job("e-auth", "ed@example.org")
        m = g.wait_status("e-auth", "failed")
        assert m["attempt"] == "3" and "authentication refused" in m["error"], m
        errors = [ln for ln in g.log_text().splitlines()
                  if " error " in ln and "authentication refused" in ln]
        assert len(errors) == 1, g.log_text()
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def test_unusable_settings_stop_the_start_naming_the_key():
    # Each case is checked before the next key is read (smtp_open's order).
    cases = [({"url": "smtp://user:secret@127.0.0.1:2525"}, "[email] url"),
             ({"url": "http://127.0.0.1:2525"}, "[email] url"),
             ({"starttls": "maybe"}, "[email] starttls"),
             ({"from": "not-an-address"}, "[email] from"),
             ({"password_file": "/nonexistent/smtp.pw"}, "[email] password_file"),
             ({"ca_file": "/nonexistent/ca.pem"}, "[email] ca_file")]
    for conf, key in cases:
        g = Gateway.__new__(Gateway)
        d = harness.tempdir("pregon-smtp-bad-")
        full = {"provider": "smtp", "url": "smtp://127.0.0.1:2525", "from": FROM,
                "username": USER, "password_file": os.path.join(d, "none")}
        full.update(conf)
        g.cfg = harness.write_config(sections={"email": full}, directory=d)
        g.log = os.path.join(d, "pregond.log")
        p = harness.start_daemon(g.cfg)
        assert p.wait(20) != 0, (conf, g.log_text())
        assert key in g.log_text(), (key, g.log_text())
        assert "secret" not in g.log_text(), g.log_text()


# ---- failures ----

def test_server_down_then_up_is_retried_and_sent():
    port = harness.free_port()
    g = Gateway(type("S", (), {"port": port})(), email_conf={"username": "", "starttls": "off"},
                extra={"retry": {"max_attempts": "20"}})
    sink = None
    try:
        g.job("e-down", "fa@example.org")
        wait_for(lambda: int((g.message("e-down") or {}).get("attempt", 0)) >= 2,
                 what="two attempts while the server is down")
        assert "cannot connect" in g.message("e-down")["error"]
        sink = Sink(starttls=False, port=port)
        m = sent_once(sink, g, "e-down", "fa@example.org")
        assert int(m["attempt"]) >= 2, m
        no_connection_left(sink, g, 2)
    finally:
        if sink:
            sink.stop()


def test_421_and_451_are_retried_then_sent():
    sink = Sink(starttls=False)
    sink.h.rcpt["ga@example.org"] = ["421 4.3.2 shutting down", "451 4.3.0 try again later"]
    sink.h.data["hu@example.org"] = ["451 4.3.0 queue full"]
    g = Gateway(sink, email_conf={"username": "", "starttls": "off"})
    try:
        g.job("e-421", "ga@example.org")
        g.job("e-451", "hu@example.org")
        m = g.wait_status("e-421", "sent")
        assert m["attempt"] == "3", m
        m = g.wait_status("e-451", "sent")
        assert m["attempt"] == "2", m
        st = g.statuses("e-421")
        assert st.count("scheduled") == 2, st
        assert len(sink.parsed("ga@example.org")) == 1 and len(sink.parsed("hu@example.org")) == 1
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def test_550_at_rcpt_fails_bounces_and_suppresses_the_next_email():
    sink = Sink(starttls=False)
    sink.h.rcpt["nobody@example.org"] = ["550 5.1.1 <nobody@example.org>: Recipient address rejected: "
                                         "User unknown in virtual mailbox table"]
    sink.h.rcpt["policy@example.org"] = ["554 5.7.1 <policy@example.org>: Relay access denied"]
    g = Gateway(sink, email_conf={"username": "", "starttls": "off"})
    try:
        g.job("e-550", "nobody@example.org")
        m = g.wait_status("e-550", "failed")
        assert m["attempt"] == "1", m
        assert m["error"].startswith("smtp 550 at RCPT: 5.1.1"), m
        assert "User unknown" in m["error"] and "@" not in m["error"], m
        g.job("e-550b", "nobody@example.org")
        g.wait_status("e-550b", "suppressed")
        assert harness.metric(g.log, r"pregon_smtp_bounces_total (\d+)") == 1
        r = harness.run_cli(g.cfg, "optout", "history", "nobody@example.org")
        assert r.returncode == 0, r.stderr
        assert '"source":"bounce"' in r.stdout.replace(" ", ""), r.stdout
        # A 5.7.1 refusal is permanent but not a bounce: the address is
        # not opted out.
        g.job("e-554", "policy@example.org")
        m = g.wait_status("e-554", "failed")
        assert m["error"].startswith("smtp 554 at RCPT"), m
        g.job("e-554b", "policy@example.org")
        sent_once(sink, g, "e-554b", "policy@example.org")
        assert sink.parsed("nobody@example.org") == []
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def stalled(jid, to, stall_s, timeout, extra=None):
    """A sink that holds its answer to the end of the first message to `to`
    for stall_s, and a pregond with that [email] timeout; returns them once
    job jid's message is stalled there."""
    sink = Sink(starttls=False)
    sink.h.stall[to] = 1
    sink.h.stall_s = stall_s
    g = Gateway(sink, email_conf={"username": "", "starttls": "off", "timeout": timeout},
                extra=extra)
    g.job(jid, to)
    wait_for(lambda: len(sink.h.stall_started) == 1, what="the stall")
    return sink, g


def test_a_stall_inside_data_times_out_and_is_retried():
    sink, g = stalled("e-stall", "ia@example.org", 6.0, "1500ms")
    try:
        # While the server holds the answer to the message's end, the
        # daemon's loop is free: libcurl's blocking wait is in the
        # slot's thread. /healthz answers at once.
        t0 = time.monotonic()
        assert g.get("/healthz")[0] == 200
        assert time.monotonic() - t0 < 0.5, "loop blocked %.2fs" % (time.monotonic() - t0)
        m = sent_once(sink, g, "e-stall", "ia@example.org", timeout=30)
        assert int(m["attempt"]) == 2, m
        ev = [json.loads(f["event"]) for _, f in g.r.xrange(g.cfg.key("events"))
              if json.loads(f["event"])["job"] == "e-stall"]
        assert any("timed out at end of data" in (e.get("error") or "") for e in ev), ev
        # The stalled connection was given up; the server closes it when
        # its sleep ends.
        wait_for(lambda: sink.open <= 2, timeout=10, what="at most 2 connections")
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def test_sigterm_during_a_stall_stops_the_transfer_and_loses_nothing():
    sink, g = stalled("e-term", "ka@example.org", 20.0, "30s",
                      extra={"shutdown": {"grace": "500ms"}, "jobs": {"reclaim_after": "3"}})
    try:
        t0 = time.monotonic()
        g.stop()   # exit 0, within the grace and the progress callback's second
        assert time.monotonic() - t0 < 5, "shutdown took %.1fs" % (time.monotonic() - t0)
        # Not lost: still claimed (sending), for the next instance to take
        # over after [jobs] reclaim_after (the consumer name has the pid).
        assert g.status("e-term") in ("sending", "scheduled"), g.message("e-term")
        g.proc = harness.start_daemon(g.cfg)
        sent_once(sink, g, "e-term", "ka@example.org", timeout=30)
        no_connection_left(sink, g, 2)
    finally:
        sink.stop()


def test_messages_reuse_at_most_connections_connections():
    sink = Sink(starttls=True, auth=True)
    g = Gateway(sink, email_conf={"connections": "3"})
    try:
        n = 40
        for i in range(n):
            g.job("e-many-%d" % i, "ja%d@example.org" % i)
        for i in range(n):
            g.wait_status("e-many-%d" % i, "sent")
        assert len(sink.parsed()) == n
        assert sink.total <= 3, "%d connections for %d messages" % (sink.total, n)
        assert harness.metric(g.log, r"pregon_smtp_connects_total (\d+)") == sink.total
        assert harness.metric(g.log, r"pregon_smtp_busy (\d+)") == 0
        assert harness.metric(g.log, r"pregon_smtp_breaker_open (\d+)") == 0
        no_connection_left(sink, g, 3)
    finally:
        sink.stop()


if __name__ == "__main__":
    harness.main(globals())
