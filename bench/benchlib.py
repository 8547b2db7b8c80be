"""benchlib.py: what the bench scripts share.

bench_outbox.py, bench_alerts.py, bench_schedule.py and contacts_import.py
are run as scripts (bench/run.sh, or by hand), so each puts bench/ on
sys.path and imports this module. It holds only what is the same in all
of them: the settings bench/run.sh passes, messages, /proc readers, process
handling, Redis INFO readers, the BullMQ peer's install and the pregond
runner. What one bench measures, and how it reports it, stays in its own
script.
"""

import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import redis

# ---- settings every bench shares (their docstrings document the env) ----

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("PREGON_BIN", "build"))
PEERS = os.environ.get("BENCH_PEERS", os.path.join(ROOT, "..", "shared", "bench-peers"))
# The redis-server bench/run.sh started (0: not run through it).
PORT = int(os.environ.get("REDIS_PORT", "0"))
# Every key a bench writes has it, so a bench's keys are only its own.
PREFIX = "bench:"


# ---- messages ----

def say(msg=""):
    # Flushed at once: progress shows while a long run goes on, and keeps
    # its place among the lines of the processes a bench starts.
    print(msg, flush=True)


def fail(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


# ---- recipients ----

# Valid NANP numbers (validate.c nanp_ok): LA-area codes, exchanges 555 and
# up without N11, 10,000 lines each; distinct for any i.
AREAS = [323, 213, 310, 424, 818, 747, 626, 562, 714, 949,
         909, 951, 805, 661, 760, 858, 619, 415, 510, 408]
EXCHANGES = [x for x in range(555, 1000) if x % 100 != 11]


def phone(i):
    block = i // 10000
    return "+1%03d%03d%04d" % (AREAS[block % len(AREAS)],
                               EXCHANGES[block // len(AREAS)], i % 10000)


# ---- the machine ----

def meminfo_kb(field):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def machine_info():
    """What a report says of the machine, as a dict for the script's own
    format: cpus, usable (this process's affinity), model, mem_gib,
    avail_gib, kernel."""
    model, mem, avail = "?", 0, 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        mem, avail = meminfo_kb("MemTotal"), meminfo_kb("MemAvailable")
    except OSError:
        pass
    return {"cpus": os.cpu_count() or 0, "usable": len(os.sched_getaffinity(0)),
            "model": model, "mem_gib": mem / 1048576.0, "avail_gib": avail / 1048576.0,
            "kernel": os.uname().release}


# ---- processes ----

def proc_status_kb(pid, field):
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM); 0 once it is gone."""
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


def stop_proc(p, sig=signal.SIGTERM, timeout=30):
    """Sends sig, waits up to timeout s, then SIGKILL; returns the exit
    status (None: never started)."""
    if p is None or p.poll() is not None:
        return p.returncode if p else None
    p.send_signal(sig)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return p.returncode


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


def run_to_exit(argv, work, name, **popen_kw):
    """Runs argv to its end, measured by wait4_rss; returns (process, peak
    RSS MB, stdout, stderr). Its output goes to files (work/name.out, .err),
    not pipes: wait4_rss reaps it itself, so nothing would drain a full
    pipe meanwhile."""
    with open(os.path.join(work, name + ".out"), "w+") as fo, \
            open(os.path.join(work, name + ".err"), "w+") as fe:
        p = subprocess.Popen(argv, stdout=fo, stderr=fe, **popen_kw)
        rss = wait4_rss(p)
        fo.seek(0)
        fe.seek(0)
        return p, rss, fo.read(), fe.read()


def free_port():
    """A free loopback port; the rare race with another process is caught
    by the caller's wait for the listener."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


# ---- figures ----

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


# ---- Redis INFO ----

def used_memory(r):
    return int(r.info("memory")["used_memory"])


def cmdstats(r):
    """{command: (calls, usec)} from INFO commandstats. Commands a script
    makes count under their own names too, besides EVALSHA's time."""
    out = {}
    for k, v in r.info("commandstats").items():
        out[k.replace("cmdstat_", "")] = (int(v["calls"]), int(v["usec"]))
    return out


# ---- the BullMQ peer ----

PEER_FILES = ("package.json", "producer.js", "worker.js")


def peer_dir(extra=()):
    """../shared/bench-peers/bullmq copied to build/bench-peer (plus the
    files in extra), npm installed there the first time. Returns (dir, None),
    or (None, why) when it cannot run."""
    src = os.path.join(PEERS, "bullmq")
    if not all(os.path.isfile(os.path.join(src, name)) for name in PEER_FILES):
        return None, "peer not found at %s (set BENCH_PEERS)" % src
    dst = os.path.join(BUILD, "bench-peer")
    os.makedirs(dst, exist_ok=True)
    for path in [os.path.join(src, name) for name in PEER_FILES] + list(extra):
        shutil.copy2(path, dst)
    # node_modules stays between runs: npm needs the network only once.
    if not os.path.isdir(os.path.join(dst, "node_modules", "bullmq")):
        say("npm install in %s" % dst)
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=dst, capture_output=True, text=True)
        if p.returncode != 0:
            return None, "npm install failed (no network?): %s" % (p.stderr.strip()[-400:])
    return dst, None


def run_producer(dst, env):
    """The peer's producer.js (it enqueues before the worker starts);
    fails the bench if it fails, else prints and returns its line."""
    prod = subprocess.run(["node", "producer.js"], cwd=dst, env=env, capture_output=True,
                          text=True)
    if prod.returncode != 0:
        fail("peer producer failed: %s" % (prod.stderr.strip() or prod.stdout.strip()))
    say("peer " + prod.stdout.strip())
    return prod.stdout


# ---- pregond ----

def write_conf(path, sections):
    """A pregon.conf of [(section, {key: value})], then PREGON_CONF_EXTRA's
    lines (";"-separated): a later key overrides an earlier one."""
    with open(path, "w") as f:
        for sec, kv in sections:
            f.write("[%s]\n" % sec)
            for k, v in kv.items():
                f.write("%s = %s\n" % (k, v))
            f.write("\n")
        for line in os.environ.get("PREGON_CONF_EXTRA", "").split(";"):
            if line.strip():
                f.write(line.strip() + "\n")


class Pregond:
    """build/pregond on the redis-server at PORT, keys under PREFIX, with
    the config sections given (after [redis]), its files in dir (pregon.conf,
    pregond.log). hwm: the largest VmHWM (kB) sampled while it ran."""

    def __init__(self, dir, sections, bin_dir=None):
        self.dir = dir
        self.bin_dir = bin_dir or BUILD
        os.makedirs(dir, exist_ok=True)
        self.conf = os.path.join(dir, "pregon.conf")
        write_conf(self.conf, [("redis", {"url": "redis://127.0.0.1:%d/0" % PORT,
                                          "prefix": PREFIX})] + sections)
        self.log = os.path.join(dir, "pregond.log")
        self.p = None
        self.hwm = 0

    def spawn(self):
        """Starts it (from the repo root, as the benches always have) and
        returns at once: start() waits until it is ready too."""
        exe = os.path.join(self.bin_dir, "pregond")
        if not os.access(exe, os.X_OK):
            fail("%s is missing: run make first" % exe)
        with open(self.log, "ab") as logf:
            self.p = subprocess.Popen([exe, "-c", self.conf], stdout=logf, stderr=logf, cwd=ROOT)

    def wait_ready(self, r):
        """Ready when its consumer group exists on the job stream: jobs
        XADDed from then on are not timed against its start-up."""
        deadline = time.monotonic() + 30
        while True:
            try:
                if r.xinfo_groups(PREFIX + "jobs"):
                    return
            except redis.ResponseError:
                pass
            if self.p.poll() is not None or time.monotonic() > deadline:
                fail("pregond did not create its consumer group; log:\n" + log_tail(self.log))
            time.sleep(0.02)

    def start(self, r):
        self.spawn()
        self.wait_ready(r)

    def sample(self):
        self.hwm = max(self.hwm, proc_status_kb(self.p.pid, "VmHWM"))

    def check(self):
        """Fails the bench if pregond has exited; else samples its peak RSS."""
        if self.p.poll() is not None:
            fail("pregond exited with %s; log:\n%s" % (self.p.returncode, log_tail(self.log)))
        self.sample()

    def rss_kb(self):
        return proc_status_kb(self.p.pid, "VmRSS")

    def cpu(self):
        return proc_cpu_s(self.p.pid)

    def halt(self):
        """SIGTERM (SIGKILL after 30 s), its peak RSS sampled a last time
        first; returns the exit status."""
        if self.p is not None and self.p.poll() is None:
            self.sample()
        return stop_proc(self.p)

    def warn_exit(self, rc):
        if rc not in (0, None):
            say("warning: pregond exited with %s on SIGTERM; log:\n%s" % (rc, log_tail(self.log)))

    def stop(self):
        rc = self.halt()
        self.warn_exit(rc)
        return rc
