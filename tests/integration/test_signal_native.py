"""The native Signal transport end to end: pregond encrypts with
libsignal-protocol-c against stores in Redis and PUTs envelopes to the
loopback Signal-protocol server (tests/fakes/signal_server.py); a test
recipient (tests/tools/signal_recipient.c, the same library with a state
of its own) decrypts them to the exact text, and replies, STOPs and
receipts the other way, which pregond polls from the server's queue
(adapters/signal_native/signal_receive.c). Also the Lua ops of the stores
(signal.lua) and the lock, directly."""

import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import harness
from harness import wait_for

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "fakes"))
import signal_server  # noqa: E402

ACCOUNT = "+15550001111"
PASSWORD = "native-signal-pw-0123"
_fake = None


def fake_port():
    global _fake
    if _fake is None or _fake[0].poll() is not None:
        _fake = signal_server.start(ACCOUNT, PASSWORD, popen=harness.spawn)
    signal_server.control(_fake[1], "POST", "reset")
    return _fake[1]


def ctl(method, path, obj=None):
    return signal_server.control(_fake[1], method, path, obj)


class Recipient:
    """A test recipient: its state file, its keys on the server."""

    def __init__(self, number):
        self.number = number
        self.dir = harness.tempdir("signal-recipient-")
        self.state = os.path.join(self.dir, "state.json")
        self.seen = 0
        self.install()

    def tool(self, *args, input=None):
        r = subprocess.run([harness.binary("tests/tools/signal_recipient")] + list(args),
                           input=input, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def install(self):
        """A new identity and keys (a first install, or a reinstall)."""
        keys = json.loads(self.tool("init", self.state))
        ctl("PUT", "accounts/" + self.number, keys)
        return keys

    def read(self):
        """Decrypts the envelopes not read yet; returns the tool's lines."""
        envs = ctl("GET", "envelopes/" + self.number)["envelopes"][self.seen:]
        self.seen += len(envs)
        if not envs:
            return []
        out = self.tool("decrypt", self.state, input="".join(json.dumps(e) + "\n" for e in envs))
        return [json.loads(x) for x in out.splitlines()]

    def say(self, *lines):
        """Encrypts each line ({"text"} or {"receipt", "timestamps"}) to
        pregond's account with this recipient's session and PUTs it to
        the server, as a Signal client does; returns the envelopes."""
        out = self.tool("encrypt", self.state, ACCOUNT,
                        input="".join(json.dumps(x) + "\n" for x in lines))
        envs = [json.loads(x) for x in out.splitlines()]
        for e in envs:
            assert "error" not in e, e
            self.put(e["type"], e["content"], e["timestamp"])
        return envs

    def put(self, type_, content, timestamp):
        """PUT /v1/messages/{pregond's account}, authenticated as this
        recipient."""
        auth = base64.b64encode(("%s:%s" % (self.number, PASSWORD)).encode()).decode()
        body = json.dumps({"messages": [{"type": type_, "destinationDeviceId": 1,
                                         "destinationRegistrationId": 1, "content": content}],
                           "online": False, "urgent": True, "timestamp": timestamp})
        req = urllib.request.Request("http://127.0.0.1:%d/v1/messages/%s" % (_fake[1], ACCOUNT),
                                     data=body.encode(), method="PUT",
                                     headers={"Authorization": "Basic " + auth,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200


class Gateway:
    """A pregond on the native Signal provider."""

    def __init__(self, server=None, prefix=None, extra=None):
        port = _fake[1]
        self.dir = harness.tempdir("pregon-signal-")
        pw = os.path.join(self.dir, "signal-password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pw, 0o600)
        sections = {"signal": {"provider": "native", "url": "http://127.0.0.1:%d" % port,
                               "account": ACCOUNT, "password_file": pw, "timeout": "2s",
                               "lock_time": "5s", "poll_interval": "100ms",
                               "poll_max": "400ms"},
                    "retry": {"base_delay": "100ms", "max_delay": "500ms", "max_attempts": "5"},
                    "schedule": {"tick": "20ms"}}
        for k, v in (extra or {}).items():
            sections.setdefault(k, {}).update(v)
        self.cfg = harness.write_config(server, prefix=prefix, sections=sections,
                                        directory=self.dir)
        self.r = self.cfg.server.client
        self.start()

    def start(self):
        self.log = os.path.join(self.dir, "pregond-%d.log" % time.time_ns())
        self.proc = harness.start_daemon(self.cfg, log=self.log)
        wait_for(lambda: "redis: store ready" in open(self.log, errors="replace").read(),
                 timeout=10, what="pregond ready")

    def stop(self):
        assert harness.stop(self.proc) == 0

    def send(self, jid, number, body):
        self.r.xadd(self.cfg.key("jobs"), {"job": json.dumps(
            {"id": jid, "kind": "message", "body": body,
             "recipient": {"id": "c-" + number, "signal": number, "channels": ["signal"]}})})

    def message(self, jid):
        """The record of the job's message, or None."""
        for _, f in self.r.xrange(self.cfg.key("events")):
            e = json.loads(f["event"])
            if e["job"] == jid and e["status"] == "accepted":
                return self.r.hgetall(self.cfg.key("msg:" + e["message"]))
        return None

    def wait_status(self, jid, want, timeout=15):
        def now():
            m = self.message(jid)
            return m.get("status") if m else None
        wait_for(lambda: now() == want, timeout=timeout,
                 what="%s %s (now %s)" % (jid, want, now()))
        return self.message(jid)


def bundle_fetches():
    return [q for q in ctl("GET", "requests")["requests"] if q["path"].startswith("/v2/keys/")]


def test_first_message_is_a_pre_key_message_and_later_ones_advance_the_ratchet():
    fake_port()
    bob = Recipient("+13235550111")
    g = Gateway()
    try:
        texts = ["Court moved to Dept 12, 8:30.", "Bring your letter. ¿Preguntas? Llámenos.",
                 "Third: see you there."]
        for i, t in enumerate(texts):
            g.send("nat-%d" % i, bob.number, t)
            m = g.wait_status("nat-%d" % i, "sent")
            assert re.fullmatch(r"\d+-[0-9a-f]{24}", m.get("provider_id", "")), m
        got = bob.read()
        assert [x.get("body") for x in got] == texts, got
        # The first carries the X3DH pre-key material; the sender keeps
        # wrapping ratchet messages in pre-key messages until it hears
        # from the recipient (X3DH), and each is the next ratchet step.
        assert got[0]["type"] == 3
        assert [x["counter"] for x in got] == [0, 1, 2], got
        assert len(bundle_fetches()) == 1
        # A second decryption of the same envelopes is refused as a
        # duplicate: each step was used once.
        bob.seen = 0
        assert [x.get("error") for x in bob.read()] == [-1001] * 3
        # The stores are in Redis.
        assert g.r.hexists(g.cfg.key("signal:session:" + bob.number), "1")
        assert g.r.hstrlen(g.cfg.key("signal:identity:" + bob.number), "key") == 33
        assert not g.r.exists(g.cfg.key("signal:lock:" + bob.number))
    finally:
        g.stop()


def test_the_session_survives_a_pregond_restart():
    fake_port()
    bob = Recipient("+13235550122")
    g = Gateway()
    try:
        g.send("rs-1", bob.number, "before the restart")
        g.wait_status("rs-1", "sent")
        g.stop()
        g.start()
        g.send("rs-2", bob.number, "after the restart")
        g.wait_status("rs-2", "sent")
        got = bob.read()
        assert [(x.get("body"), x.get("counter")) for x in got] == \
            [("before the restart", 0), ("after the restart", 1)], got
        assert len(bundle_fetches()) == 1
    finally:
        g.stop()


def test_two_instances_sending_to_one_recipient_share_its_ratchet():
    fake_port()
    bob = Recipient("+13235550133")
    a = Gateway()
    b = Gateway(prefix=a.cfg.prefix)
    try:
        n = 12
        for i in range(n):
            a.send("two-%d" % i, bob.number, "message %d" % i)
        for i in range(n):
            a.wait_status("two-%d" % i, "sent", timeout=30)
        got = bob.read()
        assert sorted(x.get("body") for x in got) == sorted("message %d" % i for i in range(n)), got
        assert sorted(x["counter"] for x in got) == list(range(n)), got
        assert len(bundle_fetches()) == 1
        logs = open(a.log).read() + open(b.log).read()
        assert bob.number not in logs, "an address in a log"
        # Both instances sent (each took messages from the shared queue),
        # through the one ratchet.
        pat = r'pregon_signal_native_sent_total\{type="all"\} (\d+)'
        by = [harness.metric(a.log, pat), harness.metric(b.log, pat)]
        assert sum(by) == n and min(by) > 0, by
    finally:
        a.stop()
        b.stop()


def test_a_changed_identity_key_is_refused_until_pregon_signal_trust():
    fake_port()
    bob = Recipient("+13235550144")
    g = Gateway()
    try:
        g.send("id-1", bob.number, "hello")
        g.wait_status("id-1", "sent")
        assert [x.get("body") for x in bob.read()] == ["hello"]
        bob.install()          # a reinstall: new identity, new registration id
        g.send("id-2", bob.number, "must not go to an unknown key")
        m = g.wait_status("id-2", "failed")
        assert "identity changed" in m.get("error", ""), m
        assert bob.read() == []
        ids = g.cfg.key("signal:identity:" + bob.number)
        changed, key = g.r.execute_command("HMGET", ids, "changed", "key", NEVER_DECODE=True)
        assert len(changed) == 33 and changed != key

        r = harness.run_cli(g.cfg, "signal", "trust")
        assert r.returncode == 2
        assert harness.one_line_error(r) == "signal: usage: signal trust ADDRESS"
        r = harness.run_cli(g.cfg, "signal", "trust", "323-555")
        assert harness.one_line_error(r).startswith("address: not an E.164 number")
        r = harness.run_cli(g.cfg, "signal", "trust", bob.number)
        assert r.returncode == 0, r.stderr
        assert "trusted" in r.stdout
        r = harness.run_cli(g.cfg, "signal", "trust", bob.number)
        assert harness.one_line_error(r).endswith("no changed identity key is waiting")

        g.send("id-3", bob.number, "hello again")
        g.wait_status("id-3", "sent")
        got = bob.read()
        assert [(x.get("type"), x.get("body")) for x in got] == [(3, "hello again")], got
    finally:
        g.stop()


def test_a_retry_sends_the_same_ciphertext():
    fake_port()
    bob = Recipient("+13235550155")
    g = Gateway()
    try:
        ctl("POST", "rules", {"count": 2, "status": 503})
        g.send("rt-1", bob.number, "sent on the third try")
        g.wait_status("rt-1", "sent")
        puts = [q for q in ctl("GET", "requests")["requests"] if q["method"] == "PUT"]
        assert [q["status"] for q in puts] == [503, 503, 200], puts
        bodies = {json.loads(q["body"])["messages"][0]["content"] for q in puts}
        assert len(bodies) == 1, "a retry encrypted again"
        assert [x.get("body") for x in bob.read()] == ["sent on the third try"]
        mid = [json.loads(f["event"])["message"] for _, f in g.r.xrange(g.cfg.key("events"))
               if json.loads(f["event"])["job"] == "rt-1"][0]
        wait_for(lambda: not g.r.exists(g.cfg.key("signal:env:" + mid)), timeout=5,
                 what="the envelope dropped once sent")
    finally:
        g.stop()


def test_an_unregistered_number_fails_and_falls_back_to_sms():
    fake_port()
    g = Gateway()
    try:
        number = "+13235550199"
        g.r.xadd(g.cfg.key("jobs"), {"job": json.dumps(
            {"id": "un-1", "kind": "message", "body": "nobody there on Signal",
             "recipient": {"id": "c-un", "signal": number, "phone": number,
                           "channels": ["signal", "sms"]}})})
        m = g.wait_status("un-1", "failed")
        assert "not registered" in m.get("error", ""), m
        outbox = os.path.join(g.cfg.outbox, "sms.jsonl")
        wait_for(lambda: os.path.exists(outbox) and "nobody there on Signal" in open(outbox).read(),
                 timeout=10, what="the SMS fallback in the outbox")
    finally:
        g.stop()


def test_a_username_is_refused_as_not_a_number():
    fake_port()
    g = Gateway()
    try:
        g.send("usr-1", "alice.01", "to a username")
        m = g.wait_status("usr-1", "failed")
        assert "E.164 numbers only" in m.get("error", ""), m
        assert [q for q in ctl("GET", "requests")["requests"] if q["path"] != "/v1/messages"] == []
    finally:
        g.stop()


def test_a_429_waits_for_retry_after_and_sends_the_same_envelope():
    fake_port()
    bob = Recipient("+13235550166")
    g = Gateway()
    try:
        ctl("POST", "rules", {"count": 1, "status": 429, "retry_after": 1})
        g.send("rl-1", bob.number, "after the rate limit")
        m = g.wait_status("rl-1", "sent")
        puts = [q for q in ctl("GET", "requests")["requests"] if q["method"] == "PUT"]
        assert [q["status"] for q in puts] == [429, 200], puts
        assert json.loads(puts[0]["body"]) == json.loads(puts[1]["body"])
        assert puts[1]["at"] - puts[0]["at"] >= 0.95, "Retry-After: 1 not waited for"
        assert int(m["attempt"]) == 2, m
        assert harness.metric(g.log, r"pregon_signal_native_rate_limited_total (\d+)") == 1
        assert [x.get("body") for x in bob.read()] == ["after the rate limit"]
    finally:
        g.stop()


def queue_empty():
    q = ctl("GET", "queue")
    return q["queue"] == [] and q

def inbound_texts(g):
    return [f.get("text") for _, f in g.r.xrange(g.cfg.key("inbound"))]


def test_after_a_reply_the_next_message_is_a_ratchet_message_and_receipts_move_it_on():
    fake_port()
    bob = Recipient("+13235550211")
    g = Gateway()
    try:
        g.send("rx-1", bob.number, "Court moved to Dept 12.")
        g.wait_status("rx-1", "sent")
        g.send("rx-2", bob.number, "Still a pre-key message.")
        g.wait_status("rx-2", "sent")
        first = bob.read()
        assert [(x["type"], x["body"]) for x in first] == \
            [(3, "Court moved to Dept 12."), (3, "Still a pre-key message.")], first
        # Bob replies (a ratchet message: his session came from pregond's
        # pre-key message) and sends a delivery receipt, then a read one.
        sent = bob.say({"text": "Thanks, I will be there."},
                       {"receipt": "delivery", "timestamps": [first[0]["timestamp"]]},
                       {"receipt": "read", "timestamps": [first[0]["timestamp"],
                                                          first[1]["timestamp"]]})
        assert [e["type"] for e in sent] == [1, 1, 1]
        wait_for(lambda: inbound_texts(g) == ["Thanks, I will be there."], timeout=10,
                 what="the reply in pregon:inbound")
        g.wait_status("rx-1", "read")
        g.wait_status("rx-2", "read")
        wait_for(queue_empty, timeout=5, what="every envelope acknowledged")
        # pregond has heard from Bob: its next message is a ratchet
        # (CIPHERTEXT, type 1) message, and decrypts to the exact text.
        g.send("rx-3", bob.number, "Now a ratchet message. ¿Preguntas?")
        g.wait_status("rx-3", "sent")
        got = bob.read()
        assert [(x.get("type"), x.get("body")) for x in got] == \
            [(1, "Now a ratchet message. ¿Preguntas?")], got
        env = ctl("GET", "envelopes/" + bob.number)["envelopes"][-1]
        assert env["type"] == 1
        # The server's own delivery receipt (type 5, no content), as
        # Signal-Server sends the sender when a device acknowledges.
        bob.put(5, "", got[0]["timestamp"])
        g.wait_status("rx-3", "delivered")
        # The session pregond wrote back carries on: Bob's next reply too.
        bob.say({"text": "Got it"})
        wait_for(lambda: inbound_texts(g)[-1:] == ["Got it"], timeout=10, what="the second reply")
        pat = r'pregon_signal_native_received_total\{outcome="%s"\} (\d+)'
        wait_for(lambda: harness.metric(g.log, pat % "message") == 2, timeout=5, what="metrics")
        assert harness.metric(g.log, pat % "receipt") == 4
        assert harness.metric(g.log, pat % "undecryptable") == 0
        logs = open(g.log).read()
        assert bob.number not in logs and "Got it" not in logs
    finally:
        g.stop()


def test_a_stop_by_native_signal_opts_out_of_signal_only_and_an_alert_reply_counts():
    fake_port()
    bob = Recipient("+13235550222")
    ann = Recipient("+13235550223")
    g = Gateway()
    try:
        g.r.xadd(g.cfg.key("jobs"), {"job": json.dumps(
            {"id": "ice-nat", "kind": "action_alert",
             "audience": {"recipients": [{"id": "r-ann", "signal": ann.number}]},
             "message": "ICE activity at 5th & Main. Reply 1 if responding, 2 if you cannot.",
             "replies": {"1": "responding", "2": "cannot"}})})
        g.send("stop-1", bob.number, "Hello Bob")
        g.wait_status("stop-1", "sent")
        wait_for(lambda: g.r.hget(g.cfg.key("job:ice-nat"), "c:signal:sent") == "1",
                 timeout=10, what="the alert sent")
        assert [x.get("body") for x in bob.read()] == ["Hello Bob"]
        assert len(ann.read()) == 1
        ann.say({"text": "1"})
        bob.say({"text": "STOP"})
        wait_for(lambda: g.r.sismember(g.cfg.key("optout:signal"), bob.number), timeout=10,
                 what="opted out of Signal")
        assert not g.r.sismember(g.cfg.key("optout:sms"), bob.number)
        ledger = [json.loads(x) for x in g.r.lrange(g.cfg.key("consent:" + bob.number), 0, -1)]
        assert [(x["action"], x["source"]) for x in ledger] == [("out", "keyword")], ledger
        wait_for(lambda: g.r.hget(g.cfg.key("job:ice-nat"), "r:responding") == "1",
                 timeout=10, what="the alert reply counted")
        assert inbound_texts(g) == []
        # The confirmation goes back by native Signal, and decrypts.
        wait_for(lambda: len(ctl("GET", "envelopes/" + bob.number)["envelopes"]) == 2,
                 timeout=10, what="the STOP confirmation")
        conf = bob.read()
        assert conf[0]["type"] == 1 and conf[0]["body"], conf
    finally:
        g.stop()


def test_a_redelivered_envelope_is_applied_once():
    fake_port()
    bob = Recipient("+13235550233")
    g = Gateway()
    try:
        g.send("rd-1", bob.number, "hello")
        g.wait_status("rd-1", "sent")
        bob.read()
        bob.say({"text": "only once"})
        wait_for(lambda: inbound_texts(g) == ["only once"], timeout=10, what="the reply")
        q = wait_for(queue_empty, timeout=5, what="acknowledged")
        # The server gives it again (its acknowledgement was lost).
        ctl("POST", "requeue", {"guid": q["acked"][0]})
        wait_for(queue_empty, timeout=5, what="acknowledged again")
        pat = r'pregon_signal_native_received_total\{outcome="duplicate"\} (\d+)'
        wait_for(lambda: harness.metric(g.log, pat) == 1, timeout=5, what="the duplicate counted")
        assert inbound_texts(g) == ["only once"]
        # What cannot be decrypted (here: from someone pregond has no
        # session with) is acknowledged and dropped, never retried.
        mallory = Recipient("+13235550234")
        mallory.put(1, base64.b64encode(b"\x33" + os.urandom(80)).decode(), 1)
        wait_for(queue_empty, timeout=5, what="the undecryptable one dropped")
        pat = r'pregon_signal_native_received_total\{outcome="undecryptable"\} (\d+)'
        wait_for(lambda: harness.metric(g.log, pat) == 1, timeout=5, what="counted")
        assert inbound_texts(g) == ["only once"]
    finally:
        g.stop()


def test_two_instances_polling_one_queue_apply_each_reply_once():
    fake_port()
    bob = Recipient("+13235550255")
    a = Gateway()
    b = Gateway(prefix=a.cfg.prefix)
    try:
        a.send("two-rx-0", bob.number, "hello")
        a.wait_status("two-rx-0", "sent")
        bob.read()
        texts = ["reply %d" % i for i in range(8)]
        bob.say(*({"text": t} for t in texts))
        wait_for(lambda: sorted(inbound_texts(a)) == sorted(texts), timeout=20,
                 what="every reply once")
        wait_for(queue_empty, timeout=5, what="all acknowledged")
        time.sleep(0.5)
        assert sorted(inbound_texts(a)) == sorted(texts)
        # The session both wrote back is whole: Bob's next one decrypts.
        bob.say({"text": "after"})
        wait_for(lambda: "after" in inbound_texts(a), timeout=10, what="the next reply")
        pat = r'pregon_signal_native_received_total\{outcome="undecryptable"\} (\d+)'
        assert harness.metric(a.log, pat) + harness.metric(b.log, pat) == 0
    finally:
        a.stop()
        b.stop()


def test_the_poller_backs_off_while_the_server_is_down_and_recovers():
    fake_port()
    bob = Recipient("+13235550244")
    g = Gateway()
    try:
        g.send("bo-1", bob.number, "hello")
        g.wait_status("bo-1", "sent")
        bob.read()
        ctl("POST", "rules", {"route": "get", "status": 503, "count": 5})
        t0 = time.time()
        bob.say({"text": "while it was down"})
        wait_for(lambda: inbound_texts(g) == ["while it was down"], timeout=15,
                 what="the reply once the server is back")
        gets = [q for q in ctl("GET", "requests")["requests"]
                if q["method"] == "GET" and q["path"] == "/v1/messages" and q["at"] >= t0 - 1]
        failed = [q for q in gets if q["status"] == 503]
        assert len(failed) == 5, gets
        gaps = [b["at"] - a["at"] for a, b in zip(failed, failed[1:])]
        # Doubling from poll_interval (100 ms; where it stood when the
        # server went down) to poll_max (400 ms), with up to 25% jitter:
        # the failures do not hammer the server, nor wait past poll_max.
        assert min(gaps[2:]) >= 0.38 and max(gaps) < 0.4 * 1.25 + 0.2, gaps
        pat = r'pregon_signal_native_polls_total\{outcome="failed"\} (\d+)'
        assert harness.metric(g.log, pat) >= 5
        wait_for(queue_empty, timeout=5, what="acknowledged")
    finally:
        g.stop()


def test_lua_ops_lock_and_write_back():
    fake_port()
    cfg = harness.write_config()
    lib = harness.Library(cfg)
    addr = "+13235550188"
    st = lib.call("signal_begin", addr, "1", "tok-a", "5000", "m1", b"PUB\x00\x01", b"PRIV", "77")
    assert st[0] == "ok" and st[2] == "PUB\x00\x01" and st[4] == "77" and st[5] == ""
    # A second holder waits: the lock is held.
    st = lib.call("signal_begin", addr, "1", "tok-b", "5000", "m2", b"X", b"Y", "1")
    assert st[0] == "locked"
    # A commit with another's token writes nothing.
    assert lib.call("signal_commit", addr, "1", "tok-b", "m2", b"S", b"", b"", b"E", "60") == 0
    assert lib.call("signal_commit", addr, "1", "tok-a", "m1", b"SESS\x00", b"IDK", b"",
                    b"ENV", "60") == 1
    r = cfg.server.client
    assert r.hget(cfg.key("signal:session:" + addr), "1") == "SESS\x00"
    assert not r.exists(cfg.key("signal:lock:" + addr))
    assert 0 < r.ttl(cfg.key("signal:env:m1")) <= 60
    # A retry of m1 gets its envelope back, without the lock.
    st = lib.call("signal_begin", addr, "1", "tok-c", "5000", "m1", b"X", b"Y", "1")
    assert st[0] == "envelope" and st[1] == "ENV"
    # Our identity stays the first one stored; the session comes back.
    st = lib.call("signal_begin", addr, "1", "tok-c", "5000", "m3", b"OTHER", b"Y", "1")
    assert st[0] == "ok" and st[2] == "PUB\x00\x01" and st[5] == "SESS\x00" and st[6] == "IDK"
    # A refused key is kept beside the trusted one; trust swaps it in.
    assert lib.call("signal_commit", addr, "1", "tok-c", "m3", b"", b"", b"NEWK", b"", "60") == 1
    assert lib.call("signal_trust", addr) == ["trusted"]
    assert r.hget(cfg.key("signal:identity:" + addr), "key") == "NEWK"
    assert not r.exists(cfg.key("signal:session:" + addr))
    assert lib.call("signal_trust", addr) == ["none"]
    assert lib.call("signal_forget", "m1") == 1
    assert not r.exists(cfg.key("signal:env:m1"))
    # The lock expires when its holder dies.
    st = lib.call("signal_begin", addr, "1", "tok-d", "50", "m4", b"X", b"Y", "1")
    assert st[0] == "ok"
    time.sleep(0.1)
    st = lib.call("signal_begin", addr, "1", "tok-e", "5000", "m5", b"X", b"Y", "1")
    assert st[0] == "ok"


if __name__ == "__main__":
    harness.main(globals())
