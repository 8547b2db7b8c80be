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
  PROFILE=1        print Redis commands per message (INFO commandstats)
  BEFORE=DIR       also run DIR/pregond (another build, e.g. of an older commit)
                   first on the same Redis and jobs, and print its figures
  PREGON_BIN  directory of pregond (default build)
  BENCH_PEERS the bench-peers directory (default ../shared/bench-peers)
  CONCURRENCY the peer worker's (default 50, its best per its README)
  TIMEOUT_S   give up when nothing moves for this long (default 120)
  SKIP_FLOOR=1  without floor.py's measure of the least Redis work per
              message the contract allows (run after the peer, same Redis)

Each side's Redis CPU per message (INFO used_cpu, before and after) is
printed too: Redis is the shared resource, and the floor says how far
any design could take it.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import time

import redis

# Run as a script: benchlib sits beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BUILD, PORT, PREFIX, Pregond, cmdstats, fail, log_tail, parse_at,  # noqa: E402
                      peer_dir, percentile, run_producer, run_to_exit, say, stop_proc)
from floor import redis_cpu, report as report_floor, run_floor  # noqa: E402

N = int(os.environ.get("N", "100000"))
LIVE = os.environ.get("LIVE") == "1"
PROFILE = os.environ.get("PROFILE") == "1"
# BEFORE=DIR: also run DIR/pregond (an earlier build) first, in this run.
BEFORE = os.environ.get("BEFORE", "")
# RATE=jobs/s (with LIVE=1): load at that pace instead of as fast as
# possible, so enqueue->outbox latency is measured without a backlog.
RATE = float(os.environ.get("RATE", "0"))
SKIP_PEER = os.environ.get("SKIP_PEER") == "1"
SKIP_PREGON = os.environ.get("SKIP_PREGON") == "1"
SKIP_FLOOR = os.environ.get("SKIP_FLOOR") == "1"
CONCURRENCY = int(os.environ.get("CONCURRENCY", "50"))
TIMEOUT_S = float(os.environ.get("TIMEOUT_S", "120"))
BATCH = 1000


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


def run_pregond(r, work, bin_dir=None):
    bin_dir = bin_dir or BUILD
    pregond = os.path.join(bin_dir, "pregond")
    if not os.access(pregond, os.X_OK):
        fail("%s is missing: run make first (or SKIP_PREGON=1)" % pregond)
    outbox = os.path.join(work, "outbox")
    d = Pregond(work, [
        ("outbox", {"dir": outbox}),
        # Runs at any hour: quiet hours would hold the messages.
        ("schedule", {"quiet_hours": "none"}),
        ("log", {"level": "warn"}),
    ], bin_dir=bin_dir)
    counter = LineCounter(outbox)

    enq = {}
    if not LIVE:
        t0 = time.monotonic()
        enq = load_jobs(r, N)
        say("loaded %d jobs in %.2fs (pipelined, batches of %d)" % (N, time.monotonic() - t0, BATCH))
    # With a backlog nothing waits for pregond to be ready: the jobs are
    # all in before it starts.
    rcpu0 = redis_cpu(r)
    cs0 = cmdstats(r)
    d.spawn()
    try:
        if LIVE:
            # Wait for the consumer group, so the first jobs are not
            # measured against pregond's start-up.
            d.wait_ready(r)
            enq = load_jobs(r, N)
        last_change, last_seen = time.monotonic(), -1
        while counter.poll() < N:
            if d.p.poll() is not None:
                fail("pregond exited with %s after %d of %d lines; log:\n%s"
                     % (d.p.returncode, counter.lines, N, log_tail(d.log)))
            if counter.lines != last_seen:
                last_seen, last_change = counter.lines, time.monotonic()
            elif time.monotonic() - last_change > TIMEOUT_S:
                fail("no progress for %.0fs at %d of %d lines; log:\n%s"
                     % (TIMEOUT_S, counter.lines, N, log_tail(d.log)))
            d.sample()
            time.sleep(0.05)
        d.sample()
        cpu = d.cpu()
        rcpu = redis_cpu(r) - rcpu0
        cs1 = cmdstats(r)
    finally:
        # stop_proc, not d.stop(): no RSS sample after the ones above, and
        # this bench's own warning below.
        stop_proc(d.p)
    if d.p.returncode != 0:
        say("warning: pregond exited with %s on SIGTERM" % d.p.returncode)
    if PROFILE:
        # Where Redis' time goes, per message: calls and microseconds by
        # command (a function's own calls count under their names, and
        # again inside FCALL's time).
        say("profile (per message): command calls usec")
        rows = []
        for cmd, (calls, usec) in cs1.items():
            c0, u0 = cs0.get(cmd, (0, 0))
            if calls > c0:
                rows.append((usec - u0, cmd, calls - c0))
        for usec, cmd, calls in sorted(rows, reverse=True):
            say("  %-22s %6.2f %7.2f" % (cmd, calls / N, usec / N))

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
        "rss_mb": d.hwm / 1024.0,
        "cpu_s": cpu,
        "redis_us": 1e6 * rcpu / N,
        "dups": dups,
        "missing": missing,
        "exit": d.p.returncode,
    }


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
    dst, why = peer_dir()
    if dst is None:
        fail(why)
    env = dict(os.environ, N=str(N), REDIS_PORT=str(PORT), CONCURRENCY=str(CONCURRENCY),
               OUTBOX_FILE=os.path.join(work, "peer-outbox.jsonl"))
    run_producer(dst, env)
    r = redis.Redis(host="127.0.0.1", port=PORT)
    rcpu0 = redis_cpu(r)
    w, rss, out, err = run_to_exit(["node", "worker.js"], work, "peer-worker", cwd=dst, env=env)
    rcpu = redis_cpu(r) - rcpu0
    if w.returncode != 0:
        fail("peer worker exited with %s: %s" % (w.returncode, (err or out).strip()[-500:]))
    say("peer " + out.strip())
    m = re.search(r"jobs_per_s=(\d+)", out)
    if not m:
        fail("peer worker printed no jobs_per_s: %r" % out)
    return {"rate": float(m.group(1)), "rss_mb": rss, "redis_us": 1e6 * rcpu / N}


