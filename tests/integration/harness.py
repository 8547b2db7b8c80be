"""harness.py: real servers on free ports for pregon's integration tests.

Each test file does:

    import harness
    def test_something_happens():
        srv = harness.redis_server()          # shared by the file's tests
        cfg = harness.write_config(srv)       # unique key prefix per call
        r = harness.run_cli(cfg, "send", "-", input=job)
        assert r.returncode == 0, r.stderr
    if __name__ == "__main__":
        harness.main(globals())

and main() prints TAP: "1..N", then "ok K - name" or "not ok K - name"
followed by the traceback as "# " lines, and exits 0 (tests/run.sh totals
the TAP lines). A test may call harness.skip("why") for "ok K - name # SKIP
why", which tests/run.sh counts as skipped, neither passed nor failed.

As redis's tests/support/server.tcl does, every server starts on a free
loopback port in its own temp dir and is waited for (PING) before use.
Everything started here is killed at exit, also when the test process is
killed: children get PR_SET_PDEATHSIG.

Environment: PREGON_BIN (directory of pregon/pregond, default "build",
relative to the repository root), PREGON_TEST (run only the tests whose
name contains it), PREGON_KEEP=1 (keep temp dirs for a post-mortem).
Runs with Debian's /usr/bin/python3 and its python3-redis.
"""

import atexit
import ctypes
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("PREGON_BIN", "build"))
KEEP = os.environ.get("PREGON_KEEP") == "1"

_procs = []      # every Popen we started, killed at exit
_dirs = []       # temp dirs, removed at exit unless PREGON_KEEP=1
_prefix_seq = itertools.count(1)
_shared_redis = None


class Skip(Exception):
    """Raised by skip(): the test is reported as ok with a # SKIP directive
    (a skip, not a pass, for tests/run.sh)."""


def skip(reason):
    raise Skip(reason)


# ---- processes and cleanup ----

def _die_with_parent():
    # Runs in the child before exec: if this test process dies (even by
    # SIGKILL), the kernel sends SIGKILL to the child (prctl(2)).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(args, **kw):
    """Starts a process that will be killed at exit; returns the Popen."""
    p = subprocess.Popen(args, preexec_fn=_die_with_parent, **kw)
    _procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10):
    """Sends sig, waits up to timeout seconds, then SIGKILL. Returns the
    exit status (negative: killed by that signal)."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def _cleanup():
    for p in reversed(_procs):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
    for d in _dirs:
        if KEEP:
            sys.stderr.write("# kept %s\n" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def _exit_on_signal(sig, frame):
    sys.exit(128 + sig)  # runs atexit, so our children go too


signal.signal(signal.SIGTERM, _exit_on_signal)


def tempdir(name="pregon-test-"):
    d = tempfile.mkdtemp(prefix=name)
    _dirs.append(d)
    return d


def free_port():
    """A loopback TCP port that was free a moment ago (the server start
    retries on the rare collision)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---- redis-server ----

