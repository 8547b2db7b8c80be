#!/usr/bin/python3
"""bench/lua_cost.py: the Redis work of one message's happy path, alone.

    /usr/bin/python3 bench/lua_cost.py [LIBRARY.lua ...]

Runs, on a redis-server of its own, what pregond asks of Redis for N
one-message jobs: `accept` in batches of 64 with room for all (the fast
path: accepted and sending at once) and `result` with outcome sent, as
build/gen's lua_lib.json declares their arguments. With CALLGRIND=1 the
server runs under valgrind's callgrind and the figure is instructions per
message, the same on a busy machine as on an idle one (seen: the same total
twice); without it, Redis' own CPU time per message. Several library files
(build/gen/pregon_lib.lua of two checkouts, say) are measured in turn on the
same workload, so a change to src/lua/ is measured against the one before.

FLOOR=1 adds bench/floor.py's checked floor (the contract's least work per
message, in two Lua scripts, events built by the client) on the same N, so
the ratio to it is a figure of this run.

LAYOUT=1 adds pregon's own commands with nothing else: the 11 Redis
commands the library makes for one message (`PROFILE=1` of bench/run.sh
counts them) on the same keys and values, every string built by the client
and no decision taken in Lua. It is what pregon's record layout costs at
the least, so it tells how much of the distance to the floor is the Lua
around the commands and how much the commands themselves.

Environment: N (default 4096), PREGON_BIN (build), REDIS_SERVER (another
redis-server binary, e.g. one built with symbols for callgrind_annotate),
KEEP=1 (keep the temp dir and its callgrind output), JSON_RECORD=1 (the
accept record in its JSON form instead of intake's flat one), NOCHECK=1 (do
not insist every message went through: for variants that skip work).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("PREGON_BIN", "build"))
N = int(os.environ.get("N", "4096"))
CALLGRIND = os.environ.get("CALLGRIND") == "1"
BATCH = 64


def server(tmp):
    port = free_port()
    argv = [os.environ.get("REDIS_SERVER", "redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp,
            "--save", "", "--appendonly", "no", "--hash-max-listpack-value", "512"]
    if CALLGRIND:
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/cg.out" % tmp,
                "--instr-atstart=no"] + argv
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port, decode_responses=True)
    for _ in range(600):
        try:
            r.ping()
            return p, r
        except redis.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def record(i):
    """The accept record intake.c builds for a message job (message_record)."""
    phone = "+1323555%04d" % (i % 10000)
    d = json.dumps({"body": "Reminder %d: court on Monday at 8:30." % i, "subject": "",
                    "chain": ["sms"], "addr": {"sms": phone}}, separators=(",", ":"))
    if os.environ.get("JSON_RECORD") != "1":
        return "\t".join(["M", "1-%d" % i, "job-%d" % i, "c-%d" % i, "sms", phone, "", "", "0", "0", "0", "", "", "", d])
    return json.dumps({"e": "1-%d" % i, "id": "job-%d" % i, "kind": "message",
                       "msgs": [{"contact": "c-%d" % i, "chain": ["sms"], "addr": {"sms": phone},
                                 "d": d, "urgent": 0, "expires": 0, "due": 0}]},
                      separators=(",", ":"))


def run_checked_floor():
    """floor.py's checked variant on N jobs, the same batches."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import floor
    tmp = tempfile.mkdtemp(prefix="pregon-luacost-")
    p, r = server(tmp)
    try:
        accept, result = r.register_script(floor.ACCEPT), r.register_script(floor.RESULT)
        at = "2026-12-07T11:00:00.000Z"
        if CALLGRIND:
            subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        cpu0 = r.info("cpu")
        for b in range(0, N, BATCH):
            ids = range(b, min(b + BATCH, N))
            args = ["0"]
            for i in ids:
                entry, jid, contact = "1-%d" % i, "job-%d" % i, "c-%d" % i
                args += [entry, jid, contact, "+1323555%04d" % (i % 10000),
                         floor.event(jid, "m" + entry, contact, "accepted", 0, at),
                         floor.event(jid, "m" + entry, contact, "sending", 1, at)]
            accept(keys=["f:"], args=args)
            args = []
            for i in ids:
                entry, jid, contact = "1-%d" % i, "job-%d" % i, "c-%d" % i
                args += [entry, jid, floor.event(jid, "m" + entry, contact, "sent", 1, at)]
            result(keys=["f:"], args=args)
        cpu1 = r.info("cpu")
        if CALLGRIND:
            subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        if r.xlen("f:events") != 3 * N:
            raise SystemExit("checked floor: %d events of %d" % (r.xlen("f:events"), 3 * N))
        return finish(p, r, tmp, "checked floor", cpu0, cpu1)
    finally:
        if p.poll() is None:
            p.kill()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


LAYOUT_ACCEPT = """
-- Per message, 12 ARGV: seen key, entry, record key, contact index key,
-- mid, the index's score, job id, contact id, address, payload, and the
-- accepted and sending events.
local P = KEYS[1]
for i = 1, #ARGV, 12 do
	redis.call('SET', ARGV[i], ARGV[i + 1], 'NX', 'EX', 2592000)
	redis.call('SISMEMBER', P .. 'optout:sms', ARGV[i + 8])
	redis.call('HSET', ARGV[i + 2], 'job', ARGV[i + 6], 'kind', 'message', 'contact', ARGV[i + 7],
		'channel', 'sms', 'to', ARGV[i + 8], 'd', ARGV[i + 9], 'attempt', '1',
		'created', '1796641200000', 'status', 'sending')
	redis.call('EXPIRE', ARGV[i + 2], 2592000)
	redis.call('ZADD', ARGV[i + 3], ARGV[i + 5], ARGV[i + 4])
	redis.call('EXPIRE', ARGV[i + 3], 2592000, 'NX')
	redis.call('XADD', P .. 'events', 'MAXLEN', '~', 100000, '*', 'event', ARGV[i + 10])
	redis.call('XADD', P .. 'events', 'MAXLEN', '~', 100000, '*', 'event', ARGV[i + 11])
end
"""