def main():
    if PORT <= 0:
        fail("REDIS_PORT is not set; run bench/run.sh")
    r = redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True)
    info = r.info("server")
    persist = r.config_get("appendonly").get("appendonly", "?")
    work = tempfile.mkdtemp(prefix="pregon-bench-")
    try:
        before = None
        if BEFORE:
            # An earlier build on the same Redis, same jobs, first: its
            # figures beside this one's in one run (BENCHMARKS.md).
            before = run_pregond(r, os.path.join(work, "before"), bin_dir=BEFORE)
            drop_our_keys(r)
        ours = None if SKIP_PREGON else run_pregond(r, work)
        if ours and not SKIP_PEER:
            drop_our_keys(r)
        peer = None if SKIP_PEER else run_peer(work)
        floor = None if SKIP_FLOOR else run_floor(r, N, job)
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
        say("         %.1f us of Redis CPU per message" % ours["redis_us"])
        if ours["dups"] or ours["missing"]:
            say("         WARNING: %d sent twice, %d missing" % (ours["dups"], ours["missing"]))
    if before:
        say("before   %8.0f msgs/s  peak RSS %.1f MB  %.1f us of Redis CPU per message  (%s)"
            % (before["rate"], before["rss_mb"], before["redis_us"], BEFORE))
    if peer:
        say("bullmq   %8.0f jobs/s  concurrency %d, OUTBOX_FILE  worker peak RSS %.1f MB"
            % (peer["rate"], CONCURRENCY, peer["rss_mb"]))
        say("         %.1f us of Redis CPU per job" % peer["redis_us"])
    ratio = ours["rate"] / peer["rate"] if ours and peer and peer["rate"] > 0 else None
    if ratio is not None:
        say("ratio    pregond / bullmq = %.2f" % ratio)
    if floor:
        report_floor(floor, peer["rate"] if peer else None)
        if peer:
            say("         5x bullmq = %.0f msgs/s: at most %.1f us of Redis CPU per message"
                % (5 * peer["rate"], 1e6 / (5 * peer["rate"])))
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
    if ours:
        fields["redis_us"] = "%.1f" % ours["redis_us"]
    if peer:
        fields["peer_redis_us"] = "%.1f" % peer["redis_us"]
    if floor:
        for name, f in floor.items():
            fields["floor_%s_us" % name] = "%.1f" % f["us"]
            fields["floor_%s_ceiling" % name] = "%.0f" % f["ceiling"]
    say("result " + " ".join("%s=%s" % kv for kv in fields.items()))
    if ours and (ours["missing"] or ours["exit"] != 0):
        sys.exit(1)


if __name__ == "__main__":
    main()
