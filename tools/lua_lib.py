#!/usr/bin/python3
"""lua_lib.py: builds pregon's Redis Functions library from src/lua/*.lua.

    lua_lib.py OUTDIR FILE.lua...

The files are joined in the order given into one library (they share the
helpers of common.lua). Each operation declares its arguments and the
fields of its replies in `--:` lines, and the code names them with `@`
macros, which this tool replaces with numbers. The same declarations
become the C header, so neither side can count a position differently:

    --: op claim                      an operation: FCALL <lib>_claim
    --: head max_attempts             arguments once, before the groups
    --: each channel lane entry mid   arguments repeated per item
    --: reply verdict mid             the fields of the op's reply
    --: record send verdict mid to    a named record (a reply row)

In the Lua, after `--: op NAME`:
    @head.x   the index in `a` of head argument x
    @first    the index of the first group; @n the size of a group
    @each.x   the offset of x within a group (a[i + @each.x])
    @reply.x  the index of reply field x (1-based, as Lua tables are)
    @send.x   the index of field x of record `send`, anywhere
    @send{ x = e1, y = e2 }  the record `send` as a Lua array, its fields
              given by name in any order, all of them (an array, not a
              table keyed by position: cheaper to build and to return)

Every function gets `a`, its arguments; a[1..5] are the common ones
(prefix, events max_len, retention s, dedupe s, clock ms or '').

The library is named pregon_<h>, h the first 12 hex digits of the SHA-1
of its text, and each function pregon_<h>_<op>: a changed library is a
new one, so two pregond versions in a rolling upgrade never call each
other's operations (docs/design.md, "The Redis library").

Writes OUTDIR/lua_lib.c (the text as a C string), OUTDIR/lua_lib.h (the
names and positions), OUTDIR/pregon_lib.lua (the text, for tests) and
OUTDIR/lua_lib.json (the same names, for tests).
"""

import hashlib
import json
import os
import re
import sys

COMMON_ARGS = 5
MACRO = re.compile(r'@([a-z_]+)(?:\.([a-z_]+))?(?![\w{])')


def fail(where, msg):
    sys.stderr.write("%s: %s\n" % (where, msg))
    sys.exit(1)


def parse(files):
    ops, records, order = {}, {}, []
    body = []
    for path in files:
        cur = None
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for no, line in enumerate(lines, 1):
            where = "%s:%d" % (path, no)
            if line.startswith("--:"):
                words = line[3:].split()
                if not words:
                    fail(where, "empty --: line")
                what, rest = words[0], words[1:]
                if what == "op":
                    if len(rest) != 1 or rest[0] in ops:
                        fail(where, "--: op needs one new name")
                    cur = {"name": rest[0], "head": [], "each": [], "reply": []}
                    ops[rest[0]] = cur
                    order.append(rest[0])
                elif what == "record":
                    if len(rest) < 2 or rest[0] in records:
                        fail(where, "--: record needs a new name and fields")
                    records[rest[0]] = rest[1:]
                elif what in ("head", "each", "reply"):
                    if cur is None:
                        fail(where, "--: %s before any --: op" % what)
                    cur[what] += rest
                else:
                    fail(where, "unknown --: %s" % what)
                body.append("--" + line[3:])
                continue
            body.append(expand(line, cur, records, where))
    return ops, records, order, body


def split_top(text, where):
    """Splits "a = f(x, y), b = 'c,d'" at the commas outside brackets and
    strings."""
    parts, depth, cur, quote, i = [], 0, "", None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur += ch
            if ch == "\\":
                cur += text[i + 1]
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur += ch
        elif ch in "([{":
            depth += 1
            cur += ch
        elif ch in ")]}":
            depth -= 1
            cur += ch
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if quote or depth:
        fail(where, "unbalanced record constructor")
    if cur.strip():
        parts.append(cur)
    return parts


RECORD_CTOR = re.compile(r"@([a-z_]+)\{")


def expand_records(text, records, where):
    """Replaces each @name{ field = expr, ... } by { expr, ... } in the
    record's field order."""
    while True:
        m = RECORD_CTOR.search(text)
        if not m:
            return text
        name = m.group(1)
        if name not in records:
            fail(where, "no record %s" % name)
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        if depth:
            fail(where, "unbalanced @%s{" % name)
        given = {}
        for part in split_top(text[m.end():j - 1], where):
            k, eq, v = part.partition("=")
            k = k.strip()
            if not eq or k not in records[name] or k in given:
                fail(where, "@%s{}: bad or repeated field %r" % (name, k))
            given[k] = v.strip()
        missing = [f for f in records[name] if f not in given]
        if missing:
            fail(where, "@%s{}: missing %s" % (name, ", ".join(missing)))
        text = text[:m.start()] + "{ " + ", ".join(given[f] for f in records[name]) + " }" + text[j:]


