#!/usr/bin/python3
"""signal_cli_fake.py: a loopback fake of `signal-cli daemon --http` for pregon's tests.

    signal_cli_fake.py --port 0 [--account +15005550006] [--multi-account]
        [--receipt-delay 0.05] [--keepalive 15] [--receive-mode on-connection]

prints the bound port on its first stdout line and serves until SIGTERM or
SIGINT (exit 0).

What it fakes, from signal-cli's own sources (AsamK/signal-cli, 2026-07):
- POST /api/v1/rpc: one JSON-RPC 2.0 request or a batch; Content-Type must
  start with application/json (else 415); a notification (no id) gets 201
  without a body; a Host header other than the bound address, localhost,
  127.0.0.1 or ::1 (with the bound port) gets 421.
  (src/main/java/org/asamk/signal/http/HttpServerHandler.java)
- Method `send` with params recipient (a string or a list: E.164 numbers,
  ACI UUIDs, "u:<username>"), message, account (required in multi-account
  mode). The result is {"timestamp", "results": [{"recipientAddress":
  {"uuid", "number", "username"}, "type", "token"?, "retryAfterSeconds"?}]}
  with type SUCCESS, NETWORK_FAILURE, UNREGISTERED_FAILURE,
  IDENTITY_FAILURE, RATE_LIMIT_FAILURE or INVALID_PRE_KEY_FAILURE; a
  proof-required failure is RATE_LIMIT_FAILURE with a token
  (json/JsonSendMessageResult.java, util/SendMessageResultUtils.java).
  When no recipient succeeded the answer is a JSON-RPC error instead,
  code -4 (all untrusted identities), -5 (all rate limits) or -1, message
  "Failed to send message", data {"response": <the result>}
  (jsonrpc/SignalJsonRpcCommandHandler.java).
- GET /api/v1/events: text/event-stream, headers flushed at once, one
  `event:receive` + `data:<JSON>` + blank line per envelope and a `:`
  keep-alive every --keepalive seconds (http/ServerSentEventSender.java);
  ?account= picks one account in multi-account mode. The data is
  {"envelope": {source, sourceNumber, sourceUuid, sourceName,
  sourceDevice, timestamp, serverReceivedTimestamp,
  serverDeliveredTimestamp, receiptMessage | dataMessage}, "account"}
  (json/JsonMessageEnvelope.java, JsonReceiptMessage.java,
  JsonDataMessage.java).
- GET /api/v1/check: 200, no body.

--receive-mode on-connection (signal-cli's --receive-mode=on-connection):
envelopes that arrive while no stream is connected wait for the next one;
on-start (signal-cli's default): they are received and printed by the
daemon, and lost to a client that was not connected.

The control API (JSON, no auth) lives under /_fake/; see tests/fakes/README.
Standard library only, for Debian's /usr/bin/python3.
"""

import argparse
import json
import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid as uuidlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakeproc  # noqa: E402  (beside this file)

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TYPES = ("SUCCESS", "NETWORK_FAILURE", "UNREGISTERED_FAILURE", "IDENTITY_FAILURE",
         "RATE_LIMIT_FAILURE", "INVALID_PRE_KEY_FAILURE")
RULE_KEYS = {"recipient", "count", "type", "retry_after", "token", "delay", "respond",
             "code", "receipts", "http_status", "early"}
NS = uuidlib.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")   # RFC 4122 URL namespace


class BadRequest(Exception):
    pass


def aci_of(key):
    """A stable ACI for a test recipient (a number or a username)."""
    return str(uuidlib.uuid5(NS, "pregon-test:" + key))


def check_rule(rule):
    if not isinstance(rule, dict) or set(rule) - RULE_KEYS:
        raise BadRequest("rule: unknown key in %r" % (rule,))
    if "type" in rule and rule["type"] not in TYPES:
        raise BadRequest("rule: type must be one of %s" % ", ".join(TYPES))
    if rule.get("respond") not in (None, "result", "drop", "rpc_error", "http"):
        raise BadRequest("rule: respond must be result, drop, rpc_error or http")
    return rule


