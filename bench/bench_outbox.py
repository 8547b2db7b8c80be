#!/usr/bin/python3
"""bench_outbox.py: pregond's throughput on the outbox adapter, beside BullMQ.

Loads N `message` jobs into <prefix>jobs (pipelined, before pregond starts:
a backlog, as the peer's producer makes one), starts build/pregond with its
outbox in a temp dir, and waits until the outbox holds N lines. It reports
messages per second from the first to the last outbox `at`, p50/p99 from
enqueue (the stream entry id's ms, Redis's clock) to the outbox `at`, and
pregond's peak RSS (VmHWM). Then it runs the BullMQ peer
(../shared/bench-peers/bullmq: producer, then worker with OUTBOX_FILE) on
the same redis-server and prints the ratio of the two rates. A ratio
survives a noisy machine; absolute figures do not (bench-peers/README.md).

With a backlog, enqueue->outbox latency is mostly time spent waiting in
the queue: it says how fast the backlog drains. LIVE=1 starts pregond
first and loads while it runs, so the latency is the end-to-end delay
under full load instead.

Run through bench/run.sh, which starts a redis-server of its own. Env:
  REDIS_PORT  the redis-server on 127.0.0.1 (required)
  N           jobs (default 100000)
  SKIP_PEER=1 pregond only;  SKIP_PREGON=1 the peer only
  LIVE=1      load while pregond runs (see above)
  RATE=N      with LIVE=1: load N jobs per second (latency without backlog)
  PREGON_CONF_EXTRA="[sms];concurrency = 256"  extra config lines, ";"-separated
  PREGON_BIN  directory of pregond (default build)
  BENCH_PEERS the bench-peers directory (default ../shared/bench-peers)
  CONCURRENCY the peer worker's (default 50, its best per its README)
  TIMEOUT_S   give up when nothing moves for this long (default 120)
"""

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("PREGON_BIN", "build"))
PEERS = os.environ.get("BENCH_PEERS", os.path.join(ROOT, "..", "shared", "bench-peers"))
N = int(os.environ.get("N", "100000"))
PORT = int(os.environ.get("REDIS_PORT", "0"))
LIVE = os.environ.get("LIVE") == "1"
# RATE=jobs/s (with LIVE=1): load at that pace instead of as fast as
# possible, so enqueue->outbox latency is measured without a backlog.
RATE = float(os.environ.get("RATE", "0"))
SKIP_PEER = os.environ.get("SKIP_PEER") == "1"
SKIP_PREGON = os.environ.get("SKIP_PREGON") == "1"
CONCURRENCY = int(os.environ.get("CONCURRENCY", "50"))
TIMEOUT_S = float(os.environ.get("TIMEOUT_S", "120"))
PREFIX = "bench:"
BATCH = 1000


def say(msg):
    print(msg, flush=True)


