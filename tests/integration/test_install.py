"""It runs where it is installed: `make install DESTDIR=...` lays out the
binaries, the templates, a config and the systemd unit; the installed
pregond, started from another working directory with a config that names
only Redis, finds its templates and sends through the outbox.

make install runs with NOBUILD=1 and BUILD=PREGON_BIN: it copies the
binaries under test (the sanitizer build) and builds nothing, so that it
never rebuilds a shared build folder with other flags."""

import json
import os
import signal
import subprocess
import time

import harness
from harness import wait_for

PHONE = "+13235550100"

# Issue 12, finding 11: what ops/pregond.service lacked. Both units carry
# every one of these lines.
HARDENING = [
    "LimitNOFILE=65536", "ProtectHome=yes", "PrivateDevices=yes", "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes", "ProtectKernelLogs=yes", "ProtectControlGroups=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "RestrictNamespaces=yes",
    "SystemCallFilter=@system-service", "CapabilityBoundingSet=", "MemoryDenyWriteExecute=yes",
    "LockPersonality=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "UMask=0077",
    "LoadCredential=pregon.redis_password", "LoadCredential=pregon.sms_auth_token",
    "LoadCredential=pregon.mqtt_password", "LoadCredential=pregon.email_password",
    "LoadCredential=pregon.http_tokens",
]


def unit_tail(text):
    """A unit from its LimitNOFILE= line on: the part both units share."""
    return text[text.index("\nLimitNOFILE="):]


def make_install(destdir, *extra):
    r = subprocess.run(["make", "--no-print-directory", "install", "NOBUILD=1",
                        "BUILD=" + harness.BIN, "DESTDIR=" + destdir] + list(extra),
                       cwd=harness.ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "make install failed:\n%s%s" % (r.stdout, r.stderr)
    return r


def test_make_install_lays_out_binaries_templates_config_and_unit():
    dest = harness.tempdir("pregon-install-")
    make_install(dest)
    pre = os.path.join(dest, "usr/local")
    for name in ("pregond", "pregon"):
        path = os.path.join(pre, "bin", name)
        assert os.access(path, os.X_OK), path
    assert os.path.isfile(os.path.join(pre, "share/pregon/templates/court_reminder/en.sms"))
    assert os.path.isfile(os.path.join(pre, "share/doc/pregon/pregon.conf.example"))
    conf = os.path.join(dest, "etc/pregon/pregon.conf")
    assert os.path.isfile(conf)
    with open(os.path.join(pre, "lib/systemd/system/pregond.service")) as f:
        unit = f.read()
    assert "\nExecStart=/usr/local/bin/pregond -c /etc/pregon/pregon.conf\n" in unit, unit
    assert "\nUser=pregon\n" in unit and "\nStateDirectory=pregon\n" in unit, unit
    lines = unit.split("\n")
    for want in HARDENING:
        assert want in lines, "pregond.service lacks %s" % want
    # The template, for several instances per machine (README "Installing").
    with open(os.path.join(pre, "lib/systemd/system/pregond@.service")) as f:
        tmpl = f.read()
    assert "\nExecStart=/usr/local/bin/pregond -c /etc/pregon/%i.conf\n" in tmpl, tmpl
    assert "\nStateDirectory=pregon/%i\n" in tmpl and "\nWorkingDirectory=/var/lib/pregon/%i\n" in tmpl
    assert unit_tail(tmpl) == unit_tail(unit), "pregond@.service's hardening differs"
    with open(os.path.join(pre, "lib/sysusers.d/pregon.conf")) as f:
        assert "\nu pregon " in f.read()
    # An existing config is never overwritten.
    with open(conf, "a") as f:
        f.write("\n# edited by the admin\n")
    r = make_install(dest)
    assert "kept " in r.stdout, r.stdout
    with open(conf) as f:
        assert f.read().endswith("# edited by the admin\n")


def test_prefix_and_sysconfdir_are_written_into_the_unit():
    dest = harness.tempdir("pregon-install-")
    make_install(dest, "PREFIX=/opt/pregon", "SYSCONFDIR=/opt/pregon/etc")
    with open(os.path.join(dest, "opt/pregon/lib/systemd/system/pregond.service")) as f:
        unit = f.read()
    assert "\nExecStart=/opt/pregon/bin/pregond -c /opt/pregon/etc/pregon/pregon.conf\n" in unit
    assert "/usr/local" not in unit, unit
    assert os.access(os.path.join(dest, "opt/pregon/bin/pregond"), os.X_OK)
    assert os.path.isfile(os.path.join(dest, "opt/pregon/etc/pregon/pregon.conf"))


def test_the_units_pass_systemd_analyze_verify_and_security():
    # Checked where the machine's systemd has systemd-analyze (Debian 12:
    # systemd 252, with security --offline); the score is printed.
    if subprocess.run(["sh", "-c", "command -v systemd-analyze"],
                      capture_output=True).returncode != 0:
        harness.skip("systemd-analyze is not installed")
    d = harness.tempdir("pregon-units-")
    for name in ("pregond.service", "pregond@.service"):
        with open(os.path.join(harness.ROOT, "ops", name)) as f:
            text = f.read()
        # verify wants ExecStart= to exist; the installed path may not.
        with open(os.path.join(d, name), "w") as f:
            f.write(text.replace("/usr/local/bin/pregond", "/bin/true"))
    os.symlink("pregond@.service", os.path.join(d, "pregond@1.service"))
    for name in ("pregond.service", "pregond@1.service"):
        path = os.path.join(d, name)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and r.stderr.strip() == "", "%s: %s" % (name, r.stderr)
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", path],
                           capture_output=True, text=True, timeout=60)
        if "--offline" in r.stderr and r.returncode != 0:
            harness.skip("this systemd-analyze has no security --offline")
        score = [l for l in r.stdout.splitlines() if "Overall exposure level" in l]
        assert score, r.stdout + r.stderr
        print("# %s" % score[0].strip())
        level = float(score[0].split(":")[1].split()[0])
        assert level <= 2.0, score[0]


