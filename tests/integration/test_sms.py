"""SMS through the Twilio adapter, end to end against the loopback fake
(tests/fakes/twilio_fake.py): sends, status callbacks, every failure mode,
signatures, consent keywords, replies, the circuit breaker, and a Redis
restart in the middle of sending."""

import http.client
import json
import os
import re
import sys
import time
import urllib.parse

import harness
from harness import wait_for

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "fakes"))
import twilio_fake  # noqa: E402

SID = "AC" + "2e" * 16
TOKEN = "sms-test-token-0123"
FROM = "+15005550006"
_fake = None


def fake_port():
    global _fake
    if _fake is None or _fake[0].poll() is not None:
        _fake = twilio_fake.start(SID, TOKEN, ["--from-numbers", FROM, "--callback-delay", "0.02"],
                                  popen=harness.spawn)
    twilio_fake.control(_fake[1], "POST", "reset")
    return _fake[1]


def ctl(method, path, obj=None):
    return twilio_fake.control(_fake[1], method, path, obj)


class Gateway:
    """A pregond on the Twilio adapter with its HTTP listener."""

    def __init__(self, server=None, sms=None, extra=None):
        port = fake_port()
        self.http_port = harness.free_port()
        self.public = "http://127.0.0.1:%d" % self.http_port
        d = harness.tempdir("pregon-sms-")
        token_file = os.path.join(d, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        conf = {"provider": "twilio", "base_url": "http://127.0.0.1:%d" % port,
                "account_sid": SID, "auth_token_file": token_file, "from": FROM,
                "timeout": "2s"}
        conf.update(sms or {})
        sections = {"sms": conf, "http": {"listen": "127.0.0.1:%d" % self.http_port,
                                          "public_url": self.public},
                    "retry": {"base_delay": "100ms", "max_delay": "1s", "max_attempts": "4"},
                    "schedule": {"tick": "20ms"}}
        for k, v in (extra or {}).items():
            sections.setdefault(k, {}).update(v)
        self.cfg = harness.write_config(server, sections=sections, directory=d)
        self.r = self.cfg.server.client
        self.proc = harness.start_daemon(self.cfg)
        wait_for(self.healthy, timeout=10, what="pregond /healthz")

    def healthy(self):
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def get(self, path):
        return harness.http_get(self.http_port, path)

    def stop(self):
        assert harness.stop(self.proc) == 0

    def job(self, jid, phone, body="Your court date is Dec 1 at 8:30, Dept 12.", channels=None):
        rec = {"id": "c-" + jid, "phone": phone}
        if channels:
            rec["channels"] = channels
        self.r.xadd(self.cfg.key("jobs"), {"job": json.dumps(
            {"id": jid, "kind": "message", "recipient": rec, "body": body})})

    def message(self, jid, n=1):
        """The record of the job's n-th message, in the order of their
        `accepted` events (a fallback is the second), or None."""
        mids = []
        for _, f in self.r.xrange(self.cfg.key("events")):
            e = json.loads(f["event"])
            if e["job"] == jid and e["status"] == "accepted" and e["message"] not in mids:
                mids.append(e["message"])
        if len(mids) < n:
            return None
        return self.r.hgetall(self.cfg.key("msg:" + mids[n - 1]))

    def status(self, jid, n=1):
        m = self.message(jid, n)
        return m.get("status") if m else None

    def wait_status(self, jid, want, timeout=15, n=1):
        wait_for(lambda: self.status(jid, n) == want, timeout=timeout,
                 what="%s %s (now %s)" % (jid, want, self.status(jid, n)))
        return self.message(jid, n)

    def events(self, jid):
        out = []
        for _, f in self.r.xrange(self.cfg.key("events")):
            e = json.loads(f["event"])
            if e["job"] == jid:
                out.append(e)
        return out

    def inbound(self, phone, body):
        return ctl("POST", "inbound", {"url": self.public + "/webhooks/sms/inbound",
                                       "from": phone, "to": FROM, "body": body})


def sent_to(phone):
    return [r for r in ctl("GET", "requests")["requests"] if r["params"].get("To") == phone]


def test_message_goes_out_and_ends_delivered_through_the_callback():
    g = Gateway()
    try:
        g.job("sms-ok", "+13235550100")
        m = g.wait_status("sms-ok", "delivered")
        assert m["provider_id"].startswith("SM") and m["attempt"] == "1", m
        reqs = sent_to("+13235550100")
        assert len(reqs) == 1, reqs
        p = reqs[0]["params"]
        assert reqs[0]["auth_ok"] and reqs[0]["auth"] == SID
        assert p["From"] == FROM and p["Body"].startswith("Your court date")
        assert p["StatusCallback"] == g.public + "/webhooks/sms/status"
        assert "ValidityPeriod" not in p
        statuses = [e["status"] for e in g.events("sms-ok")]
        assert statuses == ["accepted", "sending", "sent", "delivered"], statuses
        assert all(e["provider_id"] == m["provider_id"] for e in g.events("sms-ok")[2:])
        # No number or text in events.
        raw = json.dumps(g.events("sms-ok"))
        assert "3235550100" not in raw and "court" not in raw
        status, text = g.get("/metrics")
        assert status == 200 and 'pregon_messages_total{channel="sms",outcome="sent"} 1' in text
        assert "pregon_send_duration_seconds_bucket" in text
    finally:
        g.stop()


def test_failure_modes_end_in_the_right_status_attempts_and_error():
    g = Gateway()
    try:
        ctl("POST", "rules", {"rules": [
            {"to": "+13235550111", "code": 21211},
            {"to": "+13235550112", "code": 21614},
            {"to": "+13235550113", "count": 2, "status": 429, "retry_after": 1},
            {"to": "+13235550114", "count": 1, "status": 500},
            {"to": "+13235550115", "count": 1, "respond": "drop"},
            {"to": "+13235550116", "count": 1, "delay": 3},
            {"to": "+13235550117", "final": "undelivered", "error_code": 30007},
            {"to": "+13235550118", "status": 503},
        ]})
        t0 = time.time()
        for n in range(111, 119):
            g.job("fm-%d" % n, "+1323555%04d" % (n + 0))
        m = g.wait_status("fm-111", "failed")
        assert m["attempt"] == "1" and "21211" in m["error"], m
        m = g.wait_status("fm-112", "failed")
        assert m["attempt"] == "1" and "21614" in m["error"], m
        m = g.wait_status("fm-113", "delivered")
        assert m["attempt"] == "3", m
        assert time.time() - t0 >= 2.0, "Retry-After: 1 not honoured"
        assert len(sent_to("+13235550113")) == 3
        m = g.wait_status("fm-114", "delivered")
        assert m["attempt"] == "2", m
        # A connection dropped before any answer: libcurl itself retries a
        # request on a reused connection once, else it is our attempt 2.
        m = g.wait_status("fm-115", "delivered")
        assert m["attempt"] in ("1", "2") and len(sent_to("+13235550115")) == 2, m
        m = g.wait_status("fm-116", "delivered")
        assert m["attempt"] == "2", m
        scheduled = [e for e in g.events("fm-116") if e["status"] == "scheduled"]
        assert scheduled and "timed out" in scheduled[0]["error"], scheduled
        m = g.wait_status("fm-117", "undelivered")
        assert m["error"] == "twilio 30007", m
        m = g.wait_status("fm-118", "failed", timeout=20)
        assert m["attempt"] == "4" and "gave up after 4 attempts" in m["error"], m
        assert "HTTP 503" in m["error"], m
    finally:
        g.stop()


def test_a_message_the_provider_refuses_before_sending_fails_with_a_public_reason():
    """Twilio takes 1,600 characters: a longer body fails before any
    request, and its `failed` event names the problem without the text."""
    g = Gateway()
    try:
        phone = "+13235550158"
        body = "Ana Lopez 3235550100 " * 80
        g.job("too-long", phone, body=body)
        m = g.wait_status("too-long", "failed")
        assert sent_to(phone) == []
        ev = [e for e in g.events("too-long") if e["status"] == "failed"]
        assert [e["error"] for e in ev] == ["body: over Twilio's 1600 characters"], ev
        assert m["error"] == "body: over Twilio's 1600 characters", m
    finally:
        g.stop()


def test_carrier_stop_21610_fails_the_message_and_opts_the_number_out():
    g = Gateway()
    try:
        ctl("POST", "rules", {"to": "+13235550120", "code": 21610})
        g.job("stop-carrier", "+13235550120")
        m = g.wait_status("stop-carrier", "failed")
        assert "21610" in m["error"], m
        assert g.r.sismember(g.cfg.key("optout:sms"), "+13235550120")
        ledger = [json.loads(x) for x in g.r.lrange(g.cfg.key("consent:+13235550120"), 0, -1)]
        assert ledger[-1]["source"] == "carrier" and ledger[-1]["action"] == "out", ledger
        g.job("stop-carrier-2", "+13235550120")
        g.wait_status("stop-carrier-2", "suppressed")
        assert len(sent_to("+13235550120")) == 1
    finally:
        g.stop()


def test_invalid_signature_gets_403_and_changes_nothing():
    g = Gateway()
    try:
        ctl("POST", "rules", {"to": "+13235550130", "callbacks": [{"status": "sent"}]})
        g.job("sig", "+13235550130")
        m = g.wait_status("sig", "sent")
        sid = m["provider_id"]
        bad = ctl("POST", "callback", {"sid": sid, "status": "delivered",
                                       "signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="})
        assert bad["status"] == 403, bad
        none = ctl("POST", "callback", {"sid": sid, "status": "failed", "signature": False})
        assert none["status"] == 403, none
        # Signed for another URL: still refused.
        other = ctl("POST", "callback", {"sid": sid, "status": "delivered",
                                         "url": g.public + "/webhooks/sms/status?x=1",
                                         "signature": twilio_fake.signature(
                                             TOKEN, g.public + "/webhooks/sms/status",
                                             {"MessageSid": sid})})
        assert other["status"] == 403, other
        bad_in = ctl("POST", "inbound", {"url": g.public + "/webhooks/sms/inbound",
                                         "from": "+13235550130", "to": FROM, "body": "STOP",
                                         "signature": "nope"})
        assert bad_in["status"] == 403, bad_in
        time.sleep(0.3)
        assert g.status("sig") == "sent"
        assert not g.r.sismember(g.cfg.key("optout:sms"), "+13235550130")
        good = ctl("POST", "callback", {"sid": sid, "status": "delivered"})
        assert good["status"] in (200, 204), good
        g.wait_status("sig", "delivered")
    finally:
        g.stop()


def test_out_of_order_callbacks_never_move_a_message_back():
    g = Gateway()
    try:
        ctl("POST", "rules", {"to": "+13235550140", "callbacks": [
            {"status": "delivered"}, {"status": "sent", "delay": 0.1}]})
        g.job("order", "+13235550140")
        g.wait_status("order", "delivered")
        time.sleep(0.4)
        assert g.status("order") == "delivered"
        statuses = [e["status"] for e in g.events("order")]
        assert statuses.count("delivered") == 1 and statuses[-1] == "delivered", statuses
    finally:
        g.stop()


def test_stop_and_alto_opt_out_once_with_one_confirmation_and_start_opts_back_in():
    """A START the day of a STOP opts back in, unconfirmed: one
    confirmation per address a day (issue 12); another number's START is
    confirmed."""
    g = Gateway()
    try:
        phone = "+13235550150"
        r = g.inbound(phone, "STOP")
        assert r["status"] == 200, r
        wait_for(lambda: len(sent_to(phone)) == 1, what="STOP confirmation")
        assert "unsubscribed" in sent_to(phone)[0]["params"]["Body"]
        assert g.r.sismember(g.cfg.key("optout:sms"), phone)
        assert g.inbound(phone, "stop")["status"] == 200
        time.sleep(0.5)
        assert len(sent_to(phone)) == 1, "a second confirmation was sent"
        g.job("after-stop", phone)
        g.wait_status("after-stop", "suppressed")
        ledger = [json.loads(x) for x in g.r.lrange(g.cfg.key("consent:" + phone), 0, -1)]
        assert ledger[0]["source"] == "keyword" and ledger[0]["detail"].startswith("stop SM"), ledger
        assert g.inbound(phone, "START")["status"] == 200
        wait_for(lambda: not g.r.sismember(g.cfg.key("optout:sms"), phone), what="opted in")
        g.job("after-start", phone)
        g.wait_status("after-start", "delivered")
        assert [r["params"]["Body"] for r in sent_to(phone)][1:] == [
            "Your court date is Dec 1 at 8:30, Dept 12."], "the START was confirmed the same day"
        other = "+13235550152"
        g.r.sadd(g.cfg.key("optout:sms"), other)
        assert g.inbound(other, "START")["status"] == 200
        wait_for(lambda: len(sent_to(other)) == 1, what="START confirmation")
        assert "subscribed again" in sent_to(other)[0]["params"]["Body"]

        es = "+13235550151"
        assert g.inbound(es, "Alto")["status"] == 200
        wait_for(lambda: len(sent_to(es)) == 1, what="ALTO confirmation")
        # usted, as the templates address the client (issue 13)
        assert sent_to(es)[0]["params"]["Body"] == \
            "Ya no le enviaremos mensajes. Responda START para volver a recibirlos."
        assert g.r.sismember(g.cfg.key("optout:sms"), es)
        r = harness.run_cli(g.cfg, "optout", "history", es)
        assert r.returncode == 0 and "keyword" in r.stdout, r.stdout + r.stderr
    finally:
        g.stop()


def test_stop_words_in_chinese_korean_and_vietnamese_opt_out_and_are_answered_in_kind():
    """Issue 13: carriers act on English and Spanish only, but a client who
    writes 停止, 그만 or dừng means it: opted out, recorded in the ledger
    with source keyword and the word, confirmed in the client's language
    (from config/templates/consent_stop), naming [templates] sender."""
    g = Gateway(extra={"templates": {"sender": "La Defensa"}})
    try:
        cases = [("+13235550161", "停止", "【La Defensa】您已退订"),
                 ("+13235550162", "그만", "[La Defensa] 수신 거부가 완료되었습니다"),
                 ("+13235550163", " Dừng! ", "La Defensa: Quý vị sẽ không nhận tin nhắn"),
                 ("+13235550164", "退訂", "【La Defensa】您已退訂"),
                 ("+13235550165", "STOP", "La Defensa: You are unsubscribed")]
        for phone, word, _ in cases:
            assert g.inbound(phone, word)["status"] == 200
        for phone, word, want in cases:
            wait_for(lambda: len(sent_to(phone)) == 1, what="confirmation of " + word)
            body = sent_to(phone)[0]["params"]["Body"]
            assert body.startswith(want), (word, body)
            assert g.r.sismember(g.cfg.key("optout:sms"), phone), word
            ledger = [json.loads(x) for x in g.r.lrange(g.cfg.key("consent:" + phone), 0, -1)]
            canon = word.strip(" !").lower()
            assert ledger[0]["source"] == "keyword" and \
                ledger[0]["detail"].startswith(canon + " SM"), ledger
        # Nothing reaches them afterwards, and the words were not taken as
        # replies for a person to answer.
        g.job("after-native-stop", "+13235550162")
        g.wait_status("after-native-stop", "suppressed")
        texts = [e[1].get("text") for e in g.r.xrange(g.cfg.key("inbound"))]
        assert not any(t in texts for _, t, _ in cases), texts
        # A HELP in Spanish is answered in Spanish now, not with the
        # English help_text.
        es = "+13235550166"
        assert g.inbound(es, "AYUDA")["status"] == 200
        wait_for(lambda: len(sent_to(es)) == 1, what="AYUDA answer")
        assert sent_to(es)[0]["params"]["Body"].startswith(
            "La Defensa: Recordatorios de su equipo legal."), sent_to(es)
    finally:
        g.stop()


def test_an_english_stop_is_answered_in_the_language_pregon_knows_for_the_client():
    """Issue 13, item 9: carriers teach the English STOP, so a client who
    reads Spanish or Korean sends it too. An English word is answered in
    the language of the recipient of the latest message sent to that
    number (a court client's, a message's, else the contact's), else in
    the default language; a word in another language in that language."""
    g = Gateway(extra={"templates": {"sender": "La Defensa"}})
    try:
        es, ko, nobody, es_zh, vi = ("+13235550171", "+13235550172", "+13235550173",
                                     "+13235550174", "+13235550175")
        day = time.strftime("%Y-%m-%dT10:00:00", time.gmtime(time.time() + 30 * 86400))
        g.r.xadd(g.cfg.key("jobs"), {"job": json.dumps(
            {"id": "court-es", "kind": "court_reminder", "offsets": ["P1D"],
             "case": {"ref": "LA-1", "court": "Foltz CJC", "address": "210 W Temple St",
                      "department": "Dept. 30", "tz": "America/Los_Angeles"},
             "appearance": day,
             "recipient": {"id": "client-es", "name": "Ana", "phone": es, "lang": "es"}})})
        for jid, phone, lang in (("msg-ko", ko, "ko"), ("msg-es", es_zh, "es")):
            g.r.xadd(g.cfg.key("jobs"), {"job": json.dumps(
                {"id": jid, "kind": "message", "body": "Hello.",
                 "recipient": {"id": "c-" + jid, "phone": phone, "lang": lang}})})
        # A contact whose messages name no language: the contact's.
        g.r.xadd(g.cfg.key("jobs"), {"job": json.dumps(
            {"id": "up-vi", "kind": "contact_upsert",
             "contact": {"id": "c-vi", "phone": vi, "lang": "vi"}})})
        wait_for(lambda: g.r.hget(g.cfg.key("contact:c-vi"), "lang") == "vi", what="contact")
        g.r.xadd(g.cfg.key("jobs"), {"job": json.dumps(
            {"id": "msg-vi", "kind": "message", "body": "Hello.",
             "recipient": {"id": "c-vi", "phone": vi}})})
        for phone in (es, ko, es_zh, vi):
            wait_for(lambda: g.r.get(g.cfg.key("lj:sms:" + phone)), what="sent to " + phone)
        assert g.r.get(g.cfg.key("lj:sms:" + es)) == "client-es\tcourt-es\tes"
        assert g.r.get(g.cfg.key("lj:sms:" + vi)) == "c-vi\tmsg-vi"
        g.r.sadd(g.cfg.key("optout:sms"), ko)       # so that START changes something
        cases = [(es, "STOP", "La Defensa: Ya no le enviaremos mensajes."),
                 (ko, "START", "[La Defensa] 메시지 수신이 다시 시작되었습니다."),
                 (nobody, "STOP", "La Defensa: You are unsubscribed"),
                 (es_zh, "停止", "【La Defensa】您已退订"),
                 (vi, "stop", "La Defensa: Quý vị sẽ không nhận tin nhắn")]
        before = {phone: len(sent_to(phone)) for phone, _, _ in cases}
        for phone, word, _ in cases:
            assert g.inbound(phone, word)["status"] == 200
        for phone, word, want in cases:
            wait_for(lambda: len(sent_to(phone)) == before[phone] + 1,
                     what="the answer to " + word)
            body = sent_to(phone)[-1]["params"]["Body"]
            assert body.startswith(want), (phone, word, body)
        assert g.r.sismember(g.cfg.key("optout:sms"), es)
        assert not g.r.sismember(g.cfg.key("optout:sms"), ko)
        # The answer, once sent, is the latest message to the number: it
        # keeps the language, so what the client sends next is answered in
        # it too.
        wait_for(lambda: "\tconsent-" in g.r.get(g.cfg.key("lj:sms:" + es)),
                 what="the answer's result")
        assert g.r.get(g.cfg.key("lj:sms:" + es)).endswith("\tes")
        # HELP too, with [sms] help_text in the client's language.
        assert g.inbound(es, "HELP")["status"] == 200
        wait_for(lambda: len(sent_to(es)) == before[es] + 2, what="the answer to HELP")
        assert sent_to(es)[-1]["params"]["Body"].startswith(
            "La Defensa: Recordatorios de su equipo legal."), sent_to(es)[-1]
    finally:
        g.stop()


def test_a_stop_taken_while_shutting_down_is_written_before_exit():
    """SIGTERM while a STOP's write waits on Redis: pregond answers the
    webhook, writes the STOP and only then closes its Redis connection
    (before, the writer closed under it: the STOP was held in memory,
    lost, and leaked)."""
    import signal
    import threading
    g = Gateway()
    phone = "+13235550159"
    answer = {}
    try:
        g.r.execute_command("CLIENT", "PAUSE", "1500", "WRITE")
        t = threading.Thread(target=lambda: answer.update(g.inbound(phone, "STOP")))
        t.start()
        time.sleep(0.3)
        g.proc.send_signal(signal.SIGTERM)
        t.join(15)
        assert answer.get("status") == 200, answer
        assert g.proc.wait(15) == 0
        assert g.r.sismember(g.cfg.key("optout:sms"), phone)
        with open(os.path.join(g.cfg.dir, "pregond.log")) as f:
            log = f.read()
        assert "lost at exit" not in log and "LeakSanitizer" not in log, log
    finally:
        if g.proc.poll() is None:
            g.stop()


def test_help_is_answered_even_when_opted_out_and_replies_go_to_inbound():
    g = Gateway()
    try:
        phone = "+13235550160"
        g.job("to-reply", phone)
        g.wait_status("to-reply", "delivered")
        assert g.inbound(phone, "can I bring my daughter?")["status"] == 200
        entries = g.r.xrange(g.cfg.key("inbound"))
        assert len(entries) == 1, entries
        f = entries[0][1]
        assert f["text"] == "can I bring my daughter?" and f["from"] == phone
        assert f["contact"] == "c-to-reply" and f["job"] == "to-reply" and f["channel"] == "sms"
        g.r.sadd(g.cfg.key("optout:sms"), phone)
        assert g.inbound(phone, "HELP")["status"] == 200
        wait_for(lambda: len(sent_to(phone)) == 2, what="HELP answer")
        assert "Reply STOP" in sent_to(phone)[1]["params"]["Body"]
        # The same inbound message twice (a provider retry): handled once.
        entry = ctl("POST", "inbound", {"url": g.public + "/webhooks/sms/inbound", "from": phone,
                                        "to": FROM, "body": "thanks",
                                        "params": {"MessageSid": "SM" + "7" * 32,
                                                   "SmsSid": "SM" + "7" * 32,
                                                   "SmsMessageSid": "SM" + "7" * 32}})
        assert entry["status"] == 200, entry
        ctl("POST", "inbound", {"url": g.public + "/webhooks/sms/inbound", "from": phone,
                                "to": FROM, "body": "thanks",
                                "params": {"MessageSid": "SM" + "7" * 32,
                                           "SmsSid": "SM" + "7" * 32,
                                           "SmsMessageSid": "SM" + "7" * 32}})
        assert len(g.r.xrange(g.cfg.key("inbound"))) == 2
    finally:
        g.stop()


def test_webhook_requests_that_are_malformed_get_clear_errors():
    g = Gateway()
    try:
        def post(path, body, ctype="application/x-www-form-urlencoded", sign=True):
            params = urllib.parse.parse_qsl(body, keep_blank_values=True)
            headers = {"Content-Type": ctype}
            if sign:
                headers["X-Twilio-Signature"] = twilio_fake.signature(TOKEN, g.public + path,
                                                                      params)
            c = http.client.HTTPConnection("127.0.0.1", g.http_port, timeout=5)
            c.request("POST", path, body=body, headers=headers)
            r = c.getresponse()
            out = r.status, r.read().decode()
            c.close()
            return out
        s, b = post("/webhooks/sms/status", "MessageStatus=delivered")
        assert s == 400 and "MessageSid" in b, (s, b)
        s, b = post("/webhooks/sms/status", "MessageSid=SM1&MessageStatus=exploded")
        assert s == 400 and "MessageStatus" in b, (s, b)
        s, b = post("/webhooks/sms/status", "MessageSid=SM1&MessageStatus=failed&ErrorCode=x")
        assert s == 400 and "ErrorCode" in b, (s, b)
        s, b = post("/webhooks/sms/inbound", "MessageSid=SM1&From=12&Body=hi")
        assert s == 400 and "From" in b, (s, b)
        s, b = post("/webhooks/sms/status", "MessageSid=%ZZ")
        assert s == 400, (s, b)
        s, b = post("/webhooks/sms/status", "{}", ctype="application/json")
        assert s == 415, (s, b)
        s, b = g.get("/webhooks/sms/status")
        assert s == 405, (s, b)
        s, b = g.get("/nope")
        assert s == 404, (s, b)
        # An unknown sid is kept for a while, not an error (the callback
        # may beat the send's result).
        s, b = post("/webhooks/sms/status", "MessageSid=SMabc&MessageStatus=delivered")
        assert s in (200, 204), (s, b)
    finally:
        g.stop()


def test_circuit_breaker_stops_hammering_a_failing_provider_then_probes():
    g = Gateway(sms={"breaker_failures": "3", "breaker_cooldown": "1s", "concurrency": "1"},
                extra={"retry": {"max_attempts": "20"}})
    try:
        ctl("POST", "rules", {"status": 503})
        for i in range(5):
            g.job("cb-%d" % i, "+132355502%02d" % i)
        wait_for(lambda: any(e["status"] == "scheduled" and "circuit" in (e["error"] or "")
                             for i in range(5) for e in g.events("cb-%d" % i)),
                 timeout=10, what="a deferral")
        time.sleep(1.5)
        # Three failures open it; then about one probe per cooldown.
        n = len(ctl("GET", "requests")["requests"])
        assert n <= 6, "%d requests to a failing provider in ~2s" % n
        ctl("DELETE", "rules")
        for i in range(5):
            g.wait_status("cb-%d" % i, "delivered", timeout=20)
        _, text = g.get("/metrics")
        assert 'outcome="deferred"' in text
    finally:
        g.stop()


def test_redis_restart_while_sending_loses_nothing():
    srv = harness.RedisServer()
    # A SIGKILLed Redis may lose its last second of writes (appendfsync
    # everysec): a message whose "sent" was lost is reclaimed and sent again.
    g = Gateway(server=srv, sms={"concurrency": "8"}, extra={"jobs": {"reclaim_after": "2s"}})
    try:
        n = 150
        for i in range(n):
            g.job("rr-%d" % i, "+1213555%04d" % i)
        wait_for(lambda: len(ctl("GET", "requests")["requests"]) >= 30, timeout=20,
                 what="sending started")
        srv.restart()
        g.r = srv.client
        wait_for(lambda: sum(1 for i in range(n) if g.status("rr-%d" % i) == "delivered") == n,
                 timeout=60, interval=0.3, what="all delivered")
        got = {r["params"]["To"] for r in ctl("GET", "requests")["requests"]}
        assert len(got) == n
    finally:
        g.stop()
        srv.stop()


# ---- issue 12: answers limited and on a lane of their own ----

def answers_metric(g, outcome):
    _, text = g.get("/metrics")
    m = re.search(r'pregon_inbound_answers_total\{channel="sms",outcome="%s"\} (\d+)' % outcome,
                  text)
    assert m, "no pregon_inbound_answers_total %s in /metrics" % outcome
    return int(m.group(1))


def test_twenty_texts_from_one_number_make_one_help_answer_and_one_confirmation():
    """Before: every HELP answered and every consent change confirmed, 20
    texts made 20 SMS. Now: HELP once per [sms] help_interval, one consent
    confirmation a day per address; every change is still recorded."""
    g = Gateway()
    try:
        phone, toggler = "+13235550170", "+13235550171"
        for _ in range(20):
            assert g.inbound(phone, "HELP")["status"] == 200
        for i in range(20):
            assert g.inbound(toggler, "STOP" if i % 2 == 0 else "START")["status"] == 200
        wait_for(lambda: len(sent_to(phone)) >= 1 and len(sent_to(toggler)) >= 1,
                 what="an answer each")
        time.sleep(1.0)
        assert (len(sent_to(phone)), len(sent_to(toggler))) == (1, 1), "answers not limited"
        assert "Reply STOP" in sent_to(phone)[0]["params"]["Body"]
        assert "unsubscribed" in sent_to(toggler)[0]["params"]["Body"]
        ledger = [json.loads(x) for x in g.r.lrange(g.cfg.key("consent:" + toggler), 0, -1)]
        assert len(ledger) == 20 and all(x["changed"] for x in ledger), ledger
        assert not g.r.sismember(g.cfg.key("optout:sms"), toggler)    # the last was START
        assert 0 < g.r.ttl(g.cfg.key("ha:sms:" + phone)) <= 86400
        assert answers_metric(g, "limited") == 38 and answers_metric(g, "sent") == 2
    finally:
        g.stop()


def test_help_interval_is_configurable_and_answers_again_after_it():
    g = Gateway(sms={"help_interval": "1s"})
    try:
        phone = "+13235550172"
        assert g.inbound(phone, "HELP")["status"] == 200
        assert g.inbound(phone, "HELP")["status"] == 200
        wait_for(lambda: len(sent_to(phone)) == 1, what="first HELP answer")
        time.sleep(1.2)
        assert g.inbound(phone, "HELP")["status"] == 200
        wait_for(lambda: len(sent_to(phone)) == 2, what="HELP answered again after 1s")
    finally:
        g.stop()


def test_answers_go_after_urgent_alerts_and_before_normal_work():
    """Before: answers were urgent, so three HELPs went out ahead of an
    urgent alert read after them. Now: urgent alert, then answers, then
    normal work, whatever was read first."""
    g = Gateway(sms={"concurrency": "1"})
    try:
        blocker = "+13235550180"
        ctl("POST", "rules", {"to": blocker, "delay": 2, "count": 1})
        g.job("blocker", blocker)
        wait_for(lambda: g.status("blocker") == "sending", what="the blocker out")
        for i in range(3):
            g.job("normal-%d" % i, "+1323555019%d" % i)
        helpers = ["+1323555018%d" % i for i in range(1, 4)]
        for p in helpers:
            assert g.inbound(p, "HELP")["status"] == 200
        time.sleep(0.3)     # the normal messages and the answers are read, waiting
        rcpts = [{"id": "u%d" % i, "phone": "+1323555017%d" % (i + 3)} for i in range(3)]
        g.r.xadd(g.cfg.key("jobs"), {"job": json.dumps(
            {"id": "urgent-1", "kind": "action_alert", "urgent": True,
             "audience": {"recipients": rcpts}, "message": "Go now."})})
        wait_for(lambda: len(ctl("GET", "requests")["requests"]) == 10, timeout=20,
                 what="all ten sent")
        order = [r["params"]["To"] for r in ctl("GET", "requests")["requests"]]
        kind = {blocker: "blocker"}
        kind.update({r["phone"]: "urgent" for r in rcpts})
        kind.update({p: "answer" for p in helpers})
        kinds = [kind.get(to, "normal") for to in order]
        assert kinds == ["blocker"] + ["urgent"] * 3 + ["answer"] * 3 + ["normal"] * 3, kinds
    finally:
        g.stop()


# ---- issue 12: webhooks kept on disk while Redis cannot take them ----

def test_stops_taken_while_redis_is_down_survive_a_sigkill_and_apply_once():
    """Before: held in memory and answered 200, so a SIGKILL lost them. Now
    each is fsync'd to the spool before the 200 and replayed, in order,
    once Redis is back, after the restart."""
    import signal
    srv = harness.RedisServer()
    g = Gateway(server=srv)
    phones = ["+1323555020%d" % i for i in range(5)]
    try:
        srv.stop()
        for p in phones:
            r = g.inbound(p, "STOP")
            assert r["status"] == 200, r
        spool = os.path.join(g.cfg.dir, "spool", "inbound.spool")
        g.proc.send_signal(signal.SIGKILL)
        g.proc.wait(10)
        srv.restart()
        g.r = srv.client
        g.proc = harness.start_daemon(g.cfg)
        wait_for(g.healthy, what="pregond /healthz after the restart")
        wait_for(lambda: all(g.r.sismember(g.cfg.key("optout:sms"), p) for p in phones),
                 what="every STOP applied")
        for p in phones:
            ledger = g.r.lrange(g.cfg.key("consent:" + p), 0, -1)
            assert len(ledger) == 1, (p, ledger)
        wait_for(lambda: all(len(sent_to(p)) == 1 for p in phones), what="one confirmation each")
        wait_for(lambda: os.path.getsize(spool) == 0, what="the spool truncated")
        _, text = g.get("/metrics")
        assert "pregon_inbound_replayed_total 5\n" in text, text
        time.sleep(0.3)     # nothing comes twice
        assert all(len(sent_to(p)) == 1 for p in phones)
    finally:
        if g.proc.poll() is None:
            g.stop()
        srv.stop()


def test_a_sigterm_with_redis_down_keeps_the_spool_for_the_next_start():
    """A clean stop while Redis is away: exit 0, nothing leaked, and what
    the spool holds is written by the next start."""
    srv = harness.RedisServer()
    g = Gateway(server=srv)
    phone = "+13235550230"
    try:
        srv.stop()
        assert g.inbound(phone, "STOP")["status"] == 200
        assert g.inbound(phone, "where do I go?")["status"] == 200
        g.stop()
        with open(os.path.join(g.cfg.dir, "pregond.log")) as f:
            log = f.read()
        assert "2 webhooks stay in the spool" in log and "LeakSanitizer" not in log, log
        srv.restart()
        g.r = srv.client
        g.proc = harness.start_daemon(g.cfg)
        wait_for(lambda: g.r.sismember(g.cfg.key("optout:sms"), phone), what="the STOP applied")
        wait_for(lambda: len(g.r.xrange(g.cfg.key("inbound"))) == 1, what="the reply kept")
    finally:
        if g.proc.poll() is None:
            g.stop()
        srv.stop()




# ---- issue 13, finding 13: a cancel catches what waits for the provider ----

def test_a_cancel_drops_a_message_claimed_and_waiting_for_the_provider():
    """A slow provider (50 ms an answer) and one send out at a time: the
    intake claims a backlog of message jobs at once (status sending) and
    they wait in the engine for the adapter. `pregon cancel` of one of
    them takes it out of that queue: it ends cancelled and the provider
    never sees it; every other one is sent once."""
    g = Gateway(sms={"concurrency": "1"})
    try:
        ctl("POST", "rules", {"delay": 0.05})
        n = 60
        for i in range(n):
            g.job("q-%d" % i, "+1323555%04d" % (4000 + i))
        wait_for(lambda: g.status("q-50") == "sending" and len(ctl("GET", "requests")["requests"]) >= 2,
                 what="the backlog claimed, the first sends out")
        c = harness.run_cli(g.cfg, "cancel", "q-50")
        assert c.returncode == 0, c.stderr
        assert c.stdout.strip().endswith("stopped q-50: 0 waiting messages cancelled; those "
                                         "pregond has claimed are cancelled before a provider "
                                         "gets them"), c.stdout
        m = g.wait_status("q-50", "cancelled")
        assert m["error"].startswith("cancelled by job cancel-q-50-"), m
        wait_for(lambda: all(g.status("q-%d" % i) == "delivered" for i in range(n) if i != 50),
                 timeout=30, what="the others delivered")
        assert sent_to("+13235554050") == []
        assert all(len(sent_to("+1323555%04d" % (4000 + i))) == 1 for i in range(n) if i != 50)
        assert "job q-50 stopped by a cancel job: 1 of its messages waiting here dropped" \
            in log_of(g.cfg), log_of(g.cfg)[-2000:]
    finally:
        g.stop()

# ---- issue 13, finding 11: a provider that takes the request and never answers ----

class SilentProvider:
    """A loopback HTTP server that accepts every connection, never reads a
    byte and never answers: the provider seen in issue 13 that left
    pregond in uv_run for good after SIGTERM."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def silent_gateway(grace):
    """A pregond whose Twilio base_url is a SilentProvider, with 3 messages
    handed to it (each waiting for an answer that never comes)."""
    prov = SilentProvider()
    d = harness.tempdir("pregon-silent-")
    token_file = os.path.join(d, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    http_port = harness.free_port()
    cfg = harness.write_config(sections={
        "sms": {"provider": "twilio", "base_url": "http://127.0.0.1:%d" % prov.port,
                "account_sid": SID, "auth_token_file": token_file, "from": FROM,
                "timeout": "120s"},
        "http": {"listen": "127.0.0.1:%d" % http_port,
                 "public_url": "http://127.0.0.1:%d" % http_port},
        "shutdown": {"grace": grace}}, directory=d)
    p = harness.start_daemon(cfg)
    wait_for(lambda: "redis: store ready" in log_of(cfg), what="pregond up")
    for i in range(3):
        cfg.server.client.xadd(cfg.key("jobs"), {"job": json.dumps(
            {"id": "silent-%d" % i, "kind": "message", "body": "Court is Dec 1.",
             "recipient": {"id": "c-silent-%d" % i, "phone": "+1323555031%d" % i}})})
    wait_for(lambda: len(prov.conns) == 3, what="3 requests at the provider")
    time.sleep(0.2)     # the requests written
    return prov, cfg, p


def pending_messages(cfg):
    """Entries pending in the jobs group: each a message held by a send."""
    return cfg.server.client.xpending(cfg.key("jobs"), "pregon")["pending"]


def test_sigterm_with_a_provider_that_never_answers_exits_within_the_grace_plus_a_second():
    """Before: "shutdown grace over with 3 messages held", the sends
    cancelled, and pregond ran on in uv_run for good (the cancelled sends'
    results restarted a closing handle). Now it exits 0 within the grace
    plus a second, and the messages stay pending for another instance."""
    import signal
    prov, cfg, p = silent_gateway("2s")
    try:
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(3)
        except Exception:
            raise AssertionError("still running 3 s after SIGTERM with grace = 2s:\n" +
                                 log_of(cfg)[-2000:])
        took = time.monotonic() - t0
        print("# exited %.2f s after SIGTERM (grace 2 s)" % took)
        log = log_of(cfg)
        assert rc == 0, log
        assert took >= 1.9, took    # the grace was given
        assert "shutdown grace over with 3 messages held" in log, log
        assert "pregond stopped" in log and "LeakSanitizer" not in log, log
        assert "not closed" not in log, log     # not the deadline's doing
        assert pending_messages(cfg) == 3
        for i in range(3):
            assert harness.job_status(cfg, "silent-%d" % i)["statuses"] == {"sending": 1}
    finally:
        if p.poll() is None:
            p.kill()
        prov.close()


def test_a_second_signal_exits_at_once_leaving_the_messages_pending():
    """Before: a second SIGINT during the grace did nothing. Now it exits
    at once (status 1), and what was held stays pending for reclaim."""
    import signal
    prov, cfg, p = silent_gateway("60s")
    try:
        p.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down (SIGTERM)" in log_of(cfg), what="the first signal taken")
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(1)
        except Exception:
            raise AssertionError("still running 1 s after a second signal:\n" +
                                 log_of(cfg)[-2000:])
        print("# exited %.2f s after the second signal" % (time.monotonic() - t0))
        log = log_of(cfg)
        assert rc == 1, (rc, log)
        assert "second signal (SIGINT): exiting now with 3 messages held" in log, log
        assert pending_messages(cfg) == 3
    finally:
        if p.poll() is None:
            p.kill()
        prov.close()

def test_only_a_webhook_the_spool_cannot_take_gets_503():
    """With Redis away the spool takes webhooks up to [inbound] spool_max;
    the first it cannot take is answered 503 (Twilio may retry it), and
    every one answered 200 is written once Redis is back."""
    srv = harness.RedisServer()
    g = Gateway(server=srv, extra={"inbound": {"spool_max": "65536"}})
    body = "x" * 1500
    try:
        srv.stop()
        answers = []
        for i in range(80):
            answers.append(g.inbound("+1213555%04d" % i, body)["status"])
            if answers[-1] != 200:
                break
        assert answers[-1] == 503 and set(answers[:-1]) == {200} and len(answers) > 30, answers
        srv.restart()
        g.r = srv.client
        n = len(answers) - 1
        wait_for(lambda: len(g.r.xrange(g.cfg.key("inbound"))) == n, timeout=20,
                 what="%d replies written from the spool" % n)
    finally:
        g.stop()
        srv.stop()


def test_a_webhook_redis_refuses_with_an_error_is_spooled_not_refused():
    """Before: Redis answering an error (OOM under noeviction) made the
    webhook 503, lost for good. Now it is spooled (200) and written once
    Redis takes writes again."""
    srv = harness.RedisServer(extra=("--maxmemory-policy", "noeviction"))
    g = Gateway(server=srv)
    phone = "+13235550210"
    try:
        srv.client.config_set("maxmemory", "1")
        r = g.inbound(phone, "STOP")
        assert r["status"] == 200, r
        _, text = g.get("/metrics")
        assert "pregon_inbound_spooled_total 1\n" in text, text
        assert not srv.client.sismember(g.cfg.key("optout:sms"), phone)
        srv.client.config_set("maxmemory", "0")
        wait_for(lambda: srv.client.sismember(g.cfg.key("optout:sms"), phone), timeout=40,
                 what="the STOP written from the spool")
        _, text = g.get("/metrics")
        assert "pregon_inbound_replayed_total 1\n" in text, text
    finally:
        g.stop()
        srv.stop()


# ---- issue 12: the public URL and the signature ----

def test_a_signature_made_with_or_without_the_default_port_verifies():
    """Behind a proxy at https://gw.example.org, Twilio may sign the URL
    with :443 or without: its own validators accept both, and so must we
    (before, the :443 form got 403). Another port is still refused."""
    g = Gateway(extra={"http": {"public_url": "https://gw.example.org"}})
    try:
        for i, signed in enumerate(["https://gw.example.org:443/webhooks/sms/inbound",
                                    "https://gw.example.org/webhooks/sms/inbound"]):
            phone = "+1323555022%d" % i
            r = ctl("POST", "inbound", {"url": g.public + "/webhooks/sms/inbound", "from": phone,
                                        "to": FROM, "body": "STOP", "sign_url": signed})
            assert r["status"] == 200, (signed, r)
            assert g.r.sismember(g.cfg.key("optout:sms"), phone)
        r = ctl("POST", "inbound", {"url": g.public + "/webhooks/sms/inbound",
                                    "from": "+13235550229", "to": FROM, "body": "STOP",
                                    "sign_url": "https://gw.example.org:8443/webhooks/sms/inbound"})
        assert r["status"] == 403, r
        assert not g.r.sismember(g.cfg.key("optout:sms"), "+13235550229")
    finally:
        g.stop()


def start_fails(public_url):
    """pregond with the Twilio provider and this public URL: its exit code
    and log, or None if it started."""
    port = fake_port()
    d = harness.tempdir("pregon-sms-")
    token_file = os.path.join(d, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    cfg = harness.write_config(directory=d, sections={
        "sms": {"provider": "twilio", "base_url": "http://127.0.0.1:%d" % port,
                "account_sid": SID, "auth_token_file": token_file, "from": FROM},
        "http": {"listen": "127.0.0.1:0", "public_url": public_url}})
    p = harness.start_daemon(cfg)
    log = os.path.join(d, "pregond.log")
    try:
        rc = p.wait(5)
    except Exception:   # still running: it started
        harness.stop(p)
        return None, open(log).read()
    return rc, open(log).read()


def test_an_unusable_public_url_stops_the_start_and_plain_http_is_warned_about():
    for bad, why in [("", "[http] public_url: empty"),
                     ("gw.example.org/x", "[http] public_url: must be an absolute"),
                     ("ftp://gw.example.org", "[http] public_url: must be an absolute"),
                     ("https://", "[http] public_url: must name a host"),
                     ("https://gw.example.org/x?y=1", "[http] public_url: must not have a query")]:
        rc, log = start_fails(bad)
        assert rc is not None and rc != 0, (bad, log)
        assert why in log, (bad, log)
    rc, log = start_fails("http://gw.example.org")
    assert rc is None, log
    assert "public_url is http:// to another host" in log, log
    rc, log = start_fails("http://127.0.0.1:8080")
    assert rc is None, log
    assert "public_url" not in log.replace("status callbacks to", ""), log


# ---- issue 12, finding 10: the provider's URL and secret at start ----

def twilio_only_config(base_url, token, mode=0o600):
    """A config for the Twilio adapter whose token file holds token with
    the given mode; no fake needed (these refuse or warn at start)."""
    d = harness.tempdir("pregon-sms-start-")
    token_file = os.path.join(d, "token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    os.chmod(token_file, mode)
    return harness.write_config(sections={"sms": {
        "provider": "twilio", "base_url": base_url, "account_sid": SID,
        "auth_token_file": token_file, "from": FROM}}, directory=d)


def log_of(cfg):
    with open(os.path.join(cfg.dir, "pregond.log")) as f:
        return f.read()


def test_a_base_url_over_http_to_another_host_is_refused_at_start():
    # Before: any http:// was taken, and the basic auth and every text
    # would have crossed the network readable.
    cfg = twilio_only_config("http://api.twilio.example", TOKEN)
    p = harness.start_daemon(cfg)
    assert p.wait(20) == 1, log_of(cfg)
    assert "[sms] base_url: http:// is allowed only to this machine" in log_of(cfg), log_of(cfg)


def test_a_token_file_others_can_read_is_warned_about_and_an_overlong_one_refused():
    cfg = twilio_only_config("http://127.0.0.1:9", TOKEN, mode=0o644)
    p = harness.start_daemon(cfg)
    try:
        wait_for(lambda: "redis: store ready" in log_of(cfg), timeout=20, what="pregond up")
    finally:
        assert harness.stop(p) == 0
    log = log_of(cfg)
    assert "[sms] auth_token_file: the file is readable by everyone (mode 0644)" in log, log
    assert TOKEN not in log
    # Before: fgets cut a token over 255 bytes to its first 255, silently.
    cfg = twilio_only_config("http://127.0.0.1:9", "t" * 300)
    p = harness.start_daemon(cfg)
    assert p.wait(20) == 1, log_of(cfg)
    log = log_of(cfg)
    assert "[sms] auth_token_file" in log and "longer than 255 bytes" in log, log
    assert "t" * 40 not in log


if __name__ == "__main__":
    harness.main(globals())