class RedisServer:
    """A redis-server of its own: free port, temp dir, AOF on by default
    (pregon's durability promise is tested against what production runs)."""

    def __init__(self, appendonly=True, password=None, unixsocket=False, extra=()):
        self.dir = tempdir("pregon-redis-")
        self.password = password
        self.unixsocket = os.path.join(self.dir, "redis.sock") if unixsocket else None
        self.log = os.path.join(self.dir, "redis.log")
        last = None
        for _ in range(5):
            self.port = free_port()
            args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", self.dir, "--appendonly", "yes" if appendonly else "no",
                    "--save", "", "--logfile", self.log]
            if password:
                args += ["--requirepass", password]
            if self.unixsocket:
                args += ["--unixsocket", self.unixsocket, "--unixsocketperm", "700"]
            args += list(extra)
            self.args = args
            self.proc = spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                self._wait_ready()
                break
            except AssertionError as e:   # port taken meanwhile: try another
                last = e
                stop(self.proc, signal.SIGKILL)
        else:
            raise AssertionError("redis-server did not start: %s; log: %s" % (last, self.tail_log()))
        self.client = self.connect()

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("redis-server exited with %s" % self.proc.returncode)
        try:
            return self.connect(timeout=0.5).ping()
        except redis.exceptions.ConnectionError:
            return False

    def _wait_ready(self):
        wait_for(self._ready, timeout=10, what="redis-server PING on port %d" % self.port)

    def connect(self, db=0, timeout=5):
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=self.password,
                           decode_responses=True, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def url(self, db=0):
        """The [redis] url pregon should use for this server."""
        if self.password:
            return "redis://:%s@127.0.0.1:%d/%d" % (self.password, self.port, db)
        return "redis://127.0.0.1:%d/%d" % (self.port, db)

    def tail_log(self, n=20):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self):
        stop(self.proc)

    def restart(self, sig=signal.SIGKILL):
        """Stops the server (SIGKILL: a crash; SIGTERM: a clean shutdown)
        and starts it again on the same port and dir, so with AOF on it
        comes back with what it had acknowledged."""
        stop(self.proc, sig)
        self.proc = spawn(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()
        self.client = self.connect()


def redis_server():
    """The redis-server shared by the tests of this process (they keep
    apart with unique key prefixes); started on first use."""
    global _shared_redis
    if _shared_redis is None or _shared_redis.proc.poll() is not None:
        _shared_redis = RedisServer()
    return _shared_redis


# ---- config ----

def unique_prefix(tag="t"):
    return "%s%d.%d:" % (tag, os.getpid(), next(_prefix_seq))


class Config:
    """A written config file; .path for -c, .prefix for keys, .dir for
    the test's own files (outbox, logs)."""

    def __init__(self, path, prefix, directory, server):
        self.path = path
        self.prefix = prefix
        self.dir = directory
        self.server = server
        self.outbox = os.path.join(directory, "outbox")

    def key(self, suffix):
        return self.prefix + suffix


def write_config(server=None, prefix=None, url=None, sections=None, directory=None):
    """Writes a pregon.conf for server (default: the shared one) with a
    unique [redis] prefix and [outbox] dir in a temp dir. sections adds or
    overrides keys: {"jobs": {"max_bytes": "256"}}. Returns a Config."""
    server = server if server is not None else redis_server()
    directory = directory or tempdir("pregon-conf-")
    prefix = prefix or unique_prefix()
    conf = {
        "redis": {"url": url or server.url(), "prefix": prefix},
        "outbox": {"dir": os.path.join(directory, "outbox")},
        "log": {"level": "info"},
        # An ephemeral port, so that instances side by side do not clash;
        # tests that call the HTTP listener set their own.
        "http": {"listen": "127.0.0.1:0"},
        # Tests run at any hour: quiet hours would hold their messages.
        # The tests of quiet hours set them (and the test clock).
        "schedule": {"quiet_hours": "none"},
        # Each pregond its own spool (it is locked): not the default under
        # the working directory, which every test shares.
        "inbound": {"spool": os.path.join(directory, "spool", "inbound.spool")},
    }
    for sec, kv in (sections or {}).items():
        conf.setdefault(sec, {}).update(kv)
    path = os.path.join(directory, "pregon.conf")
    with open(path, "w") as f:
        for sec, kv in conf.items():
            f.write("[%s]\n" % sec)
            for k, v in kv.items():
                f.write("%s = %s\n" % (k, v))
            f.write("\n")
    return Config(path, prefix, directory, server)


# ---- the binaries ----

def binary(name):
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is missing: build it first (make), or set PREGON_BIN" % path)
    return path


def job_status(cfg, job_id):
    """`pregon status --json JOB_ID` as a dict: kind, messages, statuses and
    channels ({"sms": {"sent": 1}}; statuses at zero are left out)."""
    import json
    r = run_cli(cfg, "status", "--json", job_id)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


class Library:
    """The Redis Functions library of the build under test (build/gen/,
    made by tools/lua_lib.py from src/lua/), loaded into cfg's server.
    call(op, *args) is FCALL of the op with cfg's common arguments, as
    pregond makes it; the op's own arguments follow in the order of its
    `--:` declarations (spec[op])."""

    def __init__(self, cfg, clock=""):
        import json
        gen = os.path.join(BIN, "gen")
        with open(os.path.join(gen, "lua_lib.json")) as f:
            self.spec = json.load(f)
        with open(os.path.join(gen, "pregon_lib.lua")) as f:
            self.text = f.read()
        self.cfg, self.clock = cfg, clock
        self.r = cfg.server.client
        self.r.execute_command("FUNCTION", "LOAD", "REPLACE", self.text)

    def call(self, op, *args):
        fn = self.spec["ops"][op]["function"]
        return self.r.execute_command("FCALL", fn, 0, self.cfg.prefix, "1000", "86400",
                                      "86400", self.clock, *args)


def run_cli(cfg, *args, input=None, timeout=20, cwd=None):
    """Runs pregon -c cfg.path ARGS (cfg None: no -c) and returns the
    CompletedProcess, text mode."""
    argv = [binary("pregon")]
    if cfg is not None:
        argv += ["-c", cfg.path if isinstance(cfg, Config) else cfg]
    argv += list(args)
    return subprocess.run(argv, input=input, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, preexec_fn=_die_with_parent)


def start_cli(cfg, *args, **kw):
    """Starts pregon in the background (tail); returns the Popen."""
    argv = [binary("pregon"), "-c", cfg.path] + list(args)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return spawn(argv, text=True, **kw)


def start_daemon(cfg, log=None, env=None):
    """Starts pregond -c cfg.path with its stderr in log (default: in the
    config's dir). Returns the Popen."""
    log = log or os.path.join(cfg.dir, "pregond.log")
    out = open(log, "ab")
    try:
        return spawn([binary("pregond"), "-c", cfg.path], stdout=out, stderr=out,
                     cwd=ROOT, env=env)
    finally:
        out.close()


def metric(log, pattern):
    """One value of GET /metrics of the pregond whose log is at path log
    (the port it listens on is in the log): the first group of pattern, an
    int. For counts of one instance among several."""
    import http.client
    import re
    port = int(re.search(r"http: listening on \S+ \(port (\d+)\)",
                         open(log, errors="replace").read()).group(1))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        m = re.search(pattern, conn.getresponse().read().decode())
    finally:
        conn.close()
    assert m, "no %s in /metrics" % pattern
    return int(m.group(1))


def one_line_error(r):
    """Checks the contract's error shape: non-zero exit and exactly one
    line "pregon: <reason>" on stderr. Returns the reason."""
    assert r.returncode != 0, "expected failure, got 0; stdout=%r" % r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1, "stderr should be one line, got %r" % r.stderr
    assert lines[0].startswith("pregon: "), "stderr should start with 'pregon: ': %r" % r.stderr
    return lines[0][len("pregon: "):]


# ---- TAP ----

def _tests(namespace):
    fns = [v for k, v in namespace.items() if k.startswith("test_") and callable(v)]
    fns.sort(key=lambda f: f.__code__.co_firstlineno)
    only = os.environ.get("PREGON_TEST")
    if only:
        fns = [f for f in fns if only in f.__name__]
    return fns


def main(namespace):
    """Runs the test_* functions of namespace (pass globals()) in file
    order and prints TAP. Exits 0: failures are in the TAP lines."""
    tests = _tests(namespace)
    print("1..%d" % len(tests), flush=True)
    for k, fn in enumerate(tests, 1):
        try:
            fn()
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (k, fn.__name__, e), flush=True)
            continue
        except BaseException as e:  # noqa: B902 - a test's sys.exit is a failure too
            print("not ok %d - %s" % (k, fn.__name__))
            for line in traceback.format_exception(type(e), e, e.__traceback__):
                for sub in line.rstrip("\n").split("\n"):
                    print("# " + sub)
            sys.stdout.flush()
            if isinstance(e, KeyboardInterrupt):
                break
            continue
        print("ok %d - %s" % (k, fn.__name__), flush=True)
    sys.exit(0)


