#!/usr/bin/python3
"""bench_alerts.py: action alerts (issue 4), through the Twilio adapter.

Two measurements, on the redis-server that bench/run.sh starts for it
(`bash bench/run.sh alerts`), and nginx with the peers' mock-provider
config (../shared/bench-peers/mock-provider) moved to a free loopback port.

1. Fan-out throughput. N contacts (default 100,000) are put on one list
   with `pregon contacts import FILE.csv --list bench` (or, CONTACTS=jobs,
   as N contact_upsert jobs that pregond stores), and the rate is printed.
   Then one action_alert to that list is XADDed, with pregond on the
   twilio adapter pointed at nginx, `[sms] rate = 0` and `[sms] concurrency
   = CONCURRENCY` (256). From the `events` stream: the time from the
   alert's XADD (its entry id, Redis's clock) to its first and its last
   `sent` event, messages per second over that span, p50/p99 of (sent
   event - XADD) per message, and the send rate while the list was being
   expanded and after. Also pregond's peak RSS (VmHWM), the CPU seconds of
   pregond, redis-server and nginx (over the span, and per phase), the
   adapter's send time from pregond's /metrics, and Redis's script time per
   message split by script op (INFO commandstats and the slow log).
   Then the BullMQ peer POSTs the same N messages to the same nginx
   (MOCK_URL), on the same Redis, for a ratio. The peer has no fan-out:
   its producer enqueues one job per message before the worker starts,
   and its jobs_per_s counts the worker only; the worker-only and
   producer+worker rates are both printed.
   FAKE=1 repeats pregond's run against tests/fakes/twilio_fake.py (a
   Python server, far slower than nginx: it measures the fake, and how
   pregond batches when answers trickle in) with FAKE_N contacts.

2. Urgent lane. BACKLOG (200,000) non-urgent `message` jobs are XADDed
   before pregond starts; once it is busy, ALERTS (5) urgent action alerts
   to a list of URGENT_N (1,000) contacts are XADDed SPACING_S apart, each
   after the previous one is served, while the backlog drains. Per alert:
   ms from XADD to the job's record (the urgent scan took it), to its
   first message (the expander started), to its first and last `sent`;
   backlog messages not yet sent at the XADD (and entries pregond had not
   yet read from the job stream); normal `sent` events from the XADD to
   the alert's first `sent` (sends already in flight) and strictly between
   its first and last `sent`; and normal messages claimed (`sending`)
   between the alert's first and last claim, which is what the lane's
   priority is about. Then min/median/max. This runs on the same nginx
   mock through the twilio adapter, not the outbox: the normal sends that
   can get in the alert's way are the HTTP requests already in flight,
   and only a real adapter holds them the way production does.

Env:
  REDIS_PORT   the redis-server on 127.0.0.1 (required; bench/run.sh)
  N            contacts and alert messages in part 1 (default 100000)
  CONCURRENCY  pregond's [sms] concurrency (default 256)
  CONTACTS     import (default, if `pregon contacts` exists) or jobs
  PEER_CONCURRENCY  the BullMQ worker's (default 50, its best)
  BACKLOG, ALERTS, URGENT_N, SPACING_S   part 2 (200000, 5, 1000, 2)
  SKIP_FANOUT=1, SKIP_URGENT=1, SKIP_PEER=1   leave a part out
  FAKE=1, FAKE_N  part 1 against the Python Twilio fake too (FAKE_N: N)
  PREGON_CONF_EXTRA="[jobs];batch = 256"  extra config lines, ";"-separated
  PREGON_BIN   directory of pregond and pregon (default build)
  BENCH_PEERS  the bench-peers directory (default ../shared/bench-peers)
  NGINX        nginx binary (default /usr/sbin/nginx, or nginx on PATH)
  TIMEOUT_S    give up when nothing moves for this long (default 120)
  TIMELINE=1   part 1: one line a second (expanded, sent, CPU of each process)
  SLOWLOG_US   slow-log threshold for the split of script time by op (20)
  KEEP=1       keep the work dir (configs, logs)
"""

import bisect
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis

# Run as a script: benchlib sits beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import (BUILD, PEERS, PORT, PREFIX, ROOT, cmdstats, fail,  # noqa: E402
                      free_port, log_tail, machine_info, parse_at, peer_dir, percentile, phone,
                      proc_cpu_s, run_producer, say, stop_proc, wait4_rss)

N = int(os.environ.get("N", "100000"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "256"))
PEER_CONCURRENCY = int(os.environ.get("PEER_CONCURRENCY", "50"))
CONTACTS = os.environ.get("CONTACTS", "")
BACKLOG = int(os.environ.get("BACKLOG", "200000"))
ALERTS = int(os.environ.get("ALERTS", "5"))
URGENT_N = int(os.environ.get("URGENT_N", "1000"))
SPACING_S = float(os.environ.get("SPACING_S", "2"))
SKIP_FANOUT = os.environ.get("SKIP_FANOUT") == "1"
SKIP_URGENT = os.environ.get("SKIP_URGENT") == "1"
SKIP_PEER = os.environ.get("SKIP_PEER") == "1"
FAKE = os.environ.get("FAKE") == "1"
FAKE_N = int(os.environ.get("FAKE_N", str(N)))
TIMEOUT_S = float(os.environ.get("TIMEOUT_S", "120"))
TIMELINE = os.environ.get("TIMELINE") == "1"
SLOWLOG_US = int(os.environ.get("SLOWLOG_US", "20"))
NGINX = os.environ.get("NGINX") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                                    else shutil.which("nginx") or "nginx")
# Twilio's shapes: AC + 32 hex (the adapter checks it); any POST path is
# answered 201 by the mock, so the peer's AC_test path reaches it too.
SID = "AC" + "be" * 16
TOKEN = "bench-token-0123456789"
FROM = "+15005550006"
TEXTS = {"en": "ICE activity reported at 5th & Main. Responders please go now.",
         "es": "Actividad de ICE en 5th y Main. Por favor vayan ahora."}
