"""Host names with more than one address: on a stock Debian 12, /etc/hosts
maps localhost to ::1 as well as 127.0.0.1, and getaddrinfo returns ::1
first. pregond and pregon must try each address before giving up, so a
Redis, an MQTT broker and a provider that listen on 127.0.0.1 only are
still reached by the name localhost.

Each test runs pregond (and pregon) in a private mount namespace
(unshare --mount) where a hosts file of the test's own, listing ::1 before
127.0.0.1, is bound over /etc/hosts; the machine's own file is untouched.
Where that is not allowed (not root, a container, a chroot whose / is not
a mount point) but the machine's own /etc/hosts already gives ::1 first
for localhost, as Debian 12's does, the tests that need only localhost run
without a namespace; the others skip and say why."""

import json
import os
import signal
import subprocess
import sys

import harness
from harness import wait_for

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "fakes"))
import twilio_fake  # noqa: E402

SID = "AC" + "3f" * 16
TOKEN = "localhost-test-token"
FROM = "+15005550006"
PHONE = "+13235550100"


def hosts_file():
    """A hosts file with localhost on ::1 first, as Debian 12 ships it."""
    d = harness.tempdir("pregon-hosts-")
    path = os.path.join(d, "hosts")
    with open(path, "w") as f:
        f.write("::1\tlocalhost ip6-localhost ip6-loopback\n"
                "127.0.0.1\tlocalhost\n"
                # libcurl 7.88 answers "localhost" itself (RFC 6761), without
                # /etc/hosts: a name of ours shows its fallback from ::1.
                "::1\tprovider.pregon.test\n"
                "127.0.0.1\tprovider.pregon.test\n")
    return path


NAMESPACE = True     # False: the machine's own hosts file is used (namespace_or_skip)


def in_namespace(hosts, argv):
    """argv run with hosts bound over /etc/hosts in a mount namespace of
    its own; exec keeps the pid, so signals reach the program itself."""
    if not NAMESPACE:
        return list(argv)
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, hosts] + list(argv)


def first_address(argv):
    r = subprocess.run(argv + ["getent", "ahosts", "localhost"], capture_output=True, text=True,
                       timeout=20)
    return r, (r.stdout.split()[0] if r.stdout.split() else "")


def namespace_or_skip(hosts, only_localhost=True):
    """Makes in_namespace() give localhost ::1 first: in a namespace, or,
    where none can be made, with the machine's own hosts file if it does
    so already (only for tests that need no name of their own)."""
    global NAMESPACE
    NAMESPACE = True
    r, first = first_address(in_namespace(hosts, []))
    if r.returncode == 0:
        assert first == "::1", "localhost should resolve to ::1 first in the namespace:\n" + r.stdout
        return
    why = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
    _, own = first_address([])
    if only_localhost and own == "::1":
        NAMESPACE = False
        return
    harness.skip("cannot bind a hosts file in a mount namespace here (unshare --mount, "
                 "mount --bind need root): %s; and this machine's localhost is %s first"
                 % (why, own or "unknown"))


