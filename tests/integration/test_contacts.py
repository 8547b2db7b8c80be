#!/usr/bin/python3
"""test_contacts.py: `pregon contacts import|export` (CSV, issue 4) against
a real redis-server.

Contacts are written by the script's `contacts` op; the layout checked
here is the op's: <p>contacts (set of ids), <p>list:<name> (set of ids),
<p>lists (set of list names), <p>contact:<id> (hash: name, phone, email,
signal, lang, tz, channels comma-separated, lists as a JSON array,
updated, source).
"""

import json
import os
import subprocess
import time

import harness

HEADER = "id,name,phone,email,signal,lang,tz,channels,lists"
FIELDS = ("name", "phone", "email", "signal", "lang", "tz", "channels", "lists")


def write_file(cfg, name, data):
    """Writes data (str as UTF-8, or bytes) into the config's dir."""
    path = os.path.join(cfg.dir, name)
    with open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def run_bytes(cfg, *args, timeout=60):
    """Runs pregon with binary stdout (text mode would turn CRLF into LF)."""
    argv = [harness.binary("pregon"), "-c", cfg.path] + list(args)
    return subprocess.run(argv, capture_output=True, timeout=timeout,
                          preexec_fn=harness._die_with_parent)


def contact(cfg, cid):
    """The contact's hash without the bookkeeping fields."""
    h = cfg.server.client.hgetall(cfg.key("contact:" + cid))
    h.pop("updated", None)
    h.pop("source", None)
    return h


def contact_ids(cfg):
    return cfg.server.client.smembers(cfg.key("contacts"))


def no_keys(cfg):
    return cfg.server.client.keys(cfg.prefix + "*") == []


def summary(created, updated, bad):
    return "imported %d contacts (%d created, %d updated), %d bad rows\n" % (
        created + updated, created, updated, bad)


# A spreadsheet's export: BOM, CRLF, quoted fields with commas, doubled
# quotes and a line break, UTF-8 names, values to normalise.
MIXED = ("\ufeff" + HEADER + "\r\n"
         'c-1,"Garcia, Ana",+13235550101, ana@example.org ,,ES-mx,America/Los_Angeles,SMS;email,'
         "south-la;responders\r\n"
         'c-2,"Bob ""the builder""",,bob@example.org,,,,,\r\n'
         'c-3,"Line one\r\nLine two",+13235550103,,,,,,south-la\r\n'
         "c-4,Mar\u00eda Jos\u00e9,+13235550104,,+13235550104,es,,signal|sms,\r\n"
         "c-5,\u5f20\u4f1f,+5215512345678,,,zh-hant-tw,Asia/Shanghai,,\r\n")