LANGS = ["en", "es", "es-MX", "en"]


# ---- processes, clocks ----

def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu_of(pids):
    return sum(proc_cpu_s(p) for p in pids)


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def machine():
    return ("%(cpus)d CPUs (nproc %(usable)d), %(model)s, %(mem_gib).1f GiB RAM, Linux %(kernel)s"
            % machine_info())


def machine_busy_s():
    """CPU seconds the whole machine has spent busy (all CPUs, /proc/stat:
    everything but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def self_cpu_s():
    t = os.times()
    return t.user + t.system


def stats(vals):
    vals = sorted(vals)
    return vals[0], statistics.median(vals), vals[-1]


# ---- the mock provider ----

class Nginx:
    """nginx with the peers' mock-provider config, moved to a free port."""

    def __init__(self, work):
        src = os.path.join(PEERS, "mock-provider", "nginx.conf")
        if not os.path.isfile(src):
            fail("mock provider config not found at %s (set BENCH_PEERS)" % src)
        self.port = free_port()
        self.dir = os.path.join(work, "nginx")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        with open(src) as f:
            conf = f.read()
        if "127.0.0.1:8088" not in conf:
            fail("%s no longer listens on 127.0.0.1:8088; update bench_alerts.py" % src)
        conf = conf.replace("127.0.0.1:8088", "127.0.0.1:%d" % self.port)
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(self.dir, "stderr"), "ab")
        self.p = subprocess.Popen([NGINX, "-p", self.dir, "-c", path, "-g",
                                   "daemon off; worker_processes 1;"],
                                  stdout=self.log, stderr=self.log)
        if not wait_port(self.port, self.p):
            fail("nginx did not listen on %d:\n%s" % (self.port, log_tail(
                os.path.join(self.dir, "stderr"))))
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.mock_url = self.base_url + "/2010-04-01/Accounts/AC_test/Messages.json"

    def pids(self):
        return [self.p.pid] + children(self.p.pid)

    def stop(self):
        stop_proc(self.p, signal.SIGQUIT)
        self.log.close()


# ---- pregond ----

