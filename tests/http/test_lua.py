"""The Redis scripts of lua/ run directly against the test Redis, case by case.

Each tests/lua/<script>/<case>.json (in the manner of jansson's test/suites) holds:
  "setup":  Redis commands run first,
  "keys", "argv": the script's KEYS and ARGV,
  "expect": its answer (JSON: integers, strings, null for nil, lists; "*" matches anything),
  "after":  [command, expected answer] pairs that check the state it left.
In every string "$A" becomes a fresh activity id and "$NOW" the current Unix time, so cases
never meet. The script text is lua/<script>.lua with its `--! include` lines expanded, as
tools/lua2c.sh embeds it."""
import glob
import json
import os
import random
import socket
import time
import unittest

import fslib

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CASES = os.path.join(TOP, "tests", "lua")


def script_text(name):
    """lua/<name>.lua with includes expanded."""
    path = os.path.join(TOP, "lua", name + ".lua")
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("--! include "):
                with open(os.path.join(TOP, "lua", line[len("--! include "):].strip())) as g:
                    out.append(g.read())
            else:
                out.append(line)
    return "".join(out)


class Resp:
    """A minimal RESP2 client over the test stack's Unix socket (exact reply types)."""

    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(10)
        self.s.connect(os.path.join(fslib.RUN, "redis.sock"))
        self.f = self.s.makefile("rb")

    def call(self, *args):
        msg = b"*%d\r\n" % len(args)
        for a in args:
            b = str(a).encode()
            msg += b"$%d\r\n%s\r\n" % (len(b), b)
        self.s.sendall(msg)
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return {"error": rest.decode()}
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("bad reply %r" % line)

    def close(self):
        self.f.close()
        self.s.close()


def matches(want, got):
    """Does got match want ("*" matches anything; numbers compare as numbers)?"""
    if want == "*":
        return True
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and \
            all(matches(w, g) for w, g in zip(want, got))
    if isinstance(want, int) and isinstance(got, str):
        return got.lstrip("-").isdigit() and int(got) == want
    return want == got


class LuaScripts(unittest.TestCase):
    """Every case of tests/lua/ (one subTest each); fails if a script has none."""

    def run_case(self, r, script, path):
        with open(path) as f:
            text = f.read()
        aid = str(random.randrange(10**9, 2 * 10**9))
        text = text.replace("$A", aid).replace("$NOW", str(int(time.time())))
        case = json.loads(text)
        for cmd in case.get("setup", []):
            got = r.call(*cmd)
            self.assertFalse(isinstance(got, dict), "setup %r: %r" % (cmd, got))
        keys, argv = case.get("keys", []), case.get("argv", [])
        got = r.call("EVAL", script_text(script), len(keys), *keys, *argv)
        self.assertTrue(matches(case["expect"], got), "answer %r, expected %r" %
                        (got, case["expect"]))
        for cmd, want in case.get("after", []):
            got = r.call(*cmd)
            self.assertTrue(matches(want, got), "%r gave %r, expected %r" % (cmd, got, want))

    @classmethod
    def setUpClass(cls):
        cls.r = Resp()

    @classmethod
    def tearDownClass(cls):
        cls.r.close()

    def test_every_script_has_cases(self):
        for path in glob.glob(os.path.join(TOP, "lua", "*.lua")):
            name = os.path.basename(path)[:-4]
            if name == "units-back":
                continue  # included by stock-return and finish, tested through them
            self.assertTrue(glob.glob(os.path.join(CASES, name, "*.json")),
                            "lua/%s.lua has no cases in tests/lua/%s" % (name, name))


def _add_cases():
    """One test method per case file."""
    for path in sorted(glob.glob(os.path.join(CASES, "*", "*.json"))):
        script = os.path.basename(os.path.dirname(path))
        name = "test_%s_%s" % (script, os.path.basename(path)[:-5])
        setattr(LuaScripts, name.replace("-", "_"),
                lambda self, s=script, p=path: self.run_case(self.r, s, p))


_add_cases()


if __name__ == "__main__":
    unittest.main()
