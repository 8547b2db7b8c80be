#!/usr/bin/python3
"""floor.py: the least Redis work the contract allows per message.

Issue 2 asks for 5x BullMQ's throughput on one Redis. This measures how
much Redis CPU a message costs when a client does nothing but the writes
the contract requires of every `message` job, so that the ceiling any
design can reach on one Redis core is a measured figure, not an opinion.
The work per message is written here, not in pregond: no parsing, no
templates, no outbox, the cheapest encoding of everything.

Two variants, on the same job shape as bench_outbox.py, read from a
stream of their own through a consumer group, 500 entries a read:

  bare     MULTI/EXEC of native commands (the cheapest atomic form), no
           decisions: the job's record is one string key created by
           SET NX EX with status sending (dedupe and record in one key),
           the `accepted` and `sending` events, then SET XX (sent) and the
           `sent` event; one XACK per batch. Events are built by the
           client, clock included. Nothing here checks what it writes:
           it is a floor, not a gateway.
  checked  the same writes in two Lua scripts per batch, plus what the
           contract also requires of each message and can only be done
           atomically with a decision: a duplicate job id gets its
           `duplicate` event instead (SET NX, GET), an opted-out address
           is skipped (SISMEMBER, contract section 2), the record is
           indexed by contact so contact_delete can erase it (SADD), and
           the result moves the record only if it is still `sending` and
           still this attempt (GET before SET).

Both report Redis CPU (used_cpu_user + used_cpu_sys of INFO, before and
after) per message, and the ceiling that implies: 1e6 / that, messages a
second with one core given wholly to Redis. The Python client is far
slower than Redis, so the wall-clock rate here is not the ceiling; the
Redis CPU is what counts, since pregond runs on the other core.

Used by bench_outbox.py (beside the peer, in the same run). Alone:
  REDIS_PORT=6379 N=100000 /usr/bin/python3 bench/floor.py
"""

import json
import os
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import PORT, PREFIX, fail, say  # noqa: E402

READ = 500
KEEP_S = 30 * 86400      # [events] retention_days and [jobs] dedupe_days
MAXLEN = 1000000         # [events] max_len
FLOOR = PREFIX + "floor:"

ACCEPT = """
-- ARGV: now (ms), then per entry: entry id, job id, contact, address,
-- and the accepted and sending events.
local P = KEYS[1]
for i = 2, #ARGV, 6 do
	local entry, id, contact, addr = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
	local rec = P .. 'job:' .. id
	if redis.call('SET', rec, entry .. '|sending|1', 'NX', 'EX', %d) then
		if redis.call('SISMEMBER', P .. 'optout:sms', addr) == 1 then
			-- (never taken here: nobody is opted out; a gateway would
			-- also write the `suppressed` event)
			redis.call('SET', rec, entry .. '|suppressed|0', 'XX')
		else
			redis.call('SADD', P .. 'cm:' .. contact, id)
			redis.call('XADD', P .. 'events', 'MAXLEN', '~', %d, '*', 'event', ARGV[i + 4])
			redis.call('XADD', P .. 'events', 'MAXLEN', '~', %d, '*', 'event', ARGV[i + 5])
		end
	elseif redis.call('GET', rec) ~= entry then
		-- (never taken here: every id is new; the event stands in for
		-- the `duplicate` one, which is the same size)
		redis.call('XADD', P .. 'events', 'MAXLEN', '~', %d, '*', 'event', ARGV[i + 4])
	end
end
""" % (KEEP_S, MAXLEN, MAXLEN, MAXLEN)

RESULT = """
-- ARGV: per entry: entry id, job id, the sent event; then the acks.
local P = KEYS[1]
local acks = {}
for i = 1, #ARGV, 3 do
	local entry, id = ARGV[i], ARGV[i + 1]
	local rec = P .. 'job:' .. id
	if redis.call('GET', rec) == entry .. '|sending|1' then
		redis.call('SET', rec, entry .. '|sent|1', 'XX', 'KEEPTTL')
		redis.call('XADD', P .. 'events', 'MAXLEN', '~', %d, '*', 'event', ARGV[i + 2])
	end
	acks[#acks + 1] = entry
end
redis.call('XACK', P .. 'jobs', 'pregon', unpack(acks))
""" % MAXLEN


def iso_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def event(job_id, mid, contact, status, attempt, at):
    return json.dumps({"job": job_id, "kind": "message", "message": mid, "contact": contact,
                       "channel": "sms", "status": status, "attempt": attempt,
                       "provider_id": None, "at": at, "error": None, "meaning": None},
                      separators=(",", ":"))