def test_import_reads_bom_crlf_quotes_and_utf8():
    cfg = harness.write_config()
    path = write_file(cfg, "people.csv", MIXED)
    r = harness.run_cli(cfg, "contacts", "import", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == summary(5, 0, 0), r.stdout
    assert r.stderr == "", r.stderr
    assert contact_ids(cfg) == {"c-1", "c-2", "c-3", "c-4", "c-5"}
    assert contact(cfg, "c-1") == {
        "name": "Garcia, Ana", "phone": "+13235550101", "email": "ana@example.org",
        "signal": "", "lang": "es-MX", "tz": "America/Los_Angeles", "channels": "sms,email",
        "lists": '["south-la","responders"]'}, contact(cfg, "c-1")
    assert contact(cfg, "c-2")["name"] == 'Bob "the builder"'
    assert contact(cfg, "c-2")["lists"] == "[]"
    # A line break inside a quoted field is read; a name is one line.
    assert contact(cfg, "c-3")["name"] == "Line one Line two"
    assert contact(cfg, "c-4")["name"] == "Mar\u00eda Jos\u00e9"
    assert contact(cfg, "c-4")["channels"] == "signal,sms"
    assert contact(cfg, "c-4")["signal"] == "+13235550104"
    c5 = contact(cfg, "c-5")
    assert (c5["name"], c5["phone"], c5["lang"]) == ("\u5f20\u4f1f", "+525512345678", "zh-Hant-TW"), c5
    assert cfg.server.client.smembers(cfg.key("list:south-la")) == {"c-1", "c-3"}
    assert cfg.server.client.smembers(cfg.key("lists")) == {"south-la", "responders"}
    src = cfg.server.client.hget(cfg.key("contact:c-1"), "source")
    assert src == "import people.csv", src


BAD = ("id,name,phone,email,lang,tz,channels\n"                 # 1
       "g-1,Good One,+13235550111,,,,\n"                          # 2
       "b-phone,Bad Phone,323-555-0199,,,,\n"                     # 3
       "b-email,Bad Email,,ana.example.org,,,\n"                  # 4
       "b-chan,Bad Chan,+13235550112,,,,fax\n"                    # 5
       "b-lang,Bad Lang,+13235550113,,english,,\n"                # 6
       "b-tz,Bad Tz,+13235550114,,,Mars/Olympus,\n"               # 7
       ",No Id,+13235550115,,,,\n"                                # 8
       "b-extra,Extra,+13235550116,,,,,surplus\n"                 # 9
       'b-quote,"Unclosed,+13235550117,,,,\n'                     # 10: swallows 11
       "g-2,Good Two,+13235550118,,,,\n"                          # 11
       'g-3,"Good, Three",+13235550119,,,,\n'                     # 12: closes 10's quote
       "b-noaddr,No Address,,,,,\n"                               # 13
       "b-utf8,\udcff,+13235550120,,,,\n"                         # 14
       'b-open,"Open,+13235550121,,,,\n'                          # 15: never closed
       "g-4,Good Four,,g4@example.org,,,\n"                       # 16
       "g-5,Good Five,+13235550122,,,,\n")                        # 17


def test_import_reports_each_bad_row_with_its_line_and_reason():
    cfg = harness.write_config()
    path = write_file(cfg, "bad.csv", BAD.encode("utf-8", "surrogateescape"))
    r = harness.run_cli(cfg, "contacts", "import", path)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stdout == summary(5, 0, 11), r.stdout
    assert r.stderr.splitlines() == [
        "line 3: phone: not an E.164 number; expected +<country code><number>, "
        "e.g. +13235550100 (or import with --default-country US)",
        "line 4: email: not an email address; expected name@domain, e.g. ana@example.org",
        'line 5: channels[0]: unknown channel "fax"',
        'line 6: lang: not a language tag: "english"; expected a language tag, e.g. es or zh-Hant',
        'line 7: tz: unknown time zone "Mars/Olympus"; expected an IANA zone, '
        'e.g. America/Los_Angeles',
        "line 8: id: missing",
        "line 9: 8 fields, the header has 7",
        "line 10: name: text after the closing quote",
        "line 13: needs at least one address (phone, email or signal)",
        "line 14: name: not valid UTF-8",
        "line 15: name: quote not closed at the end of the file",
        "pregon: 11 bad rows not imported (see above)",
    ], r.stderr
    # The rows after a missing quote are read again and imported.
    assert contact_ids(cfg) == {"g-1", "g-2", "g-3", "g-4", "g-5"}
    assert contact(cfg, "g-3")["name"] == "Good, Three"
    # A bad row's address is never printed.
    for value in ("323-555-0199", "3235550199", "ana.example.org", "+13235550117"):
        assert value not in r.stderr + r.stdout, value


def test_import_with_list_adds_membership_and_keeps_the_others():
    cfg = harness.write_config()
    path = write_file(cfg, "a.csv", "id,phone\nl-1,+13235550131\nl-2,+13235550132\n")
    r = harness.run_cli(cfg, "contacts", "import", path, "--list", "rapid responders")
    assert r.returncode == 0, r.stderr
    assert cfg.server.client.smembers(cfg.key("list:rapid responders")) == {"l-1", "l-2"}
    r = harness.run_cli(cfg, "contacts", "import", path, "--list=south-la")
    assert r.returncode == 0, r.stderr
    assert r.stdout == summary(0, 2, 0), r.stdout
    assert json.loads(contact(cfg, "l-1")["lists"]) == ["rapid responders", "south-la"]
    # Without --list and without a lists column, memberships stay.
    r = harness.run_cli(cfg, "contacts", "import", path)
    assert r.returncode == 0, r.stderr
    assert json.loads(contact(cfg, "l-2")["lists"]) == ["rapid responders", "south-la"]
    assert cfg.server.client.smembers(cfg.key("lists")) == {"rapid responders", "south-la"}


def test_lists_column_sets_memberships_exactly():
    cfg = harness.write_config()
    path = write_file(cfg, "a.csv", "id,phone,lists\ns-1,+13235550141, x ; y ;;\n")
    r = harness.run_cli(cfg, "contacts", "import", path)
    assert r.returncode == 0, r.stderr
    assert json.loads(contact(cfg, "s-1")["lists"]) == ["x", "y"]
    path = write_file(cfg, "b.csv", "id,phone,lists\ns-1,+13235550141,y\n")
    r = harness.run_cli(cfg, "contacts", "import", path, "--list", "z")
    assert r.returncode == 0, r.stderr
    assert json.loads(contact(cfg, "s-1")["lists"]) == ["y", "z"]
    assert not cfg.server.client.exists(cfg.key("list:x"))
    assert cfg.server.client.smembers(cfg.key("lists")) == {"y", "z"}


def test_reimport_counts_created_and_updated():
    cfg = harness.write_config()
    first = write_file(cfg, "1.csv", "id,name,email\nu-1,One,u1@example.org\n"
                       "u-2,Two,u2@example.org\nu-3,Three,u3@example.org\n")
    r = harness.run_cli(cfg, "contacts", "import", first)
    assert r.stdout == summary(3, 0, 0), r.stdout
    second = write_file(cfg, "2.csv", "id,name,email\nu-2,Two Again,u2@example.org\n"
                        "u-4,Four,u4@example.org\nu-3,Three,u3@example.org\n")
    r = harness.run_cli(cfg, "contacts", "import", second)
    assert r.returncode == 0, r.stderr
    assert r.stdout == summary(1, 2, 0), r.stdout
    assert contact(cfg, "u-2")["name"] == "Two Again"
    assert len(contact_ids(cfg)) == 4


def test_duplicate_id_in_one_file_later_row_wins_with_a_warning():
    cfg = harness.write_config()
    path = write_file(cfg, "d.csv", "id,name,phone\nd-1,First,+13235550151\n"
                      "d-2,Other,+13235550152\nd-1,Second,+13235550153\n")
    r = harness.run_cli(cfg, "contacts", "import", path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "line 4: warning: id d-1 is also on line 2; the later row wins\n", r.stderr
    # Two contacts, though three rows were written.
    assert r.stdout == summary(2, 0, 0), r.stdout
    assert contact(cfg, "d-1")["name"] == "Second"
    assert contact(cfg, "d-1")["phone"] == "+13235550153"


def test_rows_with_only_empty_cells_are_skipped():
    cfg = harness.write_config()
    path = write_file(cfg, "e.csv", "id,phone\r\n,\r\n\r\ne-1,+13235550161\r\n , \r\n")
    r = harness.run_cli(cfg, "contacts", "import", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == summary(1, 0, 0), r.stdout


def test_unknown_column_stops_before_anything_is_written():
    cfg = harness.write_config()
    path = write_file(cfg, "u.csv", "id,phnoe\nx-1,+13235550171\n")
    r = harness.run_cli(cfg, "contacts", "import", path)
    reason = harness.one_line_error(r)
    assert r.returncode == 1
    assert 'line 1: unknown column "phnoe"' in reason, reason
    assert no_keys(cfg)


def test_missing_id_column_stops_before_anything_is_written():
    cfg = harness.write_config()
    path = write_file(cfg, "m.csv", "Name,Phone\nAna,+13235550172\n")
    r = harness.run_cli(cfg, "contacts", "import", path)
    reason = harness.one_line_error(r)
    assert 'no "id" column' in reason, reason
    assert no_keys(cfg)


def test_header_names_are_case_and_space_insensitive_and_in_any_order():
    cfg = harness.write_config()
    path = write_file(cfg, "h.csv", " EMAIL ,Id,  Name\nh@example.org,h-1,Hana\n")
    r = harness.run_cli(cfg, "contacts", "import", path)
    assert r.returncode == 0, r.stderr
    assert contact(cfg, "h-1")["email"] == "h@example.org"
    assert contact(cfg, "h-1")["name"] == "Hana"


def test_missing_file_and_empty_file_fail_with_one_line():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "contacts", "import", os.path.join(cfg.dir, "nope.csv"))
    reason = harness.one_line_error(r)
    assert "nope.csv" in reason, reason
    r = harness.run_cli(cfg, "contacts", "import", write_file(cfg, "empty.csv", ""))
    reason = harness.one_line_error(r)
    assert "no header" in reason, reason


def test_unreachable_redis_fails_with_one_line():
    cfg = harness.write_config(url="redis://127.0.0.1:%d/0" % harness.free_port())
    path = write_file(cfg, "a.csv", "id,phone\nx,+13235550173\n")
    for args in (("import", path), ("export",)):
        r = harness.run_cli(cfg, "contacts", *args)
        reason = harness.one_line_error(r)
        assert "connect" in reason, reason
        assert r.stdout == ""


def test_import_reads_stdin():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "contacts", "import", "-", input="id,phone\nin-1,+13235550174\n")
    assert r.returncode == 0, r.stderr
    assert contact_ids(cfg) == {"in-1"}


def test_usage_errors_exit_2():
    cfg = harness.write_config()
    for args in (["contacts"], ["contacts", "import"], ["contacts", "export", "x"],
                 ["contacts", "frob"], ["contacts", "export", "--list", ""],
                 ["contacts", "export", "--count", "3"]):
        r = harness.run_cli(cfg, *args)
        harness.one_line_error(r)
        assert r.returncode == 2, (args, r.returncode)


# ---- export ----

def test_export_writes_rfc4180_with_crlf_and_no_bom():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "contacts", "import", write_file(cfg, "p.csv", MIXED))
    assert r.returncode == 0, r.stderr
    r = run_bytes(cfg, "contacts", "export")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith((HEADER + "\r\n").encode()), out[:80]
    assert out.endswith(b"\r\n")
    lines = out.split(b"\r\n")[1:-1]
    # c-3's name was imported as one line (names are): 5 records, 5 lines.
    assert len(lines) == 5, lines
    assert b'c-1,"Garcia, Ana",+13235550101,ana@example.org,,es-MX,America/Los_Angeles,' \
           b"sms;email,south-la;responders" in lines, lines
    assert b'c-2,"Bob ""the builder""",,bob@example.org,,,,,' in lines, lines
    assert "c-4,Mar\u00eda Jos\u00e9,+13235550104,,+13235550104,es,,signal;sms,".encode() in lines