class Fake:
    def __init__(self, accounts, multi, receipt_delay, keepalive, receive_mode):
        self.accounts = accounts
        self.multi = multi
        self.receipt_delay = receipt_delay
        self.keepalive = keepalive
        self.receive_mode = receive_mode
        self.lock = threading.Condition()
        self.last_ts = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.rules = []
            self.sends = []
            self.events = []        # every envelope emitted: {"seq", "account", "data"}
            self.pending = []       # waiting for a stream (on-connection)
            self.streams = {}       # id -> {"account", "queue": [...], "drop": bool}
            # Ids go on across resets: a stream of the test before, ending
            # late, must not take a new one's place.
            self.next_stream = getattr(self, "next_stream", 1)
            self.generation = getattr(self, "generation", 0) + 1
            self.connects = 0
            self.rpc_requests = 0
            self.held = False
            self.lock.notify_all()

    # ---- clock ----
    def timestamp(self):
        """Milliseconds, strictly increasing (signal-cli uses the wall clock;
        distinct values keep the tests' receipts unambiguous)."""
        with self.lock:
            ts = max(int(time.time() * 1000), self.last_ts + 1)
            self.last_ts = ts
            return ts

    # ---- rules ----
    def take_rule(self, recipient):
        with self.lock:
            for i, r in enumerate(self.rules):
                if r.get("recipient") not in (None, recipient):
                    continue
                if "count" in r:
                    r["count"] -= 1
                    if r["count"] <= 0:
                        del self.rules[i]
                return dict(r)
        return None

    # ---- addresses ----
    def address(self, recipient):
        if recipient.startswith("u:"):
            name = recipient[2:].lower()
            return {"uuid": aci_of("u:" + name), "number": None, "username": name}
        if UUID.match(recipient):
            return {"uuid": recipient, "number": None, "username": None}
        return {"uuid": aci_of(recipient), "number": recipient, "username": None}

    # ---- events ----
    def emit(self, account, data):
        """Queues an envelope for the streams of its account (or keeps it
        for the next stream in on-connection mode)."""
        with self.lock:
            ev = {"seq": len(self.events) + 1, "account": account, "data": data}
            self.events.append(ev)
            self.deliver(ev)
            return ev

    def deliver(self, ev):
        targets = [s for s in self.streams.values()
                   if s["account"] in (None, ev["account"])]
        if not targets or self.held:
            if self.receive_mode == "on-connection" or self.held:
                self.pending.append(ev)
            return
        for s in targets:
            s["queue"].append(ev)
        self.lock.notify_all()

    def envelope(self, account, addr, extra, ts=None):
        now = int(time.time() * 1000)
        env = {"source": addr["number"] or addr["uuid"], "sourceNumber": addr["number"],
               "sourceUuid": addr["uuid"], "sourceName": "Test", "sourceDevice": 1,
               "timestamp": ts or now, "serverReceivedTimestamp": now,
               "serverDeliveredTimestamp": now}
        env.update(extra)
        return {"envelope": env, "account": account}

    def receipt(self, account, recipient, timestamps, kind):
        addr = self.address(recipient)
        rm = {"when": int(time.time() * 1000), "isDelivery": kind == "delivery",
              "isRead": kind == "read", "isViewed": kind == "viewed",
              "timestamps": list(timestamps)}
        return self.emit(account, self.envelope(account, addr, {"receiptMessage": rm}))

    def message(self, req):
        account = req.get("account") or self.accounts[0]
        frm = req["from"]
        addr = self.address(frm) if not UUID.match(frm) else {"uuid": frm, "number": None,
                                                              "username": None}
        if req.get("uuid"):
            addr["uuid"] = req["uuid"]
        if req.get("hide_number"):
            addr["number"] = None
        ts = req.get("timestamp") or self.timestamp()
        dm = {"timestamp": ts, "message": req.get("text"), "expiresInSeconds": 0,
              "viewOnce": False, "mentions": [], "attachments": [], "contacts": []}
        if req.get("group"):
            dm["groupInfo"] = {"groupId": "Pmpi+EfPWmsxiomLe9Nx2XF9HOE483p6iKiFj65iMwI=",
                               "groupName": "A group", "revision": 1, "type": "DELIVER"}
        return self.emit(account, self.envelope(account, addr, {"dataMessage": dm}, ts))

    def auto_receipts(self, account, recipient, ts, kinds):
        def run():
            for k in kinds:
                time.sleep(self.receipt_delay)
                self.receipt(account, recipient, [ts], k)
        threading.Thread(target=run, daemon=True).start()

    # ---- send ----
    def send(self, params, rec):
        if not isinstance(params, dict):
            raise RpcError(-32602, "params must be an object")
        account = params.get("account")
        if self.multi:
            if not account:
                raise RpcError(-32602, "Method requires valid account parameter")
            if account not in self.accounts:
                raise RpcError(-32602, "Specified account does not exist")
        account = account or self.accounts[0]
        rcpts = params.get("recipient")
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        if not rcpts or not all(isinstance(r, str) for r in rcpts):
            raise RpcError(-1, "No recipients given")
        message = params.get("message", "")
        ts = self.timestamp()
        results, rules = [], []
        for r in rcpts:
            if not (E164.match(r) or UUID.match(r) or r.startswith("u:")):
                raise RpcError(-1, "Invalid number")
            rule = self.take_rule(r) or {}
            rules.append(rule)
            res = {"recipientAddress": self.address(r), "type": rule.get("type", "SUCCESS")}
            if rule.get("token"):
                res["token"] = rule["token"]
            if rule.get("retry_after") is not None:
                res["retryAfterSeconds"] = int(rule["retry_after"])
            results.append(res)
        rec.update({"account": account, "recipients": rcpts, "message": message,
                    "timestamp": ts, "types": [x["type"] for x in results]})
        for r, res, rule in zip(rcpts, results, rules):
            if res["type"] == "SUCCESS" and rule.get("early"):
                # Signal's receipt can beat signal-cli's answer to us.
                for k in rule.get("receipts", ["delivery"]):
                    self.receipt(account, r, [ts], k)
                rule["receipts"] = []
        delay = max([float(rule.get("delay", 0)) for rule in rules] or [0])
        if delay:
            time.sleep(delay)
        for rule in rules:
            if rule.get("respond") in ("drop", "rpc_error", "http"):
                rec["respond"] = rule["respond"]
                if rule["respond"] == "rpc_error":
                    raise RpcError(int(rule.get("code", -3)), "Failed to send message: "
                                   "java.io.IOException (fake)")
                return rule["respond"], rule
        result = {"timestamp": ts, "results": results}
        for r, res, rule in zip(rcpts, results, rules):
            if res["type"] == "SUCCESS":
                kinds = rule.get("receipts", ["delivery", "read"])
                if kinds:
                    self.auto_receipts(account, r, ts, kinds)
        if any(x["type"] == "SUCCESS" for x in results):
            return "result", result
        if all(x["type"] == "IDENTITY_FAILURE" for x in results):
            raise RpcError(-4, "Failed to send message due to untrusted identities",
                           {"response": result})
        if all(x["type"] == "RATE_LIMIT_FAILURE" for x in results):
            raise RpcError(-5, "Failed to send message due to rate limiting",
                           {"response": result})
        raise RpcError(-1, "Failed to send message", {"response": result})