def test_pregond_reaches_redis_broker_and_provider_on_127_0_0_1_by_the_name_localhost():
    hosts = hosts_file()
    namespace_or_skip(hosts)
    srv = harness.RedisServer()                      # --bind 127.0.0.1
    broker = harness.mosquitto_server(tls=True)      # listeners on 127.0.0.1
    fake, fake_port = twilio_fake.start(SID, TOKEN, ["--from-numbers", FROM,
                                                     "--callback-delay", "0.02"],
                                        popen=harness.spawn)  # 127.0.0.1
    d = harness.tempdir("pregon-localhost-")
    token = os.path.join(d, "token")
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    http_port = harness.free_port()
    cfg = harness.write_config(srv, url="redis://localhost:%d/0" % srv.port, directory=d,
                               sections={
        "log": {"level": "debug"},
        "http": {"listen": "127.0.0.1:%d" % http_port,
                 "public_url": "http://127.0.0.1:%d" % http_port},
        "mqtt": {"url": broker.url(tls=True, host="localhost"), "cafile": broker.cafile,
                 "client_id": "pregon-localhost-%d" % os.getpid()},
        "sms": {"provider": "twilio", "base_url": "http://localhost:%d" % fake_port,
                "account_sid": SID, "auth_token_file": token, "from": FROM,
                "timeout": "5s"},
    })
    log = os.path.join(d, "pregond.log")
    with open(log, "ab") as out:
        p = harness.spawn(in_namespace(hosts, [harness.binary("pregond"), "-c", cfg.path]),
                          stdout=out, stderr=out)

    def text():
        with open(log) as f:
            return f.read()
    try:
        # Redis: ::1 refused, then 127.0.0.1, on each of the three connections.
        wait_for(lambda: text().count("address 1 of 2: Connection refused; trying the next")
                 >= 3, what="each Redis connection trying ::1 first")
        wait_for(lambda: "redis: store ready" in text(), what="Redis up by localhost")
        # The broker, over TLS: the certificate names localhost (and 127.0.0.1).
        wait_for(lambda: "mqtt events: up (localhost:%d, TLS" % broker.tls_port in text(),
                 timeout=15, what="MQTT up by localhost")
        # pregon, in the same namespace, queues a job through localhost too.
        job = {"id": "lh-1", "kind": "message", "recipient": {"id": "c-1", "phone": PHONE},
               "body": "Reached by name."}
        r = subprocess.run(in_namespace(hosts, [harness.binary("pregon"), "-c", cfg.path,
                                                "send", "-"]),
                           input=json.dumps(job), capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        # The provider, through libcurl at http://localhost:PORT.
        sent = wait_for(lambda: [q for q in twilio_fake.control(fake_port, "GET", "requests")
                                 ["requests"] if q["params"].get("To") == PHONE],
                        timeout=20, what="the SMS at the fake provider")
        assert sent[0]["params"]["Body"] == "Reached by name.", sent
        wait_for(lambda: harness.job_status(cfg, "lh-1")["statuses"].get("sent", 0) +
                 harness.job_status(cfg, "lh-1")["statuses"].get("delivered", 0) == 1,
                 what="the message sent")
        assert p.poll() is None, "pregond exited:\n" + text()[-3000:]
    finally:
        rc = harness.stop(p, signal.SIGTERM, timeout=20)
    assert rc == 0, "pregond exited with %s:\n%s" % (rc, text()[-3000:])
    assert "redis writer: down" not in text(), text()[-3000:]


def test_a_provider_named_by_a_host_whose_first_address_refuses_is_reached():
    hosts = hosts_file()
    namespace_or_skip(hosts, only_localhost=False)     # provider.pregon.test
    srv = harness.redis_server()
    fake, fake_port = twilio_fake.start(SID, TOKEN, ["--from-numbers", FROM],
                                        popen=harness.spawn)
    d = harness.tempdir("pregon-localhost-")
    token = os.path.join(d, "token")
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    cfg = harness.write_config(srv, directory=d, sections={
        "sms": {"provider": "twilio", "base_url": "http://provider.pregon.test:%d" % fake_port,
                "account_sid": SID, "auth_token_file": token, "from": FROM, "timeout": "5s"}})
    with open(os.path.join(d, "pregond.log"), "ab") as out:
        p = harness.spawn(in_namespace(hosts, [harness.binary("pregond"), "-c", cfg.path]),
                          stdout=out, stderr=out)
    try:
        job = {"id": "lh-2", "kind": "message", "recipient": {"id": "c-2", "phone": PHONE},
               "body": "Second address."}
        srv.client.xadd(cfg.key("jobs"), {"job": json.dumps(job)})
        sent = wait_for(lambda: [q for q in twilio_fake.control(fake_port, "GET", "requests")
                                 ["requests"] if q["params"].get("Body") == "Second address."],
                        timeout=20, what="the SMS at the fake provider")
        assert len(sent) == 1, sent
    finally:
        rc = harness.stop(p, signal.SIGTERM, timeout=20)
    assert rc == 0


def test_pregon_reports_every_address_refused():
    hosts = hosts_file()
    namespace_or_skip(hosts)
    port = harness.free_port()     # nothing listens there, on either address
    d = harness.tempdir("pregon-localhost-")
    conf = os.path.join(d, "pregon.conf")
    with open(conf, "w") as f:
        f.write("[redis]\nurl = redis://localhost:%d/0\nconnect_timeout = 1s\n" % port)
    r = subprocess.run(in_namespace(hosts, [harness.binary("pregon"), "-c", conf,
                                            "status", "x"]),
                       capture_output=True, text=True, timeout=30)
    reason = harness.one_line_error(r)
    assert reason == ("redis: cannot connect to localhost:%d/0: Connection refused "
                      "(each of its addresses tried)" % port), reason


if __name__ == "__main__":
    harness.main(globals())