def expand(line, op, records, where):
    # Lua comments may hold @ freely (e-mail addresses in prose): only the
    # code before a -- is expanded. A -- inside a string is rare in this
    # code and would only leave a macro unexpanded, which load catches.
    code, sep, comment = line.partition("--")

    def one(m):
        kind, field = m.group(1), m.group(2)
        if kind in records:
            fields = records[kind]
            if field not in fields:
                fail(where, "record %s has no field %s" % (kind, field))
            return str(fields.index(field) + 1)
        if op is None:
            fail(where, "@%s outside an op" % kind)
        if kind == "first" and field is None:
            return str(COMMON_ARGS + len(op["head"]) + 1)
        if kind == "n" and field is None:
            return str(len(op["each"]))
        if kind == "head" and field in op["head"]:
            return str(COMMON_ARGS + op["head"].index(field) + 1)
        if kind == "each" and field in op["each"]:
            return str(op["each"].index(field))
        if kind == "reply" and field in op["reply"]:
            return str(op["reply"].index(field) + 1)
        fail(where, "op %s: unknown @%s%s" % (op["name"], kind, "." + field if field else ""))

    return MACRO.sub(one, code) + sep + comment


def c_name(s):
    return re.sub(r"[^A-Za-z0-9]", "_", s).upper()


def main():
    if len(sys.argv) < 3:
        fail("lua_lib.py", "usage: lua_lib.py OUTDIR FILE.lua...")
    out, files = sys.argv[1], sys.argv[2:]
    ops, records, order, body = parse(files)
    text = expand_records("\n".join(body) + "\n", records, "src/lua")
    h = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    lib = "pregon_" + h
    text = "#!lua name=%s\nlocal LIB = '%s'\n" % (lib, lib) + text

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "pregon_lib.lua"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(out, "lua_lib.c"), "w", encoding="utf-8") as f:
        f.write("/* generated by tools/lua_lib.py from src/lua/; do not edit */\n")
        f.write("const char lua_lib[] =\n")
        for line in text.split("\n")[:-1]:
            esc = line.replace("\\", "\\\\").replace('"', '\\"')
            f.write('"%s\\n"\n' % esc)
        f.write(";\n")
    hdr = ["/* generated by tools/lua_lib.py from src/lua/; do not edit.",
           " * Positions are 0-based: head and each index an op's own arguments",
           " * (after the common ones), reply and records a reply array; NHEAD,",
           " * NEACH, NREPLY and NFIELDS count them. */",
           "#ifndef PREGON_LUA_LIB_H", "#define PREGON_LUA_LIB_H", "",
           "extern const char lua_lib[];", "",
           '#define LUA_LIB_NAME "%s"' % lib,
           "#define LUA_COMMON_ARGS %d" % COMMON_ARGS, ""]
    for name in order:
        op = ops[name]
        N = c_name(name)
        hdr.append('#define LUA_FN_%s "%s_%s"' % (N, lib, name))
        items = ["LUA_%s_HEAD_%s = %d" % (N, c_name(x), i) for i, x in enumerate(op["head"])]
        items.append("LUA_%s_NHEAD = %d" % (N, len(op["head"])))
        items += ["LUA_%s_EACH_%s = %d" % (N, c_name(x), i) for i, x in enumerate(op["each"])]
        items.append("LUA_%s_NEACH = %d" % (N, len(op["each"])))
        items += ["LUA_%s_REPLY_%s = %d" % (N, c_name(x), i) for i, x in enumerate(op["reply"])]
        items.append("LUA_%s_NREPLY = %d" % (N, len(op["reply"])))
        hdr.append("enum {\n\t" + ",\n\t".join(items) + "\n};")
    hdr.append("")
    for name, fields in records.items():
        N = c_name(name)
        items = ["LUA_%s_%s = %d" % (N, c_name(x), i) for i, x in enumerate(fields)]
        items.append("LUA_%s_NFIELDS = %d" % (N, len(fields)))
        hdr.append("enum {\n\t" + ",\n\t".join(items) + "\n};")
    hdr += ["", "#endif", ""]
    with open(os.path.join(out, "lua_lib.h"), "w", encoding="utf-8") as f:
        f.write("\n".join(hdr))
    spec = {"library": lib, "common_args": COMMON_ARGS,
            "ops": {n: dict(ops[n], function="%s_%s" % (lib, n)) for n in order},
            "records": records}
    with open(os.path.join(out, "lua_lib.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)


if __name__ == "__main__":
    main()
