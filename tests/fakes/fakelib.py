"""fakelib.py: what the fakes and their Python callers share: serving
until SIGTERM or SIGINT with the port on the first stdout line, starting a
fake as a child process, and one call of its JSON control API under
/_fake/. Standard library only."""

import http.client
import json
import signal
import subprocess
import sys
import threading


def start(script, args, popen=subprocess.Popen):
    """Starts script (a fake's file) with args; popen: harness.spawn in
    tests. Returns (process, port)."""
    p = popen([sys.executable, script, "--port", "0"] + list(args), stdout=subprocess.PIPE)
    line = p.stdout.readline()
    if not line.strip().isdigit():
        raise RuntimeError("%s did not start (exit %s)" % (script, p.poll()))
    return p, int(line)


def control(port, method, path, obj=None, timeout=30):
    """One control call (path under /_fake/); returns the decoded JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = json.dumps(obj) if obj is not None else None
        conn.request(method, "/_fake/" + path.lstrip("/"), body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = json.loads(r.read() or b"null")
        if r.status != 200:
            raise RuntimeError("fake on port %d: %s %s: %s %s" % (port, method, path, r.status,
                                                                 data))
        return data
    finally:
        conn.close()


def serve(srv):
    """Prints srv's port on the first stdout line and serves until SIGTERM
    or SIGINT, then closes srv (the fake exits 0)."""
    def stop(sig, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()
