"""Faults are normal: Redis restarts, pregond is killed or stopped in the
middle of thousands of messages, another instance takes over. Nothing may
be lost; what is sent twice is counted and bounded by what was in flight."""

import collections
import datetime
import json
import os
import signal
import subprocess
import time

import harness
from harness import wait_for


def load_jobs(r, cfg, n, start=0, tag="f"):
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + n):
        j = {"id": "%s-%d" % (tag, i), "kind": "message",
             "recipient": {"id": "c-%d" % i, "phone": "+1323555%04d" % (i % 10000)},
             "body": "Court reminder #%d: Dept 12, Dec 1 at 8:30." % i}
        pipe.xadd(cfg.key("jobs"), {"job": json.dumps(j)})
        if len(pipe) >= 1000:
            pipe.execute()
    pipe.execute()


def outbox(cfg):
    path = os.path.join(cfg.outbox, "sms.jsonl")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    # The last line may be mid-write while we read; every complete line must
    # parse (a line cut by SIGKILL would fail here).
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def count_lines(cfg):
    try:
        with open(os.path.join(cfg.outbox, "sms.jsonl"), "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def check_complete(cfg, n, tag="f"):
    lines = outbox(cfg)
    jobs = collections.Counter(line["job"] for line in lines)
    missing = [i for i in range(n) if ("%s-%d" % (tag, i)) not in jobs]
    assert not missing, "%d jobs never reached the outbox, e.g. %s" % (len(missing), missing[:5])
    twice = sum(c - 1 for c in jobs.values() if c > 1)
    return twice


FAST = {"jobs": {"reclaim_after": "1s", "batch": "128"}, "sms": {"concurrency": "64"}}


def test_sigkill_mid_10000_messages_loses_none_and_bounds_duplicates():
    srv = harness.RedisServer(extra=("--appendfsync", "always"))
    cfg = harness.write_config(srv, sections=FAST)
    load_jobs(srv.client, cfg, 10000)
    p = harness.start_daemon(cfg)
    wait_for(lambda: count_lines(cfg) >= 3000, timeout=60, interval=0.001, what="3000 sent")
    p.kill()
    p.wait()
    at_kill = count_lines(cfg)
    p2 = harness.start_daemon(cfg)
    try:
        wait_for(lambda: len({l["job"] for l in outbox(cfg)}) >= 10000, timeout=120, interval=0.2,
                 what="all 10000 in the outbox")
        twice = check_complete(cfg, 10000)
        # In flight at the kill: at most the sms concurrency, plus a
        # claimed batch whose results had not reached Redis yet.
        with open(os.path.join(cfg.dir, "pregond.log")) as f:
            reclaims = f.read().count("reclaimed")
        print("# killed after %d lines; sent twice: %d (bound 64 in flight + 512 results); "
              "reclaim log lines: %d" % (at_kill, twice, reclaims))
        assert twice <= 64 + 512, twice
        events = srv.client.xlen(cfg.key("events"))
        assert events >= 30000
    finally:
        rc = harness.stop(p2)
        srv.stop()
    assert rc == 0


def test_sigterm_mid_run_exits_0_and_sends_nothing_twice():
    srv = harness.RedisServer()
    cfg = harness.write_config(srv, sections=FAST)
    load_jobs(srv.client, cfg, 5000)
    p = harness.start_daemon(cfg)
    wait_for(lambda: count_lines(cfg) >= 1000, timeout=60, interval=0.001, what="1000 sent")
    assert harness.stop(p, signal.SIGTERM, timeout=30) == 0
    r = srv.client
    pend = r.xpending(cfg.key("ready:sms:normal"), "pregon")["pending"]
    p2 = harness.start_daemon(cfg)
    try:
        wait_for(lambda: len({l["job"] for l in outbox(cfg)}) >= 5000, timeout=120, interval=0.2,
                 what="all 5000")
        twice = check_complete(cfg, 5000)
        print("# pending after SIGTERM: %d; sent twice: %d" % (pend, twice))
        assert twice == 0
    finally:
        assert harness.stop(p2) == 0
        srv.stop()


def test_redis_killed_and_restarted_mid_run_loses_nothing():
    srv = harness.RedisServer(extra=("--appendfsync", "always"))
    cfg = harness.write_config(srv, sections=FAST)
    load_jobs(srv.client, cfg, 4000)
    p = harness.start_daemon(cfg)
    try:
        wait_for(lambda: count_lines(cfg) >= 800, timeout=60, interval=0.001, what="800 sent")
        srv.proc.kill()
        srv.proc.wait()
        time.sleep(1.0)
        # Same port, same dir: the AOF brings the state back.
        srv.proc = harness.spawn(srv.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        srv._wait_ready()
        srv.client = srv.connect()
        load_jobs(srv.client, cfg, 1000, start=4000)
        wait_for(lambda: len({l["job"] for l in outbox(cfg)}) >= 5000, timeout=120, interval=0.2,
                 what="all 5000 after the restart")
        twice = check_complete(cfg, 5000)
        print("# sent twice across the Redis restart: %d" % twice)
        assert twice <= 64 + 512
        assert p.poll() is None, "pregond must survive a Redis restart"
    finally:
        assert harness.stop(p) == 0
        srv.stop()


def test_a_reconnect_does_not_send_again_what_is_still_being_sent():
    # A message claimed at intake holds its job entry pending as its lease
    # while it is sent. A reconnect makes the intake read its own pending
    # list again: the entry of a send still in flight must be passed over,
    # not taken as a dead instance's and queued again (it once was, when
    # the intake looked for the entry at the wrong index of the record).
    srv = harness.RedisServer()
    cfg = harness.write_config(srv, sections={"sms": {"provider": "faulty"}})
    p = harness.start_daemon(cfg)
    r = srv.client
    try:
        wait_for(lambda: r.exists(cfg.key("jobs")), what="the consumer group")
        r.xadd(cfg.key("jobs"), {"job": json.dumps({
            "id": "slow-1", "kind": "message", "body": "Dept 12 moved. [slow:2500]",
            "recipient": {"id": "c-1", "phone": "+13235550100"}})})

        def statuses():
            return [json.loads(f["event"])["status"] for _, f in r.xrange(cfg.key("events"))
                    if json.loads(f["event"])["job"] == "slow-1"]
        wait_for(lambda: "sending" in statuses(), what="claimed at intake")
        killed = r.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 2, killed
        wait_for(lambda: len(outbox(cfg)) == 1, timeout=15, what="sent")
        time.sleep(3.0)     # a second send would take 2.5 s
        assert len(outbox(cfg)) == 1, outbox(cfg)
        assert statuses() == ["accepted", "sending", "sent"], statuses()
        assert r.xpending(cfg.key("jobs"), "pregon")["pending"] == 0
    finally:
        assert harness.stop(p) == 0
        srv.stop()


def test_second_instance_takes_over_what_a_dead_one_held():
    srv = harness.RedisServer()
    cfg = harness.write_config(srv, sections={"jobs": {"reclaim_after": "1s"},
                                              "sms": {"provider": "faulty", "concurrency": "8"}})
    # Slow sends, so the first instance dies holding messages mid-send.
    r = srv.client
    for i in range(20):
        r.xadd(cfg.key("jobs"), {"job": json.dumps({
            "id": "f-%d" % i, "kind": "message", "recipient": {"id": "c", "phone": "+13235550100"},
            "body": "[slow:3000] hello %d" % i})})
    a = harness.start_daemon(cfg)
    wait_for(lambda: r.xlen(cfg.key("events")) >= 20 + 8, what="A holding 8 messages mid-send")
    a.kill()
    a.wait()
    b = harness.start_daemon(cfg)
    try:
        wait_for(lambda: len({l["job"] for l in outbox(cfg)}) >= 20, timeout=60, what="B finished all 20")
        check_complete(cfg, 20)
        with open(os.path.join(cfg.dir, "pregond.log")) as f:
            assert "reclaimed" in f.read()
    finally:
        assert harness.stop(b, timeout=30) == 0
        srv.stop()


def test_two_instances_share_the_work_and_send_each_message_once():
    srv = harness.RedisServer()
    cfg = harness.write_config(srv, sections=FAST)
    load_jobs(srv.client, cfg, 4000)
    a = harness.start_daemon(cfg, log=os.path.join(cfg.dir, "a.log"))
    b = harness.start_daemon(cfg, log=os.path.join(cfg.dir, "b.log"))
    try:
        load_jobs(srv.client, cfg, 2000, start=4000)
        wait_for(lambda: len({l["job"] for l in outbox(cfg)}) >= 6000, timeout=120, interval=0.2,
                 what="all 6000")
        assert check_complete(cfg, 6000) == 0
        # Both read jobs (a job of one message is claimed and sent by the
        # instance that reads it; none goes through a ready stream here),
        # and both sent: their own counts add up to the 6000.
        consumers = srv.client.xinfo_consumers(cfg.key("jobs"), "pregon")
        assert len(consumers) == 2, consumers
        sent = r'pregon_messages_total\{channel="sms",outcome="sent"\} (\d+)'
        counts = [harness.metric(os.path.join(cfg.dir, n), sent) for n in ("a.log", "b.log")]
        assert sum(counts) == 6000 and min(counts) > 0, counts
    finally:
        assert harness.stop(a) == 0
        assert harness.stop(b) == 0
        srv.stop()


def test_the_adapter_never_has_more_than_concurrency_sends_out():
    """Jobs claimed at intake beyond [sms] concurrency wait in the engine
    for a send to finish: with 2 allowed and 6 sends of 400 ms each, they
    leave in three waves, never three within 300 ms."""
    srv = harness.redis_server()
    cfg = harness.write_config(srv, sections={"sms": {"provider": "faulty", "concurrency": "2"}})
    r = srv.client
    for i in range(6):
        r.xadd(cfg.key("jobs"), {"job": json.dumps({
            "id": "w-%d" % i, "kind": "message", "recipient": {"id": "c", "phone": "+13235550100"},
            "body": "[slow:400] wave %d" % i})})
    p = harness.start_daemon(cfg)
    try:
        wait_for(lambda: len([l for l in outbox(cfg) if l["job"].startswith("w-")]) == 6,
                 timeout=20, what="six slow sends")
        ats = sorted(datetime.datetime.strptime(l["at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
                     for l in outbox(cfg) if l["job"].startswith("w-"))
        assert all(ats[i + 2] - ats[i] >= 300 for i in range(4)), ats
    finally:
        assert harness.stop(p) == 0


def test_a_close_that_never_ends_is_cut_off_by_the_shutdown_deadline():
    """Issue 13: whatever still hangs after the grace, pregond exits. Here
    the outbox is a pipe nobody reads (a disk that stopped taking writes):
    its write blocks in the thread pool, the outbox adapter can never
    close, and without the deadline pregond would run for good. With it,
    pregond logs what was still open and exits 1 at grace + [redis]
    command_timeout + 1 s; the messages stay pending for another instance."""
    cfg = harness.write_config(sections={"shutdown": {"grace": "1s"},
                                         "redis": {"command_timeout": "1s"}})
    os.makedirs(cfg.outbox)
    fifo = os.path.join(cfg.outbox, "sms.jsonl")
    os.mkfifo(fifo)
    # Opened for reading (so that pregond's open returns) and never read:
    # once the pipe's 64 KiB are full, every write blocks.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    r = cfg.server.client
    p = harness.start_daemon(cfg)
    log = os.path.join(cfg.dir, "pregond.log")
    try:
        wait_for(lambda: "redis: store ready" in open(log).read(), what="pregond up")
        load_jobs(r, cfg, 1000, tag="hang")
        wait_for(lambda: r.xpending(cfg.key("jobs"), "pregon")["pending"] >= 64, timeout=20,
                 what="sends held by a write that does not end")
        time.sleep(0.5)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(6)
        except subprocess.TimeoutExpired:
            raise AssertionError("still running 6 s after SIGTERM:\n" + open(log).read()[-2000:])
        took = time.monotonic() - t0
        text = open(log).read()
        print("# exited %.2f s after SIGTERM (deadline 3 s)" % took)
        assert rc == 1, (rc, text[-2000:])
        assert 2.9 <= took < 4.5, took
        assert "shutdown: not closed 3.0 s after the signal" in text, text[-2000:]
        assert "exiting now with" in text and "LeakSanitizer" not in text, text[-2000:]
        assert r.xpending(cfg.key("jobs"), "pregon")["pending"] > 0
    finally:
        if p.poll() is None:
            p.kill()
        os.close(reader)


if __name__ == "__main__":
    harness.main(globals())
