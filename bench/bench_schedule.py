#!/usr/bin/python3
"""bench_schedule.py: scheduling court reminders (issue 5), beside BullMQ.

"Time and memory to schedule 1,000,000 reminders and the cost to claim due
ones." On the redis-server that bench/run.sh starts for it (`bash
bench/run.sh schedule`, no AOF, no RDB), with pregond on the outbox adapter
and the test clock ([schedule] test_clock = yes; <prefix>test:clock set to
CLOCK0, 2027-01-01T00:00Z, before pregond starts, so every reminder is
ahead):

1. Schedule. N court_reminder jobs (default 250,000) with offsets
   P7D,P3D,P1D,PT3H: N x 4 scheduled reminders. Appearances spread over
   30 weekdays (2027-02-01 on) x 540 minutes (08:00-16:59, Los Angeles),
   job i on minute slot i mod 16,200; en and es, distinct recipients,
   case refs and valid NANP numbers. The jobs are XADDed (pipelined,
   batches of BATCH) while pregond runs. Measured: first XADD to ZCARD
   <prefix>scheduled == 4N (jobs/s, reminders/s), when the XADDs ended,
   pregond's peak RSS (VmHWM) and CPU, redis-server's CPU and EVALSHA time
   (INFO commandstats), and Redis used_memory before and after (INFO
   memory) -> bytes per scheduled reminder, everything included; then the
   split by key (MEMORY USAGE: the events stream, the scheduled ZSET and
   the job stream whole, a sample of message/job/case/index/seen keys averaged
   and multiplied by their count). [events] max_len is EVENTS_MAX_LEN
   (default 5,000,000: nothing is trimmed, every event of the run is
   counted; production's default 1,000,000 caps the stream). The job
   stream's acknowledged entries are transient (pregond's trim op, every
   10 s) and shown apart; its length is printed again after part 2b.
   PERF=1 also runs `perf record` on pregond for this phase and prints its
   top symbols (the intake renders each job's texts once to validate them).

2. Claim. (b) end to end, pregond running with the 4N scheduled: the test
   clock jumps to the due time T of the CLAIM_N-th reminder (the largest
   due-time boundary at or under CLAIM_N, default 10,000), so that many
   become due at once; measured from the jump to the first and the last
   of them in the outbox (`at`, pregond's test clock: T at the jump), and
   that no other line appears. Then pregond is stopped and
   (a) the Lua op `tick` is timed alone: src/lua/pregon.lua SCRIPT LOADed,
   EVALSHA with pregond's argv (op, prefix, max_len, retention s, dedupe s,
   now ms as a string, batch) moving TICK_BATCH (500, pregond's batch)
   due messages, REPS times per row, the rows interleaved: the big ZSET's
   next 500 (cold: untouched since they were scheduled, as a real tick
   finds them), a batch of the big ZSET moved, put back and moved again
   (warm), and a 1,000-entry ZSET of copies of the same message hashes
   (prefix tick1k:, put back after each call). Per call and per message:
   Redis's own time (INFO commandstats usec of EVALSHA) and the client's
   round trip; warm big / 1,000 is the O(log n) part. Also an idle tick
   (nothing due: the lookups only) on both.

3. Peer. FLUSHALL, then BullMQ (../shared/bench-peers/bullmq, installed in
   build/bench-peer as bench_outbox.py does) on the same redis-server:
   bench/schedule_peer.js MODE=add puts 4N delayed jobs {to, body} (body:
   the rendered reminder text, ~230 bytes) with Queue.addBulk in chunks of
   1,000 (jobs/s, used_memory delta -> bytes per delayed job); then
   MODE=due: a Worker (PEER_CONCURRENCY, one outbox line per job) and as
   many more jobs as pregon had due in 2b, all due at one instant,
   measured from that instant to the first and last completed job, with
   the 4N still delayed around them. If npm install fails (no network),
   the peer is skipped with the reason and pregon's figures still print.

Env:
  REDIS_PORT   the redis-server on 127.0.0.1 (required; bench/run.sh)
  N            court_reminder jobs (default 250000; 4 reminders each)
  CLAIM_N      reminders made due at once in 2b, and peer jobs (10000)
  TICK         pregond's [schedule] tick (default 20ms; pregond's default
               is 100ms)
  TICK_BATCH, REPS   part 2a (500, 40)
  BATCH        jobs per XADD pipeline (1000)
  EVENTS_MAX_LEN     [events] max_len (5000000)
  PEER_CONCURRENCY   the BullMQ worker's (50, its best per its README)
  SKIP_PEER=1  pregon only;  PERF=1  perf record pregond while scheduling
               (PERF=dwarf: with DWARF call graphs; KEEP=1 keeps perf.data)
  PREGON_CONF_EXTRA="[jobs];batch = 256"  extra config lines, ";"-separated
  PREGON_BIN   directory of pregond (default build)
  BENCH_PEERS  the bench-peers directory (default ../shared/bench-peers)
  TIMEOUT_S    give up when nothing moves for this long (default 120)
  REDIS_CONFIG="hash-max-listpack-value=128"  CONFIG SET before the run
               (both sides), ";"-separated
  KEEP=1       keep the work dir (config, logs, outbox)
"""

