#!/usr/bin/python3
"""bench_signal.py: Signal sends per second through the signal-cli provider
(issue 15), to tests/fakes/signal_cli_fake.py, on the redis-server that
bench/run.sh starts for it (`bash bench/run.sh signal`).

N `message` jobs, one Signal recipient each, are XADDed once pregond is
ready, with `[signal] provider = signal-cli` pointed at the fake,
`[signal] rate = 0` and `concurrency = CONCURRENCY`. The fake answers each
JSON-RPC `send` with SUCCESS and, unless RECEIPTS=0, puts a delivery and a
read receipt on its event stream, which pregond takes back in. From the
`events` stream: the time from the first `sent` to the last (sends per
second), from the first XADD to the last `sent`, and to the last `read`
(receipts in); p50/p99 of (sent - XADD). CPU seconds over the run of
pregond, redis-server (INFO cpu) and the fake (its /_fake/stats, the
process's own times): the fake is a Python ThreadingHTTPServer, a thread
per connection, and its cost per request is printed beside pregond's per
message, since it, not pregond, is what limits the rate here. Peak RSS of
pregond (VmHWM).

Env:
  REDIS_PORT    the redis-server on 127.0.0.1 (required; bench/run.sh)
  N             messages (default 5000)
  CONCURRENCY   pregond's [signal] concurrency (default 32)
  RECEIPTS      1 (default): the fake sends receipts; 0: none
  PREGON_BIN    directory of pregond (default build)
  TIMEOUT_S     give up when nothing moves for this long (default 60)
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import PREFIX, ROOT, fail, say  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
import signal_cli_fake  # noqa: E402

import redis  # noqa: E402

N = int(os.environ.get("N", "5000"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "32"))
RECEIPTS = os.environ.get("RECEIPTS", "1") != "0"
TIMEOUT_S = float(os.environ.get("TIMEOUT_S", "60"))
ACCOUNT = "+15005550006"


def redis_cpu(r):
    c = r.info("cpu")
    return float(c["used_cpu_user"]) + float(c["used_cpu_sys"])


def events(r):
    """(sent, read) times in ms per message id, from the events stream."""
    sent, read, last = {}, {}, "-"
    while True:
        batch = r.xrange(PREFIX + "events", min=last, count=10000)
        if last != "-":
            batch = batch[1:]
        if not batch:
            return sent, read
        for eid, f in batch:
            e = json.loads(f["event"])
            at = int(eid.split("-")[0])
            if e["status"] == "sent":
                sent[e["message"]] = at
            elif e["status"] == "read":
                read[e["message"]] = at
        last = batch[-1][0]


def main():
    if benchlib.PORT == 0:
        fail("REDIS_PORT is not set: run it through bash bench/run.sh signal")
    r = redis.Redis(port=benchlib.PORT, decode_responses=True)
    work = tempfile.mkdtemp(prefix="pregon-bench-signal-")
    m = benchlib.machine_info()
    say("machine: %d cpus (%d usable), %s, %.1f GiB (%.1f available), Linux %s"
        % (m["cpus"], m["usable"], m["model"], m["mem_gib"], m["avail_gib"], m["kernel"]))
    fake, port = signal_cli_fake.start(["--account", ACCOUNT, "--receipt-delay", "0",
                                        "--keepalive", "15"])
    if not RECEIPTS:
        signal_cli_fake.control(port, "POST", "rules", {"receipts": []})
    d = benchlib.Pregond(os.path.join(work, "pregond"), [
        ("signal", {"provider": "signal-cli", "url": "http://127.0.0.1:%d" % port,
                    "concurrency": CONCURRENCY, "rate": 0, "timeout": "10s"}),
        ("log", {"level": "warn"}),
    ])
    try:
        d.start(r)
        time.sleep(0.5)		# the event stream connects
        f0 = signal_cli_fake.control(port, "GET", "stats")
        c0, rc0 = d.cpu(), redis_cpu(r)
        t0 = time.time()
        pipe = r.pipeline(transaction=False)
        xadd_ms = {}
        for i in range(N):
            job = {"id": "sg-%d" % i, "kind": "message",
                   "recipient": {"id": "c-%d" % i, "signal": benchlib.phone(i)},
                   "body": "Your court date is Dec 1 at 8:30, Dept 12."}
            pipe.xadd(PREFIX + "jobs", {"job": json.dumps(job)})
            if len(pipe) >= 1000:
                for eid in pipe.execute():
                    xadd_ms[len(xadd_ms)] = int(eid.split("-")[0])
        for eid in pipe.execute():
            xadd_ms[len(xadd_ms)] = int(eid.split("-")[0])
        seen, moved = 0, time.time()
        while True:
            d.check()
            sent, read = events(r)
            done = len(read) if RECEIPTS else len(sent)
            if done >= N:
                break
            if done + len(sent) != seen:
                seen, moved = done + len(sent), time.time()
            elif time.time() - moved > TIMEOUT_S:
                fail("stuck at %d sent, %d read of %d; log:\n%s"
                     % (len(sent), len(read), N, benchlib.log_tail(d.log)))
            time.sleep(0.2)
        c1, rc1 = d.cpu(), redis_cpu(r)
        f1 = signal_cli_fake.control(port, "GET", "stats")
        wall = time.time() - t0
    finally:
        rc = d.halt()
        benchlib.stop_proc(fake)
    d.warn_exit(rc)
    sent, read = events(r)
    first_x = min(xadd_ms.values())
    ts = sorted(sent.values())
    lat = sorted(sent[mid] - first_x for mid in sent)  # upper bound per message
    span = (ts[-1] - ts[0]) / 1000.0 or 0.001
    reqs = f1["rpc_requests"] - f0["rpc_requests"]
    fake_cpu = f1["cpu_s"] - f0["cpu_s"]
    say("signal-cli provider -> signal_cli_fake.py: N=%d, concurrency %d, receipts %s"
        % (N, CONCURRENCY, "on" if RECEIPTS else "off"))
    say("  sends/s (first to last sent)      %.0f" % (N / span))
    say("  first XADD -> last sent           %.2f s" % ((ts[-1] - first_x) / 1000.0))
    if RECEIPTS:
        say("  first XADD -> last read           %.2f s" % ((max(read.values()) - first_x) / 1000.0))
    say("  sent - first XADD p50 / p99       %d / %d ms"
        % (benchlib.percentile(lat, 50), benchlib.percentile(lat, 99)))
    say("  CPU s: pregond %.2f, redis %.2f, fake %.2f (wall %.2f s)"
        % (c1 - c0, rc1 - rc0, fake_cpu, wall))
    say("  per message: pregond %.0f us CPU; fake %.0f us CPU per JSON-RPC request (%d requests)"
        % ((c1 - c0) / N * 1e6, fake_cpu / max(reqs, 1) * 1e6, reqs))
    say("  pregond peak RSS                  %.1f MB" % (d.hwm / 1024.0))
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
