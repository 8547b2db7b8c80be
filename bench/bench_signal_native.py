#!/usr/bin/python3
"""bench_signal_native.py: Signal messages per second through the native
transport (adapters/signal_native/) to the loopback Signal-protocol server
(tests/fakes/signal_server.py), and pregond's peak RSS.

    bash bench/run.sh signal-native   (N=2000 R=50)

N `message` jobs to R recipients in turn (each recipient's first message
fetches a pre-key bundle and builds a session; the rest are ratchet steps:
a Redis load with the lock, the library, a Redis write-back, a PUT).
Loaded before pregond starts; timed from its start to the server's last
recorded envelope. The fake is a Python ThreadingHTTPServer: its own CPU
time is printed beside pregond's, since on 2 cores it competes with
pregond and Redis. Every envelope of one recipient is decrypted by the
test recipient at the end, to show that what was measured is what a
recipient reads. Env: N, R, CONCURRENCY ([signal] concurrency, default 64),
PREGON_BIN.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BUILD, PORT, PREFIX, ROOT, Pregond, fail, machine_info,  # noqa: E402
                      phone, proc_cpu_s, say, stop_proc)

import redis  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
import signal_server  # noqa: E402

N = int(os.environ.get("N", "2000"))
R = int(os.environ.get("R", "50"))
CONCURRENCY = os.environ.get("CONCURRENCY", "64")
ACCOUNT, PASSWORD = "+13235550000", "bench-signal-password"


def recipient(work, number, port):
    state = os.path.join(work, "r%s.json" % number[1:])
    out = subprocess.run([os.path.join(BUILD, "tests", "tools", "signal_recipient"), "init",
                          state, "5"], capture_output=True, text=True, check=True).stdout
    signal_server.control(port, "PUT", "accounts/" + number, json.loads(out))
    return state


def main():
    if not PORT:
        fail("run through bench/run.sh (it starts Redis)")
    work = tempfile.mkdtemp(prefix="pregon-bench-signal-")
    say("work dir %s" % work)
    fake, port = signal_server.start(ACCOUNT, PASSWORD)
    try:
        numbers = [phone(i) for i in range(R)]
        states = [recipient(work, n, port) for n in numbers]
        r = redis.Redis(port=PORT, decode_responses=True)
        pipe = r.pipeline(transaction=False)
        for i in range(N):
            num = numbers[i % R]
            pipe.xadd(PREFIX + "jobs", {"job": json.dumps(
                {"id": "sig-%d" % i, "kind": "message", "body": "Court moved to Dept %d." % i,
                 "recipient": {"id": "c%d" % (i % R), "signal": num, "channels": ["signal"]}})})
        pipe.execute()
        pw = os.path.join(work, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD)
        os.chmod(pw, 0o600)
        d = Pregond(work, [
            ("signal", {"provider": "native", "url": "http://127.0.0.1:%d" % port,
                        "account": ACCOUNT, "password_file": pw, "concurrency": CONCURRENCY}),
            ("schedule", {"quiet_hours": "none"}),
            ("http", {"listen": "127.0.0.1:0"}),
            ("log", {"level": os.environ.get("LOG", "warn")}),
        ])
        fake_cpu0 = proc_cpu_s(fake.pid)
        t0 = time.monotonic()
        d.spawn()
        done = 0
        while done < N:
            d.check()
            time.sleep(0.2)
            reqs = signal_server.control(port, "GET", "requests")["requests"]
            done = sum(1 for q in reqs if q["method"] == "PUT" and q["status"] == 200)
            if time.monotonic() - t0 > 600:
                fail("only %d of %d sent after 600 s" % (done, N))
        secs = time.monotonic() - t0
        d.sample()
        cpu = d.cpu()
        fake_cpu = proc_cpu_s(fake.pid) - fake_cpu0
        bundles = sum(1 for q in reqs if q["path"].startswith("/v2/keys/"))
        d.stop()
        envs = signal_server.control(port, "GET", "envelopes/" + numbers[0])["envelopes"]
        out = subprocess.run([os.path.join(BUILD, "tests", "tools", "signal_recipient"), "decrypt",
                              states[0]], input="".join(json.dumps(e) + "\n" for e in envs),
                             capture_output=True, text=True, check=True).stdout
        bodies = [json.loads(x).get("body") for x in out.splitlines()]
        ok = sum(1 for b in bodies if b and b.startswith("Court moved"))
        m = machine_info()
        say("machine: %d cpus (%d usable), %s, %.1f GiB, kernel %s" %
            (m["cpus"], m["usable"], m["model"], m["mem_gib"], m["kernel"]))
        say("native signal: %d messages to %d recipients in %.2fs (from pregond's start): "
            "%.0f msg/s; %d bundles fetched" % (N, R, secs, N / secs, bundles))
        say("pregond: cpu %.2fs, peak RSS %.1f MB; fake server cpu %.2fs; Redis %s" %
            (cpu, d.hwm / 1024.0, fake_cpu, "no AOF" if os.environ.get("AOF") != "1" else "AOF"))
        say("recipient %s decrypted %d of %d envelopes to the sent text" %
            ("0", ok, len(envs)))
        if ok != len(envs):
            fail("a recipient could not decrypt what was sent")
    finally:
        stop_proc(fake)


if __name__ == "__main__":
    main()
