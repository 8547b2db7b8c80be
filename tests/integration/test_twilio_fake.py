"""The Twilio fake itself (tests/fakes/twilio_fake.py): Twilio's answers,
its signed callbacks checked by a receiver with its own signature code, and
every failure mode a test can ask for. pregon's SMS tests rely on it."""

import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
from harness import wait_for

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "fakes"))
import twilio_fake  # noqa: E402

SID = "AC" + "1f" * 16
TOKEN = "f4k3-t0ken-for-tests"
FROM = "+15005550006"
MG = "MG" + "ab" * 16
_fake = None


def fake():
    """The fake shared by this file's tests, reset for each: its port."""
    global _fake
    if _fake is None or _fake[0].poll() is not None:
        _fake = twilio_fake.start(SID, TOKEN, ["--from-numbers", FROM + ",+15005550007",
                                               "--callback-delay", "0.02"], popen=harness.spawn)
    twilio_fake.control(_fake[1], "POST", "reset")
    return _fake[1]


def ctl(method, path, obj=None):
    return twilio_fake.control(_fake[1], method, path, obj)


def send(port, form, auth=(SID, TOKEN), account=SID, conn=None, raw=None, ctype=None):
    """POSTs a Messages.json create; returns (status, headers, JSON or None)."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": ctype or "application/x-www-form-urlencoded"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    body = raw if raw is not None else urllib.parse.urlencode(form)
    c.request("POST", "/2010-04-01/Accounts/%s/Messages.json" % account, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, r, (json.loads(data) if data else None)


def msg(to="+13235550100", body="Court reminder: Dept 30, Dec 1 at 8:30.", **kw):
    form = {"To": to, "From": FROM, "Body": body}
    form.update(kw)
    return form


def expected_signature(token, url, pairs):
    """Twilio's algorithm written independently of the fake: names sorted,
    each name's distinct values sorted, name then value appended to the URL."""
    by_name = collections.defaultdict(set)
    for k, v in pairs:
        by_name[k].add(v)
    data = url
    for name in sorted(by_name):
        for value in sorted(by_name[name]):
            data += name + value
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class Receiver:
    """A tiny webhook endpoint: records each post (path, headers, form pairs)
    and checks X-Twilio-Signature over its own URL; answers `status`."""

    def __init__(self, status=200):
        self.posts = []
        self.status = status
        receiver = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True)
                url = receiver.base + self.path
                sig = self.headers.get("X-Twilio-Signature")
                receiver.posts.append({
                    "path": self.path, "form": dict(pairs), "signature": sig,
                    "valid": sig == expected_signature(TOKEN, url, pairs),
                    "ctype": self.headers.get("Content-Type")})
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b"<Response/>")

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def url(self, path="/webhooks/sms/status"):
        return self.base + path

    def wait(self, n, timeout=10):
        return wait_for(lambda: self.posts if len(self.posts) >= n else None,
                        timeout=timeout, what="%d webhook posts" % n)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---- start-up, signature ----

def test_fake_prints_its_port_and_exits_0_on_sigterm():
    p, port = twilio_fake.start(SID, TOKEN, popen=harness.spawn)
    assert 0 < port < 65536
    assert twilio_fake.control(port, "GET", "rules") == {"rules": []}
    assert harness.stop(p, signal.SIGTERM, timeout=5) == 0


def test_signature_matches_twilios_documented_example():
    # https://www.twilio.com/docs/usage/webhooks/webhooks-security (worked example)
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    assert expected_signature("12345", url, params.items()) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_fake.signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    pairs = [("b", "2"), ("a", "z"), ("a", "y"), ("B", "1"), ("a", "y"), ("e", "")]
    assert twilio_fake.signature("t", "http://x/", pairs) == expected_signature("t", "http://x/", pairs)


# ---- the API ----

def test_api_answers_401_with_twilios_error_without_the_right_credentials():
    port = fake()
    for auth in (None, (SID, "wrong"), ("AC" + "0" * 32, TOKEN), (SID, "")):
        status, r, body = send(port, msg(), auth=auth)
        assert status == 401, (auth, status)
        assert body["code"] == 20003 and body["status"] == 401, body
        assert body["message"] == "Authenticate"
        assert body["more_info"] == "https://www.twilio.com/docs/errors/20003"
        assert r.getheader("WWW-Authenticate", "").startswith("Basic")
    reqs = ctl("GET", "requests")["requests"]
    assert len(reqs) == 4 and not any(q["auth_ok"] for q in reqs)
    assert ctl("GET", "messages")["messages"] == []