import calendar
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

# Run as a script: benchlib sits beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import (BUILD, PORT, PREFIX, ROOT, cmdstats, fail, log_tail,  # noqa: E402
                      machine_info, parse_at, peer_dir, phone, proc_cpu_s, run_to_exit, say,
                      stop_proc, used_memory)

N = int(os.environ.get("N", "250000"))
CLAIM_N = int(os.environ.get("CLAIM_N", "10000"))
TICK = os.environ.get("TICK", "20ms")
TICK_BATCH = int(os.environ.get("TICK_BATCH", "500"))
REPS = int(os.environ.get("REPS", "40"))
BATCH = int(os.environ.get("BATCH", "1000"))
EVENTS_MAX_LEN = int(os.environ.get("EVENTS_MAX_LEN", "5000000"))
PEER_CONCURRENCY = int(os.environ.get("PEER_CONCURRENCY", "50"))
SKIP_PEER = os.environ.get("SKIP_PEER") == "1"
PERF = os.environ.get("PERF", "") in ("1", "dwarf")
PERF_DWARF = os.environ.get("PERF") == "dwarf"
TIMEOUT_S = float(os.environ.get("TIMEOUT_S", "120"))
KEEP = os.environ.get("KEEP") == "1"
SMALL = "tick1k:"
OFFSETS = ["P7D", "P3D", "P1D", "PT3H"]
LA = "America/Los_Angeles"
CLOCK0 = calendar.timegm((2027, 1, 1, 0, 0, 0)) * 1000
# Far past every due time: "now" for the micro-benchmark's ticks.
CLOCK_LATE = calendar.timegm((2027, 6, 1, 0, 0, 0)) * 1000
MINUTES = 540                   # 08:00-16:59
DAYS = 30                       # weekdays from 2027-02-01 (a Monday)


# ---- the jobs ----

WEEKDAYS = []
_d = datetime.date(2027, 2, 1)
while len(WEEKDAYS) < DAYS:
    if _d.weekday() < 5:
        WEEKDAYS.append(_d)
    _d += datetime.timedelta(days=1)


def appearance(i):
    slot = i % (DAYS * MINUTES)
    day, minute = WEEKDAYS[slot // MINUTES], 8 * 60 + slot % MINUTES
    return "%sT%02d:%02d:00" % (day.isoformat(), minute // 60, minute % 60)


def job(i):
    return json.dumps({
        "id": "b-%d" % i, "kind": "court_reminder",
        "case": {"ref": "LA-%d" % i, "court": "Clara Shortridge Foltz CJC",
                 "department": "Dept. 30", "address": "210 W Temple St, Los Angeles, CA 90012",
                 "tz": LA},
        "appearance": appearance(i),
        "recipient": {"id": "client-%d" % i, "name": "Ana", "phone": phone(i),
                      "lang": "es" if i % 2 else "en"},
        "offsets": OFFSETS}, separators=(",", ":"))


# ---- the machine, processes ----

def machine():
    return ("%(cpus)d CPUs (usable %(usable)d), %(model)s, %(mem_gib).1f GiB RAM "
            "(%(avail_gib).1f GiB available), Linux %(kernel)s" % machine_info())


def build_info():
    exe = os.path.join(BUILD, "pregond")
    try:
        st = os.stat(exe)
    except OSError:
        return "%s (missing)" % exe
    return "%s, built %s" % (exe, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime)))


def evalsha_stats(r):
    # EVALSHA's line alone: read before and after each timed tick (part 2a).
    s = r.info("commandstats").get("cmdstat_evalsha")
    return (int(s["calls"]), int(s["usec"])) if s else (0, 0)


def mb(b):
    return b / 1048576.0


class Pregond(benchlib.Pregond):
    """pregond on the outbox adapter and the test clock, in work/pregond."""

    def __init__(self, work):
        d = os.path.join(work, "pregond")
        self.outbox = os.path.join(d, "outbox")
        super().__init__(d, [
            ("log", {"level": "warn"}),
            ("http", {"listen": "127.0.0.1:0"}),
            ("outbox", {"dir": self.outbox}),
            ("schedule", {"quiet_hours": "none", "tick": TICK, "test_clock": "yes"}),
            ("court_reminder", {"confirm_on_enrol": "no"}),
            ("events", {"max_len": str(EVENTS_MAX_LEN)}),
        ])

    def start(self, r):
        super().start(r)
        # The test clock is polled every 20 ms on the same connection.
        time.sleep(0.2)


def outbox_lines(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
    return out


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


# ---- part 1: schedule ----

def perf_start(pid, work):
    data = os.path.join(work, "perf.data")
    cg = ["--call-graph", "dwarf"] if PERF_DWARF else ["-g"]
    p = subprocess.Popen(["perf", "record", "-F", "499"] + cg + ["-o", data, "-p", str(pid)],
                         stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(work, "perf.err"), "w"))
    time.sleep(0.5)
    return p, data


