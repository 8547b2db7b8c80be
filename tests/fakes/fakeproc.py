"""fakeproc.py: what the fakes and their Python helpers share: serving
until SIGTERM or SIGINT with the port printed first, starting one as a
child process that prints its port first, and one call of its /_fake/
control API. Standard library only."""

import http.client
import json
import signal
import subprocess
import sys
import threading


def serve(srv, port=None):
    """Prints port (default: srv's) on the first stdout line, serves until
    SIGTERM or SIGINT, then closes srv: the fake exits 0."""
    def stop(sig, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(srv.server_address[1] if port is None else port, flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()


def start(script, args, popen=subprocess.Popen):
    """Starts `script` (a fake) with args; returns (process, port). popen:
    harness.spawn in tests, so it is killed at exit."""
    p = popen([sys.executable, script] + list(args), stdout=subprocess.PIPE)
    line = p.stdout.readline()
    if not line.strip().isdigit():
        raise RuntimeError("%s did not start (exit %s)" % (script, p.poll()))
    return p, int(line)


def control(name, port, method, path, obj=None, timeout=30):
    """One control call (path under /_fake/) to the fake `name` on port;
    returns the decoded JSON, or raises naming the fake and the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = json.dumps(obj) if obj is not None else None
        conn.request(method, "/_fake/" + path.lstrip("/"), body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = json.loads(r.read() or b"null")
        if r.status != 200:
            raise RuntimeError("%s %s %s: %s %s" % (name, method, path, r.status, data))
        return data
    finally:
        conn.close()
