"""The demo (`make run`, ops/run-demo.sh) prints every command it runs
exactly as it runs it (issue 13, finding 15): a reader can type each one
again. Checked against the shell's own trace (sh -x) of the run."""

import os
import subprocess

import harness


def test_the_demo_prints_exactly_the_pregon_commands_it_runs():
    """Before: it printed `build/pregon send ...` and ran `build/pregon -c
    var/run/pregon.conf send ...`, and ran pregond and tail unprinted."""
    bin_dir = os.path.relpath(harness.BIN, harness.ROOT)
    env = dict(os.environ, DEMO_ONCE="1", PREGON_BIN=bin_dir,
               PREGON_REDIS_PORT=str(harness.free_port()))
    env.pop("PREGON_CONF", None)
    r = subprocess.run(["sh", "-x", "ops/run-demo.sh"], cwd=harness.ROOT, env=env,
                       capture_output=True, text=True, timeout=180,
                       preexec_fn=harness._die_with_parent)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    printed = []
    for line in r.stdout.splitlines():
        if not line.startswith("$ "):
            continue
        cmd = line[2:].split("     # ")[0]
        for part in cmd.split(" | "):
            part = part.split(" 2> ")[0].split(" > ")[0]
            if part.startswith(bin_dir + "/pregon") or part.startswith("export "):
                printed.append(part)
    ran = [line[2:] for line in r.stderr.splitlines()
           if line.startswith("+ " + bin_dir + "/pregon") or line.startswith("+ export ")]
    assert ran, r.stderr[-2000:]
    assert printed == ran, "printed:\n  %s\nran:\n  %s" % ("\n  ".join(printed), "\n  ".join(ran))
    assert "export PREGON_CONF=var/run/pregon.conf" in printed
    assert any(c.startswith(bin_dir + "/pregond") for c in ran), ran


if __name__ == "__main__":
    harness.main(globals())