def redis_cpu(r):
    info = r.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def drop(r):
    for k in r.scan_iter(match=FLOOR + "*", count=1000):
        r.unlink(k)


def load(r, n, job_text):
    key = FLOOR + "jobs"
    for start in range(0, n, 1000):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(n, start + 1000)):
            pipe.xadd(key, {"job": job_text(i)})
        pipe.execute()
    r.xgroup_create(key, "pregon", id="0")


def batches(r):
    """Yields the entries of the floor's job stream, READ at a time, as
    (entry id, job id, contact, address)."""
    while True:
        got = r.xreadgroup("pregon", "floor", {FLOOR + "jobs": ">"}, count=READ)
        if not got or not got[0][1]:
            return
        out = []
        for entry, fields in got[0][1]:
            j = json.loads(fields["job"])
            rc = j["recipient"]
            out.append((entry, j["id"], rc["id"], rc["phone"]))
        yield out


def bare(r):
    n = 0
    for batch in batches(r):
        at = iso_now()
        pipe = r.pipeline(transaction=True)
        for entry, jid, contact, _ in batch:
            mid = "m" + entry
            rec = FLOOR + "job:" + jid
            pipe.set(rec, entry + "|sending|1", nx=True, ex=KEEP_S)
            pipe.xadd(FLOOR + "events", {"event": event(jid, mid, contact, "accepted", 0, at)},
                      maxlen=MAXLEN, approximate=True)
            pipe.xadd(FLOOR + "events", {"event": event(jid, mid, contact, "sending", 1, at)},
                      maxlen=MAXLEN, approximate=True)
        pipe.execute()
        pipe = r.pipeline(transaction=True)
        for entry, jid, contact, _ in batch:
            pipe.set(FLOOR + "job:" + jid, entry + "|sent|1", xx=True, keepttl=True)
            pipe.xadd(FLOOR + "events", {"event": event(jid, "m" + entry, contact, "sent", 1, at)},
                      maxlen=MAXLEN, approximate=True)
        pipe.xack(FLOOR + "jobs", "pregon", *[b[0] for b in batch])
        pipe.execute()
        n += len(batch)
    return n


def checked(r):
    accept, result = r.register_script(ACCEPT), r.register_script(RESULT)
    n = 0
    for batch in batches(r):
        at = iso_now()
        args = [str(int(time.time() * 1000))]
        for entry, jid, contact, addr in batch:
            mid = "m" + entry
            args += [entry, jid, contact, addr, event(jid, mid, contact, "accepted", 0, at),
                     event(jid, mid, contact, "sending", 1, at)]
        accept(keys=[FLOOR], args=args)
        args = []
        for entry, jid, contact, _ in batch:
            args += [entry, jid, event(jid, "m" + entry, contact, "sent", 1, at)]
        result(keys=[FLOOR], args=args)
        n += len(batch)
    return n


def run_floor(r, n, job_text):
    """Both variants on n jobs; returns {variant: {"us": Redis CPU µs per
    message, "ceiling": messages/s on one Redis core, "wall": the client's
    rate}}. r must decode responses."""
    out = {}
    for name, fn in (("bare", bare), ("checked", checked)):
        drop(r)
        load(r, n, job_text)
        t0, c0 = time.monotonic(), redis_cpu(r)
        done = fn(r)
        c1, t1 = redis_cpu(r), time.monotonic()
        if done != n:
            fail("floor %s: %d of %d entries read" % (name, done, n))
        us = 1e6 * (c1 - c0) / n
        out[name] = {"us": us, "ceiling": 1e6 / us if us > 0 else float("nan"),
                     "wall": n / (t1 - t0)}
    drop(r)
    return out


def report(floor, peer_rate=None):
    for name, f in floor.items():
        line = ("floor    %-7s %5.1f us of Redis CPU per message -> at most %6.0f msgs/s on one"
                " Redis core" % (name, f["us"], f["ceiling"]))
        if peer_rate:
            line += " = %.2fx bullmq" % (f["ceiling"] / peer_rate)
        say(line)


def main():
    if PORT <= 0:
        fail("REDIS_PORT is not set")
    n = int(os.environ.get("N", "100000"))
    r = redis.Redis(host="127.0.0.1", port=PORT, decode_responses=True)

    def job_text(i):
        return json.dumps({"id": "floor-%d" % i, "kind": "message",
                           "recipient": {"id": "c%d" % i, "phone": "+1323555%04d" % (i % 10000)},
                           "body": "Court reminder #%d: your hearing is on 2024-07-01 at 09:00, "
                                   "Dept 12. Reply STOP to opt out." % i},
                          separators=(",", ":"))
    report(run_floor(r, n, job_text))


if __name__ == "__main__":
    main()
