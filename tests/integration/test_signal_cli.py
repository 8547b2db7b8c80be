"""Signal through the signal-cli provider, end to end against the loopback
fake of `signal-cli daemon --http` (tests/fakes/signal_cli_fake.py), with
the Twilio fake for SMS fallbacks: sends and receipts, each failure type,
Signal's throttle, consent words, alert replies and town-hall answers by
Signal, the event stream dropped and redelivered, and the refusal of a
remote http:// URL."""

import json
import os
import sys
import time

import harness
from harness import wait_for

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(harness.ROOT, "tests", "fakes"))
import signal_cli_fake  # noqa: E402
import test_sms  # noqa: E402
from test_court import ms, real_ms  # noqa: E402

ACCOUNT = "+15005550006"
_sfake = None


def sfake_port():
    global _sfake
    if _sfake is None or _sfake[0].poll() is not None:
        _sfake = signal_cli_fake.start(["--account", ACCOUNT, "--receipt-delay", "0.05",
                                        "--keepalive", "1"], popen=harness.spawn)
    signal_cli_fake.control(_sfake[1], "POST", "reset")
    return _sfake[1]


def sctl(method, path, obj=None):
    return signal_cli_fake.control(_sfake[1], method, path, obj)


def sends_to(addr):
    return [s for s in sctl("GET", "sends")["sends"] if addr in (s.get("recipients") or [])]


class Gateway(test_sms.Gateway):
    """A pregond with [signal] provider = signal-cli on the fake, and SMS on
    the Twilio fake."""

    def __init__(self, signal=None, extra=None):
        self.sport = sfake_port()
        sections = {"signal": {"provider": "signal-cli",
                               "url": "http://127.0.0.1:%d" % self.sport,
                               "account": ACCOUNT, "timeout": "2s"}}
        sections["signal"].update(signal or {})
        for k, v in (extra or {}).items():
            sections.setdefault(k, {}).update(v)
        super().__init__(extra=sections)

    def sjob(self, jid, recipient, body="Your court date is Dec 1 at 8:30, Dept 12.", **extra):
        job = {"id": jid, "kind": "message", "recipient": recipient, "body": body}
        job.update(extra)
        self.r.xadd(self.cfg.key("jobs"), {"job": json.dumps(job)})

    def xadd(self, job):
        self.r.xadd(self.cfg.key("jobs"), {"job": json.dumps(job)})

    def health(self):
        status, body = self.get("/healthz")
        return status, json.loads(body)

    def statuses(self, jid):
        return [e["status"] for e in self.events(jid)]

    def urgent_falls_back_to_sms(self, jid, addr):
        """An urgent alert to addr by Signal, then SMS: it must reach SMS
        within 1.5 s. Returns the Signal message's `failed` error."""
        t = time.time()
        self.xadd({"id": jid, "kind": "action_alert", "urgent": True,
                   "audience": {"recipients": [{"id": "c-" + jid, "signal": addr, "phone": addr,
                                                "channels": ["signal", "sms"]}]},
                   "message": "ICE activity at 5th & Main. Go now."})
        wait_for(lambda: len(test_sms.sent_to(addr)) == 1, what=jid + " by SMS", timeout=5)
        assert time.time() - t < 1.5, "the urgent alert waited for Signal"
        failed = [e for e in self.events(jid) if e["status"] == "failed"]
        assert failed, self.events(jid)
        return failed[0]["error"]

    def message_from(self, addr, text, **extra):
        req = {"from": addr, "text": text}
        req.update(extra)
        return sctl("POST", "message", req)


