#!/usr/bin/python3
"""bench_smtp.py: emails per second through the SMTP provider, beside
Node's nodemailer with a pooled transport, to the same loopback sink.

The sink is bench/smtp_sink.c (built here into build/smtp_sink): one
thread, epoll, answers every command at once, PIPELINING, keeps nothing;
it is not what limits either side. pregond: N `message` jobs (email only,
a non-ASCII subject) loaded into <prefix>jobs before it starts (a
backlog), [email] provider = smtp, starttls = off (the bench measures the
client, not TLS), connections = CONNS. Reported: messages per second from
the first `accepted` event to the last `sent`; accepted->sent p50/p95/p99
from the events; pregond's peak RSS (VmHWM); the connections the sink
saw. Then the peer (bench/smtp_peer.js, nodemailer installed by npm into
build/bench-smtp-peer the first time) sends N comparable messages over
CONNS pooled connections to the same sink, all handed over at once; its
latency is from that hand-over to each 250. Then the ratio.

Run through bench/run.sh smtp (a redis-server of its own). Env:
  REDIS_PORT  the redis-server on 127.0.0.1 (required)
  N           messages (default 20000)
  CONNS       connections on both sides (default 4)
  SKIP_PEER=1 pregond only
  PREGON_BIN  directory of pregond (default build)
  TIMEOUT_S   give up when nothing moves for this long (default 60)
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BUILD, PORT, PREFIX, ROOT, Pregond, fail, free_port, log_tail,  # noqa: E402
                      machine_info, parse_at, percentile, run_to_exit, say, stop_proc)

N = int(os.environ.get("N", "20000"))
CONNS = int(os.environ.get("CONNS", "4"))
SKIP_PEER = os.environ.get("SKIP_PEER") == "1"
TIMEOUT_S = float(os.environ.get("TIMEOUT_S", "60"))
SUBJECT = "Recordatorio: su audiencia, se\u00f1ora N\u00fa\u00f1ez (#%d)"


def body(i):
    return ("Court reminder #%d: your hearing is on 2024-07-01 at 09:00, Dept 12. "
            "Reply STOP to opt out.\n" % i)


def build_sink():
    exe = os.path.join(BUILD, "smtp_sink")
    src = os.path.join(ROOT, "bench", "smtp_sink.c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe, src],
                       check=True)
    return exe


class Sink:
    def __init__(self):
        self.port = free_port()
        self.probes = 0
        self.p = subprocess.Popen([build_sink(), str(self.port)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5
        while self.stats() is None:
            if time.monotonic() > deadline:
                fail("smtp_sink did not start")
            time.sleep(0.02)

    def stats(self):
        """(messages, connections) so far, or None when it does not answer
        (each probe is a connection too: self.probes counts them)."""
        self.probes += 1
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b"XSTATS\r\nQUIT\r\n")
                data = b""
                while b"221" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            for line in data.decode().split("\r\n"):
                if line.startswith("250 ") and len(line.split()) == 3:
                    return tuple(int(x) for x in line.split()[1:])
        except OSError:
            return None
        return None

    def stop(self):
        stop_proc(self.p)


def load_jobs(r, n):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(PREFIX + "jobs", {"job": json.dumps({
            "id": "mail-%d" % i, "kind": "message", "subject": SUBJECT % i, "body": body(i),
            "recipient": {"id": "c%d" % i, "email": "c%d@example.org" % i,
                          "channels": ["email"]}}, separators=(",", ":"))})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def events(r):
    """accepted and sent at (ms) per message, from the events stream."""
    acc, sent, cursor = {}, {}, "-"
    while True:
        chunk = r.xrange(PREFIX + "events", min=cursor, count=20000)
        for eid, f in chunk:
            e = json.loads(f["event"])
            if e["status"] == "accepted":
                acc[e["message"]] = parse_at(e["at"])
            elif e["status"] == "sent":
                sent[e["message"]] = parse_at(e["at"])
        if len(chunk) < 20000:
            return acc, sent
        ms, seq = chunk[-1][0].split("-")
        cursor = "%s-%d" % (ms, int(seq) + 1)


def run_pregond(r, sink, work):
    m0, c0 = sink.stats()
    p0 = sink.probes
    load_jobs(r, N)
    d = Pregond(work, [
        ("email", {"provider": "smtp", "url": "smtp://127.0.0.1:%d" % sink.port,
                   "from": "alerts@defensa.example.org", "starttls": "off",
                   "connections": str(CONNS), "concurrency": "64", "timeout": "30s"}),
        ("templates", {"sender": "La Defensa"}),
        ("schedule", {"quiet_hours": "none"}),
        ("events", {"max_len": "5000000"}),
        ("log", {"level": "warn"}),
    ])
    d.spawn()
    try:
        last, moved = -1, time.monotonic()
        while True:
            got = sink.stats()[0] - m0
            if got >= N:
                break
            if d.p.poll() is not None:
                fail("pregond exited; log:\n" + log_tail(d.log))
            if got != last:
                last, moved = got, time.monotonic()
            elif time.monotonic() - moved > TIMEOUT_S:
                fail("no progress for %.0fs at %d of %d; log:\n%s" % (TIMEOUT_S, got, N,
                                                                      log_tail(d.log)))
            d.sample()
            time.sleep(0.05)
        # The last `sent` results reach Redis a moment after the sink's 250.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(events(r)[1]) < N:
            d.sample()
            time.sleep(0.1)
        d.sample()
        cpu = d.cpu()
    finally:
        stop_proc(d.p)
    acc, sent = events(r)
    m1, c1 = sink.stats()
    if len(sent) != N:
        fail("%d sent events for %d messages; log:\n%s" % (len(sent), N, log_tail(d.log)))
    lat = sorted(sent[m] - acc[m] for m in sent if m in acc)
    span = (max(sent.values()) - min(acc.values())) / 1000.0
    # Each stats() probe is one connection of its own.
    conns = c1 - c0 - (sink.probes - p0)
    return {"rate": N / span, "seconds": span, "p50": percentile(lat, 50),
            "p95": percentile(lat, 95), "p99": percentile(lat, 99), "rss_mb": d.hwm / 1024.0,
            "cpu_s": cpu, "connections": conns, "sink_messages": m1 - m0}


def peer_dir():
    dst = os.path.join(BUILD, "bench-smtp-peer")
    os.makedirs(dst, exist_ok=True)
    if not os.path.isdir(os.path.join(dst, "node_modules", "nodemailer")):
        say("npm install nodemailer in %s" % dst)
        with open(os.path.join(dst, "package.json"), "w") as f:
            f.write('{"name": "pregon-bench-smtp-peer", "private": true}\n')
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                            "nodemailer@6"], cwd=dst, capture_output=True, text=True)
        if p.returncode != 0:
            return None, "npm install failed: %s" % p.stderr.strip()[-300:]
    return dst, None


def run_peer(sink, work):
    dst, why = peer_dir()
    if dst is None:
        return None, why
    m0, c0 = sink.stats()
    p0 = sink.probes
    env = dict(os.environ, N=str(N), SMTP_PORT=str(sink.port), CONNS=str(CONNS),
               NODE_PATH=os.path.join(dst, "node_modules"))
    p, rss, out, err = run_to_exit(["node", os.path.join(ROOT, "bench", "smtp_peer.js")], work,
                                   "peer", env=env, cwd=dst)
    if p.returncode != 0:
        return None, "peer failed: %s" % err.strip()[-300:]
    res = json.loads(out.strip().splitlines()[-1])
    m1, c1 = sink.stats()
    res.update(rss_mb=rss, cpu_s=p.rusage.ru_utime + p.rusage.ru_stime,
               connections=c1 - c0 - (sink.probes - p0), sink_messages=m1 - m0)
    return res, None


def show(name, res):
    say("%-9s %6.0f msgs/s  (%d in %.2fs)  accepted->sent p50 %.0f ms p95 %.0f ms p99 %.0f ms  "
        "peak RSS %.1f MB  CPU %.2fs  %d connections"
        % (name, res["rate"], res["sink_messages"], res["seconds"], res["p50"], res["p95"],
           res["p99"], res["rss_mb"], res["cpu_s"], res["connections"]))


def main():
    if PORT <= 0:
        fail("REDIS_PORT is not set; run bench/run.sh smtp")
    r = redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True)
    m = machine_info()
    say("machine: %s" % json.dumps(m))
    say("N=%d messages, %d connections each side, sink bench/smtp_sink.c" % (N, CONNS))
    sink = Sink()
    work = tempfile.mkdtemp(prefix="pregon-bench-smtp-")
    try:
        ours = run_pregond(r, sink, os.path.join(work, "pregond"))
        show("pregond", ours)
        if SKIP_PEER:
            return
        peer, why = run_peer(sink, work)
        if peer is None:
            say("peer: skipped (%s)" % why)
            return
        show("nodemailer", peer)
        say("ratio pregond/nodemailer: throughput %.2fx, peak RSS %.2fx"
            % (ours["rate"] / peer["rate"], ours["rss_mb"] / peer["rss_mb"]))
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
