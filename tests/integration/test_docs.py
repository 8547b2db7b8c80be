#!/usr/bin/python3
"""test_docs.py: every example of docs/jobs.md, run against a real pregond.

docs/jobs.md marks its examples (its opening explains the convention):
a block fenced "```json job FILE" is a job, written as shown to FILE in a
scratch folder; a block fenced "```sh cli" holds commands ("$ pregon ...")
each followed by the lines it prints. The blocks run in the order of the
file against one pregond (outbox adapters, no quiet hours), so the
contacts written first are the list the alert goes to. A shown line must
match a whole line of the output (stdout and stderr together), in order,
other lines may come between; "<...>" stands for any text. A command is
run again for up to 15 s until its output matches, since pregond works
in the background. An example that drifts from the parser (pregon send
refuses it) or from what pregon prints fails here.
"""

import os
import re
import shlex
import time

import harness

DOC = os.path.join(harness.ROOT, "docs", "jobs.md")
RETRY_FOR = 15.0

FENCE = re.compile(r"^```(\S*)(?:[ \t]+(.*))?$")


def blocks(text):
    """[(lang, info, [lines], line number)] of every fenced block."""
    out, cur = [], None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if cur is None:
            if m:
                cur = (m.group(1), (m.group(2) or "").strip(), [], n)
        elif line == "```":
            out.append(cur)
            cur = None
        else:
            cur[2].append(line)
    assert cur is None, "docs/jobs.md: block opened at line %d is not closed" % cur[3]
    return out


def examples(text):
    """The doc's examples in order: ("job", file, text, line) and
    ("cli", argv, shown lines, line)."""
    out = []
    for lang, info, lines, n in blocks(text):
        words = info.split()
        if lang == "json" and words[:1] == ["job"]:
            assert len(words) == 2, "line %d: ```json job FILE names one file" % n
            out.append(("job", words[1], "\n".join(lines) + "\n", n))
        elif lang == "sh" and words == ["cli"]:
            cmd = None
            for k, line in enumerate(lines):
                if line.startswith("$ "):
                    if cmd:
                        out.append(cmd)
                    cmd = ("cli", shlex.split(line[2:]), [], n + 1 + k)
                else:
                    assert cmd is not None, "line %d: output before any command" % (n + 1 + k)
                    if line.strip():
                        cmd[2].append(line)
            if cmd:
                out.append(cmd)
    return out


def pattern(shown):
    parts = shown.split("<...>")
    return re.compile(".*".join(re.escape(p) for p in parts) + r"\Z")


def matches(shown, output):
    """The lines of shown match whole lines of output, in order."""
    lines = output.split("\n")
    i = 0
    for s in shown:
        pat = pattern(s)
        while i < len(lines) and not pat.match(lines[i]):
            i += 1
        if i == len(lines):
            return False, s
        i += 1
    return True, None


def run(cfg, folder, argv):
    assert argv[0] == "pregon", "only pregon commands are run: %r" % argv
    return harness.run_cli(cfg, *argv[1:], cwd=folder)


def test_docs_jobs_md_has_an_example_of_every_kind_and_each_is_sent():
    text = open(DOC, encoding="utf-8").read()
    ex = examples(text)
    files = {e[1] for e in ex if e[0] == "job"}
    sent = set()
    for e in ex:
        if e[0] == "cli" and e[1][:2] == ["pregon", "send"]:
            sent.add(e[1][-1])
    assert files, "docs/jobs.md has no ```json job blocks"
    assert files <= sent, "jobs never sent by an example: %s" % sorted(files - sent)
    kinds = set(re.findall(r'"kind":\s*"([a-z_]+)"', "".join(e[2] for e in ex if e[0] == "job")))
    want = {"message", "action_alert", "court_reminder", "cancel", "contact_upsert",
            "contact_delete", "townhall_confirmation"}
    assert want <= kinds, "kinds without an example: %s" % sorted(want - kinds)
    jobs = "".join(e[2] for e in ex if e[0] == "job")
    for field in ('"list"', '"recipients"', '"case_ref"', '"job_id"'):
        assert field in jobs, "no example uses %s" % field


def years_ahead(text):
    """The doc's examples are dated 2030 so that they lie ahead; once 2030
    is less than two years away, every 2030 date (and id holding one) is
    moved the same whole number of years on, so the examples stay ahead
    and keep their meaning (December and May keep their UTC offsets)."""
    shift = max(0, time.gmtime().tm_year + 2 - 2030)
    return text.replace("2030-", "%d-" % (2030 + shift)) if shift else text


def test_every_example_of_docs_jobs_md_runs_as_shown():
    text = years_ahead(open(DOC, encoding="utf-8").read())
    cfg = harness.write_config()
    folder = harness.tempdir("pregon-docs-")
    p = harness.start_daemon(cfg)
    try:
        for e in examples(text):
            if e[0] == "job":
                with open(os.path.join(folder, e[1]), "w", encoding="utf-8") as f:
                    f.write(e[2])
                continue
            _, argv, shown, line = e
            want_fail = bool(shown) and shown[0].startswith("pregon: ")
            deadline = time.monotonic() + RETRY_FOR
            while True:
                r = run(cfg, folder, argv)
                out = r.stdout + r.stderr
                ok, missing = matches(shown, out)
                code_ok = (r.returncode != 0) if want_fail else (r.returncode == 0)
                if ok and code_ok:
                    break
                # A send is never repeated: a second one would be a duplicate.
                if argv[:2] == ["pregon", "send"] or time.monotonic() > deadline:
                    raise AssertionError(
                        "docs/jobs.md line %d: `%s` exited %d%s and printed:\n%s\n"
                        "first shown line not matched: %r" %
                        (line, " ".join(argv), r.returncode,
                         " (expected non-zero)" if want_fail and r.returncode == 0 else "",
                         out, missing))
                time.sleep(0.2)
    finally:
        rc = harness.stop(p)
    assert rc == 0, "pregond exited %r after SIGTERM" % rc
    # The examples are the ordinary path: nothing in them may log an error
    # (pregond's lines read "<time> error ..."), nor trip the sanitizers.
    log = open(os.path.join(cfg.dir, "pregond.log"), errors="replace").read()
    bad = [l for l in log.splitlines()
           if re.match(r"\S+ error ", l) or "Sanitizer" in l or "runtime error" in l]
    assert not bad, "pregond logged:\n" + "\n".join(bad)


if __name__ == "__main__":
    harness.main(globals())