# ---- TLS and HTTP for test servers ----

def make_certs(d):
    """A CA and a server certificate it signed (subjectAltName IP:127.0.0.1
    and DNS:localhost), made by openssl in d; returns the paths of
    "ca.crt", "server.crt" and "server.key"."""
    def ossl(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=pregon test CA")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.cnf")
    return {k: os.path.join(d, k) for k in ("ca.crt", "server.crt", "server.key")}


def http_get(port, path):
    """GET http://127.0.0.1:port/path; returns (status, body text)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


# ---- mosquitto (MQTT broker) ----

class MosquittoServer:
    """A mosquitto of its own on free loopback ports, in its own temp dir,
    with persistence on (a restart keeps sessions and their queued
    messages: persistence is saved on a clean stop, SIGTERM). Options:
    tls=True adds a TLS listener (.tls_port) with a CA and a server
    certificate made here by openssl (subjectAltName IP:127.0.0.1 and
    DNS:localhost; .cafile for clients); users={"name": "password"} turns
    anonymous access off and writes a password_file with mosquitto_passwd."""

    def __init__(self, tls=False, users=None, extra=()):
        self.dir = tempdir("pregon-mqtt-")
        self.log = os.path.join(self.dir, "mosquitto.log")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.users = dict(users or {})
        self.cafile = None
        if tls:
            self._make_certs()
        if self.users:
            pw = os.path.join(self.dir, "passwd")
            for i, (u, p) in enumerate(self.users.items()):
                args = ["mosquitto_passwd", "-b", pw, u, p]
                if i == 0:
                    args.insert(1, "-c")
                subprocess.run(args, check=True, capture_output=True)
        last = None
        for _ in range(5):
            self.port = free_port()
            self.tls_port = free_port() if tls else None
            self._write_conf(extra)
            self.proc = self._spawn()
            try:
                self._wait_ready()
                break
            except AssertionError as e:  # a port taken meanwhile: try others
                last = e
                stop(self.proc, signal.SIGKILL)
        else:
            raise AssertionError("mosquitto did not start: %s; log: %s" % (last, self.tail_log()))

    def _make_certs(self):
        self.cafile = make_certs(self.dir)["ca.crt"]

    def _write_conf(self, extra):
        lines = [
            "persistence true",
            "persistence_location %s/" % self.dir,
            "log_dest file %s" % self.log,
            "log_type error", "log_type warning", "log_type notice", "log_type information",
            "connection_messages true",
            # Subscribers away for a while must not lose queued events.
            "max_queued_messages 0",
            "per_listener_settings false",
            "allow_anonymous %s" % ("false" if self.users else "true"),
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to "mosquitto", who cannot read our dir
        if self.users:
            lines.append("password_file %s" % os.path.join(self.dir, "passwd"))
        lines.append("listener %d 127.0.0.1" % self.port)
        if self.tls_port:
            d = self.dir
            lines += ["listener %d 127.0.0.1" % self.tls_port,
                      "cafile %s" % os.path.join(d, "ca.crt"),
                      "certfile %s" % os.path.join(d, "server.crt"),
                      "keyfile %s" % os.path.join(d, "server.key")]
        lines += list(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _spawn(self):
        return spawn(["mosquitto", "-c", self.conf], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("mosquitto exited with %s" % self.proc.returncode)
        for port in filter(None, (self.port, self.tls_port)):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return False
        return True

    def _wait_ready(self):
        wait_for(self._ready, timeout=10, what="mosquitto on port %d" % self.port)

    def url(self, tls=False, host="127.0.0.1"):
        """The [mqtt] url for pregond: plain, or TLS (host "localhost" or
        "127.0.0.1": both are in the certificate)."""
        if tls:
            return "mqtts://%s:%d" % (host, self.tls_port)
        return "mqtt://127.0.0.1:%d" % self.port

    def tail_log(self, n=20):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self, sig=signal.SIGTERM):
        """Stops the broker (SIGTERM saves persistence; SIGKILL is a crash
        that loses what was not saved yet)."""
        stop(self.proc, sig)

    def start(self):
        """Starts it again on the same ports, dir and persistence."""
        assert self.proc.poll() is not None, "mosquitto is still running"
        self.proc = self._spawn()
        self._wait_ready()

    def restart(self, sig=signal.SIGTERM, down_for=0.0):
        self.stop(sig)
        time.sleep(down_for)
        self.start()


def mosquitto_server(tls=False, users=None, extra=()):
    """Starts a mosquitto of its own (see MosquittoServer); killed at exit."""
    return MosquittoServer(tls=tls, users=users, extra=extra)