class Pregond(benchlib.Pregond):
    """pregond on the twilio adapter (sms: the base_url and such), in
    work/name."""

    def __init__(self, work, name, sms, level="info"):
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        token = os.path.join(d, "token")
        with open(token, "w") as f:
            f.write(TOKEN + "\n")
        super().__init__(d, [
            ("log", {"level": level}),
            # An ephemeral listener (no clash with anything on 8080); the
            # StatusCallback URL still goes into every request, as in
            # production, and nobody calls it back.
            ("http", {"listen": "127.0.0.1:0", "public_url": "http://127.0.0.1:9"}),
            ("outbox", {"dir": os.path.join(d, "outbox")}),
            # Runs at any hour: quiet hours would hold the normal backlog.
            ("schedule", {"quiet_hours": "none"}),
            ("sms", dict({"provider": "twilio", "account_sid": SID, "auth_token_file": token,
                          "from": FROM, "rate": "0", "concurrency": str(CONCURRENCY)}, **sms)),
            # Room for every event of the run (3 per message and more).
            ("events", {"max_len": "5000000"}),
        ])

    def stop(self):
        # benchlib's, with a check of the log's size before the exit warning.
        rc = self.halt()
        lines = self.log_count()
        if lines > 1000:
            say("WARNING: pregond wrote %d log lines (%s): logging per message costs CPU and "
                "skews the figures; is %s a debug build?" % (lines, self.log, BUILD))
        self.warn_exit(rc)
        return rc

    def metrics(self):
        """pregond's /metrics text (its listener is on an ephemeral port,
        named in its log), or ""."""
        ports = self.log_lines(r"http: listening on .* \(port (\d+)\)")
        if not ports:
            return ""
        try:
            c = http.client.HTTPConnection("127.0.0.1", int(ports[-1].group(1)), timeout=5)
            c.request("GET", "/metrics")
            return c.getresponse().read().decode()
        except OSError:
            return ""

    def log_count(self):
        try:
            with open(self.log, "rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def log_lines(self, pattern):
        try:
            with open(self.log, errors="replace") as f:
                return [m for m in (re.search(pattern, line) for line in f) if m]
        except OSError:
            return []


def send_durations(text, channel="sms"):
    """(mean, p50, p99) in ms of pregon_send_duration_seconds, the time
    from handing a message to the adapter to the provider's answer
    (p50/p99: the upper bound of the bucket holding them)."""
    buckets, total, count = [], 0.0, 0
    for line in text.splitlines():
        m = re.match(r'pregon_send_duration_seconds_bucket\{channel="%s",le="([^"]+)"\} (\d+)'
                     % channel, line)
        if m:
            buckets.append((float(m.group(1)), int(m.group(2))))
        m = re.match(r'pregon_send_duration_seconds_(sum|count)\{channel="%s"\} ([\d.e+-]+)'
                     % channel, line)
        if m:
            if m.group(1) == "sum":
                total = float(m.group(2))
            else:
                count = int(float(m.group(2)))
    if not count:
        return None

    def q(p):
        for le, cum in buckets:
            if cum >= p * count:
                return le * 1000
        return float("inf")
    return total / count * 1000, q(0.5), q(0.99)


def xadd_jobs(r, jobs, batch=2000):
    """XADDs the jobs (dicts) pipelined; returns the last entry id."""
    key, last = PREFIX + "jobs", None
    pipe = r.pipeline(transaction=False)
    for i, job in enumerate(jobs, 1):
        pipe.xadd(key, {"job": json.dumps(job, separators=(",", ":"))})
        if i % batch == 0:
            last = pipe.execute()[-1]
    rest = pipe.execute()
    return rest[-1] if rest else last


def entry_ms(entry):
    return int(entry.split("-", 1)[0])


def job_hash(r, jid):
    return r.hgetall(PREFIX + "job:" + jid)


def job_finished(h):
    """True when an alert is expanded and every message reached a final status."""
    if h.get("x") != "done":
        return False
    final = sum(int(v) for k, v in h.items()
                if k.startswith("c:") and k.rsplit(":", 1)[1] in
                ("sent", "delivered", "failed", "suppressed", "expired", "cancelled"))
    return final >= int(h.get("messages", "0"))


def sent_events(r, start_id, want=None, statuses=("sent",), job_prefix=None):
    """{job: [at ms of each 'sent' event]} from the events stream from
    start_id on (jobs in want, or all, or those whose id starts with
    job_prefix); with several statuses, {(job, status): [at ms]}."""
    out, cursor = {}, start_id
    needles = ['"status":"%s"' % st for st in statuses]
    while True:
        chunk = r.xrange(PREFIX + "events", min=cursor, count=20000)
        if not chunk:
            break
        for eid, f in chunk:
            ev = f.get("event", "")
            if not any(nd in ev for nd in needles):
                continue
            if job_prefix and '"job":"' + job_prefix not in ev:
                continue
            e = json.loads(ev)
            if want is None or e["job"] in want:
                key = e["job"] if len(statuses) == 1 else (e["job"], e["status"])
                out.setdefault(key, []).append(parse_at(e["at"]))
        if len(chunk) < 20000:
            break
        cursor = "(" + chunk[-1][0]
    return out


def script_ops(r):
    """[(op, (calls, usec, items))] of the FCALL calls in the slow log
    (the function is named pregon_<hash>_<op>; items: the op's argument
    groups, an estimate of messages per call for claim and result),
    costliest first. Turns the slow log back to its defaults."""
    ops = {}
    for e in r.slowlog_get(100000):
        args = e.get("command", b"")
        if isinstance(args, bytes):
            args = args.decode(errors="replace")
        parts = args.split(" ")
        if not parts or parts[0].upper() != "FCALL" or len(parts) < 3:
            continue
        m = re.match(r"pregon_[0-9a-f]+_(\w+)$", parts[1])
        if not m:
            continue
        op = m.group(1)
        # FCALL fn numkeys(0), the 5 common arguments (redis_lib.h), the
        # op's head, then claim: 4 per message, result: 8 after a head of
        # 1 (build/gen/lua_lib.h); the slow log keeps 32 arguments at
        # most, and says how many more.
        m = re.search(r"\.\.\. \((\d+) more arguments\)$", args)
        argc = 31 + int(m.group(1)) if m else len(parts)
        nargv = argc - 3
        per = {"claim": 4, "result": 8}.get(op)
        items = (nargv - 5 - (1 if op == "result" else 0)) // per if per else 0
        c = ops.setdefault(op, [0, 0, 0])
        c[0] += 1
        c[1] += int(e.get("duration", 0))
        c[2] += items
    r.config_set("slowlog-log-slower-than", 10000)
    r.config_set("slowlog-max-len", 128)
    r.slowlog_reset()
    return sorted(((k, tuple(v)) for k, v in ops.items()), key=lambda kv: -kv[1][1])


# ---- contacts ----

def import_contacts(conf, work, n, list_name, id_prefix="c", offset=0):
    """Writes a CSV of n contacts and runs pregon contacts import on it.
    Returns (seconds, peak RSS MB, the command's summary line)."""
    path = os.path.join(work, "%s.csv" % list_name)
    with open(path, "w") as f:
        f.write("id,phone,lang\n")
        for i in range(n):
            f.write("%s%d,%s,%s\n" % (id_prefix, i, phone(offset + i), LANGS[i % 4]))
    # Not benchlib.run_to_exit: the time is taken at the exit, before the
    # output is read.
    with open(os.path.join(work, "import.out"), "w+") as fo, \
            open(os.path.join(work, "import.err"), "w+") as fe:
        t0 = time.monotonic()
        p = subprocess.Popen([os.path.join(BUILD, "pregon"), "-c", conf, "contacts", "import",
                              path, "--list", list_name], stdout=fo, stderr=fe, cwd=ROOT)
        rss = wait4_rss(p)
        secs = time.monotonic() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().strip(), fe.read().strip()
    if p.returncode != 0:
        fail("pregon contacts import exited with %s: %s" % (p.returncode, (err or out)[-500:]))
    return secs, rss, out


def upsert_contacts(r, d, n, list_name, id_prefix="c", offset=0):
    """XADDs n contact_upsert jobs and waits until pregond has stored all.
    Returns (seconds from the first XADD to the list's full size, load s)."""
    key = PREFIX + "list:" + list_name
    t0 = time.monotonic()
    xadd_jobs(r, ({"id": "cu-%s%d" % (id_prefix, i), "kind": "contact_upsert",
                   "contact": {"id": "%s%d" % (id_prefix, i), "phone": phone(offset + i),
                               "lang": LANGS[i % 4]},
                   "lists": [list_name]} for i in range(n)))
    load = time.monotonic() - t0
    last, moved = -1, time.monotonic()
    while True:
        have = r.scard(key)
        if have >= n:
            return time.monotonic() - t0, load
        d.check()
        if have != last:
            last, moved = have, time.monotonic()
        elif time.monotonic() - moved > TIMEOUT_S:
            fail("contacts: stuck at %d of %d" % (have, n))
        time.sleep(0.05)


def have_import():
    try:
        p = subprocess.run([os.path.join(BUILD, "pregon"), "contacts", "--help"],
                           capture_output=True, text=True, timeout=10)
    except OSError:
        return False
    return p.returncode == 0 and "import" in p.stdout


def load_contacts(r, d, work, n, list_name, id_prefix="c", offset=0):
    """Puts n contacts on list_name, by CONTACTS; prints and returns the rate."""
    mode = CONTACTS or ("import" if have_import() else "jobs")
    if mode == "import":
        secs, rss, out = import_contacts(d.conf, work, n, list_name, id_prefix, offset)
        have = r.scard(PREFIX + "list:" + list_name)
        if have != n:
            fail("contacts import: the list holds %d of %d (%s)" % (have, n, out))
        say("contacts: %d imported in %.2fs = %.0f contacts/s (pregon contacts import "
            "--list %s, peak RSS %s): %s" % (n, secs, n / secs, list_name,
                                            "%.1f MB" % rss if rss else "n/a", out))
    else:
        secs, load = upsert_contacts(r, d, n, list_name, id_prefix, offset)
        say("contacts: %d contact_upsert jobs stored by pregond in %.2fs = %.0f contacts/s "
            "(XADD took %.2fs of it)" % (n, secs, n / secs, load))
    return mode, n / secs


# ---- part 1: fan-out throughput ----

def run_alert(r, d, n, label, extra_pids=()):
    """XADDs one alert to list "bench" (n contacts, pregond running) and
    measures it to the last 'sent'."""
    jid = "alert-" + label
    redis_pid = int(r.info("server")["process_id"])
    r.config_resetstat()
    # Function calls into the slow log, to split FCALL's time by op. Redis
    # 7 logs the commands a function makes too (a few us each, 30 or so per
    # message), so the threshold keeps them out; the share of FCALL time
    # the log saw is printed beside the split.
    r.config_set("slowlog-log-slower-than", SLOWLOG_US)
    r.config_set("slowlog-max-len", 100000)
    r.slowlog_reset()
    cpu0 = (d.cpu(), proc_cpu_s(redis_pid), cpu_of(extra_pids))
    busy0, self0 = machine_busy_s(), self_cpu_s()
    entry = r.xadd(PREFIX + "jobs", {"job": json.dumps(
        {"id": jid, "kind": "action_alert", "audience": {"list": "bench"}, "message": TEXTS})})
    t_in = entry_ms(entry)
    expanded_at, cpu_x, last, moved = None, None, -1, time.monotonic()
    tl, tl_next = [], time.monotonic()
    while True:
        d.check()
        h = job_hash(r, jid)
        if expanded_at is None and h.get("x") == "done":
            expanded_at = time.time() * 1000 - t_in
            cpu_x = (d.cpu(), proc_cpu_s(redis_pid), cpu_of(extra_pids))
        if job_finished(h):
            break
        sent = int(h.get("c:sms:sent", "0"))
        if TIMELINE and time.monotonic() >= tl_next:
            tl.append((time.time() * 1000 - t_in, int(h.get("xn", "0")), sent, d.cpu(),
                       proc_cpu_s(redis_pid), cpu_of(extra_pids)))
            tl_next += 1.0
        if sent != last:
            last, moved = sent, time.monotonic()
        elif time.monotonic() - moved > TIMEOUT_S:
            fail("%s: no progress for %.0fs at %d sent; job %s; log:\n%s"
                 % (label, TIMEOUT_S, sent, h, log_tail(d.log)))
        time.sleep(0.05)
    cpu1 = (d.cpu(), proc_cpu_s(redis_pid), cpu_of(extra_pids))
    # What else ran meanwhile (other users of the machine, the kernel's
    # own threads): the machine's busy time less ours and this script's.
    # Both sides are sampled clock ticks, so it is approximate (a few
    # tenths of a second) and never shown below 0.
    others = max(0.0, machine_busy_s() - busy0 - sum(cpu1) + sum(cpu0) -
                 (self_cpu_s() - self0))
    d.check()
    sd = send_durations(d.metrics())
    for a, b in zip(tl, tl[1:]):
        dt = (b[0] - a[0]) / 1000.0
        say("  t=%5.1fs expanded %6d sent %6d  +%5.0f sent/s  CPU%%: pregond %3.0f redis %3.0f "
            "provider %3.0f" % (b[0] / 1000.0, b[1], b[2], (b[2] - a[2]) / dt,
                                100 * (b[3] - a[3]) / dt, 100 * (b[4] - a[4]) / dt,
                                100 * (b[5] - a[5]) / dt))
    cmds = cmdstats(r)
    ops = script_ops(r)
    ats = sorted(sent_events(r, entry, {jid}).get(jid, []))
    lat = [a - t_in for a in ats]
    if len(ats) != n:
        say("WARNING: %d sent events for %d contacts; job %s" % (len(ats), n, h))
    xms = [float(m.group(1)) for m in d.log_lines(r"job %s: \w+ audience expanded .*?([\d.]+) ms\)"
                                                   % re.escape(jid))]
    eval_calls, eval_us = cmds.get("fcall", (0, 0))
    # Commands inside a function are counted both under their own name and
    # in FCALL's time; the others are pregond's own calls.
    outside = sorted(((c, us) for c, (_, us) in cmds.items() if c in
                      ("xreadgroup", "xautoclaim", "xrevrange", "xinfo|groups", "xpending")),
                     key=lambda kv: -kv[1])
    seen_us = sum(us for _, (_, us, _) in ops)
    span = (ats[-1] - t_in) / 1000.0
    # Sends while the list was being expanded, and after.
    x_at = t_in + (xms[0] if xms else expanded_at or 0)
    k = sum(1 for a in ats if a <= x_at)
    during = k / ((x_at - t_in) / 1000.0) if x_at > t_in else float("nan")
    after = (len(ats) - k) / ((ats[-1] - x_at) / 1000.0) if ats[-1] > x_at else float("nan")
    phase_cpu = None
    if cpu_x:
        t_x, t_rest = (expanded_at or 1) / 1000.0, max(1e-3, span - (expanded_at or 0) / 1000.0)
        phase_cpu = tuple(100 * (cpu_x[i] - cpu0[i]) / t_x for i in range(3)) + \
            tuple(100 * (cpu1[i] - cpu_x[i]) / t_rest for i in range(3))
    return {
        "cpu_others": others,
        "sent_during_x": k, "rate_during_x": during, "rate_after_x": after, "send_ms": sd,
        "phase_cpu": phase_cpu,
        "n": len(ats), "span_s": span, "rate": len(ats) / span,
        "first_ms": lat[0], "last_ms": lat[-1],
        "rate_sends": (len(ats) - 1) / ((ats[-1] - ats[0]) / 1000.0) if ats[-1] > ats[0] else 0,
        "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
        "expand_ms": xms[0] if xms else expanded_at,
        "cpu_pregond": cpu1[0] - cpu0[0], "cpu_redis": cpu1[1] - cpu0[1],
        "cpu_provider": cpu1[2] - cpu0[2],
        "redis_cpu_us_per_msg": (cpu1[1] - cpu0[1]) * 1e6 / max(1, len(ats)),
        "slowlog_share": seen_us / eval_us if eval_us else 0.0,
        "ops": ", ".join("%s %.1f (%d calls, %.0f per call)" % (op, us / max(1, len(ats)), calls,
                                                             items / max(1, calls))
                         for op, (calls, us, items) in ops),
        "eval_us_per_msg": eval_us / max(1, len(ats)), "eval_calls": eval_calls,
        "outside": ", ".join("%s %.1f" % (c, us / max(1, len(ats))) for c, us in outside[:3]),
        "messages": int(h.get("messages", "0")), "xdup": int(h.get("xdup", "0")),
        "failed": int(h.get("c:sms:failed", "0")),
    }


def print_alert(label, res, d, provider):
    say("pregond  %s: %d messages, alert XADD -> last sent %.2fs = %.0f msgs/s "
        "(first -> last sent: %.0f msgs/s)" % (label, res["n"], res["span_s"], res["rate"],
                                              res["rate_sends"]))
    say("         first sent %.0f ms after XADD; per message XADD->sent p50 %.0f ms, p99 %.0f ms;"
        " list expanded in %.0f ms" % (res["first_ms"], res["p50_ms"], res["p99_ms"],
                                        res["expand_ms"] or float("nan")))
    say("         sends while the list was expanding: %d at %.0f msgs/s; after it: %.0f msgs/s"
        % (res["sent_during_x"], res["rate_during_x"], res["rate_after_x"]))
    if res["phase_cpu"]:
        say("         CPU %% of one core, expanding / after: pregond %.0f / %.0f, redis-server "
            "%.0f / %.0f, %s %.0f / %.0f" % (res["phase_cpu"][0], res["phase_cpu"][3],
                                            res["phase_cpu"][1], res["phase_cpu"][4], provider,
                                            res["phase_cpu"][2], res["phase_cpu"][5]))
    if res["send_ms"]:
        say("         adapter send -> provider answer (pregond /metrics): mean %.2f ms, p50 <= %g ms,"
            " p99 <= %g ms" % res["send_ms"])
    say("         pregond peak RSS %.1f MB; CPU over the span: pregond %.1fs, redis-server %.1fs,"
        " %s %.1fs, anything else %.1fs (wall %.1fs, %d cores)"
        % (d.hwm / 1024.0, res["cpu_pregond"], res["cpu_redis"], provider,
           res["cpu_provider"], res["cpu_others"], res["span_s"], os.cpu_count() or 0))
    say("         redis-server CPU %.1f us per message; FCALL %.1f us/message in %d calls"
        % (res["redis_cpu_us_per_msg"], res["eval_us_per_msg"], res["eval_calls"]))
    say("         script time by op, us/message (slow log over %d us: %.0f%% of FCALL time): %s"
        % (SLOWLOG_US, 100 * res["slowlog_share"], res["ops"]))
    say("         outside scripts, us/message: %s" % res["outside"])
    if res["failed"] or res["n"] != res["messages"]:
        say("         WARNING: %d failed, %d sent events for %d messages"
            % (res["failed"], res["n"], res["messages"]))


def part_fanout(r, work, ngx):
    say("== part 1: one action_alert to a list of %d contacts, twilio adapter -> nginx mock "
        "%s, [sms] rate = 0, concurrency = %d ==" % (N, ngx.base_url, CONCURRENCY))
    d = Pregond(work, "fanout", {"base_url": ngx.base_url})
    d.start(r)
    try:
        mode, crate = load_contacts(r, d, work, N, "bench")
        res = run_alert(r, d, N, "nginx", ngx.pids())
    finally:
        d.stop()
    print_alert("nginx", res, d, "nginx")
    res.update(contacts_mode=mode, contacts_per_s=crate, rss_mb=d.hwm / 1024.0)
    return res


def part_fake(r, work):
    sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
    import twilio_fake
    r.flushall()
    say("")
    say("== part 1b (FAKE=1): the same alert to %d contacts through tests/fakes/twilio_fake.py "
        "(Python, no status callbacks) ==" % FAKE_N)
    with open(os.path.join(work, "fake.log"), "ab") as flog:
        fp, fport = twilio_fake.start(SID, TOKEN, ["--from-numbers", FROM],
                                      popen=lambda argv, **kw: subprocess.Popen(
                                          argv, stderr=flog, **kw))
    try:
        # Every create answered with no callbacks: "handed to the fake".
        twilio_fake.control(fport, "POST", "rules", {"callbacks": []})
        d = Pregond(work, "fake", {"base_url": "http://127.0.0.1:%d" % fport, "timeout": "30s"})
        d.start(r)
        try:
            load_contacts(r, d, work, FAKE_N, "bench")
            res = run_alert(r, d, FAKE_N, "fake", [fp.pid])
        finally:
            d.stop()
        print_alert("fake", res, d, "twilio_fake")
    finally:
        stop_proc(fp)
    return res


def run_peer(r, work, ngx, n):
    dst, why = peer_dir()
    if dst is None:
        fail(why)
    env = dict(os.environ, N=str(n), REDIS_PORT=str(PORT), CONCURRENCY=str(PEER_CONCURRENCY),
               MOCK_URL=ngx.mock_url)
    env.pop("OUTBOX_FILE", None)
    prod_out = run_producer(dst, env)
    m = re.search(r"seconds=([\d.]+)", prod_out)
    prod_s = float(m.group(1)) if m else float("nan")
    redis_pid = int(r.info("server")["process_id"])
    cpu0 = (proc_cpu_s(redis_pid), cpu_of(ngx.pids()))
    busy0, self0 = machine_busy_s(), self_cpu_s()
    # Not benchlib.run_to_exit: the CPU counters are read at the worker's
    # exit, before its output is.
    with open(os.path.join(work, "peer-worker.out"), "w+") as fo, \
            open(os.path.join(work, "peer-worker.err"), "w+") as fe:
        w = subprocess.Popen(["node", "worker.js"], cwd=dst, env=env, stdout=fo, stderr=fe)
        rss = wait4_rss(w)
        ru = w.rusage
        cpu1 = (proc_cpu_s(redis_pid), cpu_of(ngx.pids()))
        busy1, self1 = machine_busy_s(), self_cpu_s()
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if w.returncode != 0:
        fail("peer worker exited with %s: %s" % (w.returncode, (err or out).strip()[-500:]))
    say("peer " + out.strip())
    m = re.search(r"jobs_per_s=(\d+)", out)
    s = re.search(r"seconds=([\d.]+)", out)
    if not m or not s:
        fail("peer worker printed no jobs_per_s: %r" % out)
    return {"rate": float(m.group(1)), "worker_s": float(s.group(1)), "producer_s": prod_s,
            "rate_total": n / (prod_s + float(s.group(1))),
            "rss_mb": rss, "cpu_worker": ru.ru_utime + ru.ru_stime,
            "cpu_others": max(0.0, (busy1 - busy0) - (ru.ru_utime + ru.ru_stime) - sum(cpu1)
                              + sum(cpu0) - (self1 - self0)),
            "cpu_redis": cpu1[0] - cpu0[0], "cpu_provider": cpu1[1] - cpu0[1]}


# ---- part 2: urgent lane under a backlog ----

def part_urgent(r, work, ngx):
    r.flushall()
    if not SKIP_FANOUT:
        say("")
    say("== part 2: %d urgent alerts to a list of %d behind a backlog of %d message jobs, "
        "twilio adapter -> nginx mock, rate 0, concurrency %d =="
        % (ALERTS, URGENT_N, BACKLOG, CONCURRENCY))
    d = Pregond(work, "urgent", {"base_url": ngx.base_url})
    # The list first (import needs no daemon; with CONTACTS=jobs pregond
    # stores them before the backlog exists).
    if (CONTACTS or ("import" if have_import() else "jobs")) == "jobs":
        d.start(r)
        try:
            load_contacts(r, d, work, URGENT_N, "responders", id_prefix="r")
        finally:
            d.stop()
    else:
        load_contacts(r, d, work, URGENT_N, "responders", id_prefix="r")
    t0 = time.monotonic()
    body = ("Court reminder: your hearing is on 2026-12-01 at 08:30, Dept 30. "
            "Reply STOP to opt out.")
    xadd_jobs(r, ({"id": "bulk-%d" % i, "kind": "message", "body": body,
                   "recipient": {"id": "b%d" % i, "phone": phone(200000 + i)}}
                  for i in range(BACKLOG)))
    say("backlog: %d message jobs XADDed in %.2fs before pregond starts"
        % (BACKLOG, time.monotonic() - t0))
    d.start(r)
    rows = []
    try:
        events_key = PREFIX + "events"
        deadline = time.monotonic() + TIMEOUT_S
        while r.xlen(events_key) < 3000:        # accepted+sending+sent of ~1,000
            d.check()
            if time.monotonic() > deadline:
                fail("the backlog does not move; log:\n" + log_tail(d.log))
            time.sleep(0.02)
        for k in range(ALERTS):
            if k:
                time.sleep(SPACING_S)
            jid = "urgent-%d" % k
            unread = group_lag(r)
            entry = r.xadd(PREFIX + "jobs", {"job": json.dumps(
                {"id": jid, "kind": "action_alert", "urgent": True,
                 "audience": {"list": "responders"},
                 "message": {"en": "ICE at 5th & Main now. Reply 1 if responding, 2 if not.",
                             "es": "ICE en 5th y Main ahora. Responda 1 si va, 2 si no."},
                 "replies": {"1": "responding", "2": "cannot"}})})
            last, moved = -1, time.monotonic()
            while True:
                d.check()
                h = job_hash(r, jid)
                if job_finished(h):
                    break
                sent = int(h.get("c:sms:sent", "0"))
                if sent != last:
                    last, moved = sent, time.monotonic()
                elif time.monotonic() - moved > TIMEOUT_S:
                    fail("%s: stuck at %d sent; log:\n%s" % (jid, sent, log_tail(d.log)))
                time.sleep(0.01)
            rows.append({"job": jid, "entry": entry, "t_in": entry_ms(entry), "unread": unread})
        # Let the backlog drain: its rate through the adapter, for context.
        t_drain = time.monotonic()
        last, moved = -1, time.monotonic()
        while True:
            d.check()
            lag = group_lag(r)
            pending = r.xpending(PREFIX + "jobs", "pregon")["pending"]
            if lag == 0 and pending == 0:
                break
            if (lag, pending) != last:
                last, moved = (lag, pending), time.monotonic()
            elif time.monotonic() - moved > TIMEOUT_S:
                fail("backlog stuck at lag %d pending %d" % (lag, pending))
            time.sleep(0.1)
        say("backlog drained %.1fs after the last alert was served" % (time.monotonic() - t_drain))
        d.check()
    finally:
        d.stop()
    # Every sent event of the run, in time order, tagged urgent or not.
    first_entry = r.xrange(events_key, count=1)[0][0]
    by_job = sent_events(r, first_entry, statuses=("sent", "sending"))
    normal = sorted(a for (j, st), ats in by_job.items()
                    if j.startswith("bulk-") and st == "sent" for a in ats)
    normal_claims = sorted(a for (j, st), ats in by_job.items()
                           if j.startswith("bulk-") and st == "sending" for a in ats)
    accepted = sent_events(r, first_entry, statuses=("accepted",), job_prefix="urgent-")
    for row in rows:
        # Where the time to the first send goes: the intake (the job
        # record's creation, by the urgent scan), then the expander (the
        # first message's 'accepted' event).
        row["job_ms"] = int(r.hget(PREFIX + "job:" + row["job"], "created") or 0) - row["t_in"]
        acc = accepted.get(row["job"], [])
        row["expand_ms"] = min(acc) - row["t_in"] if acc else -1
        ats = sorted(by_job.get((row["job"], "sent"), []))
        claims = sorted(by_job.get((row["job"], "sending"), []))
        # Normal messages claimed (status sending) while this alert still
        # had messages to claim: the lane's priority, as opposed to normal
        # sends already in flight finishing in the meantime.
        row["claimed"] = (bisect.bisect_left(normal_claims, claims[-1]) -
                          bisect.bisect_right(normal_claims, claims[0])) if claims else 0
        if len(ats) != URGENT_N:
            say("WARNING: %s: %d sent events of %d" % (row["job"], len(ats), URGENT_N))
        row["first_ms"] = ats[0] - row["t_in"]
        row["last_ms"] = ats[-1] - row["t_in"]
        row["not_sent"] = BACKLOG - bisect.bisect_right(normal, row["t_in"])
        row["between"] = (bisect.bisect_left(normal, ats[-1]) -
                          bisect.bisect_right(normal, ats[0]))
        row["before"] = (bisect.bisect_right(normal, ats[0]) -
                         bisect.bisect_right(normal, row["t_in"]))
        say("urgent   %s: job accepted %4d ms, first message created %4d ms, first sent %4d ms, "
            "last (%d) %4d ms after XADD; backlog not yet sent "
            "%6d (unread in the job stream %6d); normal sends from XADD to its first: %d, "
            "between its first and last: %d (normal messages claimed between its first and "
            "last claim: %d)"
            % (row["job"], row["job_ms"], row["expand_ms"], row["first_ms"], len(ats),
               row["last_ms"], row["not_sent"],
               row["unread"], row["before"], row["between"], row["claimed"]))
    span = (normal[-1] - normal[0]) / 1000.0 if len(normal) > 1 else float("nan")
    say("backlog  %d sent, first -> last %.1fs = %.0f msgs/s (message jobs through the adapter,"
        " urgent alerts included in the span); pregond peak RSS %.1f MB"
        % (len(normal), span, len(normal) / span, d.hwm / 1024.0))
    if len(normal) != BACKLOG:
        say("WARNING: %d of %d backlog messages sent" % (len(normal), BACKLOG))
    return rows, {"backlog_rate": len(normal) / span, "rss_mb": d.hwm / 1024.0}


def group_lag(r):
    """Entries of the job stream the group has not read yet (Redis 7 lag)."""
    for g in r.xinfo_groups(PREFIX + "jobs"):
        if g["name"] == "pregon":
            return int(g.get("lag") or 0)
    return 0


# ---- main ----

def build_info():
    """The binary measured and the tree it should come from."""
    exe = os.path.join(BUILD, "pregond")
    try:
        built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(exe).st_mtime))
    except OSError:
        return "%s (missing)" % exe
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no",
                            "--", "src", "adapters", "include"],
                           capture_output=True, text=True).stdout.strip()
    if not os.path.realpath(exe).startswith(os.path.realpath(ROOT) + os.sep):
        return "%s, built %s (PREGON_BIN, outside this tree; HEAD here is %s)" % (exe, built, head)
    return "%s, built %s; tree at HEAD %s%s" % (
        exe, built, head, " with uncommitted changes in src/adapters/include" if dirty else "")


