"""pregond's HTTP listener from outside: /healthz and /metrics, and what a
hostile or broken client gets (malformed requests, oversized headers and
bodies, slowloris, many connections at once). The server itself has its
unit tests (tests/unit/test_http_server.c); this is the daemon as shipped."""

import socket
import threading
import time

import harness
from harness import wait_for


def start(srv=None, http=None):
    port = harness.free_port()
    conf = {"listen": "127.0.0.1:%d" % port, "header_timeout": "500ms", "max_body": "4096"}
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
    cfg, proc, port = start()
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


def test_connections_over_the_limit_are_refused_not_queued():
    cfg, proc, port = start(http={"max_connections": "5", "header_timeout": "3s"})
    try:
        # start()'s /healthz polls are closed on our side, but pregond counts
        # a connection until it has read the close. The first held
        # connection asks /metrics until it is the only one counted.
        def alone():
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
        held = [wait_for(alone, what="no connection left from start()")]
        held += [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
        for h in held[1:]:		# served and kept alive: surely counted
            h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            got = h.recv(4096)
            assert got.startswith(b"HTTP/1.1 200"), got
        r = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(r) != 200, r
        for s in held:
            s.close()
        wait_for(lambda: status_of(raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200,
                 timeout=5, what="served again")
    finally:
        assert harness.stop(proc) == 0


if __name__ == "__main__":
    harness.main(globals())
