#!/usr/bin/python3
"""twilio_fake.py: a loopback fake of Twilio's Messages API for pregon's tests.

    twilio_fake.py --port 0 --account-sid AC... --auth-token TOKEN
        [--from-numbers +1...,+1...] [--callback-delay 0.05] [--host 127.0.0.1]

prints the bound port on its first stdout line and serves until SIGTERM or
SIGINT (exit 0). `twilio_fake.py --sign --auth-token T URL [NAME=VALUE ...]`
prints the X-Twilio-Signature of a form post (used by the C unit tests).

What it fakes, from Twilio's documentation (2010-04-01 API):
- POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth
  with the account SID and auth token, form-encoded body; 201 and the
  Message resource; errors as {"code", "message", "more_info", "status"}.
  https://www.twilio.com/docs/messaging/api/message-resource
- GET .../Messages/{Sid}.json: the resource, its status moved on by callbacks.
- Status callbacks to StatusCallback, form posts signed with
  X-Twilio-Signature; none for the initial status.
  https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks
- Signatures: HMAC-SHA1 keyed with the auth token over the URL followed by
  the POST parameters sorted by name, each name then value; a name that
  repeats contributes its distinct values in sorted order, as Twilio's own
  validators compute it (twilio-python RequestValidator.compute_signature,
  twilio-node getExpectedTwilioSignature); base64.
  https://www.twilio.com/docs/usage/webhooks/webhooks-security

The control API (JSON, no auth) lives under /_fake/; see tests/fakes/README.
Standard library only, for Debian's /usr/bin/python3.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakeproc  # noqa: E402  (beside this file)

API = "2010-04-01"
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
MESSAGES = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
MESSAGE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/([^/]+)\.json$")

# Twilio error codes: HTTP status and the message Twilio gives.
# https://www.twilio.com/docs/api/errors/<code>
ERRORS = {
    20003: (401, "Authenticate"),
    20004: (405, "Method not allowed"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    20503: (503, "Service Unavailable"),
    21211: (400, "Invalid 'To' Phone Number"),
    21408: (400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."),
    21604: (400, "A 'To' phone number is required."),
    21606: (400, "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account"),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21611: (400, "This 'From' number has exceeded the maximum number of queued messages"),
    21612: (400, "The 'To' phone number is not currently reachable via SMS"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21624: (400, "Invalid validity period value"),
    # Delivery errors: they arrive as ErrorCode in status callbacks.
    30003: (None, "Unreachable destination handset"),
    30005: (None, "Unknown destination handset"),
    30006: (None, "Landline or unreachable carrier"),
    30007: (None, "Message filtered"),
    30008: (None, "Unknown error"),
}
# The lifecycle order of a message's status, for the resource (callbacks may
# be sent out of order on request; the resource does not go back).
RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
        "delivered": 4, "undelivered": 4, "failed": 4, "read": 5}
STATUS_CODE = {401: 20003, 404: 20404, 405: 20004, 429: 20429, 500: 20500, 503: 20503}

# GSM 03.38: the basic set, and the extension set (two septets each).
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
           "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = set("\f^{}\\[~]|€")

RULE_KEYS = {"to", "count", "delay", "respond", "status", "code", "message",
             "retry_after", "create", "callbacks", "final", "error_code"}
STEP_KEYS = {"status", "delay", "error_code", "params", "url", "signature", "sign_url"}


def signature(auth_token, url, params):
    """X-Twilio-Signature for a form post of params (pairs or a dict) to url."""
    pairs = params.items() if isinstance(params, dict) else params
    data = url + "".join(k + v for k, v in sorted(set(pairs)))
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def segments(text):
    """Roughly what Twilio bills: GSM-7 160/153 septets, else UCS-2 70/67."""
    if all(c in GSM7 or c in GSM7_EXT for c in text):
        n, one, many = sum(2 if c in GSM7_EXT else 1 for c in text), 160, 153
    else:
        n, one, many = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if n <= one else -(-n // many)


def snapshot(obj):
    """A deep copy, taken under the lock, that can be sent after it."""
    return json.loads(json.dumps(obj))


def new_sid(prefix):
    return prefix + os.urandom(16).hex()


def rfc2822(t=None):
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def twilio_error(code, status=None, message=None):
    known_status, known_message = ERRORS.get(code, (None, None))
    return {"code": code, "message": message or known_message or "Error %d" % code,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code,
            "status": status or known_status or 400}


class BadRequest(Exception):
    """A control request the fake does not understand (answered 400)."""


def check_rule(rule):
    if not isinstance(rule, dict):
        raise BadRequest("a rule is a JSON object")
    bad = set(rule) - RULE_KEYS
    if bad:
        raise BadRequest("unknown rule keys: %s" % ", ".join(sorted(bad)))
    if rule.get("respond", "ok") not in ("ok", "error", "drop", "reset"):
        raise BadRequest("respond: one of ok, error, drop, reset")
    for step in rule.get("callbacks") or []:
        check_step(step)
    return dict(rule)


def check_step(step):
    if not isinstance(step, dict) or "status" not in step:
        raise BadRequest("a callback step is an object with a status")
    bad = set(step) - STEP_KEYS
    if bad:
        raise BadRequest("unknown callback step keys: %s" % ", ".join(sorted(bad)))


class Fake:
    """The fake's state; every field is guarded by lock."""

    def __init__(self, account_sid, auth_token, from_numbers=(), callback_delay=0.05):
        self.sid = account_sid
        self.token = auth_token
        self.from_numbers = list(from_numbers)
        self.cb_delay = callback_delay
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []    # API requests as they arrived, with their outcome
            self.callbacks = []   # webhooks posted by the fake, with their answers
            self.rules = []       # behaviour rules, first match wins
            self.messages = {}    # sid -> Message resource
            self.urls = {}        # sid -> its StatusCallback

    def record(self, rec):
        with self.lock:
            rec["id"] = len(self.requests) + 1
            self.requests.append(rec)
        return rec

    def take_rule(self, to):
        """The first rule matching this destination; counts it down."""
        with self.lock:
            for rule in self.rules:
                if rule.get("to") not in (None, to):
                    continue
                if rule.get("count") is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.rules.remove(rule)
                return rule
        return None

    def validate(self, form):
        """Twilio's checks on a create, in Twilio's order; an error or None."""
        to, body = form.get("To", ""), form.get("Body", "")
        if not to:
            return twilio_error(21604)
        if not E164.match(to):
            return twilio_error(21211, message="The 'To' number %s is not a valid phone number." % to)
        frm, mg = form.get("From", ""), form.get("MessagingServiceSid", "")
        if not frm and not mg:
            return twilio_error(21603)
        if frm and self.from_numbers and frm not in self.from_numbers:
            return twilio_error(21606)
        if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
            return twilio_error(21602)
        if len(body) > 1600:
            return twilio_error(21617)
        vp = form.get("ValidityPeriod")
        if vp is not None and not (vp.isdigit() and 1 <= int(vp) <= 36000):
            return twilio_error(21624)
        return None

    def create(self, form, rule):
        """Creates the Message resource and starts its status callbacks."""
        sid, now, mg = new_sid("SM"), rfc2822(), form.get("MessagingServiceSid") or None
        uri = "/%s/Accounts/%s/Messages/%s" % (API, self.sid, sid)
        body = form.get("Body", "")
        msg = {"account_sid": self.sid, "api_version": API, "body": body,
               "date_created": now, "date_sent": None, "date_updated": now,
               "direction": "outbound-api", "error_code": None, "error_message": None,
               "from": form.get("From") or None, "messaging_service_sid": mg,
               "num_media": "0", "num_segments": "0" if mg else str(segments(body)),
               "price": None, "price_unit": "USD", "sid": sid,
               "status": "accepted" if mg else "queued",
               "subresource_uris": {"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
               "to": form["To"], "uri": uri + ".json"}
        url = form.get("StatusCallback")
        with self.lock:
            self.messages[sid] = msg
            self.urls[sid] = url
            msg = dict(msg)
        if url:
            steps = self.steps(rule or {}, mg)
            threading.Thread(target=self.run_steps, args=(sid, url, steps), daemon=True).start()
        return msg

    def steps(self, rule, mg):
        """The callback sequence: the rule's, or Twilio's usual one."""
        if "callbacks" in rule:
            return rule["callbacks"] or []
        first = [{"status": "queued"}] if mg else []   # accepted -> queued
        final, code = rule.get("final", "delivered"), rule.get("error_code")
        if final == "failed":
            return first + [{"status": "failed", "error_code": code or 30008}]
        if final == "undelivered":
            return first + [{"status": "sent"}, {"status": "undelivered", "error_code": code or 30003}]
        return first + [{"status": "sent"}, {"status": final}]

    def run_steps(self, sid, url, steps):
        for step in steps:
            time.sleep(step.get("delay", self.cb_delay))
            self.status_callback(sid, dict(step, url=step.get("url", url)))

    def status_callback(self, sid, step):
        """Moves the message on and posts one status callback; returns the log entry."""
        status, code = step["status"], step.get("error_code")
        with self.lock:
            m = self.messages.get(sid) or {}
            if m:
                if m["from"] is None:   # a Messaging Service picked a sender
                    m["from"] = (self.from_numbers or ["+15005550006"])[0]
                if RANK.get(status, 9) >= RANK.get(m["status"], 0):   # a late "sent" is no news
                    m["status"] = status
                m["date_updated"] = rfc2822()
                if status == "sent":
                    m["date_sent"] = m["date_updated"]
                if code is not None:
                    m["error_code"] = int(code)
                    m["error_message"] = ERRORS.get(int(code), (None, None))[1]
            m, url = dict(m), step.get("url") or self.urls.get(sid)
        if not url:
            raise BadRequest("no url for the callback")
        p = {"AccountSid": self.sid, "ApiVersion": API, "From": m.get("from") or "",
             "MessageSid": sid, "MessageStatus": status, "SmsSid": sid,
             "SmsStatus": status, "To": m.get("to") or ""}
        if m.get("messaging_service_sid"):
            p["MessagingServiceSid"] = m["messaging_service_sid"]
        if code is not None:
            p["ErrorCode"] = str(code)
        if status in ("delivered", "undelivered"):
            p["RawDlrDoneDate"] = time.strftime("%y%m%d%H%M", time.gmtime())
        return self.post("status", url, p, step)

    def inbound(self, req):
        """Posts an inbound message (a reply, STOP) as Twilio would."""
        sid, body = new_sid("SM"), req.get("body", "")
        p = {"AccountSid": self.sid, "ApiVersion": API, "Body": body,
             "From": req.get("from", ""), "FromCity": "", "FromCountry": "US",
             "FromState": "", "FromZip": "", "MessageSid": sid, "NumMedia": "0",
             "NumSegments": str(segments(body)), "SmsMessageSid": sid, "SmsSid": sid,
             "SmsStatus": "received", "To": req.get("to", ""), "ToCity": "",
             "ToCountry": "US", "ToState": "", "ToZip": ""}
        if req.get("messaging_service_sid"):
            p["MessagingServiceSid"] = req["messaging_service_sid"]
        if not req.get("url"):
            raise BadRequest("inbound: url is required")
        return self.post("inbound", req["url"], p, req)

    def post(self, kind, url, params, opts):
        """Signs and posts a webhook. opts: params (added; null removes),
        signature (a header value to send instead, or false for none),
        sign_url (the URL to sign instead of url: the one Twilio called
        when a proxy in front forwards to url)."""
        for k, v in (opts.get("params") or {}).items():
            if v is None:
                params.pop(k, None)
            else:
                params[k] = str(v)
        sig = opts.get("signature", signature(self.token, opts.get("sign_url") or url, params))
        entry = {"kind": kind, "url": url, "params": params, "signature": sig,
                 "status": None, "response": None, "error": None, "at": time.time()}
        u = urllib.parse.urlsplit(url)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "User-Agent": "TwilioProxy/1.1", "Accept": "*/*",
                   "I-Twilio-Idempotency-Token": new_sid("")}
        if sig is not False:
            headers["X-Twilio-Signature"] = sig
        try:
            if u.scheme != "http":
                raise ValueError("only http:// callbacks on loopback")
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=15)
            try:
                conn.request("POST", (u.path or "/") + ("?" + u.query if u.query else ""),
                             body=urllib.parse.urlencode(params), headers=headers)
                r = conn.getresponse()
                entry["status"], entry["response"] = r.status, r.read().decode("utf-8", "replace")
            finally:
                conn.close()
        except (OSError, ValueError, http.client.HTTPException) as e:
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        with self.lock:
            self.callbacks.append(entry)
        return entry


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as api.twilio.com
    server_version = "twilio-fake/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("twilio_fake: " + fmt % args + "\n")

    def do_GET(self):
        self.route(self.command)

    do_POST = do_DELETE = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(n + 2)[:n]
                if n == 0:
                    break
                data += chunk
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(self, status, obj, headers=()):
        data = json.dumps(obj, indent=1).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Request-Id", new_sid("RQ"))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:   # the client gave up (a delay rule): like Twilio, too late
            self.close_connection = True

    def route(self, method):
        fake = self.server.fake
        body = self.read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/_fake/"):
            try:
                return self.control(fake, method, path, body)
            except BadRequest as e:
                return self.send(400, {"error": str(e)})
            except (ValueError, KeyError, TypeError) as e:
                return self.send(400, {"error": "%s: %s" % (type(e).__name__, e)})
        form = []
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        rec = fake.record({"at": time.time(), "method": method, "path": self.path,
                           "headers": dict(self.headers.items()), "auth": None,
                           "auth_ok": False, "form": form, "params": dict(form),
                           "body": body.decode("utf-8", "replace"), "status": None, "sid": None})
        status, obj, extra = self.api(fake, method, path, rec)
        rec["status"] = status
        if isinstance(status, int):
            self.send(status, obj, extra)
        else:   # drop or reset: close without an answer
            if status == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

    def api(self, fake, method, path, rec):
        """Twilio's REST API; returns (status or "drop"/"reset", JSON, headers)."""
        user, token = None, None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, token = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except ValueError:
                pass
        rec["auth"] = user
        rec["auth_ok"] = (user is not None
                          and hmac.compare_digest(user.encode(), fake.sid.encode())
                          and hmac.compare_digest(token.encode(), fake.token.encode()))
        if not rec["auth_ok"]:
            e = twilio_error(20003)
            e["detail"] = "Your AccountSid or AuthToken was incorrect."
            return 401, e, [("WWW-Authenticate", 'Basic realm="Twilio API"')]
        m, one = MESSAGES.match(path), MESSAGE.match(path)
        if m and m.group(1) == fake.sid and method == "GET":   # the list, one page
            with fake.lock:
                page = snapshot(list(fake.messages.values())[::-1])
            return 200, {"messages": page, "page": 0, "page_size": 50, "start": 0,
                         "end": max(len(page) - 1, 0), "uri": self.path,
                         "first_page_uri": self.path, "next_page_uri": None,
                         "previous_page_uri": None}, []
        if one and one.group(1) == fake.sid and method != "GET":
            return 405, twilio_error(20004), []
        if one and one.group(1) == fake.sid:
            with fake.lock:
                msg = snapshot(fake.messages.get(one.group(2)))
            if msg:
                return 200, msg, []
        if not (m and m.group(1) == fake.sid and method == "POST"):
            return 404, twilio_error(20404, message="The requested resource %s was not found" % path), []

        form = rec["params"]
        rule = fake.take_rule(form.get("To")) or {}
        time.sleep(float(rule.get("delay", 0)))
        respond = rule.get("respond") or ("error" if rule.get("code") or rule.get("status") else "ok")
        msg = None
        if respond == "ok" or rule.get("create"):
            err = fake.validate(form)
            if err and respond == "ok":
                return err["status"], err, []
            if not err:
                msg = fake.create(form, rule)
                rec["sid"] = msg["sid"]
        if respond == "ok":
            return 201, msg, []
        if respond in ("drop", "reset"):
            return respond, None, []
        code = rule.get("code") or STATUS_CODE.get(rule.get("status"), 20500)
        err = twilio_error(int(code), rule.get("status"), rule.get("message"))
        extra = [("Retry-After", str(rule["retry_after"]))] if "retry_after" in rule else []
        return err["status"], err, extra

    def control(self, fake, method, path, body):
        """The test's side: rules, records, callbacks and inbound messages."""
        req = json.loads(body) if body.strip() else {}
        what = (method, path.rstrip("/"))
        name = what[1][len("/_fake/"):]
        if what == ("POST", "/_fake/reset"):
            fake.reset()
            out = {"ok": True}
        elif method in ("GET", "DELETE") and name in ("requests", "callbacks"):
            with fake.lock:   # DELETE answers what it cleared
                items = getattr(fake, name)
                out = {name: snapshot(items)}
                if method == "DELETE":
                    del items[:]
        elif what == ("GET", "/_fake/messages"):
            with fake.lock:
                out = {"messages": snapshot(list(fake.messages.values()))}
        elif what[1] == "/_fake/rules" and method in ("GET", "POST", "DELETE"):
            rules = [check_rule(r) for r in req.get("rules", [req])] if method == "POST" else []
            with fake.lock:
                if method == "DELETE":
                    fake.rules.clear()
                fake.rules.extend(rules)
                out = {"rules": snapshot(fake.rules)}
        elif what == ("POST", "/_fake/callback"):
            check_step(dict((k, v) for k, v in req.items() if k != "sid"))
            out = fake.status_callback(req["sid"], req)
        elif what == ("POST", "/_fake/inbound"):
            out = fake.inbound(req)
        else:
            out = None
        if out is None:
            return self.send(404, {"error": "no such control endpoint: %s %s" % what})
        return self.send(200, out)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(args):
    srv = Server((args.host, args.port), Handler)
    srv.fake = Fake(args.account_sid, args.auth_token,
                    [n for n in args.from_numbers.split(",") if n], args.callback_delay)
    srv.verbose = args.verbose
    fakeproc.serve(srv)