def main():
    if PORT <= 0:
        fail("REDIS_PORT is not set; run: bash bench/run.sh alerts")
    r = redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True)
    if r.dbsize() != 0:
        fail("redis on port %d is not empty: this bench FLUSHALLs it between parts; "
             "run it through bench/run.sh alerts, which starts its own" % PORT)
    info = r.info("server")
    persist = r.config_get("appendonly").get("appendonly", "?")
    say("machine: %s" % machine())
    say("pregond: %s" % build_info())
    say("redis %s on 127.0.0.1:%d, appendonly=%s; pregond [sms] concurrency %d, rate 0"
        % (info.get("redis_version", "?"), PORT, persist, CONCURRENCY))
    work = tempfile.mkdtemp(prefix="pregon-bench-alerts-")
    ngx = None
    fields = {"n": N, "concurrency": CONCURRENCY}
    try:
        ngx = Nginx(work)
        say("nginx mock provider on %s (%s)" % (ngx.base_url, NGINX))
        say("")
        if not SKIP_FANOUT:
            ours = part_fanout(r, work, ngx)
            fields.update(contacts=ours["contacts_mode"],
                          contacts_per_s="%.0f" % ours["contacts_per_s"],
                          alert_msgs_per_s="%.0f" % ours["rate"], alert_s="%.2f" % ours["span_s"],
                          first_ms="%.0f" % ours["first_ms"], p50_ms="%.0f" % ours["p50_ms"],
                          p99_ms="%.0f" % ours["p99_ms"], rss_mb="%.1f" % ours["rss_mb"],
                          cpu_pregond="%.1f" % ours["cpu_pregond"],
                          cpu_redis="%.1f" % ours["cpu_redis"])
            if not SKIP_PEER:
                r.flushall()
                say("")
                say("-- peer: BullMQ worker POSTing %d jobs to the same nginx (%s), "
                    "concurrency %d --" % (N, ngx.mock_url, PEER_CONCURRENCY))
                peer = run_peer(r, work, ngx, N)
                say("bullmq   %.0f jobs/s (worker only; producer+worker %.0f jobs/s), worker peak "
                    "RSS %.1f MB; CPU: worker %.1fs, redis-server %.1fs, nginx %.1fs, anything "
                    "else %.1fs over %.2fs"
                    % (peer["rate"], peer["rate_total"], peer["rss_mb"], peer["cpu_worker"],
                       peer["cpu_redis"], peer["cpu_provider"], peer["cpu_others"],
                       peer["worker_s"]))
                ratio = ours["rate"] / peer["rate"]
                say("ratio    pregond alert XADD->last sent / bullmq worker = %.2f; "
                    "pregond first->last sent / bullmq worker = %.2f; "
                    "pregond / bullmq producer+worker = %.2f"
                    % (ratio, ours["rate_sends"] / peer["rate"], ours["rate"] / peer["rate_total"]))
                say("         (the peer has no fan-out step: its producer enqueued one job per "
                    "message before its worker started)")
                fields.update(peer_jobs_per_s="%.0f" % peer["rate"], ratio="%.2f" % ratio)
            if FAKE:
                fake = part_fake(r, work)
                fields.update(fake_n=FAKE_N, fake_msgs_per_s="%.0f" % fake["rate"])
        if not SKIP_URGENT:
            rows, extra = part_urgent(r, work, ngx)
            say("")
            for name, key in (("job accepted ms", "job_ms"), ("first message created ms", "expand_ms"),
                      ("first sent ms", "first_ms"), ("last sent ms", "last_ms"),
                              ("backlog not yet sent", "not_sent"),
                              ("normal sends XADD->first", "before"),
                              ("normal sends interleaved", "between"),
                              ("normal claimed meanwhile", "claimed")):
                lo, med, hi = stats([row[key] for row in rows])
                say("urgent   %-25s min %7.0f  median %7.0f  max %7.0f" % (name, lo, med, hi))
            fields.update(backlog=BACKLOG, urgent_n=URGENT_N,
                          urgent_first_ms_median="%.0f" % stats([x["first_ms"] for x in rows])[1],
                          urgent_last_ms_median="%.0f" % stats([x["last_ms"] for x in rows])[1],
                          interleaved_max=stats([x["between"] for x in rows])[2],
                          backlog_msgs_per_s="%.0f" % extra["backlog_rate"])
    finally:
        if ngx:
            ngx.stop()
        if os.environ.get("KEEP") == "1":
            say("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    say("")
    say("result " + " ".join("%s=%s" % kv for kv in fields.items()))


if __name__ == "__main__":
    main()
