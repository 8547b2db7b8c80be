"""The organizers' dashboard (GET /, web/, src/api/web.c): its files and
headers, and a browser test: Debian's chromium driven by playwright-core
(tests/node/dashboard.mjs) signs in, launches an alert to 500 contacts
through the Twilio fake, watches the counts reach 500 delivered and the
ETA zero, sees replies come in, then the same on a 360x740 phone screen in
Spanish. Screenshots land in tests/artifacts/ (git-ignored)."""

import http.client
import json
import os
import re
import shutil
import subprocess

import harness

STANDARD = "dash-standard-token-0123456789abcd"
READ = "dash-read-token-0123456789abcdef01"
ADMIN = "dash-admin-token-0123456789abcdef0"
CHROMIUM = "/usr/bin/chromium"
NODE_DIR = os.path.join(harness.ROOT, "tests", "node")
ARTIFACTS = os.path.join(harness.ROOT, "tests", "artifacts")


def tokens_file(d):
    path = os.path.join(d, "tokens")
    with open(path, "w") as f:
        f.write("%s\n%s read\n%s admin\n" % (STANDARD, READ, ADMIN))
    os.chmod(path, 0o600)
    return path


def get(port, path, token=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        return r.status, r.read().decode(), dict(r.getheaders())
    finally:
        c.close()


def healthy(port):
    try:
        return harness.http_get(port, "/healthz")[0] == 200
    except OSError:
        return False


def daemon(tokens=True):
    port = harness.free_port()
    d = harness.tempdir("pregon-dash-")
    http_conf = {"listen": "127.0.0.1:%d" % port}
    if tokens:
        http_conf["tokens_file"] = tokens_file(d)
    cfg = harness.write_config(sections={"http": http_conf}, directory=d)
    proc = harness.start_daemon(cfg)
    harness.wait_for(lambda: healthy(port), what="pregond /healthz")
    return port, proc


def test_the_page_and_its_files_are_served_with_a_strict_policy():
    port, proc = daemon()
    try:
        status, page, h = get(port, "/")
        assert status == 200 and h["Content-Type"] == "text/html; charset=utf-8", (status, h)
        csp = h["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, csp
        assert "unsafe-inline" not in csp and "http" not in csp, csp
        assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "no-referrer"
        # Nothing inline, nothing from another host.
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), "an inline script"
        assert "style=" not in page and "<style" not in page
        refs = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert refs and all(r.startswith(("/static/", "#")) for r in refs), refs
        for r in refs:
            if r.startswith("/static/"):
                status, body, h = get(port, r)
                assert status == 200 and body and "Content-Security-Policy" in h, (r, status)
                # (An SVG's xmlns names, it fetches nothing.)
                assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", body), r
        assert get(port, "/static/favicon.svg")[2]["Content-Type"] == "image/svg+xml"
        status, _, h = get(port, "/static/app.js")
        assert h["Content-Type"] == "text/javascript; charset=utf-8", h
        for bad in ("/static/nope.js", "/static/..%2Fapi.c", "/static/"):
            assert get(port, bad)[0] == 404, bad
        # Both languages have every word.
        status, words, _ = get(port, "/static/i18n.js")
        en_part, es_part = words.split("\n  es: {")
        en = set(re.findall(r"\b(\w+): \"", en_part))
        es = set(re.findall(r"\b(\w+): \"", es_part))
        assert en and en == es, (en ^ es)
    finally:
        assert harness.stop(proc) == 0


def test_without_a_tokens_file_the_dashboard_is_off():
    port, proc = daemon(tokens=False)
    try:
        status, body, _ = get(port, "/")
        assert status == 503 and "tokens_file" in body, (status, body)
        assert get(port, "/static/app.js")[0] == 503
    finally:
        assert harness.stop(proc) == 0


def alert(jid, n, first):
    return {"id": jid, "kind": "action_alert",
            "audience": {"recipients": [{"id": "vol-%d" % (first + i),
                                         "phone": "+1323556%04d" % (first + i)}
                                        for i in range(n)]},
            "message": "ICE activity at 5th & Main. Reply 1 if responding.",
            "replies": {"1": "responding"}}


PHONE_CASE = "+13235557001"
PHONE_TOWNHALL = "+13235557002"


def court_and_townhall(g):
    """A client's court reminders and a town-hall registration, for the
    page's other two views; returns when the API has both."""
    jobs = [{"id": "dash-court", "kind": "court_reminder",
             "case": {"ref": "LA-77", "court": "Foltz CJC", "tz": "America/Los_Angeles"},
             "appearance": "2031-03-03T08:30:00",
             "recipient": {"id": "client-77", "phone": PHONE_CASE}, "offsets": ["P1D", "PT3H"]},
            {"id": "dash-reg", "kind": "townhall_confirmation",
             "event": {"ref": "th-77", "title": "Town Hall", "starts_at": "2031-03-05T18:00:00",
                       "tz": "America/Los_Angeles"},
             "recipient": {"id": "m-77", "phone": PHONE_TOWNHALL}}]
    for j in jobs:
        g.r.xadd(g.cfg.key("jobs"), {"job": json.dumps(j)})
    for path in ("/v1/cases/LA-77", "/v1/townhalls/th-77"):
        harness.wait_for(lambda: get(g.http_port, path, READ)[0] == 200, what=path)


def test_a_browser_watches_an_alert_land_on_a_laptop_and_on_a_phone():
    if not os.access(CHROMIUM, os.X_OK):
        harness.skip("no %s: make deps installs Debian's chromium" % CHROMIUM)
    if shutil.which("node") is None:
        harness.skip("node is not installed (make deps installs it)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "playwright-core")):
        harness.skip("tests/node has no playwright-core: run make deps (npm ci in tests/node)")
    import test_sms
    d = harness.tempdir("pregon-dash-")
    # 50 a second: the 500 take ten seconds, long enough to watch the ETA fall.
    g = test_sms.Gateway(sms={"rate": "50", "burst": "5"},
                         extra={"http": {"tokens_file": tokens_file(d)}})
    try:
        os.makedirs(ARTIFACTS, exist_ok=True)
        court_and_townhall(g)
        # An organizer's admin token: the free-text replies are shown.
        cfg = {"base": g.public, "token": ADMIN, "chromium": CHROMIUM,
               "profile": os.path.join(d, "chromium"), "artifacts": ARTIFACTS,
               "fake": "http://127.0.0.1:%d" % test_sms._fake[1],
               "inbound_url": g.public + "/webhooks/sms/inbound", "from": test_sms.FROM,
               "replies": 7, "cases": "LA-77", "townhall": "th-77",
               "numbers": [PHONE_CASE, PHONE_TOWNHALL],
               "runs": [
                   {"name": "desktop-en", "viewport": {"width": 1280, "height": 900},
                    "locale": "en-US", "tokenLabel": "Access token", "job": alert("dash-en", 500, 0),
                    "drop": True},
                   {"name": "phone-es", "viewport": {"width": 360, "height": 740},
                    "locale": "es-MX", "tokenLabel": "Token de acceso",
                    "job": alert("dash-es", 500, 500)}]}
        path = os.path.join(d, "dashboard.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        node = harness.spawn(["node", os.path.join(NODE_DIR, "dashboard.mjs"), path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=NODE_DIR)
        out = []
        for line in node.stdout:
            out.append(line)
            if line.strip() == "stop":
                # The page's stream drops; pregond comes back once the page said so.
                g.stop()
                harness.wait_for(lambda: os.path.exists(os.path.join(d, "chromium", "down-seen")),
                                 timeout=30, what="the page showing the drop")
                g.proc = harness.start_daemon(g.cfg)
                harness.wait_for(g.healthy, timeout=10, what="pregond back")
        err = node.stderr.read()
        assert node.wait(timeout=300) == 0, "".join(out)[-2000:] + err[-4000:]
        seen = json.loads(out[-1])
        assert seen["down_text"] == "Connection lost: reconnecting…", seen
        assert seen["back_text"] == "Reconnected: caught up from the last event.", seen
        for name, lang in (("desktop-en", "en"), ("phone-es", "es")):
            s = seen[name]
            assert s["lang"] == lang, s
            assert s["final"]["delivered"] == 500 and s["final"]["eta"] == "0", s
            assert s["final"]["bar"] == "100" and s["final"]["responding"] == 7, s
            # The two reminders (and the notice, if it left today), by id.
            assert set(s["court"]) == {"client-77"} and len(s["court"]) >= 2, s
            assert s["townhall"] == "1", s
            # The ETA was shown while messages remained, then fell to zero.
            assert s["etas_seen"] > 0 and s["eta_max"] > 0, s
            assert s["outside"] == [] and s["problems"] == [], s
            # What failed to load: the job while it was still on the queue
            # (the page asks again), the stream the page closed on leaving
            # the view, and on the laptop the drop's requests.
            job = "/v1/jobs/" + ("dash-en" if name == "desktop-en" else "dash-es")
            for f in s["failed"]:
                assert f in ("404 " + job, "net::ERR_ABORTED /v1/events") or \
                    (name == "desktop-en" and f.startswith("net::ERR_")), s
        # Nothing wider than the phone's screen.
        assert seen["phone-es"]["scroll_width"] <= 360, seen["phone-es"]
        for name in ("desktop-en-alert", "desktop-en-reconnecting", "desktop-en-court",
                     "phone-es-alert", "phone-es-jobs", "phone-es-court", "phone-es-townhall"):
            assert os.path.getsize(os.path.join(ARTIFACTS, name + ".png")) > 1000
    finally:
        g.stop()


if __name__ == "__main__":
    harness.main(globals())