def test_export_then_import_gives_identical_contacts():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "contacts", "import", write_file(cfg, "p.csv", MIXED))
    assert r.returncode == 0, r.stderr
    r = harness.run_cli(cfg, "contacts", "import",
                        write_file(cfg, "q.csv", BAD.encode("utf-8", "surrogateescape")),
                        "--list", "extra")
    assert r.returncode == 1
    exported = run_bytes(cfg, "contacts", "export")
    assert exported.returncode == 0, exported.stderr
    other = harness.write_config()
    path = write_file(other, "export.csv", exported.stdout)
    r = harness.run_cli(other, "contacts", "import", path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    ids = contact_ids(cfg)
    assert len(ids) == 10 and contact_ids(other) == ids
    for cid in ids:
        assert contact(other, cid) == contact(cfg, cid), cid
    for name in ("south-la", "responders", "extra"):
        a = cfg.server.client.smembers(cfg.key("list:" + name))
        b = other.server.client.smembers(other.key("list:" + name))
        assert a == b and a, name
    again = run_bytes(other, "contacts", "export")
    assert sorted(again.stdout.split(b"\r\n")) == sorted(exported.stdout.split(b"\r\n"))


def test_export_guards_cells_a_spreadsheet_would_run_and_import_reads_them_back():
    # CSV injection: a CRM field like =HYPERLINK(...) must reach a
    # spreadsheet as text. Phone numbers stay as they are.
    cfg = harness.write_config()
    data = (HEADER + "\r\n"
            '-c9,"=HYPERLINK(""http://evil.example/"",""x"")",+13235550109,,,,,,@team\r\n'
            "c10,Ana,+13235550110,,,,,,plain\r\n")
    r = harness.run_cli(cfg, "contacts", "import", write_file(cfg, "p.csv", data))
    assert r.returncode == 0, r.stderr
    assert contact(cfg, "-c9")["name"] == '=HYPERLINK("http://evil.example/","x")'
    exported = run_bytes(cfg, "contacts", "export")
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.split(b"\r\n")
    assert b"'-c9,\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"x\"\")\",+13235550109,,,,,,'@team" \
        in lines, lines
    assert b"c10,Ana,+13235550110,,,,,,plain" in lines, lines
    other = harness.write_config()
    r = harness.run_cli(other, "contacts", "import", write_file(other, "e.csv", exported.stdout))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    for cid in ("-c9", "c10"):
        assert contact(other, cid) == contact(cfg, cid), cid
    assert other.server.client.smembers(other.key("list:@team")) == {"-c9"}


def test_export_list_prints_only_its_members():
    cfg = harness.write_config()
    r = harness.run_cli(cfg, "contacts", "import", write_file(cfg, "p.csv", MIXED))
    assert r.returncode == 0, r.stderr
    r = run_bytes(cfg, "contacts", "export", "--list", "south-la")
    assert r.returncode == 0, r.stderr
    ids = sorted(line.split(b",")[0] for line in r.stdout.split(b"\r\n")[1:] if line[:2] == b"c-")
    assert ids == [b"c-1", b"c-3"], r.stdout
    r = run_bytes(cfg, "contacts", "export", "--list", "nobody")
    assert r.returncode == 0
    assert r.stdout == (HEADER + "\r\n").encode()
    assert b"no members" in r.stderr


def test_export_to_a_closed_pipe_stops_quietly():
    cfg = harness.write_config()
    rows = "".join("p-%d,+1323555%04d\n" % (i, i) for i in range(3000))
    r = harness.run_cli(cfg, "contacts", "import", write_file(cfg, "p.csv", "id,phone\n" + rows))
    assert r.returncode == 0, r.stderr
    p = subprocess.Popen([harness.binary("pregon"), "-c", cfg.path, "contacts", "export"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=harness._die_with_parent)
    p.stdout.read(100)
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(30) == 0, err
    assert err == b"", err


# ---- size ----

def test_import_and_export_of_100000_rows():
    cfg = harness.write_config()
    n = 100000
    path = os.path.join(cfg.dir, "big.csv")
    with open(path, "w", newline="") as f:
        f.write("id,name,phone,email,lang,tz,channels,lists\r\n")
        for i in range(n):
            f.write('big-%d,"Person %d, Jr",+1323555%04d,p%d@example.org,es,'
                    "America/Los_Angeles,sms;email,south-la;r%d\r\n" % (i, i, i % 10000, i, i % 10))
    t0 = time.monotonic()
    r = harness.run_cli(cfg, "contacts", "import", path, timeout=120)
    t_import = time.monotonic() - t0
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == summary(n, 0, 0), r.stdout
    assert cfg.server.client.scard(cfg.key("contacts")) == n
    assert cfg.server.client.scard(cfg.key("list:r3")) == n // 10
    t0 = time.monotonic()
    r = run_bytes(cfg, "contacts", "export", timeout=120)
    t_export = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(b"\r\n") == n + 1
    print("# %d rows: import %.1fs (%.0f rows/s), export %.1fs (%.0f rows/s), binaries in %s"
          % (n, t_import, n / t_import, t_export, n / t_export, os.path.basename(harness.BIN)))


# ---- issue 13: organizers' spreadsheets ----

NATIONAL = ("id,name,phone,signal\n"
            "n-1,Ana,(323) 555-0000,\n"
            "n-2,Bea,323.555.0001,323-555-0001\n"
            "n-3,Cy,1-323-555-0002,\n"
            "n-4,Di,+1 (323) 555-0003,\n"
            "n-5,Ed,555-0004,\n"            # line 6: no area code
            "n-6,Flo,(123) 555-0005,\n")    # line 7: no area code starts with 1


def test_default_country_us_imports_national_formats_as_e164():
    cfg = harness.write_config()
    path = write_file(cfg, "national.csv", NATIONAL)
    r = harness.run_cli(cfg, "contacts", "import", "--default-country", "US", path)
    assert r.returncode == 1, r.stderr
    assert r.stdout == summary(4, 0, 2), r.stdout
    assert contact(cfg, "n-1")["phone"] == "+13235550000"
    assert contact(cfg, "n-2")["phone"] == "+13235550001"
    assert contact(cfg, "n-2")["signal"] == "+13235550001"
    assert contact(cfg, "n-3")["phone"] == "+13235550002"
    assert contact(cfg, "n-4")["phone"] == "+13235550003"
    assert r.stderr.splitlines() == [
        "line 6: phone: not a phone number in US national format: 7 digits, expected 10; "
        "expected a national number, or +<country code><number>, e.g. +13235550100",
        "line 7: phone: not a phone number in US national format: area code and exchange "
        "start with 2 to 9; expected a national number, or +<country code><number>, "
        "e.g. +13235550100",
        "pregon: 2 bad rows not imported (see above)"], r.stderr
    # Off a terminal the cells stay out of the report.
    assert "555-0004" not in r.stderr and "555-0005" not in r.stderr
    # Without the option the same file is refused row by row, as before.
    cfg2 = harness.write_config()
    r = harness.run_cli(cfg2, "contacts", "import", write_file(cfg2, "n.csv", NATIONAL))
    assert r.stdout == summary(0, 0, 6), r.stdout


def test_default_country_must_be_known_and_is_shown_with_an_example():
    cfg = harness.write_config()
    path = write_file(cfg, "a.csv", "id,phone\nx,3235550100\n")
    r = harness.run_cli(cfg, "contacts", "import", "--default-country", "USA", path)
    reason = harness.one_line_error(r)
    assert r.returncode == 2
    assert '--default-country: unknown country "USA"; expected one of US, CA' in reason, reason
    assert "e.g. US" in reason, reason
    assert no_keys(cfg)
    r = harness.run_cli(cfg, "contacts", "export", "--dry-run")
    assert r.returncode == 2, r


def test_dry_run_checks_every_row_and_writes_nothing():
    cfg = harness.write_config()
    path = write_file(cfg, "national.csv", NATIONAL)
    r = harness.run_cli(cfg, "contacts", "import", "--dry-run", "--default-country", "us", path)
    assert r.returncode == 1, r.stderr
    assert r.stdout == ("dry run: 4 contacts would be imported, 2 bad rows; "
                        "nothing written\n"), r.stdout
    assert "line 6: phone" in r.stderr and "line 7: phone" in r.stderr, r.stderr
    assert no_keys(cfg)
    # Needs no Redis at all.
    cfg2 = harness.write_config(url="redis://127.0.0.1:%d/0" % harness.free_port())
    r = harness.run_cli(cfg2, "contacts", "import", "--dry-run", write_file(
        cfg2, "ok.csv", "id,phone\nx,+13235550100\n"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("dry run: 1 contacts would be imported, 0 bad rows"), r.stdout


def test_errors_are_grouped_by_reason_with_a_few_example_lines():
    cfg = harness.write_config()
    rows = ["id,phone,lang"]
    for i in range(50000):
        rows.append("b-%d,323555%04d,en" % (i, i % 10000))      # lines 2..50001
    rows.append("t-1,+13235550100,english")                      # line 50002
    rows.append("g-1,+13235550101,es")                           # line 50003
    rows.append("d-1,+13235550102,en")
    for i in range(7):
        rows.append("d-1,+13235550102,en")                       # 7 repeats of d-1
    path = write_file(cfg, "big.csv", "\n".join(rows) + "\n")
    r = harness.run_cli(cfg, "contacts", "import", path, timeout=120)
    assert r.returncode == 1
    assert r.stdout == summary(2, 0, 50001), r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 5 + 1 + 2 + 1, lines
    assert lines[5] == ("phone: not an E.164 number; expected +<country code><number>, "
                        "e.g. +13235550100 (or import with --default-country US): 50000 rows, "
                        "lines 2, 3, 4, 5, 6 and 49995 more"), lines[5]
    assert lines[6].startswith('line 50002: lang: not a language tag: "english"'), lines[6]
    assert lines[7] == "warning: 2 more ids repeated in the file (the later row wins)", lines[7]
    assert lines[8] == "pregon: 50001 bad rows not imported (see above)"
    assert "3235550002" not in r.stderr and "3235559999" not in r.stderr, r.stderr


def run_on_a_tty(cfg, *args):
    """Runs pregon with stderr on a pseudo-terminal (the operator's screen);
    returns (exit status, stdout, what the terminal showed)."""
    import pty
    try:
        master, slave = pty.openpty()
    except OSError as e:
        # A bare root (a chroot without /dev/pts, as fresh-check.sh builds)
        # has no pseudo-terminals: nothing here can stand in for one.
        harness.skip("no pseudo-terminal on this machine: %s" % e)
    argv = [harness.binary("pregon"), "-c", cfg.path] + list(args)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                         preexec_fn=harness._die_with_parent)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:          # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out = p.stdout.read()
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, out.decode(), shown.decode("utf-8", "replace")


def test_on_a_terminal_bad_cells_are_shown_and_a_progress_line_runs():
    cfg = harness.write_config()
    rows = ["id,phone"] + ["g-%d,+1323555%04d" % (i, i) for i in range(2500)]
    rows += ["b-1,(323) 555-00", "b-2,323 555"]
    path = write_file(cfg, "t.csv", "\n".join(rows) + "\n")
    rc, out, shown = run_on_a_tty(cfg, "contacts", "import", path)
    assert rc == 1, shown
    assert out == summary(2500, 0, 2), out
    assert "\rread 1000 rows, 0 bad" in shown and "\rread 2000 rows, 0 bad" in shown, shown
    assert "\r\x1b[K" in shown, shown
    # The operator's own cells, on their own screen, with the right form.
    assert ('lines 2502 "(323) 555-00", 2503 "323 555"') in shown, shown
    assert "e.g. +13235550100" in shown, shown
    # Piped, neither the progress nor the cells.
    cfg2 = harness.write_config()
    r = harness.run_cli(cfg2, "contacts", "import", write_file(cfg2, "t.csv", "\n".join(rows)))
    assert "\r" not in r.stderr and "555-00" not in r.stderr, r.stderr


def test_contacts_list_and_lists_show_counts_without_addresses():
    cfg = harness.write_config()
    rows = [HEADER]
    for i in range(1200):
        lists = "south-la;responders" if i % 3 == 0 else "south-la"
        rows.append("l-%d,Person %d,+1323555%04d,,,es,America/Los_Angeles,,%s" % (i, i, i, lists))
    rows.append("l-e,Email Only,,e@example.org,,,,,")
    r = harness.run_cli(cfg, "contacts", "import", write_file(cfg, "l.csv", "\n".join(rows)))
    assert r.returncode == 0, r.stderr
    r = harness.run_cli(cfg, "lists")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["%-40s %d" % ("responders", 400),
                                     "%-40s %d" % ("south-la", 1200),
                                     "2 lists, 1201 contacts in all"], r.stdout
    r = harness.run_cli(cfg, "lists", "--json")
    assert [json.loads(l) for l in r.stdout.splitlines()] == [
        {"list": "responders", "members": 400}, {"list": "south-la", "members": 1200}], r.stdout
    r = harness.run_cli(cfg, "contacts", "list", "--list", "responders")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 400 and r.stderr == "400 contacts\n", (len(lines), r.stderr)
    assert "l-3\tPerson 3\tes\tAmerica/Los_Angeles\t[\"sms\"]\t[\"south-la\",\"responders\"]" \
        in lines, lines[:3]
    r = harness.run_cli(cfg, "contacts", "list", "--json")
    got = {j["id"]: j for j in map(json.loads, r.stdout.splitlines())}
    assert len(got) == 1201, len(got)
    assert got["l-e"] == {"id": "l-e", "name": "Email Only", "lang": "", "tz": "",
                          "addresses": ["email"], "lists": []}, got["l-e"]
    # Never an address: export is the command for those.
    everything = r.stdout + harness.run_cli(cfg, "contacts", "list").stdout
    assert "+1323555" not in everything and "e@example.org" not in everything
    r = harness.run_cli(cfg, "contacts", "export", "--json")
    assert r.returncode == 2, r


if __name__ == "__main__":
    harness.main(globals())