def fail(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def body(i):
    # The peer's text, so both sides move the same bytes.
    return ("Court reminder #%d: your hearing is on 2024-07-01 at 09:00, Dept 12. "
            "Reply STOP to opt out." % i)


def job(i):
    # +1 323 555 XXXX: valid NANP syntax, the peer's numbers.
    return json.dumps({"id": "bench-%d" % i, "kind": "message",
                       "recipient": {"id": "c%d" % i, "phone": "+1323555%04d" % (i % 10000)},
                       "body": body(i)}, separators=(",", ":"))


def load_jobs(r, n):
    """XADDs n jobs in pipelined batches. Returns {job id: enqueue ms} from
    the entry ids (Redis's clock, the same machine as pregond's)."""
    enq = {}
    key = PREFIX + "jobs"
    step = max(1, int(RATE / 100)) if RATE > 0 else BATCH
    t0 = time.monotonic()
    for start in range(0, n, step):
        if RATE > 0:
            ahead = t0 + start / RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        pipe = r.pipeline(transaction=False)
        ids = range(start, min(n, start + step))
        for i in ids:
            pipe.xadd(key, {"job": job(i)})
        for i, entry in zip(ids, pipe.execute()):
            enq["bench-%d" % i] = int(entry.split("-", 1)[0])
    return enq


def write_config(d):
    path = os.path.join(d, "pregon.conf")
    with open(path, "w") as f:
        f.write("[redis]\nurl = redis://127.0.0.1:%d/0\nprefix = %s\n\n" % (PORT, PREFIX))
        f.write("[outbox]\ndir = %s\n\n" % os.path.join(d, "outbox"))
        # Runs at any hour: quiet hours would hold the messages.
        f.write("[schedule]\nquiet_hours = none\n\n")
        f.write("[log]\nlevel = warn\n")
        for line in os.environ.get("PREGON_CONF_EXTRA", "").split(";"):
            if line.strip():
                f.write(line.strip() + "\n")
    return path


class LineCounter:
    """Counts lines appended to the *.jsonl files of a dir, reading only
    what is new each time."""

    def __init__(self, d):
        self.dir = d
        self.offsets = {}
        self.lines = 0

    def poll(self):
        if os.path.isdir(self.dir):
            for name in os.listdir(self.dir):
                if not name.endswith(".jsonl"):
                    continue
                path = os.path.join(self.dir, name)
                with open(path, "rb") as f:
                    f.seek(self.offsets.get(path, 0))
                    chunk = f.read()
                # Count only complete lines; a partial one is read again.
                end = chunk.rfind(b"\n") + 1
                self.lines += chunk.count(b"\n", 0, end)
                self.offsets[path] = self.offsets.get(path, 0) + end
        return self.lines


def proc_status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_s(pid):
    """utime + stime of a live process, in seconds (proc(5))."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def parse_at(s):
    """ISO-8601 UTC with ms ("2026-11-22T19:03:11.250Z") to Unix ms."""
    t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return int(round(t.timestamp() * 1000))


def percentile(sorted_vals, p):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def log_tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def run_pregond(r, work):
    pregond = os.path.join(BUILD, "pregond")
    if not os.access(pregond, os.X_OK):
        fail("%s is missing: run make first (or SKIP_PREGON=1)" % pregond)
    conf = write_config(work)
    outbox = os.path.join(work, "outbox")
    log = os.path.join(work, "pregond.log")
    counter = LineCounter(outbox)

    enq = {}
    if not LIVE:
        t0 = time.monotonic()
        enq = load_jobs(r, N)
        say("loaded %d jobs in %.2fs (pipelined, batches of %d)" % (N, time.monotonic() - t0, BATCH))
    with open(log, "ab") as logf:
        p = subprocess.Popen([pregond, "-c", conf], stdout=logf, stderr=logf, cwd=ROOT)
    try:
        if LIVE:
            # Wait for the consumer group, so the first jobs are not
            # measured against pregond's start-up.
            deadline = time.monotonic() + 30
            while True:
                try:
                    if r.xinfo_groups(PREFIX + "jobs"):
                        break
                except redis.ResponseError:
                    pass
                if p.poll() is not None or time.monotonic() > deadline:
                    fail("pregond did not create its consumer group; log:\n" + log_tail(log))
                time.sleep(0.02)
            enq = load_jobs(r, N)
        last_change, last_seen, hwm = time.monotonic(), -1, 0
        while counter.poll() < N:
            if p.poll() is not None:
                fail("pregond exited with %s after %d of %d lines; log:\n%s"
                     % (p.returncode, counter.lines, N, log_tail(log)))
            if counter.lines != last_seen:
                last_seen, last_change = counter.lines, time.monotonic()
            elif time.monotonic() - last_change > TIMEOUT_S:
                fail("no progress for %.0fs at %d of %d lines; log:\n%s"
                     % (TIMEOUT_S, counter.lines, N, log_tail(log)))
            hwm = max(hwm, proc_status_kb(p.pid, "VmHWM"))
            time.sleep(0.05)
        hwm = max(hwm, proc_status_kb(p.pid, "VmHWM"))
        cpu = proc_cpu_s(p.pid)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    if p.returncode != 0:
        say("warning: pregond exited with %s on SIGTERM" % p.returncode)

    ats, lat, seen, dups, bad = [], [], set(), 0, 0
    for name in sorted(os.listdir(outbox)):
        if not name.endswith(".jsonl"):
            continue
        with open(os.path.join(outbox, name)) as f:
            for line in f:
                try:
                    m = json.loads(line)
                    at = parse_at(m["at"])
                except (ValueError, KeyError, TypeError, AttributeError):
                    bad += 1
                    continue
                if any(k not in m for k in ("message", "job", "channel", "to", "body")):
                    bad += 1
                    continue
                if m["job"] in seen:
                    dups += 1
                    continue
                seen.add(m["job"])
                ats.append(at)
                if m["job"] in enq:
                    lat.append(at - enq[m["job"]])
    if bad:
        fail("%d outbox lines lack message/job/channel/to/body/at or do not parse" % bad)
    missing = N - len(seen)
    span = (max(ats) - min(ats)) / 1000.0 if len(ats) > 1 else float("nan")
    lat.sort()
    return {
        "rate": len(seen) / span if span and span > 0 else float("nan"),
        "span_s": span,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "rss_mb": hwm / 1024.0,
        "cpu_s": cpu,
        "dups": dups,
        "missing": missing,
        "exit": p.returncode,
    }


def wait4_rss(p):
    """Waits for p and returns its peak RSS in MB: the largest VmHWM seen
    in /proc while it ran, which is the exec'd program's own. Not wait4(2)'s
    ru_maxrss: Linux carries the high-water mark of the memory a child had
    before exec (a copy of this Python's) into it, so a small program
    forked from a large Python reports the Python's size. p.rusage keeps
    wait4's rusage (its CPU times are the program's)."""
    hwm = 0
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        hwm = max(hwm, proc_status_kb(p.pid, "VmHWM"))
        time.sleep(0.02)
    p.returncode = os.waitstatus_to_exitcode(status)
    p.rusage = ru
    return hwm / 1024.0


def drop_our_keys(r):
    """Removes pregon's keys so the peer starts on a Redis as empty as
    pregond had it (only ours: the prefix is unique to this bench)."""
    batch = []
    for k in r.scan_iter(match=PREFIX + "*", count=1000):
        batch.append(k)
        if len(batch) >= 1000:
            r.unlink(*batch)
            batch = []
    if batch:
        r.unlink(*batch)


def run_peer(work):
    src = os.path.join(PEERS, "bullmq")
    if not os.path.isfile(os.path.join(src, "worker.js")):
        fail("peer not found at %s (set BENCH_PEERS)" % src)
    dst = os.path.join(BUILD, "bench-peer")
    os.makedirs(dst, exist_ok=True)
    for name in ("package.json", "producer.js", "worker.js"):
        shutil.copy2(os.path.join(src, name), dst)
    if not os.path.isdir(os.path.join(dst, "node_modules", "bullmq")):
        say("npm install in %s" % dst)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=dst, check=True)
    env = dict(os.environ, N=str(N), REDIS_PORT=str(PORT), CONCURRENCY=str(CONCURRENCY),
               OUTBOX_FILE=os.path.join(work, "peer-outbox.jsonl"))
    prod = subprocess.run(["node", "producer.js"], cwd=dst, env=env, capture_output=True,
                          text=True)
    if prod.returncode != 0:
        fail("peer producer failed: %s" % (prod.stderr.strip() or prod.stdout.strip()))
    say("peer " + prod.stdout.strip())
    # Output to files, not pipes: wait4() must reap the worker itself (for
    # its rusage), so nothing may be left to drain a full pipe meanwhile.
    with open(os.path.join(work, "peer-worker.out"), "w+") as fo, \
            open(os.path.join(work, "peer-worker.err"), "w+") as fe:
        w = subprocess.Popen(["node", "worker.js"], cwd=dst, env=env, stdout=fo, stderr=fe)
        rss = wait4_rss(w)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if w.returncode != 0:
        fail("peer worker exited with %s: %s" % (w.returncode, (err or out).strip()[-500:]))
    say("peer " + out.strip())
    m = re.search(r"jobs_per_s=(\d+)", out)
    if not m:
        fail("peer worker printed no jobs_per_s: %r" % out)
    return {"rate": float(m.group(1)), "rss_mb": rss}


def main():
    if PORT <= 0:
        fail("REDIS_PORT is not set; run bench/run.sh")
    r = redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True)
    info = r.info("server")
    persist = r.config_get("appendonly").get("appendonly", "?")
    work = tempfile.mkdtemp(prefix="pregon-bench-")
    try:
        ours = None if SKIP_PREGON else run_pregond(r, work)
        if ours and not SKIP_PEER:
            drop_our_keys(r)
        peer = None if SKIP_PEER else run_peer(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    say("")
    say("== outbox bench: N=%d message jobs, Redis %s on 127.0.0.1:%d, appendonly=%s%s =="
        % (N, info.get("redis_version", "?"), PORT, persist,
           " (no AOF: as the peer's reference figures)" if persist == "no" else ""))
    say("   machine: %d CPUs, %s" % (os.cpu_count() or 0, os.uname().release))
    if ours:
        say("pregond  %8.0f msgs/s  first->last %.2fs  enqueue->outbox p50 %.0f ms  p99 %.0f ms"
            "  (%s)  peak RSS %.1f MB  CPU %.1fs"
            % (ours["rate"], ours["span_s"], ours["p50_ms"], ours["p99_ms"],
               "live load" if LIVE else "backlog", ours["rss_mb"], ours["cpu_s"]))
        if ours["dups"] or ours["missing"]:
            say("         WARNING: %d sent twice, %d missing" % (ours["dups"], ours["missing"]))
    if peer:
        say("bullmq   %8.0f jobs/s  concurrency %d, OUTBOX_FILE  worker peak RSS %.1f MB"
            % (peer["rate"], CONCURRENCY, peer["rss_mb"]))
    ratio = ours["rate"] / peer["rate"] if ours and peer and peer["rate"] > 0 else None
    if ratio is not None:
        say("ratio    pregond / bullmq = %.2f" % ratio)
    # One line for scripts and for bench/ records.
    fields = {"n": N, "live": int(LIVE), "appendonly": persist}
    if ours:
        fields.update(pregon_msgs_per_s="%.0f" % ours["rate"], p50_ms="%.0f" % ours["p50_ms"],
                      p99_ms="%.0f" % ours["p99_ms"], rss_mb="%.1f" % ours["rss_mb"],
                      dups=ours["dups"], missing=ours["missing"])
    if peer:
        fields.update(peer_jobs_per_s="%.0f" % peer["rate"], peer_rss_mb="%.1f" % peer["rss_mb"])
    if ratio is not None:
        fields["ratio"] = "%.2f" % ratio
    say("result " + " ".join("%s=%s" % kv for kv in fields.items()))
    if ours and (ours["missing"] or ours["exit"] != 0):
        sys.exit(1)


if __name__ == "__main__":
    main()