def test_sent_then_delivered_then_read_by_receipts():
    g = Gateway()
    try:
        num = "+13235550140"
        g.sjob("sg-ok", {"id": "c-1", "signal": num})
        m = g.wait_status("sg-ok", "read")
        ts = sends_to(num)[0]["timestamp"]
        assert m["provider_id"].startswith("%d-" % ts) and m["attempt"] == "1", m
        s = sends_to(num)
        assert len(s) == 1 and s[0]["account"] == ACCOUNT, s
        assert s[0]["message"].startswith("Your court date"), s
        assert g.statuses("sg-ok") == ["accepted", "sending", "sent", "delivered", "read"]
        raw = json.dumps(g.events("sg-ok"))
        assert "3235550140" not in raw and "court" not in raw, raw
        # A username and an ACI go as signal-cli reads them.
        g.sjob("sg-user", {"id": "c-2", "signal": "Pregon_Test.42"})
        g.wait_status("sg-user", "read")
        assert len(sends_to("u:pregon_test.42")) == 1
        aci = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
        g.sjob("sg-aci", {"id": "c-3", "signal": aci.upper()})
        g.wait_status("sg-aci", "read")
        assert len(sends_to(aci)) == 1
        status, text = g.get("/metrics")
        assert 'pregon_signal_results_total{type="success"} 3' in text, text
        assert 'pregon_signal_stream_total{kind="receipt"} 6' in text, text
        assert "pregon_signal_stream_up 1" in text and "pregon_signal_throttled 0" in text
        status, h = g.health()
        assert status == 200 and h["signal"] == {"provider": "signal-cli", "stream": "up",
                                                 "throttled": False}, h
    finally:
        g.stop()


def test_a_signal_address_of_no_known_form_is_rejected_naming_the_forms():
    g = Gateway()
    try:
        for jid, addr in (("bad-1", "name"), ("bad-2", "1x.01"), ("bad-3", "abc.00"),
                          ("bad-4", "+1323")):
            g.sjob(jid, {"id": "c-" + jid, "signal": addr})
        for jid in ("bad-1", "bad-2", "bad-3"):
            wait_for(lambda: "rejected" in g.statuses(jid), what=jid + " rejected")
            err = [e for e in g.events(jid) if e["status"] == "rejected"][0]["error"]
            assert err.startswith("recipient.signal: expected an E.164 number (+ and country code), "
                                  "a Signal username (name.01) or an ACI UUID"), err
        wait_for(lambda: "rejected" in g.statuses("bad-4"), what="bad-4 rejected")
        err = [e for e in g.events("bad-4") if e["status"] == "rejected"][0]["error"]
        assert err == "recipient.signal: not an E.164 number", err
        assert sctl("GET", "sends")["sends"] == []
    finally:
        g.stop()


def test_unregistered_falls_back_to_sms_through_the_twilio_fake():
    g = Gateway()
    try:
        num = "+13235550141"
        sctl("POST", "rules", {"recipient": num, "type": "UNREGISTERED_FAILURE"})
        g.sjob("sg-unreg", {"id": "c-u", "signal": num, "phone": num,
                            "channels": ["signal", "sms"]})
        m = g.wait_status("sg-unreg", "failed")
        assert m["error"] == "signal-cli: UNREGISTERED_FAILURE: not a Signal user", m
        assert m["attempt"] == "1"
        g.wait_status("sg-unreg", "delivered", n=2)
        assert len(test_sms.sent_to(num)) == 1 and len(sends_to(num)) == 1
    finally:
        g.stop()


def test_identity_pre_key_and_captcha_fail_with_what_to_do():
    g = Gateway()
    try:
        sctl("POST", "rules", {"rules": [
            {"recipient": "+13235550142", "type": "IDENTITY_FAILURE"},
            {"recipient": "+13235550143", "type": "INVALID_PRE_KEY_FAILURE"},
            {"recipient": "+13235550145", "type": "NETWORK_FAILURE", "count": 1},
        ]})
        g.sjob("sg-id", {"id": "c-i", "signal": "+13235550142"})
        g.sjob("sg-pk", {"id": "c-p", "signal": "+13235550143"})
        g.sjob("sg-net", {"id": "c-n", "signal": "+13235550145"})
        m = g.wait_status("sg-id", "failed")
        assert "IDENTITY_FAILURE" in m["error"] and "signal-cli trust" in m["error"], m
        m = g.wait_status("sg-pk", "failed")
        assert "INVALID_PRE_KEY_FAILURE" in m["error"] and "open Signal" in m["error"], m
        m = g.wait_status("sg-net", "read")
        assert m["attempt"] == "2", m
        assert any("NETWORK_FAILURE" in (e.get("error") or "") for e in g.events("sg-net"))
        # A captcha: permanent, the challenge named, and Signal throttled.
        sctl("POST", "rules", {"recipient": "+13235550144", "type": "RATE_LIMIT_FAILURE",
                               "token": "5c7d1a3e-captcha-token", "retry_after": 600})
        g.sjob("sg-cap", {"id": "c-c", "signal": "+13235550144"})
        m = g.wait_status("sg-cap", "failed")
        assert "captcha" in m["error"] and "5c7d1a3e-captcha-token" in m["error"], m
        assert "submitRateLimitChallenge" in m["error"], m
        status, h = g.health()
        assert h["signal"]["throttled"] is True and h["signal"]["reason"] == "captcha", h
        status, text = g.get("/metrics")
        assert 'pregon_signal_results_total{type="proof_required"} 1' in text
        assert 'pregon_signal_results_total{type="identity"} 1' in text
        assert "pregon_signal_retry_after_seconds 600" in text
    finally:
        g.stop()