class RpcError(Exception):
    def __init__(self, code, message, data=None):
        Exception.__init__(self, message)
        self.code, self.message, self.data = code, message, data


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body are two writes: without TCP_NODELAY the body
    # waits for the client's delayed ACK (40 ms on Linux) on a kept-alive
    # connection, which would be the fake's latency, not signal-cli's.
    disable_nagle_algorithm = True

    def setup(self):
        if self.request.family == socket.AF_UNIX:
            self.disable_nagle_algorithm = False   # no Nagle on a unix socket
        BaseHTTPRequestHandler.setup(self)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("signal_cli_fake: " + fmt % args + "\n")

    def send(self, status, obj=None, ctype="application/json"):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def host_allowed(self):
        """signal-cli pins the Host header unless bound to 0.0.0.0/::."""
        host = self.headers.get("Host") or ""
        port = None
        if host.startswith("["):
            end = host.find("]")
            if end < 0:
                return False
            name, rest = host[1:end], host[end + 1:]
            if rest.startswith(":"):
                port = rest[1:]
        else:
            name, _, port = host.rpartition(":") if ":" in host else (host, "", None)
            if port is not None and not port.isdigit():
                name, port = host, None
        if isinstance(self.server.server_address, str):   # a unix socket
            return name.lower() == "localhost" and port is None
        allowed = {"localhost", "127.0.0.1", "::1", self.server.server_address[0]}
        if name.lower() not in allowed:
            return False
        return port is None or int(port) == self.server.server_address[1]

    def do_GET(self):
        fake = self.server.fake
        path, _, query = self.path.partition("?")
        if path.startswith("/_fake/"):
            return self.control("GET", path, b"")
        if not self.host_allowed():
            return self.send(421)
        if path == "/api/v1/check":
            return self.send(200)
        if path == "/api/v1/events":
            account = urllib.parse.parse_qs(query).get("account", [None])[0]
            if account is not None and account not in fake.accounts:
                return self.send(400)
            if account is None and not fake.multi:
                account = fake.accounts[0]
            return self.events(fake, account)
        return self.send(404)

    def do_DELETE(self):
        if self.path.startswith("/_fake/"):
            return self.control("DELETE", self.path, b"")
        return self.send(405)

    def do_POST(self):
        fake = self.server.fake
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/_fake/"):
            return self.control("POST", self.path, body)
        if not self.host_allowed():
            return self.send(421)
        if self.path != "/api/v1/rpc":
            return self.send(404)
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self.send(415)
        with fake.lock:
            fake.rpc_requests += 1
        try:
            req = json.loads(body)
        except ValueError:
            return self.send(200, {"jsonrpc": "2.0", "error": {
                "code": -32700, "message": "Parse error", "data": None}, "id": None})
        if isinstance(req, list):
            out = [a for a in (self.rpc(fake, r) for r in req) if a is not None]
            return self.send(200, out) if out else self.send(201)
        answer = self.rpc(fake, req)
        if answer == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if isinstance(answer, tuple):
            return self.send(answer[1])
        return self.send(200, answer) if answer is not None else self.send(201)

    def rpc(self, fake, req):
        rid = req.get("id") if isinstance(req, dict) else None
        rec = {"at": time.time(), "id": rid, "method": None}
        try:
            if not isinstance(req, dict) or req.get("jsonrpc") != "2.0":
                raise RpcError(-32600, "Invalid request")
            rec["method"] = req.get("method")
            if not isinstance(req.get("method"), str):
                raise RpcError(-32600, "method field must be set")
            if req["method"] != "send":
                raise RpcError(-32601, "Method not implemented")
            kind, out = fake.send(req.get("params"), rec)
            if kind == "drop":
                return "drop"
            if kind == "http":
                return ("http", int(out.get("http_status", 500)))
            answer = {"jsonrpc": "2.0", "result": out, "id": rid}
        except RpcError as e:
            rec["error"] = e.code
            answer = {"jsonrpc": "2.0", "error": {"code": e.code, "message": e.message,
                                                  "data": e.data}, "id": rid}
        finally:
            with fake.lock:
                fake.sends.append(rec)
        return answer if "id" in req else None

    def events(self, fake, account):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()   # no length: the body runs until the connection closes
        self.close_connection = True
        self.wfile.flush()
        with fake.lock:
            sid = fake.next_stream
            fake.next_stream += 1
            fake.connects += 1
            stream = {"account": account, "queue": [], "drop": False,
                      "generation": fake.generation}
            fake.streams[sid] = stream
            if not fake.held:
                keep = []
                for ev in fake.pending:
                    (stream["queue"] if account in (None, ev["account"]) else keep).append(ev)
                fake.pending = keep
        last = time.time()
        try:
            while True:
                with fake.lock:
                    while not stream["queue"] and not stream["drop"]:
                        left = fake.keepalive - (time.time() - last)
                        if left <= 0:
                            break
                        fake.lock.wait(min(left, 0.2))
                    if stream["drop"]:
                        break
                    batch, stream["queue"] = stream["queue"], []
                if not batch:
                    self.wfile.write(b":\n")
                for ev in batch:
                    self.wfile.write(b"event:receive\ndata:" +
                                     json.dumps(ev["data"], separators=(",", ":")).encode() +
                                     b"\n\n")
                self.wfile.flush()
                last = time.time()
        except OSError:
            pass
        finally:
            with fake.lock:
                if fake.streams.get(sid) is stream:
                    del fake.streams[sid]
                # What was queued for a dropped stream was never written:
                # signal-cli would not have taken it from the server either.
                if (stream["queue"] and fake.receive_mode == "on-connection"
                        and stream["generation"] == fake.generation):
                    fake.pending[:0] = stream["queue"]
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def control(self, method, path, body):
        fake = self.server.fake
        try:
            req = json.loads(body) if body.strip() else {}
            out = self.control_op(fake, method, path.rstrip("/")[len("/_fake/"):], req)
        except (BadRequest, KeyError, ValueError, TypeError) as e:
            return self.send(400, {"error": str(e)})
        if out is None:
            return self.send(404, {"error": "no such control endpoint: %s %s" % (method, path)})
        return self.send(200, out)

    def control_op(self, fake, method, name, req):
        if (method, name) == ("POST", "reset"):
            fake.reset()
            return {"ok": True}
        if name == "rules":
            rules = [check_rule(r) for r in req.get("rules", [req])] if method == "POST" else []
            with fake.lock:
                if method == "DELETE":
                    fake.rules.clear()
                fake.rules.extend(rules)
                return {"rules": json.loads(json.dumps(fake.rules))}
        if name == "sends" and method in ("GET", "DELETE"):
            with fake.lock:
                out = {"sends": json.loads(json.dumps(fake.sends))}
                if method == "DELETE":
                    del fake.sends[:]
                return out
        if (method, name) == ("GET", "events"):
            with fake.lock:
                return {"events": json.loads(json.dumps(fake.events)),
                        "pending": len(fake.pending), "streams": len(fake.streams),
                        "connects": fake.connects}
        if (method, name) == ("POST", "receipt"):
            account = req.get("account") or fake.accounts[0]
            ev = fake.receipt(account, req["recipient"], req["timestamps"],
                              req.get("type", "delivery"))
            return {"event": ev}
        if (method, name) == ("POST", "message"):
            return {"event": fake.message(req)}
        if (method, name) == ("POST", "drop"):
            with fake.lock:
                for s in fake.streams.values():
                    s["drop"] = True
                fake.lock.notify_all()
                return {"dropped": len(fake.streams)}
        if (method, name) == ("POST", "hold"):
            with fake.lock:
                fake.held = bool(req.get("on", True))
                if not fake.held:
                    pending, fake.pending = fake.pending, []
                    for ev in pending:
                        fake.deliver(ev)
                return {"held": fake.held}
        if (method, name) == ("POST", "redeliver"):
            with fake.lock:
                seqs = req.get("seqs") or [e["seq"] for e in fake.events[-int(req.get("last", 1)):]]
                evs = [e for e in fake.events if e["seq"] in seqs]
                for ev in evs:
                    fake.deliver(ev)
                return {"redelivered": [e["seq"] for e in evs]}
        if (method, name) == ("GET", "stats"):
            t = os.times()
            with fake.lock:
                return {"cpu_s": t.user + t.system, "rpc_requests": fake.rpc_requests,
                        "sends": len(fake.sends), "events": len(fake.events)}
        return None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingUnixStreamServer):
    """The same on a unix socket, as a proxy in front of signal-cli would
    serve it (signal-cli's --http binds TCP only)."""
    daemon_threads = True

    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("unix", 0)   # BaseHTTPRequestHandler wants a host and port


