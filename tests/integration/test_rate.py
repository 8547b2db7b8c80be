"""[sms] rate is one budget for every pregond on the same Redis (GCRA in
pregon.lua, rate.h). Measured from the outbox's timestamps: over any window
of W seconds at most rate*W + burst messages leave, plus the documented
tolerance of one per instance and lane when an idle queue wakes."""

import datetime
import json
import os
import time

import harness
from harness import wait_for

RATE = 20
BURST = 2
INSTANCES = 2
TOLERANCE = BURST + INSTANCES * 2


def load(r, cfg, n, tag):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        j = {"id": "%s-%d" % (tag, i), "kind": "message",
             "recipient": {"id": "c-%d" % i, "phone": "+1323555%04d" % i},
             "body": "Town hall on Thursday at 6pm, reply 1 to attend."}
        pipe.xadd(cfg.key("jobs"), {"job": json.dumps(j)})
    pipe.execute()


def sent_times(cfg):
    try:
        with open(os.path.join(cfg.outbox, "sms.jsonl")) as f:
            lines = [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []
    return sorted(datetime.datetime.strptime(l["at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
                  for l in lines)


def worst_window(times, width):
    """The most messages inside any window of `width` seconds."""
    worst, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - width:
            j += 1
        worst = max(worst, i - j + 1)
    return worst


def test_rate_holds_across_two_instances():
    n = 120
    cfg = harness.write_config(sections={"sms": {"rate": str(RATE), "burst": str(BURST)}})
    r = cfg.server.client
    daemons = [harness.start_daemon(cfg, log=os.path.join(cfg.dir, "d%d.log" % i))
               for i in range(INSTANCES)]
    try:
        time.sleep(0.5)		# both idle and blocked on their queues
        load(r, cfg, n, "rate")
        wait_for(lambda: len(sent_times(cfg)) >= n, timeout=60, interval=0.1, what="all sent")
        times = sent_times(cfg)
        assert len(times) == n, len(times)
        span = times[-1] - times[0]
        floor = (n - TOLERANCE) / RATE
        assert span >= floor - 0.05, "sent %d in %.2fs, faster than %d/s allows" % (n, span, RATE)
        # Not starved either: waiting for tokens, not for timeouts.
        assert span <= n / RATE * 1.5 + 1, "too slow: %.2fs" % span
        for width in (0.5, 1.0, 2.0):
            w = worst_window(times, width)
            assert w <= RATE * width + TOLERANCE, "%d in a %.1fs window" % (w, width)
        # Both took part: the budget is shared, not each instance's own.
        consumers = r.xinfo_consumers(cfg.key("jobs"), "pregon")
        assert len(consumers) == INSTANCES, consumers
    finally:
        for d in daemons:
            assert harness.stop(d) == 0


def test_unlimited_when_rate_is_zero():
    n = 200
    cfg = harness.write_config()
    d = harness.start_daemon(cfg)
    try:
        load(cfg.server.client, cfg, n, "free")
        wait_for(lambda: len(sent_times(cfg)) >= n, timeout=30, interval=0.05, what="all sent")
        times = sent_times(cfg)
        assert times[-1] - times[0] < 3, "200 messages took %.2fs" % (times[-1] - times[0])
        assert cfg.server.client.exists(cfg.key("rate:sms")) == 0
    finally:
        assert harness.stop(d) == 0


def test_rate_script_grants_burst_then_paces():
    """The Lua op itself: a burst at once, then one token per 1/rate, and
    a refund makes room again."""
    cfg = harness.write_config()
    r = cfg.server.client
    lib = harness.Library(cfg)

    def rate(want, refund=0, rate_=10, burst=3):
        return lib.call("rate", "sms", str(rate_), str(burst), str(want), str(refund))

    g, wait = rate(5)
    assert g == 3 and 1 <= wait <= 100, (g, wait)
    g, wait = rate(1)
    assert g == 0 and 1 <= wait <= 100, (g, wait)
    time.sleep(0.12)
    g, _ = rate(5)
    assert g == 1, g
    rate(0, refund=1)
    g, _ = rate(1)
    assert g == 1, g
    ttl = r.pttl(cfg.key("rate:sms"))
    assert 0 < ttl <= 2000, ttl
    try:
        lib.call("rate", "sms", "0", "1", "1", "0")
        raise AssertionError("rate 0 accepted")
    except Exception as e:
        assert "bad arguments" in str(e), e


if __name__ == "__main__":
    harness.main(globals())