def test_rate_limit_makes_an_urgent_alert_fall_back_at_once_and_a_normal_one_wait():
    g = Gateway()
    try:
        slow, fast = "+13235550150", "+13235550151"
        sctl("POST", "rules", {"recipient": slow, "type": "RATE_LIMIT_FAILURE",
                               "retry_after": 2, "count": 1})
        t0 = time.time()
        g.sjob("sg-normal", {"id": "c-slow", "signal": slow})
        wait_for(lambda: "scheduled" in g.statuses("sg-normal"), what="normal: retry")
        ev = [e for e in g.events("sg-normal") if e["status"] == "scheduled"][0]
        assert ev["error"] == "signal-cli: RATE_LIMIT_FAILURE: retry after 2 s", ev
        # Throttled: shown, and since when.
        status, h = g.health()
        assert status == 200 and h["signal"]["throttled"] is True, h
        assert h["signal"]["reason"] == "rate_limit" and h["signal"]["throttled_since"], h
        status, text = g.get("/metrics")
        assert "pregon_signal_throttled 1" in text and "pregon_signal_throttles_total 1" in text
        # An urgent alert meanwhile goes to the next channel at once,
        # without a Signal attempt.
        err = g.urgent_falls_back_to_sms("sg-urgent", fast)
        assert sends_to(fast) == []
        assert "throttled by Signal (rate_limit) since" in err, err
        # The normal one waited Signal's retryAfterSeconds, then went.
        g.wait_status("sg-normal", "read", timeout=10)
        assert time.time() - t0 >= 2.0, "retryAfterSeconds not honoured"
        assert len(sends_to(slow)) == 2
        wait_for(lambda: g.health()[1]["signal"]["throttled"] is False, what="throttle over")
        # An urgent alert that meets the rate limit itself falls back too.
        other = "+13235550152"
        sctl("POST", "rules", {"recipient": other, "type": "RATE_LIMIT_FAILURE",
                               "retry_after": 60, "count": 1})
        err = g.urgent_falls_back_to_sms("sg-urgent-2", other)
        assert err == ("signal-cli: RATE_LIMIT_FAILURE (retry after 60 s): urgent, so the next "
                       "channel now"), err
    finally:
        g.stop()


def test_stop_by_signal_opts_out_of_signal_only():
    g = Gateway()
    try:
        num = "+13235550160"
        g.message_from(num, "STOP")
        wait_for(lambda: g.r.sismember(g.cfg.key("optout:signal"), num), what="opted out")
        assert not g.r.sismember(g.cfg.key("optout:sms"), num)
        # The confirmation goes back by Signal.
        wait_for(lambda: len(sends_to(num)) == 1, what="the confirmation")
        g.sjob("sg-after-stop", {"id": "c-s", "signal": num, "phone": num,
                                 "channels": ["signal", "sms"]})
        wait_for(lambda: len(test_sms.sent_to(num)) == 1, what="the job by SMS")
        assert len(sends_to(num)) == 1, "Signal sent after STOP"
        # HELP is answered by Signal, once per [signal] help_interval.
        helper = "+13235550162"
        g.message_from(helper, "HELP")
        g.message_from(helper, "help")
        wait_for(lambda: len(sends_to(helper)) == 1, what="the HELP answer")
        assert "Reply STOP" in sends_to(helper)[0]["message"], sends_to(helper)
        # A STOP written in a group is not addressed to pregon.
        other = "+13235550161"
        g.message_from(other, "STOP", group=True)
        g.message_from(other, "hello")
        wait_for(lambda: len(g.r.xrange(g.cfg.key("inbound"))) >= 1, what="the hello")
        assert not g.r.sismember(g.cfg.key("optout:signal"), other)
        status, text = g.get("/metrics")
        assert 'pregon_signal_inbound_total{intent="stop"} 1' in text, text
    finally:
        g.stop()