def serve(args):
    if args.unix:
        srv = UnixServer(args.unix, Handler)
    else:
        srv = Server((args.host, args.port), Handler)
    accounts = [a for a in args.account.split(",") if a]
    srv.fake = Fake(accounts, args.multi_account, args.receipt_delay, args.keepalive,
                    args.receive_mode)
    srv.verbose = args.verbose
    fakeproc.serve(srv, 0 if args.unix else None)


def start(extra=(), popen=subprocess.Popen):
    """Starts the fake as a child process (popen: harness.spawn in tests);
    returns (process, port)."""
    return fakeproc.start(os.path.abspath(__file__), ["--port", "0"] + list(extra), popen)


def control(port, method, path, obj=None, timeout=30):
    """One control call (path under /_fake/); returns the decoded JSON."""
    return fakeproc.control("signal_cli_fake", port, method, path, obj, timeout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--account", default="+15005550006",
                    help="the account(s), comma-separated (default +15005550006)")
    ap.add_argument("--multi-account", action="store_true",
                    help="params.account required, as a daemon started without -a")
    ap.add_argument("--receipt-delay", type=float, default=0.05,
                    help="seconds before each automatic receipt (default 0.05)")
    ap.add_argument("--keepalive", type=float, default=15.0,
                    help="seconds between ':' keep-alives (default 15, as signal-cli)")
    ap.add_argument("--receive-mode", choices=("on-connection", "on-start"),
                    default="on-connection")
    ap.add_argument("--unix", default="", help="serve on this unix socket instead (prints 0)")
    ap.add_argument("--verbose", action="store_true")
    serve(ap.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