def start(account_sid, auth_token, extra=(), popen=subprocess.Popen):
    """Starts the fake as a child process (popen: harness.spawn in tests);
    returns (process, port)."""
    args = ["--port", "0", "--account-sid", account_sid, "--auth-token", auth_token]
    return fakeproc.start(os.path.abspath(__file__), args + list(extra), popen)


def control(port, method, path, obj=None, timeout=30):
    """One control call (path under /_fake/); returns the decoded JSON."""
    return fakeproc.control("twilio_fake", port, method, path, obj, timeout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--account-sid", default="AC" + "0" * 32)
    ap.add_argument("--auth-token", default="")
    ap.add_argument("--from-numbers", default="", help="comma list; others get 21606")
    ap.add_argument("--callback-delay", type=float, default=0.05,
                    help="seconds before each status callback (default 0.05)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--sign", action="store_true", help="print a signature and exit")
    ap.add_argument("rest", nargs="*", help="with --sign: URL NAME=VALUE ...")
    args = ap.parse_args(argv)
    if args.sign:
        if not args.rest:
            ap.error("--sign needs a URL")
        pairs = [tuple(a.split("=", 1)) if "=" in a else (a, "") for a in args.rest[1:]]
        print(signature(args.auth_token, args.rest[0], pairs))
        return 0
    if not args.auth_token:
        ap.error("--auth-token is required")
    serve(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