def test_api_validates_the_create_like_twilio():
    port = fake()
    cases = [
        ({"From": FROM, "Body": "x"}, 21604),
        (msg(to=""), 21604),
        (msg(to="323-555"), 21211),
        ({"To": "+13235550100", "Body": "x"}, 21603),
        (msg(From="+15550001111"), 21606),
        ({"To": "+13235550100", "From": FROM}, 21602),
        (msg(body="x" * 1601), 21617),
        (msg(ValidityPeriod="0"), 21624),
        (msg(ValidityPeriod="36001"), 21624),
        (msg(ValidityPeriod="ten"), 21624),
    ]
    for form, code in cases:
        status, _, body = send(port, form)
        assert (status, body["code"]) == (400, code), (form, status, body)
        assert body["more_info"].endswith("/%d" % code) and body["message"]
    # A JSON body is not a form: Twilio then finds no To.
    status, _, body = send(port, None, raw=json.dumps(msg()), ctype="application/json")
    assert (status, body["code"]) == (400, 21604), body
    status, _, body = send(port, msg(), account="AC" + "2" * 32)
    assert (status, body["code"]) == (404, 20404), body
    assert ctl("GET", "messages")["messages"] == []


def test_api_creates_the_message_resource_and_keeps_the_connection_alive():
    port = fake()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, r, m = send(port, msg(ValidityPeriod="14400"), conn=conn)
    assert status == 201, m
    sock = conn.sock
    assert r.getheader("Content-Type").startswith("application/json")
    assert m["sid"].startswith("SM") and len(m["sid"]) == 34
    int(m["sid"][2:], 16)
    assert m["status"] == "queued" and m["direction"] == "outbound-api"
    assert (m["to"], m["from"], m["account_sid"]) == ("+13235550100", FROM, SID)
    assert m["num_segments"] == "1" and m["num_media"] == "0"
    assert m["error_code"] is None and m["error_message"] is None
    assert m["uri"] == "/2010-04-01/Accounts/%s/Messages/%s.json" % (SID, m["sid"])
    assert m["date_created"].endswith(" +0000") and m["api_version"] == "2010-04-01"
    # Segments: GSM-7 160/153, UCS-2 70/67; a second request on the same socket.
    for body, n in (("a" * 160, "1"), ("a" * 161, "2"), ("é" * 160, "1"),
                    ("ñ" + "€" * 80, "2"), ("😀" * 35, "1"), ("Ś" * 71, "2")):
        status, _, m2 = send(port, msg(body=body), conn=conn)
        assert status == 201 and m2["num_segments"] == n, (body, m2["num_segments"])
    assert conn.sock is sock, "the fake closed a keep-alive connection"
    conn.close()
    # With a Messaging Service: accepted, no segments yet.
    status, _, m3 = send(port, {"To": "+13235550100", "MessagingServiceSid": MG, "Body": "hi"})
    assert (status, m3["status"], m3["num_segments"], m3["from"]) == (201, "accepted", "0", None)
    # The resource can be read back, and the create was recorded.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", m["uri"], headers={"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (SID, TOKEN)).encode()).decode()})
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read())["sid"] == m["sid"]
    c.close()
    req = ctl("GET", "requests")["requests"][0]
    assert req["auth_ok"] and req["status"] == 201 and req["sid"] == m["sid"]
    assert req["params"]["ValidityPeriod"] == "14400" and ["To", "+13235550100"] in req["form"]


# ---- callbacks ----

def test_send_is_followed_by_signed_sent_then_delivered_callbacks():
    port = fake()
    rx = Receiver()
    try:
        url = rx.url("/webhooks/sms/status?tenant=a&x=1")
        _, _, m = send(port, msg(StatusCallback=url))
        posts = rx.wait(2)
        time.sleep(0.2)
        assert len(rx.posts) == 2, "no callback for the initial status"
        assert [p["form"]["MessageStatus"] for p in posts] == ["sent", "delivered"]
        for p in posts:
            assert p["valid"], p
            assert p["path"] == "/webhooks/sms/status?tenant=a&x=1"
            assert p["ctype"] == "application/x-www-form-urlencoded"
            f = p["form"]
            assert (f["MessageSid"], f["SmsSid"], f["AccountSid"]) == (m["sid"], m["sid"], SID)
            assert (f["To"], f["From"], f["ApiVersion"]) == ("+13235550100", FROM, "2010-04-01")
            assert f["SmsStatus"] == f["MessageStatus"] and "ErrorCode" not in f
        assert "RawDlrDoneDate" in posts[1]["form"]
        # The resource moved on; the fake logged what it posted and the answers.
        got = ctl("GET", "messages")["messages"][0]
        assert got["status"] == "delivered" and got["date_sent"]
        log = ctl("GET", "callbacks")["callbacks"]
        assert [(c["kind"], c["status"], c["error"]) for c in log] == [("status", 200, None)] * 2
    finally:
        rx.close()


