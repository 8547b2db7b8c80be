"""The JSON API (issue 16, first part) against a real pregond and
redis-server: tokens and roles (none, bad, read, standard, admin; 401, 403,
503 with no tokens file, 429 after repeated failures, re-read on SIGHUP),
POST /v1/jobs (202, then the job runs; 400 with the field's reason; 413;
a repeated id: 200 with its state) and GET /v1/jobs/{id}. Every answer is
JSON."""

import http.client
import json
import os
import signal
import re
import time

import harness
from harness import wait_for

import yaml
from jsonschema import Draft202012Validator, RefResolver

# Every request and answer of these tests is checked against the API's
# OpenAPI document: a route, a status or a field the document does not
# describe fails the test (issue 16).
with open(os.path.join(harness.ROOT, "docs", "openapi.yaml"), encoding="utf-8") as _f:
    OPENAPI = yaml.safe_load(_f)
_RESOLVER = RefResolver.from_schema(OPENAPI)
SEEN_ROUTES = set()


def _operation(method, path):
    """The document's operation for method and a concrete path."""
    for template, item in OPENAPI["paths"].items():
        rx = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(rx, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError("%s %s: not in docs/openapi.yaml" % (method, path))


def _resolve(obj):
    while "$ref" in obj:
        obj = _RESOLVER.resolve(obj["$ref"])[1]
    return obj


def _validate(schema, value, what):
    errors = list(Draft202012Validator(schema, resolver=_RESOLVER).iter_errors(value))
    assert not errors, "%s: %s" % (what, "; ".join(e.message for e in errors[:3]))


def check_openapi(method, path, status, raw, headers, body=None):
    template, op = _operation(method, path.split("?")[0])
    SEEN_ROUTES.add((method.upper(), template))
    what = "%s %s -> %d" % (method, path, status)
    # (Requests refused with 4xx are wrong on purpose.)
    if body is not None and "requestBody" in op and status < 400:
        schema = _resolve(op["requestBody"])["content"]["application/json"]["schema"]
        try:
            _validate(schema, json.loads(body), what + " (request)")
        except ValueError:
            pass    # a body that is not JSON is the point of that request
    responses = op["responses"]
    assert str(status) in responses, "%s: status not in docs/openapi.yaml" % what
    content = _resolve(responses[str(status)]).get("content", {})
    ctype = headers.get("Content-Type", "").split(";")[0]
    assert ctype in content, "%s: %s not documented" % (what, ctype)
    if ctype == "application/json":
        _validate(content[ctype]["schema"], json.loads(raw), what)

STANDARD = "standard-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef0000"
READ = "read-token-0123456789abcdef11111"
PHONE = "+13235550100"


class Api:
    def __init__(self, tokens=True, extra=None, env=None):
        self.port = harness.free_port()
        d = harness.tempdir("pregon-api-")
        http_conf = {"listen": "127.0.0.1:%d" % self.port}
        if tokens:
            self.tokens_file = os.path.join(d, "tokens")
            self.write_tokens("# test tokens\n%s\n%s admin\n%s read\n" % (STANDARD, ADMIN, READ))
            http_conf["tokens_file"] = self.tokens_file
        sections = {"http": http_conf, "schedule": {"tick": "20ms", "quiet_hours": "none"}}
        for k, v in (extra or {}).items():
            sections.setdefault(k, {}).update(v)
        self.cfg = harness.write_config(sections=sections, directory=d)
        self.r = self.cfg.server.client
        self.proc = harness.start_daemon(self.cfg, env=env)
        wait_for(self.healthy, what="pregond /healthz")

    def healthy(self):
        try:
            return self.call("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def write_tokens(self, text):
        with open(self.tokens_file, "w") as f:
            f.write(text)
        os.chmod(self.tokens_file, 0o600)

    def call(self, method, path, body=None, token=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            raw = r.read().decode()
            headers = dict(r.getheaders())
        finally:
            c.close()
        if path.startswith("/v1/"):
            check_openapi(method, path, r.status, raw, headers,
                          body.decode() if isinstance(body, bytes) else body)
        return r.status, raw, headers

    def json_call(self, *a, **kw):
        status, raw, h = self.call(*a, **kw)
        if status != 200 or not a[1].startswith(("/metrics", "/healthz")):
            assert h.get("Content-Type", "").startswith("application/json"), (status, h, raw)
        return status, json.loads(raw), h

    def stop(self):
        assert harness.stop(self.proc) == 0


def message_job(jid, body="Your hearing is on Monday."):
    return {"id": jid, "kind": "message", "recipient": {"id": "c-" + jid, "phone": PHONE},
            "body": body}


def test_tokens_and_roles():
    a = Api()
    try:
        status, body, h = a.json_call("GET", "/v1/jobs/x")
        assert status == 401 and "bearer token" in body["error"]
        assert h.get("WWW-Authenticate", "").startswith("Bearer")
        assert a.json_call("GET", "/v1/jobs/x", token="wrong-token-0123456789")[0] == 401
        assert a.json_call("GET", "/v1/jobs/x", headers={"Authorization": "Basic Zm9vOmJhcg=="})[0] \
            == 401
        # A read token reads, and may not send.
        assert a.json_call("GET", "/v1/jobs/x", token=READ)[0] == 404
        status, body, _ = a.json_call("POST", "/v1/jobs", message_job("r-1"), token=READ)
        assert status == 403 and "read token" in body["error"], body
        assert a.r.xlen(a.cfg.key("jobs")) == 0
        for t in (STANDARD, ADMIN):
            assert a.json_call("GET", "/v1/jobs/x", token=t)[0] == 404
        # The token file is re-read on SIGHUP: the read token is gone.
        a.write_tokens("%s\n" % STANDARD)
        a.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: a.json_call("GET", "/v1/jobs/x", token=READ)[0] == 401,
                 what="the token file re-read")
        assert a.json_call("GET", "/v1/jobs/x", token=STANDARD)[0] == 404
        # A file that no longer parses keeps the tokens in force.
        a.write_tokens("%s writer\n" % STANDARD)
        a.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert a.json_call("GET", "/v1/jobs/x", token=STANDARD)[0] == 404
    finally:
        a.stop()


def test_repeated_failures_from_one_address_are_limited():
    a = Api()
    try:
        for _ in range(10):
            assert a.json_call("GET", "/v1/jobs/x", token="bad-token-0123456789abc")[0] == 401
        status, body, h = a.json_call("GET", "/v1/jobs/x", token=STANDARD)
        assert status == 429 and int(h["Retry-After"]) > 0, (status, body, h)
        metrics = a.call("GET", "/metrics")[1]
        assert 'pregon_api_refused_total{why="limited"} 1' in metrics, metrics
    finally:
        a.stop()


def test_without_a_tokens_file_the_api_is_refused_never_open():
    a = Api(tokens=False)
    try:
        status, body, _ = a.json_call("GET", "/v1/jobs/x", token=STANDARD)
        assert status == 503 and "tokens_file" in body["error"], body
        assert a.json_call("POST", "/v1/jobs", message_job("n-1"))[0] == 503
        assert a.r.xlen(a.cfg.key("jobs")) == 0
        assert a.call("GET", "/healthz")[0] == 200
    finally:
        a.stop()


def test_post_a_job_then_read_its_state_and_post_it_again():
    a = Api()
    try:
        status, body, _ = a.json_call("POST", "/v1/jobs", message_job("m-1"), token=STANDARD)
        assert (status, body) == (202, {"id": "m-1"})
        outbox = os.path.join(a.cfg.outbox, "sms.jsonl")
        wait_for(lambda: os.path.exists(outbox) and "m-1" in open(outbox).read(),
                 what="the job sent")
        status, st, _ = a.json_call("GET", "/v1/jobs/m-1", token=READ)
        assert status == 200, st
        assert (st["id"], st["kind"], st["messages"]) == ("m-1", "message", 1), st
        assert st["statuses"] == {"sent": 1} and st["channels"] == {"sms": {"sent": 1}}, st
        assert st["created"].endswith("Z")
        assert PHONE not in json.dumps(st) and "hearing" not in json.dumps(st)
        # The same id again: not queued, 200 with its state.
        n = a.r.xlen(a.cfg.key("jobs"))
        status, again, _ = a.json_call("POST", "/v1/jobs", message_job("m-1"), token=STANDARD)
        assert status == 200 and again["duplicate"] is True and again["statuses"] == {"sent": 1}
        assert a.r.xlen(a.cfg.key("jobs")) == n
        # POST, then the same job on the stream: one job.
        a.r.xadd(a.cfg.key("jobs"), {"job": json.dumps(message_job("m-1"))})
        wait_for(lambda: any(json.loads(f["event"])["status"] == "duplicate"
                             for _, f in a.r.xrange(a.cfg.key("events"))), what="duplicate")
        assert open(outbox).read().count('"m-1"') == 1
    finally:
        a.stop()


def test_bad_jobs_get_the_fields_reason_and_size_limits_hold():
    a = Api(extra={"jobs": {"max_bytes": "2048"}})
    try:
        bad = message_job("b-1")
        bad["recipient"]["phone"] = "323-555"
        status, body, _ = a.json_call("POST", "/v1/jobs", bad, token=STANDARD)
        assert status == 400 and body["error"] == "recipient.phone: not an E.164 number", body
        assert "323-555" not in body["error"]
        status, body, _ = a.json_call("POST", "/v1/jobs", "{not json", token=STANDARD)
        assert status == 400 and body["error"].startswith("job: not valid JSON"), body
        status, body, _ = a.json_call("POST", "/v1/jobs", {"id": "k", "kind": "fax"},
                                      token=STANDARD)
        assert status == 400 and "kind" in body["error"], body
        big = message_job("b-2", body="x" * 4000)
        status, raw, _ = a.call("POST", "/v1/jobs", big, token=STANDARD)
        assert status == 413, (status, raw)
        assert a.r.xlen(a.cfg.key("jobs")) == 0
        status, body, _ = a.json_call("GET", "/v1/jobs/" + "x" * 129, token=STANDARD)
        assert status == 400 and body["error"].startswith("id:"), body
        status, body, _ = a.json_call("GET", "/v1/jobs/never-seen", token=STANDARD)
        assert status == 404 and "no such job" in body["error"]
    finally:
        a.stop()


def test_an_alerts_state_counts_replies_and_the_audience():
    a = Api()
    try:
        recips = [{"id": "p%d" % i, "phone": "+1323555%04d" % i} for i in range(20)]
        job = {"id": "al-1", "kind": "action_alert", "urgent": True,
               "audience": {"recipients": recips}, "message": "Go now.",
               "replies": {"1": "responding"}}
        assert a.json_call("POST", "/v1/jobs", job, token=STANDARD)[0] == 202
        wait_for(lambda: a.json_call("GET", "/v1/jobs/al-1", token=READ)[1]
                 .get("statuses", {}).get("sent") == 20, what="20 sent")
        st = a.json_call("GET", "/v1/jobs/al-1", token=READ)[1]
        assert st["kind"] == "action_alert" and st["messages"] == 20, st
        assert st["eta"] == {"remaining": 0, "channels": {}, "last_message_at": None,
                             "seconds": 0}, st
        assert st["audience"] == {"state": "done", "expanded": 20, "duplicates_skipped": 0}, st
        assert st["replies"] == {}
        # Replies through the Twilio fake are test_sms's; here, what the
        # inbound op keeps (pregon:replies:<job>) is read back, admin only.
        a.r.xadd(a.cfg.key("replies:al-1"), {"message": "m1.1", "contact": "p1", "channel": "sms",
                                             "text": "can I bring my daughter?",
                                             "at": "2026-12-07T10:00:00.000Z", "provider_id": "SMx"})
        assert a.json_call("GET", "/v1/jobs/al-1/replies", token=STANDARD)[0] == 403
        status, page, _ = a.json_call("GET", "/v1/jobs/al-1/replies", token=ADMIN)
        assert status == 200 and page["next"] is None, page
        (rep,) = page["replies"]
        assert rep["text"] == "can I bring my daughter?" and rep["contact"] == "p1", rep
        assert "provider_id" not in rep
    finally:
        a.stop()



def test_lists_page_to_the_end_and_show_addresses_to_admins_only():
    a = Api()
    try:
        recips = [{"id": "p%d" % i, "phone": "+1323555%04d" % i} for i in range(20)]
        job = {"id": "al-2", "kind": "action_alert", "audience": {"recipients": recips},
               "message": "Meeting moved."}
        assert a.json_call("POST", "/v1/jobs", job, token=STANDARD)[0] == 202
        for i in range(3):
            assert a.json_call("POST", "/v1/jobs", message_job("ml-%d" % i), token=STANDARD)[0] \
                == 202
        wait_for(lambda: a.json_call("GET", "/v1/jobs/al-2", token=READ)[1]
                 .get("statuses", {}).get("sent") == 20, what="20 sent")
        # The messages, 7 a page, to the end; no address without reveal.
        seen, cursor = [], None
        while True:
            path = "/v1/jobs/al-2/messages?limit=7" + ("&cursor=" + cursor if cursor else "")
            status, page, _ = a.json_call("GET", path, token=READ)
            assert status == 200 and page["id"] == "al-2", page
            seen += page["messages"]
            cursor = page["next"]
            if cursor is None:
                break
        assert len(seen) == 20 and len({m["id"] for m in seen}) == 20
        assert all(m["status"] == "sent" and m["attempts"] == 1 and m["channel"] == "sms"
                   for m in seen), seen[0]
        assert "+1323" not in json.dumps(seen)
        assert a.json_call("GET", "/v1/jobs/al-2/messages?reveal=1", token=STANDARD)[0] == 403
        status, page, _ = a.json_call("GET", "/v1/jobs/al-2/messages?reveal=1&limit=3",
                                      token=ADMIN)
        assert status == 200 and page["messages"][0]["to"].startswith("+1323"), page
        assert a.json_call("GET", "/v1/jobs/al-2/messages?cursor=zz!", token=READ)[0] == 400
        assert a.json_call("GET", "/v1/jobs/nope/messages", token=READ)[0] == 404
        # Recent jobs, newest first, two a page; a kind filter.
        wait_for(lambda: len(a.json_call("GET", "/v1/jobs?limit=200", token=READ)[1]["jobs"]) == 4,
                 what="four jobs listed")
        ids, cursor = [], None
        while True:
            path = "/v1/jobs?limit=2" + ("&cursor=" + cursor if cursor else "")
            status, page, _ = a.json_call("GET", path, token=READ)
            assert status == 200, page
            ids += [j["id"] for j in page["jobs"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert sorted(ids) == ["al-2", "ml-0", "ml-1", "ml-2"], ids
        assert ids.index("al-2") == 3 or ids[-1] == "al-2"
        alerts = a.json_call("GET", "/v1/jobs?kind=action_alert", token=READ)[1]["jobs"]
        assert [j["id"] for j in alerts] == ["al-2"] and alerts[0]["c:sms:sent"] == "20", alerts
        assert a.json_call("GET", "/v1/jobs?kind=fax", token=READ)[0] == 400
        assert a.json_call("GET", "/v1/jobs?cursor=QUJD", token=READ)[0] == 400   # "ABC"
        assert a.json_call("GET", "/v1/jobs?limit=0", token=READ)[0] == 400
        assert a.json_call("GET", "/v1/jobs?since=yesterday", token=READ)[0] == 400
        future = a.json_call("GET", "/v1/jobs?since=2099-01-01T00:00:00Z", token=READ)[1]
        assert future == {"jobs": [], "next": None}
    finally:
        a.stop()


def test_a_case_and_a_town_hall():
    a = Api()
    try:
        case = {"id": "evt-9", "kind": "court_reminder",
                "case": {"ref": "LA-9", "court": "Foltz CJC", "tz": "America/Los_Angeles"},
                "appearance": "2031-03-03T08:30:00",
                "recipient": {"id": "client-9", "phone": PHONE}, "offsets": ["P1D", "PT3H"]}
        assert a.json_call("POST", "/v1/jobs", case, token=STANDARD)[0] == 202
        wait_for(lambda: a.json_call("GET", "/v1/cases/LA-9", token=READ)[0] == 200,
                 what="the case")
        c = a.json_call("GET", "/v1/cases/LA-9", token=READ)[1]
        (person,) = c["recipients"]
        assert (person["contact"], person["job"]) == ("client-9", "evt-9"), c
        whats = sorted(m["what"] for m in person["messages"])
        assert whats == ["notice", "reminder", "reminder"], person
        assert all("due" in m for m in person["messages"] if m["what"] == "reminder")
        assert PHONE not in json.dumps(c)
        assert a.json_call("GET", "/v1/cases/LA-0", token=READ)[0] == 404
        th = {"id": "reg-9", "kind": "townhall_confirmation",
              "event": {"ref": "th-9", "title": "Town Hall", "starts_at": "2031-03-05T18:00:00",
                        "tz": "America/Los_Angeles"},
              "recipient": {"id": "m-9", "phone": PHONE}}
        assert a.json_call("POST", "/v1/jobs", th, token=STANDARD)[0] == 202
        wait_for(lambda: a.json_call("GET", "/v1/townhalls/th-9", token=READ)[0] == 200,
                 what="the town hall")
        f = a.json_call("GET", "/v1/townhalls/th-9", token=READ)[1]
        assert (f["event"], f["registered"], f["reminders_pending"], f["cancelled_by"]) == \
            ("th-9", 1, 2, None), f
        assert a.json_call("GET", "/v1/townhalls/th-0", token=READ)[0] == 404
    finally:
        a.stop()



class Sse:
    """A server-sent events reader on pregond's /v1/events."""

    def __init__(self, api, query="", last=None, token=READ, rcvbuf=None):
        import socket
        self.c = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
        if rcvbuf:
            self.c.sock = socket.create_connection(("127.0.0.1", api.port), timeout=10)
            self.c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        h = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
        if last is not None:
            h["Last-Event-ID"] = last
        self.c.request("GET", "/v1/events" + query, headers=h)
        self.r = self.c.getresponse()

    def next(self):
        """The next event: (id, parsed data); heartbeats and retry skipped."""
        eid, data = None, None
        while True:
            line = self.r.readline().decode()
            if line == "":
                raise EOFError("stream closed")
            line = line.rstrip("\n")
            if line.startswith("id: "):
                eid = line[4:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                return eid, data

    def close(self):
        self.c.close()


def stream_events(a, job):
    """(entry id, event) of job in the stream, in order."""
    out = []
    for eid, f in a.r.xrange(a.cfg.key("events")):
        e = json.loads(f["event"])
        if e["job"] == job:
            out.append((eid, e))
    return out


def test_events_stream_resumes_after_a_drop_with_none_missed_and_none_twice():
    a = Api()
    try:
        status, body, _ = a.json_call("GET", "/v1/events")
        assert status == 401, body
        s = Sse(a, "?job=al-3")
        assert s.r.status == 200 and s.r.getheader("Content-Type") == "text/event-stream"
        recips = [{"id": "p%d" % i, "phone": "+1323555%04d" % i} for i in range(30)]
        assert a.json_call("POST", "/v1/jobs", {"id": "al-3", "kind": "action_alert",
                                                "audience": {"recipients": recips},
                                                "message": "Go."}, token=STANDARD)[0] == 202
        assert a.json_call("POST", "/v1/jobs", message_job("other-1"), token=STANDARD)[0] == 202
        got = [s.next() for _ in range(25)]
        s.close()
        assert all(e["job"] == "al-3" for _, e in got)
        # Resume from the last id seen, while events keep coming.
        s2 = Sse(a, "?job=al-3", last=got[-1][0])
        wait_for(lambda: len([1 for _, e in stream_events(a, "al-3") if e["status"] == "sent"])
                 == 30, what="30 sent")
        want = stream_events(a, "al-3")
        rest = [s2.next() for _ in range(len(want) - len(got))]
        s2.close()
        ids = [i for i, _ in got + rest]
        assert ids == [i for i, _ in want], "missed or repeated events"
        assert len(set(ids)) == len(ids)
        # A kind filter, and Last-Event-ID 0 replays what the stream holds.
        s3 = Sse(a, "?kind=message", last="0")
        eid, e = s3.next()
        s3.close()
        assert e["job"] == "other-1" and e["kind"] == "message", e
        for bad in ("abc", "1-2-x"):
            st, raw, _ = a.call("GET", "/v1/events", token=READ, headers={"Last-Event-ID": bad})
            assert st == 400 and json.loads(raw)["error"].startswith("Last-Event-ID"), raw
        # A stream still open at SIGTERM does not keep pregond from
        # stopping cleanly (a.stop checks the exit status).
        held = Sse(a, "?job=al-3")
        metrics = a.call("GET", "/metrics")[1]
        assert "pregon_api_event_streams 1" in metrics, metrics
    finally:
        a.stop()
    try:
        held.r.read()      # ended by the server
    except Exception:
        pass
    held.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_a_slow_event_reader_is_dropped_and_memory_stays_flat():
    # Under AddressSanitizer freed memory waits in a quarantine (256 MB by
    # default) and RSS only grows: a small one lets RSS say what is held.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1"
    a = Api(extra={"jobs": {"max_bytes": "262144"}}, env=env)
    try:
        for k in range(2):     # (an inline audience has at most 1,000)
            recips = [{"id": "p%d" % i, "phone": "+1323555%04d" % i}
                      for i in range(k * 1000, k * 1000 + 1000)]
            assert a.json_call("POST", "/v1/jobs", {"id": "al-4%d" % k, "kind": "action_alert",
                                                    "audience": {"recipients": recips},
                                                    "message": "Go."}, token=STANDARD)[0] == 202
        for k in range(2):
            wait_for(lambda: a.json_call("GET", "/v1/jobs/al-4%d" % k, token=READ)[1]
                     .get("statuses", {}).get("sent") == 1000, timeout=60, what="1000 sent")
        before = rss_kb(a.proc.pid)
        # A reader that reads nothing, with a small receive buffer, asks
        # for every event the stream holds (about 8,000).
        slow = Sse(a, "", last="0", rcvbuf=4096)
        log = os.path.join(a.cfg.dir, "pregond.log")
        wait_for(lambda: "event stream reader took nothing" in open(log).read(), timeout=30,
                 what="the slow reader dropped")
        after = rss_kb(a.proc.pid)
        slow.close()
        assert "pregon_api_event_streams_dropped_total 1" in a.call("GET", "/metrics")[1]
        assert after - before < 8 * 1024, (before, after)
        # The API still answers.
        assert a.json_call("GET", "/v1/jobs/al-40", token=READ)[0] == 200
    finally:
        a.stop()

def test_an_alerts_eta_follows_the_channels_rate_and_falls_to_zero():
    # 40 texts at the shared rate of 10 a second: about 4 s in all.
    a = Api(extra={"sms": {"rate": "10", "burst": "1"}})
    try:
        recips = [{"id": "p%d" % i, "phone": "+1323555%04d" % i} for i in range(40)]
        assert a.json_call("POST", "/v1/jobs", {"id": "al-5", "kind": "action_alert",
                                                "audience": {"recipients": recips},
                                                "message": "Go."}, token=STANDARD)[0] == 202
        wait_for(lambda: 5 <= a.json_call("GET", "/v1/jobs/al-5", token=READ)[1]
                 .get("statuses", {}).get("sent", 0) <= 25, what="sending under way")
        eta = a.json_call("GET", "/v1/jobs/al-5", token=READ)[1]["eta"]
        assert eta["remaining"] > 0 and eta["channels"]["sms"]["rate_per_s"] <= 10.0, eta
        assert eta["last_message_at"] is not None and 0 < eta["seconds"] <= 5, eta
        wait_for(lambda: a.json_call("GET", "/v1/jobs/al-5", token=READ)[1]["eta"]["seconds"]
                 == 0, timeout=15, what="the ETA at zero")
    finally:
        a.stop()


def test_the_served_document_is_the_repositorys_and_every_route_was_used():
    a = Api()
    try:
        # Open: no token needed, JSON, the YAML's content.
        status, raw, h = a.call("GET", "/v1/openapi.json")
        assert status == 200 and json.loads(raw) == OPENAPI
        s = Sse(a, "?job=none")
        s.close()
        SEEN_ROUTES.add(("GET", "/v1/events"))
    finally:
        a.stop()
    documented = {(m.upper(), p) for p, item in OPENAPI["paths"].items() for m in item}
    # (This file runs its tests in order: the others came first.)
    if os.environ.get("PREGON_TEST"):
        return
    assert documented <= SEEN_ROUTES, "routes never exercised: %s" % sorted(
        documented - SEEN_ROUTES)


if __name__ == "__main__":
    harness.main(globals())
