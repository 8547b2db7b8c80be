"""pregond's HTTP listener from outside: /healthz and /metrics, and what a
hostile or broken client gets (malformed requests, oversized headers and
bodies, slowloris, many connections at once). The server itself has its
unit tests (tests/unit/test_http_server.c); this is the daemon as shipped."""

import os
import signal
import socket
import subprocess
import threading
import time

import harness
from harness import wait_for


def start(srv=None, http=None):
    port = harness.free_port()
    conf = {"listen": "127.0.0.1:%d" % port, "request_timeout": "500ms", "max_body": "4096"}
    conf.update(http or {})
    cfg = harness.write_config(srv, sections={"http": conf})
    proc = harness.start_daemon(cfg)
    wait_for(lambda: raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200"),
             timeout=10, what="/healthz 200")
    return cfg, proc, port


def raw(port, data, timeout=5.0, shut=False):
    """Sends data, returns everything the server sends until it closes or
    goes quiet for a moment."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        s.settimeout(0.5 if not shut else timeout)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break		# refused over the connection limit
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/1.") else None


def test_healthz_and_metrics():
    cfg, proc, port = start()
    try:
        r = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(r) == 200 and b'"redis":"up"' in r, r
        r = raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(r) == 200, r
        assert b"text/plain; version=0.0.4" in r
        for name in (b"pregon_jobs_total", b"pregon_messages_total", b"pregon_retries_total",
                     b"pregon_send_duration_seconds_bucket", b"pregon_redis_reconnects_total",
                     b"pregon_queue_depth", b"pregon_redis_up 1"):
            assert name in r, name
        wait_for(lambda: b'pregon_queue_depth{queue="jobs"} 0' in
                 raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), what="depth read")
    finally:
        assert harness.stop(proc) == 0


def test_healthz_is_503_while_redis_is_down():
    srv = harness.RedisServer()
    cfg, proc, port = start(srv)
    try:
        srv.proc.kill()
        srv.proc.wait()
        wait_for(lambda: status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 503,
                 timeout=15, what="/healthz 503")
        srv.restart()
        wait_for(lambda: status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200,
                 timeout=15, what="/healthz 200 again")
    finally:
        assert harness.stop(proc) == 0
        srv.stop()


def test_malformed_oversized_and_unknown_requests_get_clear_statuses():
    cfg, proc, port = start()
    try:
        assert status_of(raw(port, b"BLAH\r\n\r\n")) == 400
        assert status_of(raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")) == 400
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        assert status_of(raw(port, big)) == 431
        many = b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n"
        assert status_of(raw(port, many)) == 431
        body = b"POST /webhooks/sms/status HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        assert status_of(raw(port, body)) == 413
        assert status_of(raw(port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")) == 404
        r = raw(port, b"DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(r) == 405 and b"Allow: GET" in r, r
        # Two requests in one write: both answered, in order, keep-alive.
        r = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        assert r.count(b"HTTP/1.1 ") == 2 and r.index(b"200") < r.index(b"404"), r
        # Still serving.
        assert status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
    finally:
        assert harness.stop(proc) == 0


def test_slowloris_is_cut_off_and_others_are_served_meanwhile():
    cfg, proc, port = start()
    try:
        slow = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
        t0 = time.time()
        assert status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
        answers = []
        for s in slow:
            data = b""
            s.settimeout(5)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            answers.append(status_of(data))
            s.close()
        assert answers == [408] * 20, answers
        assert time.time() - t0 < 4, "slow clients held for %.1fs" % (time.time() - t0)
    finally:
        assert harness.stop(proc) == 0


def test_many_concurrent_connections_are_all_answered():
    # All from 127.0.0.1: more than one address's share (max_per_peer).
    cfg, proc, port = start(http={"max_per_peer": "1024"})
    try:
        n = 300
        results = [None] * n

        def one(i):
            results[i] = status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                       shut=False))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(200) == n, [r for r in results if r != 200][:10]
    finally:
        assert harness.stop(proc) == 0


def alone(port):
    """A connection that has been served /metrics while it was the only one
    pregond counted (start()'s /healthz polls are closed on our side, but
    pregond counts a connection until it has read the close), or None."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"pregon_http_connections_open" not in got or not got.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    if b"pregon_http_connections_open 1\n" in got:
        return s
    s.close()
    return None