def test_a_number_can_be_set_to_end_undelivered_or_failed_with_an_error_code():
    port = fake()
    rx = Receiver()
    try:
        ctl("POST", "rules", {"rules": [
            {"to": "+13235550101", "final": "undelivered", "error_code": 30007},
            {"to": "+13235550102", "final": "failed", "error_code": 30008}]})
        send(port, msg(to="+13235550101", StatusCallback=rx.url()))
        rx.wait(2)
        send(port, msg(to="+13235550102", StatusCallback=rx.url()))
        rx.wait(3)
        send(port, msg(to="+13235550103", StatusCallback=rx.url()))
        rx.wait(5)
        seen = [(p["form"]["To"], p["form"]["MessageStatus"], p["form"].get("ErrorCode"))
                for p in rx.posts]
        assert seen == [("+13235550101", "sent", None), ("+13235550101", "undelivered", "30007"),
                        ("+13235550102", "failed", "30008"),
                        ("+13235550103", "sent", None), ("+13235550103", "delivered", None)], seen
        assert all(p["valid"] for p in rx.posts)
        by_to = {m["to"]: m for m in ctl("GET", "messages")["messages"]}
        assert (by_to["+13235550101"]["status"], by_to["+13235550101"]["error_code"]) == ("undelivered", 30007)
    finally:
        rx.close()


def test_callbacks_come_out_of_order_and_with_delays_on_request():
    port = fake()
    rx = Receiver()
    try:
        ctl("POST", "rules", {"to": "+13235550104", "callbacks": [
            {"status": "delivered", "delay": 0.3}, {"status": "sent", "delay": 0}]})
        t0 = time.monotonic()
        _, _, m = send(port, msg(to="+13235550104", StatusCallback=rx.url()))
        rx.wait(2)
        assert time.monotonic() - t0 >= 0.3
        assert [p["form"]["MessageStatus"] for p in rx.posts] == ["delivered", "sent"]
        assert all(p["valid"] for p in rx.posts)
        # The resource does not go back to sent.
        assert ctl("GET", "messages")["messages"][0]["status"] == "delivered"
        # No callbacks at all, when asked.
        ctl("POST", "rules", {"to": "+13235550105", "callbacks": []})
        send(port, msg(to="+13235550105", StatusCallback=rx.url()))
        time.sleep(0.3)
        assert len(rx.posts) == 2
    finally:
        rx.close()


def test_a_callback_can_be_triggered_and_sent_with_a_bad_or_no_signature():
    port = fake()
    rx = Receiver(status=403)
    try:
        ctl("POST", "rules", {"callbacks": []})
        _, _, m = send(port, msg(StatusCallback=rx.url()))
        e = ctl("POST", "callback", {"sid": m["sid"], "status": "undelivered", "error_code": 30005})
        assert e["status"] == 403 and e["params"]["ErrorCode"] == "30005"
        assert rx.posts[-1]["valid"] and rx.posts[-1]["form"]["MessageStatus"] == "undelivered"
        ctl("POST", "callback", {"sid": m["sid"], "status": "delivered", "signature": "AAAA"})
        assert rx.posts[-1]["signature"] == "AAAA" and not rx.posts[-1]["valid"]
        ctl("POST", "callback", {"sid": m["sid"], "status": "delivered", "signature": False})
        assert rx.posts[-1]["signature"] is None
        # Extra parameters are signed too; another URL can be named.
        ctl("POST", "callback", {"sid": m["sid"], "status": "read", "url": rx.url("/other"),
                                 "params": {"ChannelPrefix": "sms", "SmsStatus": None}})
        p = rx.posts[-1]
        assert p["valid"] and p["path"] == "/other" and p["form"]["ChannelPrefix"] == "sms"
        assert "SmsStatus" not in p["form"]
        # A receiver that is down is logged, not fatal.
        e = ctl("POST", "callback", {"sid": m["sid"], "status": "sent",
                                     "url": "http://127.0.0.1:%d/x" % harness.free_port()})
        assert e["status"] is None and "Connection" in e["error"]
    finally:
        rx.close()


def test_an_inbound_stop_reply_is_posted_signed_like_twilios():
    fake()
    rx = Receiver()
    try:
        e = ctl("POST", "inbound", {"url": rx.url("/webhooks/sms/inbound"), "from": "+13235550100",
                                    "to": FROM, "body": "STOP", "params": {"OptOutType": "STOP"}})
        assert e["status"] == 200 and e["response"] == "<Response/>"
        p = rx.posts[0]
        assert p["valid"] and p["path"] == "/webhooks/sms/inbound"
        f = p["form"]
        assert (f["From"], f["To"], f["Body"], f["NumMedia"]) == ("+13235550100", FROM, "STOP", "0")
        assert f["MessageSid"].startswith("SM") and len(f["MessageSid"]) == 34
        assert f["SmsMessageSid"] == f["MessageSid"] and f["AccountSid"] == SID
        assert f["SmsStatus"] == "received" and f["OptOutType"] == "STOP"
    finally:
        rx.close()