LAYOUT_RESULT = """
local P = KEYS[1]
for i = 1, #ARGV, 2 do
	redis.call('HMGET', ARGV[i], 'job', 'kind', 'contact', 'channel', 'status', 'attempt')
	redis.call('HSET', ARGV[i], 'status', 'sent', 'updated', '1796641200001')
	redis.call('XADD', P .. 'events', 'MAXLEN', '~', 100000, '*', 'event', ARGV[i + 1])
end
"""


def run_layout():
    """LAYOUT=1: pregon's 11 commands per message, nothing else."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import floor
    tmp = tempfile.mkdtemp(prefix="pregon-luacost-")
    p, r = server(tmp)
    try:
        accept, result = r.register_script(LAYOUT_ACCEPT), r.register_script(LAYOUT_RESULT)
        at = "2026-12-07T11:00:00.000Z"
        if CALLGRIND:
            subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        cpu0 = r.info("cpu")
        for b in range(0, N, BATCH):
            ids = range(b, min(b + BATCH, N))
            args, res = [], []
            for i in ids:
                entry, jid, contact = "1-%d" % i, "job-%d" % i, "c-%d" % i
                mid = "m%s.1" % entry
                phone = "+1323555%04d" % (i % 10000)
                d = json.dumps({"body": "Reminder %d: court on Monday at 8:30." % i,
                                "subject": "", "chain": ["sms"], "addr": {"sms": phone}},
                               separators=(",", ":"))
                args += ["p:seen:" + jid, entry, "p:msg:" + mid, "p:cmz:" + contact, mid,
                         "1799233200000", jid, contact, phone, d,
                         floor.event(jid, mid, contact, "accepted", 0, at),
                         floor.event(jid, mid, contact, "sending", 1, at)]
                res += ["p:msg:" + mid, floor.event(jid, mid, contact, "sent", 1, at)]
            accept(keys=["p:"], args=args)
            result(keys=["p:"], args=res)
        cpu1 = r.info("cpu")
        if CALLGRIND:
            subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        if r.xlen("p:events") != 3 * N:
            raise SystemExit("layout: %d events of %d" % (r.xlen("p:events"), 3 * N))
        return finish(p, r, tmp, "pregon's commands alone", cpu0, cpu1)
    finally:
        if p.poll() is None:
            p.kill()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


def finish(p, r, tmp, name, cpu0, cpu1):
    us = (cpu1["used_cpu_user"] + cpu1["used_cpu_sys"] - cpu0["used_cpu_user"]
          - cpu0["used_cpu_sys"]) * 1e6 / N
    ir = None
    r.shutdown(nosave=True)
    p.wait(timeout=120)
    if CALLGRIND:
        with open(os.path.join(tmp, "cg.out")) as f:
            m = re.search(r"^totals:\s+(\d+)", f.read(), re.M)
        ir = int(m.group(1)) / N if m else None
    return name, us, ir


def run(lib_path):
    with open(lib_path) as f:
        text = f.read()
    spec_path = os.path.join(os.path.dirname(lib_path), "lua_lib.json")
    with open(spec_path) as f:
        spec = json.load(f)
    name = spec["library"]
    tmp = tempfile.mkdtemp(prefix="pregon-luacost-")
    p, r = server(tmp)
    try:
        r.execute_command("FUNCTION", "LOAD", "REPLACE", text)
        common = ["p:", "100000", "2592000", "2592000", ""]
        fn = {op: spec["ops"][op]["function"] for op in ("accept", "result")}
        recs = [record(i) for i in range(N)]
        if CALLGRIND:
            subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        cpu0 = r.info("cpu")
        for b in range(0, N, BATCH):
            args = ["sms=%d,email=0,signal=0" % BATCH]
            for i in range(b, min(b + BATCH, N)):
                args += [recs[i], "", "", ""]
            out = r.execute_command("FCALL", fn["accept"], 0, *common, *args)
            sends = out[1]
            res = ["5"]
            rec = spec["records"]["claimed"]
            for s in sends:
                mid, entry = s[rec.index("mid")], s[rec.index("entry")]
                res += ["sms", "job", entry, mid, "1", "sent", mid, "0"]
            r.execute_command("FCALL", fn["result"], 0, *common, *res)
        cpu1 = r.info("cpu")
        if CALLGRIND:
            subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        sent = r.xlen("p:events") // 3
        if sent != N and os.environ.get("NOCHECK") != "1":
            raise SystemExit("%s: %d of %d messages went through" % (name, sent, N))
        return finish(p, r, tmp, name, cpu0, cpu1)
    finally:
        if p.poll() is None:
            p.kill()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    libs = sys.argv[1:] or [os.path.join(BIN, "gen", "pregon_lib.lua")]
    print("N=%d one-message jobs: accept (fast path, batches of %d) + result sent" % (N, BATCH))
    runs = [lambda lib=lib: run(lib) for lib in libs]
    if os.environ.get("LAYOUT") == "1":
        runs.append(run_layout)
    if os.environ.get("FLOOR") == "1":
        runs.append(run_checked_floor)
    for one in runs:
        name, us, ir = one()
        line = "%-22s %6.1f us of Redis CPU per message" % (name, us)
        if ir is not None:
            line += "   %8.0f instructions per message (callgrind)" % ir
        print(line)


if __name__ == "__main__":
    main()
