#!/usr/bin/python3
"""test_redis_acl.py: pregon as a Redis ACL user, and the Redis settings
ops/redis.conf ships (issue 12, finding 4).

Every server here includes ops/redis.conf itself and adds the ACL user
from its commented `# user pregon ...` line, with a password and the
prefix replaced: what an operator following its instructions runs. The
default user keeps a password of its own (the admin client of the tests),
so that nothing reaches the data as pregon without the ACL user.

- pregond and pregon run a day's work through that user: messages, an
  alert, a rejected job and its erasure by contact_delete, dead-letter
  commands, opt-outs, contacts, the periodic trim and depth ops; Redis's
  ACL LOG must stay empty (it records every refusal) and the log must
  show no NOPERM. So the ACL line is enough, and says so by test.
- The same user is refused what it must not have: MONITOR, CONFIG,
  DEBUG, SLOWLOG, KEYS, FUNCTION FLUSH, ACL, keys outside its prefix
  (ACL DRYRUN).
- A wrong password stops nothing silently: pregond logs "authentication
  refused for user ..." naming the keys to check, pregon exits with it,
  neither prints the password. A Redis that wants a password pregond was
  not given is explained (NOAUTH): before, pregond waited without a word.
- SLOWLOG keeps nothing: a 30 ms script leaves no entry (with Redis's
  default it kept the script's arguments).
"""

import json
import os
import signal
import time

import harness
from harness import wait_for

OPS_CONF = os.path.join(harness.ROOT, "ops", "redis.conf")
ADMIN_PW = "admin-test-pw"
PREFIX = "pregon:"
PHONE = "+13235550100"
PHONE2 = "+13235550111"


def acl_args(password, prefix=PREFIX):
    """The words after `user` of ops/redis.conf's commented ACL line, with
    the password and the prefix replaced."""
    with open(OPS_CONF) as f:
        lines = [l.strip() for l in f if l.startswith("# user pregon ")]
    assert len(lines) == 1, "ops/redis.conf should have one '# user pregon' line: %r" % lines
    words = lines[0][len("# user "):].split()
    assert ">CHANGE-ME" in words and "~pregon:*" in words, words
    return [(">" + password if w == ">CHANGE-ME" else "~%s*" % prefix if w == "~pregon:*" else w)
            for w in words]


def acl_server(password):
    """A redis-server with the shipped settings and the shipped ACL user."""
    return harness.RedisServer(password=ADMIN_PW,
                               extra=["--include", OPS_CONF, "--user"] + acl_args(password))


def acl_config(srv, password_text):
    """A config naming the ACL user, with its password in a file of mode
    600 (a url without a password)."""
    d = harness.tempdir("pregon-acl-")
    pw = os.path.join(d, "redis-password")
    with open(pw, "w") as f:
        f.write(password_text + "\n")
    os.chmod(pw, 0o600)
    return harness.write_config(
        server=srv, prefix=PREFIX, url="redis://127.0.0.1:%d/0" % srv.port, directory=d,
        sections={"redis": {"username": "pregon", "password_file": pw}})


def log_of(cfg):
    with open(os.path.join(cfg.dir, "pregond.log")) as f:
        return f.read()


def outbox(cfg, channel="sms"):
    try:
        with open(os.path.join(cfg.outbox, channel + ".jsonl")) as f:
            return [json.loads(l) for l in f.read().split("\n")[:-1] if l.strip()]
    except FileNotFoundError:
        return []


def send(cfg, job):
    path = os.path.join(cfg.dir, "job-%s.json" % job["id"])
    with open(path, "w") as f:
        json.dump(job, f)
    r = harness.run_cli(cfg, "send", path)
    assert r.returncode == 0, r.stderr
    return r


def cli_ok(cfg, *args, **kw):
    r = harness.run_cli(cfg, *args, **kw)
    assert r.returncode == 0, "pregon %s: %s" % (" ".join(args), r.stderr)
    return r.stdout