def perf_report(p, data):
    p.send_signal(signal.SIGINT)
    p.wait(60)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                          "--sort", "dso,symbol", "--percent-limit", "1"],
                         capture_output=True, text=True)
    lines = [ln for ln in rep.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    return lines[:25]


def part_schedule(r, d, work):
    total = 4 * N
    say("== part 1: %d court_reminder jobs x %d offsets = %d reminders, XADDed while pregond "
        "runs (outbox adapter, [schedule] tick %s, quiet_hours none, test clock at %s, "
        "confirm_on_enrol no, [events] max_len %d) ==" % (
            N, len(OFFSETS), total, TICK,
            datetime.datetime.utcfromtimestamp(CLOCK0 / 1000).strftime("%Y-%m-%dT%H:%MZ"),
            EVENTS_MAX_LEN))
    redis_pid = int(r.info("server")["process_id"])
    # Build the job texts first: the Python JSON is not what is measured.
    texts = [job(i) for i in range(N)]
    say("job size: %d bytes (job 0: %s)" % (len(texts[0]), texts[0]))
    r.config_resetstat()
    mem0 = used_memory(r)
    rss0 = d.rss_kb()
    perf = perf_start(d.p.pid, work) if PERF else None
    cpu0 = (d.cpu(), proc_cpu_s(redis_pid))
    zkey = PREFIX + "scheduled"
    progress = []
    stop = threading.Event()

    def sample():
        # ZCARD and pregond's RSS every 50 ms (own connection); the main
        # thread checks that pregond lives.
        rs = redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True)
        while not stop.is_set():
            progress.append((time.monotonic(), rs.zcard(zkey), d.rss_kb()))
            if progress[-1][1] >= total:
                return
            time.sleep(0.05)

    t0 = time.monotonic()
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    key = PREFIX + "jobs"
    for start in range(0, N, BATCH):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(N, start + BATCH)):
            pipe.xadd(key, {"job": texts[i]})
        pipe.execute()
    t_loaded = time.monotonic() - t0
    del texts
    last, moved = -1, time.monotonic()
    while th.is_alive():
        th.join(0.5)
        if d.p.poll() is not None:
            stop.set()
            d.check()
        have = progress[-1][1] if progress else 0
        if have != last:
            last, moved = have, time.monotonic()
        elif time.monotonic() - moved > TIMEOUT_S:
            stop.set()
            fail("stuck at %d of %d scheduled; dead letters %d; log:\n%s"
                 % (have, total, r.xlen(PREFIX + "dead"), log_tail(d.log)))
    t_done = progress[-1][0] - t0
    cpu1 = (d.cpu(), proc_cpu_s(redis_pid))
    top = perf_report(*perf) if perf else None
    d.check()
    calls, usec = evalsha_stats(r)
    # Commands inside scripts are counted under their own names too.
    cmds = sorted(((c, n, us) for c, (n, us) in cmdstats(r).items() if c != "evalsha"),
                  key=lambda x: -x[2])
    # The intake must be finished too (nothing pending, nothing unread).
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        g = [x for x in r.xinfo_groups(key) if x["name"] == "pregon"][0]
        if int(g.get("lag") or 0) == 0 and int(g["pending"]) == 0:
            break
        if time.monotonic() > deadline:
            fail("job stream not drained: %s" % g)
        time.sleep(0.05)
    mem1 = used_memory(r)
    dead = r.xlen(PREFIX + "dead")
    if dead:
        say("WARNING: %d dead-lettered jobs: %s" % (dead, r.xrange(PREFIX + "dead", count=1)))
    # Rate over time: reminders scheduled per second, second by second.
    per_s = []
    nxt = 1.0
    for t, z, _ in progress:
        if t - t0 >= nxt:
            per_s.append(z)
            nxt += 1.0
    rates = [b - a for a, b in zip([0] + per_s, per_s)]
    res = {
        "jobs_s": N / t_done, "rem_s": total / t_done, "secs": t_done, "load_s": t_loaded,
        "rss_mb": d.hwm / 1024.0, "rss0_mb": rss0 / 1024.0,
        "rss_max_mb": max(x[2] for x in progress) / 1024.0,
        "cpu_pregond": cpu1[0] - cpu0[0], "cpu_redis": cpu1[1] - cpu0[1],
        "eval_calls": calls, "eval_us": usec,
        "mem0": mem0, "mem1": mem1, "per_rem": (mem1 - mem0) / total, "dead": dead,
        "rates": rates, "perf": top, "cmds": cmds,
    }
    say("scheduled %d reminders of %d jobs in %.2fs (first XADD -> ZCARD %d): %.0f jobs/s, "
        "%.0f reminders/s; the XADDs took %.2fs of it" % (total, N, t_done, total, res["jobs_s"],
                                                          res["rem_s"], t_loaded))
    if rates:
        say("          reminders scheduled per second, second by second: min %d, median %d, max %d"
            % (min(rates[:-1] or rates), statistics.median(rates[:-1] or rates), max(rates)))
    say("          pregond: RSS %.1f MB before, peak (VmHWM) %.1f MB; CPU %.1fs (%.0f%% of a core, "
        "%.1f us/job); redis-server CPU %.1fs (%.0f%%, %.1f us/job); EVALSHA %d calls, %.1f us "
        "of Redis time per job, %.0f jobs per call"
        % (res["rss0_mb"], res["rss_mb"], res["cpu_pregond"], 100 * res["cpu_pregond"] / t_done,
           res["cpu_pregond"] * 1e6 / N, res["cpu_redis"], 100 * res["cpu_redis"] / t_done,
           res["cpu_redis"] * 1e6 / N, calls, usec / N, N / max(1, calls)))
    say("          Redis time per job by command (commandstats; inside the scripts and outside): "
        + ", ".join("%s %.1f us (%.1f calls)" % (c, us / N, n / N) for c, n, us in cmds[:9]))
    if top:
        say("          perf (pregond, this phase; --sort dso,symbol, self time):")
        for ln in top:
            say("            " + ln.strip())
    res.update(memory_split(r, mem0, mem1, total))
    res["jobs_xlen"], res["jobs_xlen_t"] = r.xlen(key), time.monotonic()
    return res