# ---- failure modes ----

def test_a_number_can_be_set_to_answer_a_twilio_error():
    port = fake()
    ctl("POST", "rules", {"rules": [{"to": "+13235550110", "code": 21610},
                                    {"to": "+13235550111", "code": 21211},
                                    {"to": "+13235550112", "code": 21614, "count": 1}]})
    for to, code in (("+13235550110", 21610), ("+13235550110", 21610),
                     ("+13235550111", 21211), ("+13235550112", 21614)):
        status, _, body = send(port, msg(to=to))
        assert (status, body["code"], body["status"]) == (400, code, 400), (to, body)
        assert body["more_info"] == "https://www.twilio.com/docs/errors/%d" % code
    assert send(port, msg(to="+13235550112"))[0] == 201   # count used up
    assert send(port, msg(to="+13235550113"))[0] == 201   # other numbers unaffected
    assert len(ctl("GET", "messages")["messages"]) == 2


def test_the_next_requests_can_get_429_with_retry_after_then_500_and_503():
    port = fake()
    ctl("POST", "rules", {"rules": [{"status": 429, "retry_after": 2, "count": 2},
                                    {"status": 500, "count": 1},
                                    {"status": 503, "retry_after": 1, "count": 1}]})
    got = []
    for _ in range(5):
        status, r, body = send(port, msg())
        got.append((status, body.get("code"), r.getheader("Retry-After")))
    assert got == [(429, 20429, "2"), (429, 20429, "2"), (500, 20500, None),
                   (503, 20503, "1"), (201, None, None)], got
    assert ctl("GET", "rules")["rules"] == []


def test_a_slow_answer_can_be_asked_for():
    port = fake()
    ctl("POST", "rules", {"delay": 0.5, "count": 1})
    t0 = time.monotonic()
    assert send(port, msg())[0] == 201
    assert time.monotonic() - t0 >= 0.5
    # A client that gives up sees a timeout; the message was still created.
    ctl("POST", "rules", {"delay": 1.0, "count": 1})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.3)
    try:
        send(port, msg(), conn=c)
        raise AssertionError("expected a timeout")
    except TimeoutError:
        pass
    finally:
        c.close()
    wait_for(lambda: len(ctl("GET", "messages")["messages"]) == 2, what="the late create")


def test_the_connection_can_be_dropped_or_reset_without_an_answer():
    port = fake()
    ctl("POST", "rules", {"rules": [{"respond": "drop", "count": 1},
                                    {"respond": "reset", "count": 1},
                                    {"respond": "drop", "create": True, "count": 1}]})
    for _ in range(3):
        try:
            send(port, msg())
            raise AssertionError("expected no answer")
        except (http.client.RemoteDisconnected, ConnectionResetError):
            pass
    statuses = [q["status"] for q in ctl("GET", "requests")["requests"]]
    assert statuses == ["drop", "reset", "drop"], statuses
    # Only the third was created: the answer was lost, the message was not.
    assert len(ctl("GET", "messages")["messages"]) == 1
    assert send(port, msg())[0] == 201


def test_requests_are_recorded_and_can_be_cleared():
    port = fake()
    send(port, msg(body="one"))
    send(port, msg(to="bad"))
    reqs = ctl("GET", "requests")["requests"]
    assert [(q["id"], q["status"], q["params"]["To"]) for q in reqs] == [
        (1, 201, "+13235550100"), (2, 400, "bad")]
    assert reqs[0]["params"]["Body"] == "one"
    assert reqs[0]["method"] == "POST" and reqs[0]["auth"] == SID
    assert ctl("DELETE", "requests")["requests"] == reqs
    assert ctl("GET", "requests")["requests"] == []


def test_the_control_api_refuses_what_it_does_not_know():
    fake()
    for rule in ({"too": "+1"}, {"respond": "maybe"}, {"callbacks": [{"state": "sent"}]}):
        try:
            ctl("POST", "rules", rule)
            raise AssertionError("accepted %r" % (rule,))
        except RuntimeError as e:
            assert " 400 " in str(e), e
    try:
        ctl("GET", "nothing")
        raise AssertionError("accepted /_fake/nothing")
    except RuntimeError as e:
        assert " 404 " in str(e), e


if __name__ == "__main__":
    harness.main(globals())
