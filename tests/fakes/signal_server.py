#!/usr/bin/python3
"""signal_server.py: a loopback Signal-protocol test server for pregon's
native Signal transport (adapters/signal_native/).

    signal_server.py --port 0 --account +15550001111 --password PW [--host 127.0.0.1]

prints the bound port on its first stdout line and serves until SIGTERM or
SIGINT (exit 0).

What it does as Signal-Server does (signalapp/Signal-Server, service/src/
main/java/org/whispersystems/textsecuregcm/: KeysController,
MessageController, entities/PreKeyResponse, IncomingMessageList), for the
pre-PQXDH protocol, with HTTP basic auth (the account and its password):

- GET /v2/keys/{number}/{device}: a PreKeyResponse, {"identityKey",
  "devices": [{"deviceId", "registrationId", "signedPreKey": {"keyId",
  "publicKey", "signature"}, "preKey": {"keyId", "publicKey"}}]}, base64
  without padding as the server writes it; each answer uses up one
  one-time pre-key ("preKey" absent once none is left). 404 for a number
  with no keys; device "*" is every device (here: 1).
- PUT /v1/messages/{number}: an IncomingMessageList, {"messages": [{"type",
  "destinationDeviceId", "destinationRegistrationId", "content"}],
  "online", "urgent", "timestamp"}. 404 for an unknown number, 409
  {"missingDevices", "extraDevices"} when device 1 is missing or another is
  named, 410 {"staleDevices": [1]} when the registration id is not the
  device's (the recipient reinstalled), 400 for a malformed body, else 200
  {"needsSync": false} and the envelope is recorded.
- GET /v1/messages (as the account): what test recipients sent to it,
  an OutgoingMessageEntityList, {"messages": [{"guid", "type",
  "timestamp", "source", "sourceUuid", "sourceDevice", "destinationUuid",
  "content", "serverTimestamp", "urgent"}], "more"}, the oldest first, at
  most 100; each stays until DELETE /v1/messages/uuid/{guid} (204; 404
  for one not queued), as Signal-Server's MessageController does.
- PUT /v1/messages/{account} by a test recipient (basic auth: its number
  and the server's password): the envelope is queued for the account
  (no registration id check: the account uploaded no keys here).
- 401 without the right credentials.

Control API (JSON, no auth) under /_fake/:

  POST /_fake/reset                 forget accounts, envelopes, rules
  PUT  /_fake/accounts/{number}     the keys of a test recipient, as
                                    tests/tools/signal_recipient init prints
                                    them (replaces any: a reinstall)
  GET  /_fake/envelopes/{number}    {"envelopes": [{"source", "type",
                                    "content", "timestamp", "at"}]} in order
  GET  /_fake/requests              {"requests": [{"method", "path",
                                    "status", "body", "at"}]} (body: of a PUT
                                    answered 200 or by a rule)
  POST /_fake/rules                 the next answers to PUT /v1/messages:
                                    {"count": N, "status": 429,
                                    "retry_after": S, "delay": S}; with
                                    "route": "get", to GET /v1/messages
  GET  /_fake/queue                 {"queue": [entity], "acked": [guid]}
  POST /_fake/requeue               {"guid"}: an acknowledged envelope is
                                    queued again (a redelivery)

Standard library only, for Debian's /usr/bin/python3.
"""

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakeproc  # noqa: E402  (beside this file)


def b64_nopad(s):
    return s.rstrip("=")