def key_usage(r, key):
    try:
        return int(r.memory_usage(key, samples=0) or 0)
    except redis.ResponseError:
        return 0


def memory_split(r, mem0, mem1, total):
    """Splits the used_memory delta by key type: the big keys whole, the
    per-job and per-message keys by a sample's mean times their count."""
    delta = mem1 - mem0
    say("redis     used_memory %.1f MB -> %.1f MB: +%.1f MB = %.0f bytes per scheduled reminder "
        "(everything: messages, schedule, jobs, cases, indexes, events, the job stream)"
        % (mb(mem0), mb(mem1), mb(delta), delta / total))
    rows = []
    for name, key in (("events stream", "events"), ("scheduled ZSET", "scheduled"),
                      ("job stream", "jobs")):
        rows.append((name, 1, key_usage(r, PREFIX + key), r.xlen(PREFIX + key)
                     if key != "scheduled" else r.zcard(PREFIX + key)))
    pipe = r.pipeline(transaction=False)
    for k in range(0, total, max(1, total // 2000)):
        pipe.zrange(PREFIX + "scheduled", k, k)
    mids = [x[0] for x in pipe.execute() if x][:2000]
    ids = list(range(0, N, max(1, N // 2000)))[:2000]
    samples = [
        ("message hashes (msg:)", total, [PREFIX + "msg:" + m for m in mids]),
        ("job hashes (job:)", N, [PREFIX + "job:b-%d" % i for i in ids]),
        ("case hashes (case:)", N, [PREFIX + "case:LA-%d" % i for i in ids]),
        ("contact->messages (cmz:)", N, [PREFIX + "cmz:client-%d" % i for i in ids]),
        ("dedupe keys (seen:)", N, [PREFIX + "seen:b-%d" % i for i in ids]),
    ]
    for name, count, keys in samples:
        pipe = r.pipeline(transaction=False)
        for k in keys:
            pipe.memory_usage(k, samples=0)
        vals = [v for v in pipe.execute() if v]
        rows.append((name, count, int(statistics.mean(vals) * count) if vals else 0,
                     statistics.mean(vals) if vals else 0))
    known = sum(x[2] for x in rows)
    dbsize = r.dbsize()
    ev = rows[0][2]
    say("          by key (MEMORY USAGE; per-key rows: the mean of %d sampled keys x count):"
        % len(mids))
    for name, count, b, extra in rows:
        if count == 1:
            say("            %-30s %8.1f MB  %6.0f B/reminder  (%d entries)"
                % (name, mb(b), b / total, extra))
        else:
            say("            %-30s %8.1f MB  %6.0f B/reminder  (%d keys x %.0f B)"
                % (name, mb(b), b / total, count, extra))
    say("            %-30s %8.1f MB  %6.0f B/reminder  (dict and expires tables for %d keys, "
        "allocator slack)" % ("rest", mb(delta - known), (delta - known) / total, dbsize))
    sample_msg = r.hgetall(PREFIX + "msg:" + mids[0]) if mids else {}
    enc = {}
    for what, k in (("msg", PREFIX + "msg:" + mids[0]), ("job", PREFIX + "job:b-0"),
                    ("case", PREFIX + "case:LA-0"), ("cmz", PREFIX + "cmz:client-0")):
        enc[what] = r.object("encoding", k)
    say("          one message hash: %d fields, %d bytes of names and values, longest value "
        "%d bytes (d = %s); encodings: %s (hash-max-listpack-value %s, -entries %s)"
        % (len(sample_msg), sum(len(k) + len(v) for k, v in sample_msg.items()),
           max((len(v) for v in sample_msg.values()), default=0), sample_msg.get("d", "")[:160],
           ", ".join("%s %s" % kv for kv in enc.items()),
           r.config_get("hash-max-listpack-value").get("hash-max-listpack-value"),
           r.config_get("hash-max-listpack-entries").get("hash-max-listpack-entries")))
    jh = r.hgetall(PREFIX + "job:b-0")
    say("          one job hash: %d fields, longest value %d bytes (%s)"
        % (len(jh), max((len(v) for v in jh.values()), default=0),
           max(jh.items(), key=lambda kv: len(kv[1]))[0] if jh else "-"))
    ev_n = r.xlen(PREFIX + "events")
    js = rows[2][2]
    say("          events: %d entries (%.1f per reminder), %.0f bytes each; without the events "
        "stream: %.0f bytes per reminder; without it and the job stream's acknowledged "
        "entries (transient): %.0f" % (ev_n, ev_n / total, ev / max(1, ev_n),
                                      (delta - ev) / total, (delta - ev - js) / total))
    return {"events_mb": mb(ev), "events_n": ev_n, "per_rem_noev": (delta - ev) / total,
            "per_rem_core": (delta - ev - js) / total,
            "split": rows, "rest": delta - known, "dbsize": dbsize}


# ---- part 2b: claim end to end ----

def part_claim(r, d):
    zkey = PREFIX + "scheduled"
    # The CLAIM_N-th due time, and the largest boundary at or under it.
    around = r.zrange(zkey, CLAIM_N - 1, CLAIM_N, withscores=True)
    if len(around) < 2:
        fail("fewer than %d reminders scheduled" % (CLAIM_N + 1))
    t = int(around[0][1])
    if int(around[1][1]) == t:
        below = r.zcount(zkey, "-inf", "(%d" % t)
        t = int(r.zrangebyscore(zkey, "-inf", "(%d" % t, start=below - 1, num=1,
                                withscores=True)[0][1])
    # Those whose appearance is past at T expire when claimed (nothing is
    # sent after the appearance): only with a sparse spread (small N).
    due_ids = r.zrangebyscore(zkey, "-inf", t)
    pipe = r.pipeline(transaction=False)
    for mid in due_ids:
        pipe.hget(PREFIX + "msg:" + mid, "expires")
    exp = pipe.execute()
    count = sum(1 for e in exp if int(e or 0) > t)
    expiring = len(due_ids) - count
    nxt = r.zrangebyscore(zkey, "(%d" % t, "+inf", start=0, num=1, withscores=True)
    gap_s = (int(nxt[0][1]) - t) / 1000.0 if nxt else float("inf")
    say("")
    say("== part 2b: the test clock jumps to %s: %d reminders due at once (the next one is %.0fs "
        "later), pregond running with %d scheduled ==" % (
            datetime.datetime.utcfromtimestamp(t / 1000).strftime("%Y-%m-%dT%H:%M:%SZ"),
            len(due_ids), gap_s, r.zcard(zkey)))
    if expiring:
        say("          %d of them are past their appearance at T and expire unsent (a sparse "
            "spread: N is small); waiting for the other %d" % (expiring, count))
    path = os.path.join(d.outbox, "sms.jsonl")
    before = count_lines(path)
    if before:
        say("WARNING: %d outbox lines before the jump" % before)
    t_set = time.time()
    r.set(PREFIX + "test:clock", t - int(t_set * 1000))
    t_mono = time.monotonic()
    first_wall = None
    while True:
        n = count_lines(path) - before
        if n and first_wall is None:
            first_wall = time.monotonic() - t_mono
        if n >= count:
            break
        d.check()
        if time.monotonic() - t_mono > TIMEOUT_S:
            fail("only %d of %d due reminders in the outbox after %.0fs" % (n, count, TIMEOUT_S))
        time.sleep(0.002)
    last_wall = time.monotonic() - t_mono
    time.sleep(1.0)
    lines = outbox_lines(path)[before:]
    ats = sorted(parse_at(x["at"]) - t for x in lines)
    ids = set(x["message"] for x in lines)
    res = {"count": count, "extra": len(lines) - count, "dups": len(lines) - len(ids),
           "first_ms": ats[0], "last_ms": ats[count - 1], "first_wall_ms": first_wall * 1000,
           "last_wall_ms": last_wall * 1000, "left": r.zcard(zkey),
           "rate": count / (ats[count - 1] / 1000.0),
           "within_1s": sum(1 for a in ats if a <= 1000)}
    say("pregond   first in the outbox %d ms after the jump, last (%d) %d ms: %.0f msgs/s; "
        "%d of %d within 1 s of due (outbox `at` on pregond's clock; this script saw the file "
        "at %.0f / %.0f ms)" % (res["first_ms"], count, res["last_ms"], res["rate"],
                                res["within_1s"], count, res["first_wall_ms"],
                                res["last_wall_ms"]))
    if res["extra"] or res["dups"]:
        say("          WARNING: %d lines beyond the %d due, %d messages twice"
            % (res["extra"], count, res["dups"]))
    return res


# ---- part 2a: the tick op alone ----

def part_tick(r):
    say("")
    say("== part 2a: Lua op tick alone (pregond stopped), EVALSHA batch %d, %d calls per row, "
        "the rows' calls interleaved ==" % (TICK_BATCH, REPS))
    with open(os.path.join(ROOT, "src", "lua", "pregon.lua")) as f:
        sha = r.script_load(f.read())
    zbig = PREFIX + "scheduled"
    # The small set: copies of the 1,000 first message hashes (same ids).
    src = r.zrange(zbig, 0, 999, withscores=True)
    pipe = r.pipeline(transaction=False)
    for mid, _ in src:
        pipe.hgetall(PREFIX + "msg:" + mid)
    hashes = pipe.execute()
    pipe = r.pipeline(transaction=False)
    for (mid, score), h in zip(src, hashes):
        pipe.hset(SMALL + "msg:" + mid, mapping=h)
        pipe.zadd(SMALL + "scheduled", {mid: score})
    pipe.execute()

    def call(prefix, now):
        c0, u0 = evalsha_stats(r)
        t0 = time.perf_counter()
        got = r.evalsha(sha, 0, "tick", prefix, str(EVENTS_MAX_LEN), "2592000", "2592000",
                        str(now), str(TICK_BATCH))
        rtt = (time.perf_counter() - t0) * 1e6
        return int(got[0]), evalsha_stats(r)[1] - u0, rtt

    # Three rows, their calls interleaved:
    # - "big, cold": the next 500 due of the big set, untouched since
    #   pregond scheduled them (not in the CPU caches), as a real tick;
    # - "big, warm": a batch moved once (untimed), put back, then moved
    #   again (timed): the same work with its keys just touched, which is
    #   what the 1,000 set always is; the difference is the O(log n) part;
    # - "1,000": copies of the first 1,000 messages; each call moves 500
    #   and they are put back (untimed).
    res = {label: {"srv": [], "rtt": [], "size": 0}
           for label in ("big, cold", "big, warm", "1,000")}

    def timed(label, prefix, back):
        zkey = prefix + "scheduled"
        res[label]["size"] = max(res[label]["size"], r.zcard(zkey))
        due = r.zrangebyscore(zkey, "-inf", CLOCK_LATE, start=0, num=TICK_BATCH, withscores=True)
        moved, srv, rtt = call(prefix, CLOCK_LATE)
        if moved != len(due):
            fail("tick moved %d, %d were due" % (moved, len(due)))
        res[label]["srv"].append(srv)
        res[label]["rtt"].append(rtt)
        if back:
            r.zadd(zkey, dict(due))
        r.xtrim(prefix + "ready:sms:normal", maxlen=0)

    # Each rep takes 2 x TICK_BATCH off the big set for good.
    reps = min(REPS, max(1, (r.zcard(zbig) - TICK_BATCH) // (2 * TICK_BATCH)))
    if reps < REPS:
        say("          (%d calls per row: the big set is too small for %d)" % (reps, REPS))
    for _ in range(reps):
        timed("big, cold", PREFIX, False)
        due = r.zrangebyscore(zbig, "-inf", CLOCK_LATE, start=0, num=TICK_BATCH, withscores=True)
        call(PREFIX, CLOCK_LATE)
        r.zadd(zbig, dict(due))
        timed("big, warm", PREFIX, False)
        timed("1,000", SMALL, True)
    idle = {PREFIX: ([], []), SMALL: ([], [])}
    for _ in range(reps):
        for prefix in (PREFIX, SMALL):
            moved, srv, rtt = call(prefix, CLOCK0)
            if moved:
                fail("idle tick moved %d" % moved)
            idle[prefix][0].append(srv)
            idle[prefix][1].append(rtt)
    out = {}
    for label in ("big, cold", "big, warm", "1,000"):
        v = res[label]
        prefix = SMALL if label == "1,000" else PREFIX
        o = {"size": v["size"], "srv": statistics.median(v["srv"]),
             "rtt": statistics.median(v["rtt"]), "srv_min": min(v["srv"]),
             "srv_max": max(v["srv"]), "per_msg": statistics.median(v["srv"]) / TICK_BATCH,
             "idle_srv": statistics.median(idle[prefix][0]),
             "idle_rtt": statistics.median(idle[prefix][1])}
        out[label] = o
        say("tick      ZSET of %7d (%-9s): %d moved per call: Redis %5.0f us per call "
            "(min %.0f, max %.0f) = %.2f us per message; round trip %.0f us"
            % (o["size"], label, TICK_BATCH, o["srv"], o["srv_min"], o["srv_max"],
               o["per_msg"], o["rtt"]))
    cold, warm, small = out["big, cold"], out["big, warm"], out["1,000"]
    say("          idle tick (nothing due: the O(log n) lookups only): Redis %.0f us on %d, "
        "%.0f us on 1,000 (round trip %.0f / %.0f us)" % (cold["idle_srv"], cold["size"],
                                                  small["idle_srv"], cold["idle_rtt"],
                                                  small["idle_rtt"]))
    say("          per message, big / 1,000: %.2f warm (the O(log n) part), %.2f cold (a real tick)"
        % (warm["per_msg"] / small["per_msg"], cold["per_msg"] / small["per_msg"]))
    return {"1M": cold, "1M_warm": warm, "1k": small}


# ---- part 3: the peer ----

def run_node(dst, env, work, name):
    p, rss, out, err = run_to_exit(["node", "schedule_peer.js"], work, name, cwd=dst, env=env)
    out, err = out.strip(), err.strip()
    if p.returncode != 0:
        say("PEER FAILED: %s exited with %s: %s" % (name, p.returncode, (err or out)[-500:]))
        return None, rss
    if err:
        say("peer %s stderr: %s" % (name, err[-300:]))
    say("peer " + out)
    return out, rss


def part_peer(r, work, k):
    """k: jobs due at once, as many as pregon had in part 2b."""
    say("")
    n = 4 * N
    say("== part 3: BullMQ peer, %d delayed jobs (addBulk, chunks of 1,000), then %d due at once "
        "with a worker (concurrency %d) ==" % (n, k, PEER_CONCURRENCY))
    # The peer's own files, and its MODE=add / MODE=due driver beside them.
    dst, why = peer_dir(extra=[os.path.join(ROOT, "bench", "schedule_peer.js")])
    if dst is None:
        say("PEER NOT RUN: " + why)
        return None
    r.flushall()
    time.sleep(0.5)
    mem0 = used_memory(r)
    redis_pid = int(r.info("server")["process_id"])
    cpu0 = proc_cpu_s(redis_pid)
    env = dict(os.environ, MODE="add", N=str(n), REDIS_PORT=str(PORT), QUEUE="sched")
    out, rss = run_node(dst, env, work, "add")
    if out is None:
        return None
    cpu_redis = proc_cpu_s(redis_pid) - cpu0
    mem1 = used_memory(r)
    m = re.search(r"seconds=([\d.]+) jobs_per_s=(\d+)", out)
    if not m:
        fail("peer add printed no jobs_per_s: %r" % out)
    secs, rate = float(m.group(1)), float(m.group(2))
    ids = r.zrange("bull:sched:delayed", 0, 1999)
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.memory_usage("bull:sched:" + i, samples=0)
    hs = [v for v in pipe.execute() if v]
    res = {"n": n, "secs": secs, "rate": rate, "rss_mb": rss, "cpu_redis": cpu_redis,
           "per_job": (mem1 - mem0) / n, "mem0": mem0, "mem1": mem1,
           "hash_b": statistics.mean(hs) if hs else 0,
           "zset_b": key_usage(r, "bull:sched:delayed") / max(1, r.zcard("bull:sched:delayed")),
           "events_n": r.xlen("bull:sched:events"), "events_b": key_usage(r, "bull:sched:events"),
           "delayed": r.zcard("bull:sched:delayed")}
    sample = r.hgetall("bull:sched:" + ids[0]) if ids else {}
    say("bullmq    %d delayed jobs added in %.2fs = %.0f jobs/s; producer peak RSS %.1f MB; "
        "redis-server CPU %.1fs (%.1f us/job)" % (n, secs, rate, rss, cpu_redis,
                                                  cpu_redis * 1e6 / n))
    say("redis     used_memory %.1f MB -> %.1f MB: +%.1f MB = %.0f bytes per delayed job "
        "(job hash %.0f B, delayed ZSET %.0f B per entry, events stream %d entries %.1f MB)"
        % (mb(mem0), mb(mem1), mb(mem1 - mem0), res["per_job"], res["hash_b"], res["zset_b"],
           res["events_n"], mb(res["events_b"])))
    say("          one job hash: %d fields: %s" % (len(sample), ", ".join(
        "%s=%d B" % (k, len(v)) for k, v in sample.items())))
    env = dict(os.environ, MODE="due", N=str(n), K=str(k), REDIS_PORT=str(PORT),
               QUEUE="sched", CONCURRENCY=str(PEER_CONCURRENCY),
               OUTBOX_FILE=os.path.join(work, "peer-outbox.jsonl"))
    out, wrss = run_node(dst, env, work, "due")
    if out is None:
        return None
    m = re.search(r"due_to_first_ms=(-?\d+) due_to_last_ms=(-?\d+) first_to_last_s=([\d.]+) "
                  r"jobs_per_s=(\d+)", out)
    if not m:
        fail("peer due printed no figures: %r" % out)
    res.update(due_first_ms=int(m.group(1)), due_last_ms=int(m.group(2)),
               due_rate=float(m.group(4)), worker_rss_mb=wrss,
               outbox=count_lines(os.path.join(work, "peer-outbox.jsonl")))
    say("bullmq    %d due at once: first completed %d ms after due, last %d ms: %.0f jobs/s; "
        "worker peak RSS %.1f MB; %d outbox lines" % (k, res["due_first_ms"],
                                                      res["due_last_ms"], res["due_rate"], wrss,
                                                      res["outbox"]))
    return res


# ---- main ----

def main():
    if PORT <= 0:
        fail("REDIS_PORT is not set; run: bash bench/run.sh schedule")
    r = redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True)
    if r.dbsize() != 0:
        fail("redis on port %d is not empty: this bench FLUSHALLs it; run it through "
             "bench/run.sh schedule, which starts its own" % PORT)
    for kv in os.environ.get("REDIS_CONFIG", "").split(";"):
        if kv.strip():
            k, v = kv.split("=", 1)
            r.config_set(k.strip(), v.strip())
            say("CONFIG SET %s %s (REDIS_CONFIG)" % (k.strip(), v.strip()))
    info = r.info("server")
    persist = r.config_get("appendonly").get("appendonly", "?")
    say("machine: %s" % machine())
    say("pregond: %s" % build_info())
    say("redis %s (%s) on 127.0.0.1:%d, appendonly=%s, save=%r; python %s"
        % (info.get("redis_version", "?"), r.info("memory").get("mem_allocator", "?"), PORT,
           persist, r.config_get("save").get("save", "?"), sys.version.split()[0]))
    say("")
    work = tempfile.mkdtemp(prefix="pregon-bench-schedule-")
    fields = {"n_jobs": N, "reminders": 4 * N}
    d = None
    try:
        r.set(PREFIX + "test:clock", CLOCK0 - int(time.time() * 1000))
        d = Pregond(work)
        d.start(r)
        s = part_schedule(r, d, work)
        c = part_claim(r, d)
        jl = r.xlen(PREFIX + "jobs")
        say("          job stream: %d entries at the end of part 1, %d now, %.0fs later "
            "(pregond's trim, every 10 s)"
            % (s["jobs_xlen"], jl, time.monotonic() - s["jobs_xlen_t"]))
        d.stop()
        say("          pregond peak RSS over parts 1 and 2b: %.1f MB" % (d.hwm / 1024.0))
        t = part_tick(r)
        peer = None if SKIP_PEER else part_peer(r, work, c["count"])
    finally:
        if d is not None:
            stop_proc(d.p)
        if KEEP:
            say("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    say("")
    say("== summary: N=%d jobs, %d reminders; redis %s, no AOF; %s ==" % (
        N, 4 * N, info.get("redis_version", "?"), machine()))
    say("schedule  pregon %.0f reminders/s (%.0f jobs/s, %.1fs), %.0f B/reminder (%.0f without "
        "events, %.0f without events and the job stream), pregond peak RSS %.1f MB"
        % (s["rem_s"], s["jobs_s"], s["secs"], s["per_rem"], s["per_rem_noev"],
           s["per_rem_core"], s["rss_mb"]))
    fields.update(sched_s="%.2f" % s["secs"], reminders_per_s="%.0f" % s["rem_s"],
                  bytes_per_reminder="%.0f" % s["per_rem"],
                  bytes_per_reminder_no_events="%.0f" % s["per_rem_noev"],
                  bytes_per_reminder_core="%.0f" % s["per_rem_core"],
                  rss_mb="%.1f" % s["rss_mb"], claim_n=c["count"],
                  claim_first_ms=c["first_ms"], claim_last_ms=c["last_ms"],
                  claim_msgs_per_s="%.0f" % c["rate"],
                  tick_us_per_msg_big="%.2f" % t["1M"]["per_msg"],
                  tick_us_per_msg_1k="%.2f" % t["1k"]["per_msg"])
    if peer:
        say("          bullmq %.0f delayed jobs/s, %.0f B/job; ratio pregon/bullmq: rate %.2f, "
            "memory %.2f (%.2f without events)" % (
                peer["rate"], peer["per_job"], s["rem_s"] / peer["rate"],
                s["per_rem"] / peer["per_job"], s["per_rem_noev"] / peer["per_job"]))
    say("claim     pregon %d due at once: first %d ms, last %d ms after due (%.0f msgs/s); tick "
        "op %.2f us/message on a ZSET of %d, %.2f on 1,000"
        % (c["count"], c["first_ms"], c["last_ms"], c["rate"], t["1M"]["per_msg"],
           t["1M"]["size"], t["1k"]["per_msg"]))
    if peer:
        say("          bullmq %d due at once: first %d ms, last %d ms after due (%.0f jobs/s); "
            "ratio of last-line times pregon/bullmq %.2f" % (
                c["count"], peer["due_first_ms"], peer["due_last_ms"], peer["due_rate"],
                c["last_ms"] / max(1, peer["due_last_ms"])))
        fields.update(peer_jobs_per_s="%.0f" % peer["rate"],
                      peer_bytes_per_job="%.0f" % peer["per_job"],
                      peer_due_last_ms=peer["due_last_ms"],
                      ratio_rate="%.2f" % (s["rem_s"] / peer["rate"]),
                      ratio_mem="%.2f" % (s["per_rem"] / peer["per_job"]))
    say("")
    say("result " + " ".join("%s=%s" % kv for kv in fields.items()))
    if c["extra"] or c["dups"] or s["dead"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