def test_an_alert_reply_by_signal_is_counted():
    g = Gateway()
    try:
        nums = ["+13235550171", "+13235550172"]
        g.xadd({"id": "ice-sg", "kind": "action_alert",
                "audience": {"recipients": [{"id": "r-%d" % i, "signal": n}
                                            for i, n in enumerate(nums)]},
                "message": "ICE activity at 5th & Main. Reply 1 if responding, 2 if you cannot.",
                "replies": {"1": "responding", "2": "cannot"}})
        wait_for(lambda: g.r.hget(g.cfg.key("job:ice-sg"), "c:signal:read") == "2",
                 what="both read")
        g.message_from(nums[0], "1")
        g.message_from(nums[1], "I can bring water")
        wait_for(lambda: g.r.hget(g.cfg.key("job:ice-sg"), "rtext") == "1", what="free text")
        h = g.r.hgetall(g.cfg.key("job:ice-sg"))
        assert h.get("r:responding") == "1" and h.get("c:signal:replied") == "2", h
        rep = g.r.xrange(g.cfg.key("replies:ice-sg"))
        assert len(rep) == 1 and rep[0][1]["text"] == "I can bring water", rep
        raw = json.dumps(g.events("ice-sg"))
        assert "water" not in raw and "3235550171" not in raw
    finally:
        g.stop()


def test_a_town_hall_2_by_signal_cancels_the_reminders():
    LA = "America/Los_Angeles"
    now = ms("2027-01-04T20:00:00Z")
    g = Gateway(extra={"schedule": {"test_clock": "yes", "default_tz": LA},
                       "templates": {"sender": "La Defensa"}})
    try:
        g.r.set(g.cfg.key("test:clock"), now - real_ms())
        num = "+12135550111"
        g.xadd({"id": "reg-sg", "kind": "townhall_confirmation",
                "event": {"ref": "th-sg", "title": "Re-Imagine LA Town Hall",
                          "starts_at": "2027-01-14T18:00:00", "ends_at": "2027-01-14T19:30:00",
                          "tz": LA, "location": "Online"},
                "recipient": {"id": "m-1", "signal": num}})
        wait_for(lambda: len(sends_to(num)) == 1, what="the confirmation by Signal")
        assert "January 14" in sends_to(num)[0]["message"]

        def reminders():
            n = 0
            for mid in g.r.zrange(g.cfg.key("scheduled"), 0, -1):
                if g.r.hget(g.cfg.key("msg:" + mid), "job") == "reg-sg":
                    n += 1
            return n
        wait_for(lambda: reminders() == 2, what="two reminders")
        wait_for(lambda: g.status("reg-sg") == "read", what="the confirmation read")
        g.message_from(num, " 2 ")
        wait_for(lambda: reminders() == 0, what="the reminders cancelled")
        f = json.loads(harness.run_cli(g.cfg, "status", "--event", "th-sg", "--json").stdout)
        assert f["cancel"] == 1 and f["attending"] == 0, f
    finally:
        g.stop()


def test_the_event_stream_drops_and_comes_back_losing_and_doubling_nothing():
    g = Gateway()
    try:
        num = "+13235550180"
        sctl("POST", "rules", {"recipient": num, "receipts": []})
        g.sjob("sg-drop", {"id": "c-d", "signal": num})
        g.wait_status("sg-drop", "sent")
        ts = sends_to(num)[0]["timestamp"]
        # The stream drops; a receipt arrives while pregond is away and
        # waits in signal-cli (--receive-mode=on-connection).
        sctl("POST", "hold", {"on": True})
        assert sctl("POST", "drop")["dropped"] == 1
        sctl("POST", "receipt", {"recipient": num, "timestamps": [ts], "type": "delivery"})
        wait_for(lambda: sctl("GET", "events")["connects"] >= 2, what="reconnected", timeout=10)
        assert g.status("sg-drop") == "sent"
        sctl("POST", "hold", {"on": False})
        g.wait_status("sg-drop", "delivered")
        # signal-cli redelivers: nothing moves twice.
        sctl("POST", "redeliver", {"last": 1})
        sctl("POST", "receipt", {"recipient": num, "timestamps": [ts], "type": "read"})
        g.wait_status("sg-drop", "read")
        sctl("POST", "drop")
        wait_for(lambda: sctl("GET", "events")["connects"] >= 3, what="reconnected again",
                 timeout=10)
        sctl("POST", "redeliver", {"last": 2})
        g.message_from(num, "thanks")
        wait_for(lambda: len(g.r.xrange(g.cfg.key("inbound"))) == 1, what="the reply")
        sctl("POST", "redeliver", {"last": 1})
        time.sleep(0.5)
        assert g.statuses("sg-drop") == ["accepted", "sending", "sent", "delivered", "read"], \
            g.statuses("sg-drop")
        assert len(g.r.xrange(g.cfg.key("inbound"))) == 1
        status, text = g.get("/metrics")
        assert "pregon_signal_stream_up 1" in text
        assert harness.metric(os.path.join(g.cfg.dir, "pregond.log"),
                              r'pregon_signal_stream_total\{kind="drop"\} (\d+)') >= 2
        log = open(os.path.join(g.cfg.dir, "pregond.log"), errors="replace").read()
        assert "event stream" in log and "--receive-mode=on-connection" in log
        assert "3235550180" not in log and "thanks" not in log
    finally:
        g.stop()