class State:
    def __init__(self, account, password):
        self.lock = threading.RLock()
        self.account, self.password = account, password
        self.reset()

    def reset(self):
        self.accounts = {}    # number -> keys as uploaded, preKeys a list
        self.envelopes = {}   # number -> [envelope]
        self.requests = []
        self.rules = []
        self.queue = []       # the account's OutgoingMessageEntity list
        self.acked = {}       # guid -> entity, for /_fake/requeue


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "signal-fake/1"
    # Headers and body go out in two writes: without TCP_NODELAY the
    # second waits for the client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("signal_server: " + fmt % args + "\n")

    def answer(self, status, obj=None, headers=(), sent=b""):
        body = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        if not self.path.startswith("/_fake/"):
            with self.server.state.lock:
                self.server.state.requests.append(
                    {"method": self.command, "path": self.path, "status": status,
                     "body": sent.decode("utf-8", "replace"), "at": time.time()})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authed(self):
        """The authenticated number: the account, or a test recipient
        (its number, the server's password); None otherwise."""
        st = self.server.state
        try:
            kind, cred = self.headers.get("Authorization", "").split(" ", 1)
            user, pw = base64.b64decode(cred).decode().split(":", 1)
        except ValueError:
            return None
        with st.lock:
            known = user == st.account or user in st.accounts
        return user if kind == "Basic" and pw == st.password and known else None

    def take_rule(self, route):
        st = self.server.state
        with st.lock:
            for i, rule in enumerate(st.rules):
                if rule.get("route", "put") == route:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        st.rules.pop(i)
                    return rule
        return None

    # ---- the service ----

    def dispatch(self):
        """Every request: the control API, else one of the service's two
        routes (with basic auth), else 404."""
        data = self.body()
        if self.path.startswith("/_fake/"):
            return self.control(self.command, data)
        for method, pattern, handler in ROUTES:
            m = re.fullmatch(pattern, self.path)
            if m and self.command == method:
                self.user = self.authed()
                if self.user is None:
                    return self.answer(401)
                return handler(self, m, data)
        return self.answer(404, {"error": "no such path"})

    do_GET = do_PUT = do_POST = do_DELETE = dispatch

    def keys(self, m, data):
        st = self.server.state
        with st.lock:
            acct = st.accounts.get(m.group(1))
            if acct is None or m.group(2) not in ("1", "*"):
                return self.answer(404)
            item = {"deviceId": 1, "registrationId": acct["registrationId"],
                    "signedPreKey": {"keyId": acct["signedPreKey"]["keyId"],
                                     "publicKey": b64_nopad(acct["signedPreKey"]["publicKey"]),
                                     "signature": b64_nopad(acct["signedPreKey"]["signature"])}}
            if acct["preKeys"]:
                pk = acct["preKeys"].pop(0)
                item["preKey"] = {"keyId": pk["keyId"], "publicKey": b64_nopad(pk["publicKey"])}
            resp = {"identityKey": b64_nopad(acct["identityKey"]), "devices": [item]}
        return self.answer(200, resp)

    def messages(self, m, data):
        st = self.server.state
        rule = self.take_rule("put")
        if rule:
            time.sleep(rule.get("delay", 0))
            if rule.get("status"):
                hdrs = [("Retry-After", str(rule["retry_after"]))] if "retry_after" in rule else []
                return self.answer(rule["status"], {"error": "rule"}, hdrs, data)
        try:
            doc = json.loads(data)
            msgs = doc["messages"]
            ts = int(doc["timestamp"])
            assert isinstance(msgs, list) and msgs
            for x in msgs:
                assert isinstance(x["type"], int) and isinstance(x["destinationDeviceId"], int)
                assert isinstance(x["destinationRegistrationId"], int)
                base64.b64decode(x["content"], validate=True)
        except (ValueError, KeyError, TypeError, AssertionError):
            return self.answer(400, {"error": "malformed IncomingMessageList"})
        if m.group(1) == st.account and self.user != st.account:
            return self.queue_for_account(msgs[0], doc)
        with st.lock:
            acct = st.accounts.get(m.group(1))
            if acct is None:
                return self.answer(404)
            devices = {x["destinationDeviceId"] for x in msgs}
            if devices != {1}:
                return self.answer(409, {"missingDevices": [] if 1 in devices else [1],
                                         "extraDevices": sorted(devices - {1})})
            if msgs[0]["destinationRegistrationId"] != acct["registrationId"]:
                return self.answer(410, {"staleDevices": [1]})
            st.envelopes.setdefault(m.group(1), []).append(
                {"source": st.account, "type": msgs[0]["type"], "content": msgs[0]["content"],
                 "timestamp": ts, "at": time.time()})
        return self.answer(200, {"needsSync": False}, sent=data)

    def queue_for_account(self, msg, doc):
        st = self.server.state
        entity = {"guid": str(uuid.uuid4()), "type": msg["type"], "timestamp": int(doc["timestamp"]),
                  "source": self.user, "sourceUuid": str(uuid.uuid5(uuid.NAMESPACE_OID, self.user)),
                  "sourceDevice": 1,
                  "destinationUuid": str(uuid.uuid5(uuid.NAMESPACE_OID, st.account)),
                  "content": msg["content"], "serverTimestamp": int(time.time() * 1000),
                  "urgent": bool(doc.get("urgent", True))}
        with st.lock:
            st.queue.append(entity)
        return self.answer(200, {"needsSync": False})

    def get_messages(self, m, data):
        st = self.server.state
        if self.user != st.account:
            return self.answer(403)
        rule = self.take_rule("get")
        if rule:
            time.sleep(rule.get("delay", 0))
            if rule.get("status"):
                return self.answer(rule["status"], {"error": "rule"})
        with st.lock:
            page = list(st.queue[:100])
            more = len(st.queue) > 100
        return self.answer(200, {"messages": page, "more": more})

    def delete_message(self, m, data):
        st = self.server.state
        with st.lock:
            for i, e in enumerate(st.queue):
                if e["guid"] == m.group(1) and self.user == st.account:
                    st.acked[e["guid"]] = st.queue.pop(i)
                    break
            else:
                return self.answer(404)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with st.lock:
            st.requests.append({"method": "DELETE", "path": self.path, "status": 204, "body": "",
                                "at": time.time()})

    # ---- control ----

    def control(self, method, data):
        st = self.server.state
        path = self.path[len("/_fake/"):]
        with st.lock:
            if method == "POST" and path == "reset":
                st.reset()
                return self.answer(200, {})
            m = re.fullmatch(r"accounts/([^/]+)", path)
            if method == "PUT" and m:
                keys = json.loads(data)
                st.accounts[m.group(1)] = keys
                return self.answer(200, {"preKeys": len(keys["preKeys"])})
            m = re.fullmatch(r"envelopes/([^/]+)", path)
            if method == "GET" and m:
                return self.answer(200, {"envelopes": st.envelopes.get(m.group(1), [])})
            if method == "GET" and path == "queue":
                return self.answer(200, {"queue": st.queue, "acked": list(st.acked)})
            if method == "POST" and path == "requeue":
                guid = json.loads(data)["guid"]
                st.queue.append(st.acked.pop(guid))
                return self.answer(200, {})
            if method == "GET" and path == "requests":
                return self.answer(200, {"requests": st.requests})
            if method == "POST" and path == "rules":
                rule = json.loads(data)
                rule.setdefault("count", 1)
                st.rules.append(rule)
                return self.answer(200, {"rules": len(st.rules)})
        return self.answer(404, {"error": "no such control path"})


ROUTES = (
    ("GET", r"/v2/keys/([^/]+)/(\d+|\*)", Handler.keys),
    ("PUT", r"/v1/messages/([^/]+)", Handler.messages),
    ("GET", r"/v1/messages", Handler.get_messages),
    ("DELETE", r"/v1/messages/uuid/([0-9a-f-]+)", Handler.delete_message),
)


class Server(ThreadingHTTPServer):
    # pregond opens up to [signal] concurrency connections at once; the
    # default backlog of 5 drops SYNs (a 1 s, 3 s ... retransmit each).
    request_queue_size = 256
    daemon_threads = True


def start(account, password, extra=(), popen=subprocess.Popen):
    """Starts the fake as a child process (popen: harness.spawn in tests);
    returns (process, port)."""
    return fakeproc.start(os.path.abspath(__file__), ["--port", "0", "--account", account,
                                                      "--password", password] + list(extra), popen)


def control(port, method, path, obj=None, timeout=30):
    """One control call (path under /_fake/); returns the decoded JSON."""
    return fakeproc.control("signal_server", port, method, path, obj, timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--account", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    srv = Server((args.host, args.port), Handler)
    srv.state = State(args.account, args.password)
    srv.verbose = args.verbose
    fakeproc.serve(srv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