def closed_by_server(s, timeout=2.0):
    s.settimeout(timeout)
    try:
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def metrics_of(port):
    return raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").decode()


def test_a_full_listener_closes_the_longest_idle_for_a_newcomer():
    """Issue 12: 1,024 idle sockets used to lock everyone out (the next
    connection was reset). Now the newcomer is served and the connection
    idle longest makes room."""
    cfg, proc, port = start(http={"max_connections": "5", "request_timeout": "3s"})
    try:
        held = [wait_for(lambda: alone(port), what="no connection left from start()")]
        for _ in range(4):
            time.sleep(0.05)
            h = socket.create_connection(("127.0.0.1", port), timeout=5)
            h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            got = h.recv(4096)
            assert got.startswith(b"HTTP/1.1 200"), got
            held.append(h)
        r = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(r) == 200, r
        assert closed_by_server(held[0]), "the longest idle was kept"
        held[1].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert held[1].recv(4096).startswith(b"HTTP/1.1 200")
        for s in held:
            s.close()
        m = wait_for(lambda: metrics_of(port), what="metrics")
        key = '\npregon_http_connections_evicted_total{reason="full"} '
        assert key in m, m
        evicted = int(m.split(key)[1].split()[0])
        assert evicted >= 1, m
    finally:
        assert harness.stop(proc) == 0


def test_one_address_cannot_take_more_than_max_per_peer():
    """Three idle sockets fill 127.0.0.1's share: a fourth takes the place
    of the oldest, never more than three are held, and 127.0.0.2 is not
    held back."""
    cfg, proc, port = start(http={"max_per_peer": "3"})
    try:
        held = [wait_for(lambda: alone(port), what="no connection left from start()")]
        for _ in range(2):
            time.sleep(0.05)
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert extra.recv(4096).startswith(b"HTTP/1.1 200")
        assert closed_by_server(held[0]), "the oldest of the address's sockets was kept"
        extra.close()
        other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        other.bind(("127.0.0.2", 0))
        other.settimeout(5)
        other.connect(("127.0.0.1", port))
        other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert other.recv(4096).startswith(b"HTTP/1.1 200")
        other.close()
        for s in held:
            s.close()
        m = metrics_of(port)
        assert 'pregon_http_connections_evicted_total{reason="peer_limit"} 1' in m, m
        assert 'pregon_http_connections_refused_total{reason="peer_limit"} 0' in m, m
    finally:
        assert harness.stop(proc) == 0


def test_a_trickled_body_is_cut_off_at_the_request_deadline():
    """Issue 12: the body timer restarted on every byte, so one byte every
    8 s held a POST open indefinitely. One deadline now covers the whole
    request."""
    cfg, proc, port = start(http={"request_timeout": "1s"})
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /webhooks/sms/status HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        t0 = time.time()
        got = b""
        s.settimeout(0.3)
        while time.time() - t0 < 5:
            try:
                s.sendall(b"a")
            except OSError:
                break
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        assert status_of(got) == 408, got
        assert time.time() - t0 < 2.5, "held for %.1fs" % (time.time() - t0)
        s.close()
        m = metrics_of(port)
        assert 'pregon_http_timeouts_total{phase="request"} 1' in m, m
    finally:
        assert harness.stop(proc) == 0