def test_a_receipt_before_the_send_result_is_kept_and_applied():
    g = Gateway()
    try:
        num = "+13235550181"
        # The delivery receipt is on the stream before signal-cli answers
        # the send (0.5 s later), as when Signal is faster than the daemon.
        sctl("POST", "rules", {"recipient": num, "delay": 0.5, "early": True,
                               "receipts": ["delivery"]})
        g.sjob("sg-early", {"id": "c-e", "signal": num})
        wait_for(lambda: len(sctl("GET", "events")["events"]) == 1, what="the early receipt")
        assert g.status("sg-early") == "sending"
        m = g.wait_status("sg-early", "delivered")
        assert m["attempt"] == "1"
        assert g.statuses("sg-early") == ["accepted", "sending", "sent", "delivered"]
    finally:
        g.stop()


def test_the_signal_rate_paces_sends():
    """[signal] rate is the channel's shared rate (the engine's, through
    Redis, as for SMS): 10 messages at 4 a second take over 2 s."""
    g = Gateway(signal={"rate": "4", "burst": "1"})
    try:
        for i in range(10):
            g.sjob("sg-rate-%d" % i, {"id": "c-r%d" % i, "signal": "+1323555%04d" % (200 + i)})
        wait_for(lambda: len(sctl("GET", "sends")["sends"]) == 10, what="10 sends", timeout=20)
        at = sorted(s["at"] for s in sctl("GET", "sends")["sends"])
        assert at[-1] - at[0] >= 2.0, at[-1] - at[0]
        assert g.r.exists(g.cfg.key("rate:signal"))
    finally:
        g.stop()


def test_a_unix_socket_url_sends_and_streams_through_the_socket():
    d = harness.tempdir("pregon-sg-unix-")
    sock = os.path.join(d, "signal-cli.sock")
    proc, _ = signal_cli_fake.start(["--account", ACCOUNT, "--unix", sock, "--keepalive", "1"],
                                    popen=harness.spawn)
    g = None
    try:
        g = Gateway(signal={"url": "unix:" + sock})
        num = "+13235550190"
        g.sjob("sg-unix", {"id": "c-x", "signal": num})
        m = g.wait_status("sg-unix", "read")
        assert m["attempt"] == "1", m
        assert g.health()[1]["signal"]["stream"] == "up"
    finally:
        if g:
            g.stop()
        harness.stop(proc)


def test_a_remote_http_url_is_refused_at_start():
    for url, want in (("http://192.0.2.10:8080", "[signal] url: http:// is allowed only to "
                       "this machine"),
                      ("unix:run/signal.sock", "[signal] url: unix: must be followed by an "
                       "absolute path"),
                      ("", "[signal] url: set it for provider signal-cli")):
        d = harness.tempdir("pregon-sg-")
        cfg = harness.write_config(sections={"signal": {"provider": "signal-cli", "url": url}},
                                   directory=d)
        p = harness.start_daemon(cfg)
        assert p.wait(timeout=20) != 0
        log = open(os.path.join(cfg.dir, "pregond.log"), errors="replace").read()
        assert want in log, log


if __name__ == "__main__":
    harness.main(globals())