def test_pregond_and_pregon_run_through_the_shipped_acl_user_and_redis_refuses_nothing():
    srv = acl_server("pregon-acl-pw")
    admin = srv.client
    cfg = acl_config(srv, "pregon-acl-pw")
    started = time.time()
    p = harness.start_daemon(cfg)
    try:
        wait_for(lambda: "redis: store ready" in log_of(cfg), timeout=20, what="store ready")
        send(cfg, {"id": "m-1", "kind": "message", "recipient": {"id": "c-1", "phone": PHONE},
                   "body": "Your hearing is on Monday."})
        send(cfg, {"id": "a-1", "kind": "action_alert", "urgent": True,
                   "audience": {"recipients": [{"id": "r-1", "phone": PHONE2},
                                               {"id": "r-2", "email": "r2@example.org"}]},
                   "message": "Meeting moved to 6pm.", "replies": {"1": "coming"}})
        wait_for(lambda: len(outbox(cfg)) == 2 and len(outbox(cfg, "email")) == 1,
                 timeout=20, what="three messages in the outbox")
        # A rejected job names client-7 and a number; a contact_delete of
        # client-7 erases its dead letter (found through dx:c:client-7).
        bad = json.dumps({"id": "bad-1", "kind": "message",
                          "recipient": {"id": "client-7", "phone": "323-555"}, "body": "x"})
        admin.xadd(cfg.key("jobs"), {"job": bad})
        admin.xadd(cfg.key("jobs"), {"job": "not json at all"})
        wait_for(lambda: admin.xlen(cfg.key("dead")) == 2, timeout=20, what="two dead letters")
        assert "bad-1" in cli_ok(cfg, "dead", "list")
        assert "rejected: recipient.phone" in cli_ok(cfg, "status", "bad-1")   # issue 13
        send(cfg, {"id": "del-1", "kind": "contact_delete", "contact_id": "client-7"})
        wait_for(lambda: admin.xlen(cfg.key("dead")) == 1, timeout=20,
                 what="the dead letter naming client-7 erased")
        (left, fields), = admin.xrange(cfg.key("dead"))
        assert fields["job"] == "not json at all", fields
        assert cli_ok(cfg, "dead", "show", left) == "not json at all\n"
        cli_ok(cfg, "dead", "delete", left)
        assert admin.xlen(cfg.key("dead")) == 0
        # The rest of the CLI that touches Redis.
        assert "sent" in cli_ok(cfg, "status", "a-1")
        cli_ok(cfg, "optout", "add", "sms", PHONE2, "asked in person")
        assert PHONE2 in cli_ok(cfg, "optout", "list", "sms")
        assert "operator" in cli_ok(cfg, "optout", "history", PHONE2)
        csv = os.path.join(cfg.dir, "people.csv")
        with open(csv, "w") as f:
            f.write("id,name,phone,lists\np-1,Ana,%s,vol\n" % PHONE)
        cli_ok(cfg, "contacts", "import", csv)
        assert "p-1" in cli_ok(cfg, "contacts", "export", "--list", "vol")
        assert len(cli_ok(cfg, "tail", "--all", "--count", "3").splitlines()) == 3
        # Issue 13's commands and their reads (XINFO CONSUMERS, SCARD, TIME).
        assert len(cli_ok(cfg, "tail", "-n", "2", "--no-follow").splitlines()) == 2
        assert "vol" in cli_ok(cfg, "lists", "--json")
        assert "p-1" in cli_ok(cfg, "contacts", "list", "--list", "vol")
        assert "people" in cli_ok(cfg, "status", "a-1")
        assert "finished" in cli_ok(cfg, "status", "m-1")
        cli_ok(cfg, "dead", "list", "--json")
        # The trim (every 10 s) and depth (every 5 s) ops have run.
        time.sleep(max(0.0, started + 12 - time.time()))
        assert p.poll() is None, "pregond exited"
    finally:
        rc = harness.stop(p, signal.SIGTERM, timeout=20)
    log = log_of(cfg)
    assert rc == 0, log[-2000:]
    denied = admin.execute_command("ACL", "LOG")
    assert denied == [], "Redis refused pregon: %r" % denied
    assert "NOPERM" not in log and " failed: " not in log, log[-3000:]
    assert "pregon-acl-pw" not in log


