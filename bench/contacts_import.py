#!/usr/bin/python3
"""contacts_import.py: `pregon contacts import` and `export` on a big CSV.

Starts a redis-server of its own (free loopback port, temp dir, no AOF
unless AOF=1, as bench/run.sh), generates N contact rows (quoted names
with a comma, phone, email, lang, tz, channels, two lists each), then:

  import    N new contacts           rows/s, pregon's peak RSS and CPU
  reimport  the same file: updates   rows/s, peak RSS
  export    all contacts to a file   rows/s, peak RSS, rows checked

Peak RSS and CPU are the pregon process's own (GNU time), Redis's
CPU is the INFO delta, so the report says which side the time went to.

  /usr/bin/python3 bench/contacts_import.py          N=100000
  N=1000000 /usr/bin/python3 bench/contacts_import.py
Env: N, AOF=1 (appendonly yes, everysec), PREGON_BIN (default build),
KEEP=1 (keep the temp dir).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import redis

# Run as a script: benchlib sits beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, fail, free_port, say, used_memory  # noqa: E402

BIN = os.path.join(BUILD, "pregon")
N = int(os.environ.get("N", "100000"))
AOF = os.environ.get("AOF") == "1"
KEEP = os.environ.get("KEEP") == "1"
TIME = "/usr/bin/time"	# GNU time (Debian package "time")


def start_redis(d):
    port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--dir", d, "--appendonly", "yes" if AOF else "no", "--save", "",
                          "--logfile", os.path.join(d, "redis.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port, decode_responses=True)
    for _ in range(100):
        try:
            if r.ping():
                return p, port, r
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    p.kill()
    fail("redis-server on port %d did not answer" % port)


def generate(path, n):
    with open(path, "w", newline="") as f:
        f.write("id,name,phone,email,signal,lang,tz,channels,lists\r\n")
        for i in range(n):
            f.write('bench-%d,"Person %d, Jr.",+1323555%04d,p%d@example.org,,%s,'
                    "America/Los_Angeles,sms;email,south-la;team-%d\r\n"
                    % (i, i, i % 10000, i, "es" if i % 3 else "en", i % 20))


def run(args, stdout, d):
    """Runs pregon under /usr/bin/time (its rusage: a child forked from
    this Python would count Python's pages in ru_maxrss); returns (wall s,
    peak RSS MB, CPU s)."""
    stats = os.path.join(d, "time.out")
    t0 = time.monotonic()
    p = subprocess.run([TIME, "-o", stats, "-f", "%M %U %S", BIN] + args, stdout=stdout,
                       stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        fail("pregon %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()[-500:]))
    with open(stats) as f:
        rss_kb, user, sys_s = f.read().split()[-3:]
    return wall, int(rss_kb) / 1024, float(user) + float(sys_s)


def redis_cpu(r):
    info = r.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def main():
    if not os.access(BIN, os.X_OK):
        fail("%s is missing: run make first" % BIN)
    if not os.access(TIME, os.X_OK):
        fail("%s is missing: apt-get install time" % TIME)
    d = tempfile.mkdtemp(prefix="pregon-bench-contacts.")
    proc = None
    try:
        proc, port, r = start_redis(d)
        conf = os.path.join(d, "pregon.conf")
        with open(conf, "w") as f:
            f.write("[redis]\nurl = redis://127.0.0.1:%d/0\nprefix = bench:\n" % port)
        csv = os.path.join(d, "contacts.csv")
        t0 = time.monotonic()
        generate(csv, N)
        say("generated %d rows, %.1f MB, in %.2fs" % (N, os.path.getsize(csv) / 1e6,
                                                     time.monotonic() - t0))
        base_mem = used_memory(r)
        for what in ("import", "reimport"):
            c0 = redis_cpu(r)
            wall, rss, cpu = run(["-c", conf, "contacts", "import", csv], subprocess.DEVNULL, d)
            say("%-8s %7d rows in %5.2fs: %8.0f rows/s, pregon peak RSS %5.1f MB, "
                "CPU pregon %.2fs, redis %.2fs" % (what, N, wall, N / wall, rss, cpu,
                                                   redis_cpu(r) - c0))
        if r.scard("bench:contacts") != N:
            fail("expected %d contacts, found %d" % (N, r.scard("bench:contacts")))
        mem = used_memory(r) - base_mem
        say("redis memory for %d contacts: %.1f MB (%.0f bytes each)" % (N, mem / 1e6, mem / N))
        out = os.path.join(d, "export.csv")
        c0 = redis_cpu(r)
        with open(out, "wb") as f:
            wall, rss, cpu = run(["-c", conf, "contacts", "export"], f, d)
        with open(out, "rb") as f:
            rows = f.read().count(b"\r\n") - 1
        if rows != N:
            fail("export wrote %d rows, expected %d" % (rows, N))
        say("export   %7d rows in %5.2fs: %8.0f rows/s, pregon peak RSS %5.1f MB, "
            "CPU pregon %.2fs, redis %.2fs" % (N, wall, N / wall, rss, cpu, redis_cpu(r) - c0))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        if KEEP:
            say("kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