def test_smuggling_shapes_get_400_and_unknown_codings_501():
    """Issue 12, finding 8: accepted before, each a request-smuggling shape
    behind a proxy that parses differently (RFC 9112)."""
    cfg, proc, port = start()
    try:
        for req in (b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
                    b"GET /healthz HTTP/1.1\nHost: x\n\n",
                    b"POST /webhooks/sms/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\nabcXX0\r\n\r\n"):
            assert status_of(raw(port, req)) == 400, req
        r = raw(port, b"POST /webhooks/sms/status HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        assert status_of(r) == 501, r
        assert status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
    finally:
        assert harness.stop(proc) == 0


def test_connection_caps_must_fit_under_the_open_file_limit():
    """Issue 12: under nofile=1024 the sockets took every descriptor and
    SIGHUP could not reopen the log. pregond now raises its soft limit to
    the hard one and refuses a cap that does not fit, naming the key."""
    port = harness.free_port()
    cfg = harness.write_config(sections={"http": {"listen": "127.0.0.1:%d" % port,
                                                  "max_connections": "1024"}})
    p = harness.spawn(["prlimit", "--nofile=512:512", harness.binary("pregond"), "-c", cfg.path],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.communicate(timeout=30)[0].decode()
    assert p.returncode == 1, (p.returncode, out)
    assert "[http] max_connections" in out and "open-file limit of 512" in out, out
    # A low soft limit under a high hard one is raised, and pregond runs.
    p = harness.spawn(["prlimit", "--nofile=256:4096", harness.binary("pregond"), "-c", cfg.path],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200,
                 timeout=10, what="/healthz 200")
        with open("/proc/%d/limits" % p.pid) as f:
            line = [x for x in f if x.startswith("Max open files")][0]
        assert line.split()[3] == "4096", line
    finally:
        assert harness.stop(p) == 0


def test_sighup_reopens_files_while_strangers_hold_every_connection():
    """Issue 12: under nofile=1024 the sockets took every descriptor and
    SIGHUP then failed to reopen the log, the outbox and the templates.
    Here the open-file limit is exactly what the caps need, strangers open
    more sockets than max_connections, and SIGHUP still reopens the log
    and reloads every template."""
    port = harness.free_port()
    d = harness.tempdir("pregon-hup-")
    logpath = os.path.join(d, "pregond.log")
    # 100 connections, and 64 + 2 per provider connection (3 channels x 4)
    # kept: 100 + 1 + 88 = 189 descriptors.
    cfg = harness.write_config(directory=d, sections={
        "http": {"listen": "127.0.0.1:%d" % port, "max_connections": "100",
                 "max_per_peer": "100"},
        "log": {"file": logpath},
        "sms": {"concurrency": "4"}, "email": {"concurrency": "4"},
        "signal": {"concurrency": "4"}})
    p = harness.spawn(["prlimit", "--nofile=189:189", harness.binary("pregond"), "-c", cfg.path],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    held = []
    try:
        wait_for(lambda: status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200,
                 timeout=10, what="/healthz 200")
        for i in range(200):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.%d" % (2 + i % 2), 0))
            s.connect(("127.0.0.1", port))
            held.append(s)
        time.sleep(0.5)
        os.rename(logpath, logpath + ".1")
        os.kill(p.pid, signal.SIGHUP)
        wait_for(lambda: os.path.exists(logpath) and "templates: reloaded" in open(logpath).read(),
                 timeout=10, what="log reopened and templates reloaded")
        assert "reload failed" not in open(logpath).read()
        assert status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
    finally:
        for s in held:
            s.close()
        assert harness.stop(p) == 0


def test_twilio_webhooks_take_the_largest_message_and_refuse_more_unread():
    """Issue 12: the body limit is the route's and is checked before the
    signature: 1 MiB bodies from strangers cost nothing, while the largest
    message Twilio can post (1,600 characters, 3 UTF-8 bytes each,
    percent-encoded: over 14 KB) still gets through the inbound route."""
    import test_sms
    g = test_sms.Gateway()
    try:
        r = test_sms.ctl("POST", "inbound", {"url": g.public + "/webhooks/sms/inbound",
                                             "from": "+13235550199", "to": test_sms.FROM,
                                             "body": "\u4f60" * 1600})
        assert r["status"] == 200, r
        entries = g.r.xrange(g.cfg.key("inbound"))
        assert any(f.get("text") == "\u4f60" * 1600 for _, f in entries), "the long reply was not kept"
        for path, n in (("/webhooks/sms/inbound", 32 * 1024 + 1), ("/webhooks/sms/status", 8 * 1024 + 1)):
            head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    "Content-Length: %d\r\n\r\n" % (path, n)).encode()
            assert status_of(raw(g.http_port, head)) == 413, path    # the head alone
    finally:
        g.stop()


if __name__ == "__main__":
    harness.main(globals())