def test_the_shipped_acl_user_is_refused_what_pregon_does_not_need():
    srv = acl_server("pw")
    admin = srv.client

    def allowed(*cmd):
        r = admin.execute_command("ACL", "DRYRUN", "pregon", *cmd)
        return r == "OK"

    # What it needs (a sample; the first test runs the whole of pregon).
    assert allowed("FCALL", "f", "0")
    assert allowed("XADD", PREFIX + "jobs", "*", "job", "{}")
    assert allowed("FUNCTION", "LOAD", "REPLACE", "#!lua name=x\n")
    # What it must not have.
    for cmd in (["MONITOR"], ["CONFIG", "GET", "*"], ["DEBUG", "SLEEP", "0"],
                ["SLOWLOG", "GET"], ["KEYS", "*"], ["FUNCTION", "FLUSH"],
                ["FUNCTION", "DELETE", "x"], ["ACL", "LIST"], ["FLUSHALL"],
                ["CLIENT", "LIST"], ["SUBSCRIBE", "x"], ["EVAL", "return 1", "0"],
                ["GET", "other:key"], ["XADD", "other:jobs", "*", "job", "{}"]):
        assert not allowed(*cmd), "the pregon ACL user may run %r" % (cmd,)


def test_a_wrong_password_is_refused_with_an_error_naming_the_user_and_the_keys():
    srv = acl_server("right-pw")
    cfg = acl_config(srv, "wrong-pw-1234")
    p = harness.start_daemon(cfg)
    try:
        wait_for(lambda: "WRONGPASS" in log_of(cfg), timeout=20, what="the refusal logged")
        time.sleep(0.5)
        assert p.poll() is None, "pregond exited: it waits for the ACL to be fixed"
    finally:
        rc = harness.stop(p, signal.SIGTERM, timeout=20)
    log = log_of(cfg)
    assert rc == 0, log[-2000:]
    assert ('redis writer: down (authentication refused for user "pregon": WRONGPASS'
            in log), log[-2000:]
    assert "check [redis] username and password_file" in log
    assert "redis: store ready" not in log
    assert "wrong-pw-1234" not in log and "right-pw" not in log
    r = harness.run_cli(cfg, "status", "x")
    reason = harness.one_line_error(r)
    assert 'authentication refused for user "pregon": WRONGPASS' in reason, reason
    assert "[redis] username and password_file" in reason, reason
    assert "wrong-pw-1234" not in r.stderr + r.stdout


def test_a_redis_asking_for_a_password_pregond_was_not_given_is_explained():
    # Before: the PING answered NOAUTH was dropped, and pregond waited for
    # ever without a word.
    srv = acl_server("pw")
    cfg = harness.write_config(server=srv, url="redis://127.0.0.1:%d/0" % srv.port)
    p = harness.start_daemon(cfg)
    try:
        wait_for(lambda: "NOAUTH" in log_of(cfg), timeout=20, what="NOAUTH explained")
    finally:
        rc = harness.stop(p, signal.SIGTERM, timeout=20)
    log = log_of(cfg)
    assert rc == 0, log[-2000:]
    assert "Redis asks for a password (NOAUTH" in log and "[redis] password_file" in log, log


def test_the_shipped_redis_conf_keeps_nothing_in_the_slowlog():
    # Finding 4: SLOWLOG kept an alert step's arguments (a number and a
    # text) with Redis's default of 10 ms.
    srv = harness.RedisServer(extra=["--include", OPS_CONF])
    admin = srv.client
    assert admin.config_get("slowlog-log-slower-than") == {"slowlog-log-slower-than": "-1"}
    admin.execute_command("SLOWLOG", "RESET")
    slow = ("local t = redis.call('TIME') local s = t[1] * 1e6 + t[2] "
            "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - s > 30000 return ARGV[1]")
    assert admin.eval(slow, 0, "Your asylum hearing moved " + PHONE).startswith("Your")
    assert admin.execute_command("SLOWLOG", "LEN") == 0


if __name__ == "__main__":
    harness.main(globals())