def noon_zone():
    """An IANA zone where it is about noon now: the config keeps the
    default quiet hours (21:00-08:00), which would hold the message."""
    h = (12 - time.gmtime().tm_hour + 12) % 24 - 12    # -12..11 hours from UTC
    if h == 0:
        return "Etc/UTC"
    return "Etc/GMT%+d" % -h    # POSIX signs: Etc/GMT-5 is UTC+5


def test_installed_pregond_from_another_directory_sends_through_the_outbox():
    srv = harness.RedisServer()
    dest = harness.tempdir("pregon-install-")
    make_install(dest)
    bindir = os.path.join(dest, "usr/local/bin")
    work = harness.tempdir("pregon-work-")      # the working directory
    confdir = harness.tempdir("pregon-etc-")    # the config's own folder
    conf = os.path.join(confdir, "pregon.conf")
    # Redis only (its own server, so the default prefix is ours). The HTTP
    # listener goes to a free port: the machine is shared, and the
    # default 127.0.0.1:8080 may be taken.
    with open(conf, "w") as f:
        f.write("[redis]\nurl = %s\n\n[http]\nlisten = 127.0.0.1:0\n" % srv.url())
    log = os.path.join(work, "pregond.log")
    with open(log, "ab") as out:
        p = harness.spawn([os.path.join(bindir, "pregond"), "-c", conf],
                          cwd=work, stdout=out, stderr=out)
    try:
        job = {"id": "inst-1", "kind": "message",
               "recipient": {"id": "c-1", "phone": PHONE, "tz": noon_zone()},
               "body": "Installed and running."}
        r = subprocess.run([os.path.join(bindir, "pregon"), "-c", conf, "send", "-"],
                           input=json.dumps(job), capture_output=True, text=True,
                           cwd=work, timeout=20)
        assert r.returncode == 0, r.stderr
        # The default [outbox] dir, var/outbox, is the working directory's.
        box = os.path.join(work, "var/outbox/sms.jsonl")

        def sent():
            try:
                with open(box) as f:
                    return [json.loads(l) for l in f.read().split("\n")[:-1] if l.strip()]
            except FileNotFoundError:
                return []
        line = wait_for(sent, timeout=20, what="the outbox line")[0]
        assert line["job"] == "inst-1" and line["to"] == PHONE, line
        assert line["body"] == "Installed and running.", line
        assert p.poll() is None, "pregond exited"
        # The installed templates are the default ones, for the CLI too.
        vars_json = json.dumps({"name": "Ana", "court": "Foltz CJC", "department": "Dept. 30",
                                "appearance": "2026-12-01T08:30:00",
                                "tz": "America/Los_Angeles", "tomorrow": True})
        r = subprocess.run([os.path.join(bindir, "pregon"), "-c", conf, "template", "render",
                            "court_reminder", "en", "sms", "-"], input=vars_json,
                           capture_output=True, text=True, cwd=work, timeout=20)
        assert r.returncode == 0, r.stderr
        assert "Foltz CJC" in r.stdout, r.stdout
    finally:
        rc = harness.stop(p, signal.SIGTERM, timeout=20)
    with open(log) as f:
        text = f.read()
    assert rc == 0, "pregond exited with %s:\n%s" % (rc, text[-3000:])
    assert " error " not in text, text[-3000:]


def test_make_run_installs_only_what_running_needs_and_make_test_adds_the_rest():
    # Issue 13, item 18: a machine that only runs pregon gets no test tools.
    def pkgs(which):
        r = subprocess.run(["sh", "ops/install-deps.sh", "--list", which], cwd=harness.ROOT,
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()
    run, test = pkgs("run"), pkgs("test")
    assert set(run) < set(test), (run, test)
    for p in ("build-essential", "pkg-config", "libuv1-dev", "libhiredis-dev", "libjansson-dev",
              "libmosquitto-dev", "libhttp-parser-dev", "redis-server", "redis-tools"):
        assert p in run, p
    for p in ("libcmocka-dev", "mosquitto", "mosquitto-clients", "python3-redis",
              "python3-paho-mqtt", "python3-aiosmtpd", "systemd"):
        assert p not in run and p in test, p
    def plan(target):
        r = subprocess.run(["make", "-n", target], cwd=harness.ROOT, capture_output=True,
                           text=True, timeout=30)
        return r.stdout
    assert "install-deps.sh run" in plan("run") and "install-deps.sh test" not in plan("run")
    assert "install-deps.sh test" in plan("test")


if __name__ == "__main__":
    harness.main(globals())
