"""test_usercenter - the usercenter domain through the web server (API.md, "usercenter").

Register, login, detail, update, refresh, logout, token checks (alg none, tampering, foreign
and expired signatures), bad input, login rate limits, request ids, health and grant-admin.
The per-address login flood runs last (see load_tests) and waits for nginx's bucket to drain.
"""
import base64
import concurrent.futures
import configparser
import hashlib
import hmac
import http.client
import json
import os
import re
import threading
import time
import unittest
import urllib.parse

import fslib
from fslib import post, get, sql

UC = "/usercenter/v1"
RID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Text an error body must never contain (API.md: no SQL, stack, file paths or secrets).
LEAKS = ("mysql", "mariadb", "sql", "select ", "insert ", "update flashsale", "flashsale_",
         "/tmp/", "/work/", "/var/", "/usr/", ".c:", "argon2", "$argon")


def b64u(raw):
    """base64url without padding, as JWTs use."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64u_decode(s):
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    """(header dict, payload dict, signature str) of a JWT."""
    h, p, s = token.split(".")
    return json.loads(b64u_decode(h)), json.loads(b64u_decode(p)), s


def jwt_claims(token):
    """The payload of a JWT as a dict."""
    return jwt_parts(token)[1]


def hs256(header, payload, secret):
    """A compact HS256 JWT over header/payload (dicts) with secret (str)."""
    signing = b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64u(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64u(sig)


def stack_secret():
    """The test stack's JWT secret (the stack writes it under FLASHSALE_TEST_VAR/secrets)."""
    with open(os.path.join(fslib.VAR, "secrets", "jwt_secret")) as f:
        return f.read().strip()


def stack_conf(section, key, default):
    """An integer from the stack's flashsale.conf, or default when it is not set there."""
    cp = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    try:
        cp.read(os.path.join(fslib.VAR, "flashsale.conf"))
        return cp.getint(section, key, fallback=default)
    except (configparser.Error, ValueError):
        return default


def raw_call(method, path, body=b"", headers=None):
    """A request via http.client returning (status, list of (name, value) headers, text)."""
    u = urllib.parse.urlparse(fslib.BASE_URL)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = {"Connection": "close", "Content-Type": "application/json"}
    h.update(headers or {})
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def user_row(mobile):
    """The user's row as a dict of strings (hex of the text fields), or None."""
    rows = sql("SELECT id, HEX(nickname), sex, HEX(avatar), HEX(info), role, version, "
               "HEX(password) FROM flashsale_usercenter.user WHERE mobile = '%s'" % mobile)
    if not rows:
        return None
    keys = ("id", "nickname", "sex", "avatar", "info", "role", "version", "password")
    return dict(zip(keys, rows[0]))


def hexs(text):
    """The upper-case hex of text's UTF-8 bytes, as MariaDB's HEX() prints it."""
    return text.encode().hex().upper()


def count_mobile(mobile):
    """Rows in the user table for mobile."""
    return int(sql("SELECT COUNT(*) FROM flashsale_usercenter.user WHERE mobile = '%s'"
                   % mobile)[0][0])


def count_users():
    """Rows in the user table."""
    return int(sql("SELECT COUNT(*) FROM flashsale_usercenter.user")[0][0])


class UCTestCase(unittest.TestCase):
    """Shared assertions of the usercenter suites."""

    def assertOk(self, r):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.code, 200, r)
        self.assertEqual(r.json.get("msg"), "OK", r)
        self.assertIsInstance(r.data, dict, r)

    def assertErr(self, r, code, status, field=None):
        """An error envelope with code/status, a message (naming field) and nothing leaked."""
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        self.assertEqual(r.code, code, r)
        self.assertIsInstance(r.json.get("msg"), str, r)
        self.assertTrue(r.json["msg"], r)
        self.assertNotIn("data", r.json, r)
        if field:
            self.assertIn(field, r.json["msg"], r)
        low = r.text.lower()
        for bad in LEAKS:
            self.assertNotIn(bad, low, r)

    def assertTriple(self, r, t0):
        """A token triple: accessToken str, accessExpire > now, now <= refreshAfter < expire."""
        self.assertOk(r)
        d = r.data
        t1 = time.time()
        self.assertIsInstance(d.get("accessToken"), str, r)
        self.assertEqual(d["accessToken"].count("."), 2, r)
        for k in ("accessExpire", "refreshAfter"):
            self.assertIsInstance(d.get(k), int, r)
            self.assertNotIsInstance(d.get(k), bool, r)
        self.assertGreater(d["accessExpire"], t1, r)
        self.assertGreaterEqual(d["refreshAfter"], int(t0) - 1, r)
        self.assertLess(d["refreshAfter"], d["accessExpire"], r)
        c = jwt_claims(d["accessToken"])
        self.assertEqual(c["exp"], d["accessExpire"])
        return d["accessToken"]

    def detail(self, token, **kw):
        return post(UC + "/user/detail", {}, token=token, **kw)


class RegisterTest(UCTestCase):
    """POST /user/register."""

    def test_register_returns_token_triple(self):
        mobile = fslib.unique_mobile()
        t0 = time.time()
        r = post(UC + "/user/register", {"mobile": mobile, "password": "secret123"})
        token = self.assertTriple(r, t0)
        row = user_row(mobile)
        self.assertIsNotNone(row)
        hdr, claims, _ = jwt_parts(token)
        self.assertEqual(hdr.get("alg"), "HS256")
        self.assertEqual(claims["jwtUserId"], int(row["id"]))
        self.assertEqual(claims["role"], "user")
        self.assertTrue(re.match(r"^[0-9a-f]{32}$", claims["jti"]), claims)
        self.assertLessEqual(claims["iat"], time.time() + 1)
        self.assertOk(self.detail(token))

    def test_password_stored_as_argon2id(self):
        mobile, _ = fslib.register(password="plainpass42")
        stored = bytes.fromhex(user_row(mobile)["password"]).decode()
        self.assertTrue(stored.startswith("$argon2id$"), stored[:20])
        self.assertNotIn("plainpass42", stored)

    def test_register_with_nickname(self):
        mobile, token = fslib.register(nickname="Alice")
        r = self.detail(token)
        self.assertOk(r)
        self.assertEqual(r.data["userInfo"]["nickname"], "Alice")
        self.assertEqual(r.data["userInfo"]["mobile"], mobile)

    def test_duplicate_mobile(self):
        mobile, _ = fslib.register(password="first-pass")
        r = post(UC + "/user/register", {"mobile": mobile, "password": "second-pass"})
        self.assertErr(r, 200001, 409)
        self.assertEqual(count_mobile(mobile), 1)
        # The first registration's password still holds; the second one did not land.
        self.assertOk(post(UC + "/user/login", {"mobile": mobile, "password": "first-pass"}))
        self.assertErr(post(UC + "/user/login", {"mobile": mobile, "password": "second-pass"}),
                       200002, 401)

    def test_concurrent_registration_of_one_mobile(self):
        mobile = fslib.unique_mobile()
        results = []
        barrier = threading.Barrier(5)

        def one(i):
            barrier.wait()
            results.append(post(UC + "/user/register",
                                {"mobile": mobile, "password": "pass-%d-xyz" % i}))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.code for r in results)
        self.assertEqual(codes, [200, 200001, 200001, 200001, 200001], results)
        self.assertEqual(count_mobile(mobile), 1)

    def test_password_length_bounds(self):
        for pw in ("a" * 6, "b" * 64, "密码密码密码"):
            m = fslib.unique_mobile()
            self.assertOk(post(UC + "/user/register", {"mobile": m, "password": pw}))
            self.assertOk(post(UC + "/user/login", {"mobile": m, "password": pw}))
        for pw in ("a" * 5, "b" * 65, ""):
            m = fslib.unique_mobile()
            r = post(UC + "/user/register", {"mobile": m, "password": pw})
            self.assertErr(r, 100002, 400, "password")
            self.assertEqual(count_mobile(m), 0)

    def test_bad_mobiles(self):
        m = fslib.unique_mobile()
        bad = [m[:10], m + "1", "1380013800a", "abcdefghijk", "2" + m[1:], "0" + m[1:],
               " " + m[1:], m[:10] + " ", "+8613800138", "1380013800１", "1' OR '1'='1"]
        before = count_users()
        for mobile in bad:
            r = post(UC + "/user/register", {"mobile": mobile, "password": "secret123"})
            self.assertErr(r, 100002, 400, "mobile")
        self.assertEqual(count_users(), before)

    def test_wrong_types_and_missing_fields(self):
        m = fslib.unique_mobile()
        cases = [
            ({"mobile": int(m), "password": "secret123"}, "mobile"),
            ({"mobile": [m], "password": "secret123"}, "mobile"),
            ({"mobile": m, "password": 12345678}, "password"),
            ({"mobile": m, "password": True}, "password"),
            ({"mobile": m, "password": {"p": "secret123"}}, "password"),
            ({"mobile": m, "password": "secret123", "nickname": 5}, "nickname"),
            ({"mobile": m, "password": "secret123", "nickname": "n" * 33}, "nickname"),
            ({"mobile": m, "password": "secret123", "nickname": ""}, "nickname"),
            ({"password": "secret123"}, "mobile"),
            ({"mobile": m}, "password"),
            ({"mobile": None, "password": "secret123"}, "mobile"),
            ({}, "mobile"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertErr(post(UC + "/user/register", body), 100002, 400, field)
        self.assertEqual(count_mobile(m), 0)

    def test_malformed_bodies(self):
        m = fslib.unique_mobile()
        raws = [
            '{"mobile":"%s","password":"secret123"' % m,              # truncated
            "{mobile:%s}" % m,                                         # not JSON
            '["%s","secret123"]' % m,                                  # an array
            '"%s"' % m,                                                # a string
            "42",
            "null",
            '{"mobile":"%s","mobile":"%s","password":"secret123"}' % (m, m),  # duplicate key
            b'{"mobile":"' + m.encode() + b'","password":"secret\xff\xfe12"}',  # bad UTF-8
            '{"mobile":"%s","password":"secret123"} trailing' % m,
        ]
        for raw in raws:
            with self.subTest(raw=raw):
                r = post(UC + "/user/register", raw=raw)
                self.assertErr(r, 100002, 400)
        self.assertEqual(count_mobile(m), 0)

    def test_nul_characters(self):
        # Refused (by the JSON parser or the field check; the message need not name the field).
        m = fslib.unique_mobile()
        for body in ({"mobile": m, "password": "secret\u0000123"},
                     {"mobile": m[:10] + "\u0000", "password": "secret123"},
                     {"mobile": m, "password": "secret123", "nickname": "a\u0000b"}):
            with self.subTest(body=body):
                self.assertErr(post(UC + "/user/register", body), 100002, 400)
        self.assertEqual(count_mobile(m), 0)

    def test_unknown_fields_ignored(self):
        m = fslib.unique_mobile()
        r = post(UC + "/user/register", {"mobile": m, "password": "secret123",
                                         "role": "admin", "id": 1, "extra": {"x": [1]}})
        self.assertOk(r)
        self.assertEqual(jwt_claims(r.data["accessToken"])["role"], "user")
        self.assertEqual(user_row(m)["role"], "user")

    def test_sql_metacharacters_in_nickname_stored_verbatim(self):
        nick = "a'b\"c`d\\e;--%_/*x*/"
        m = fslib.unique_mobile()
        before = count_users()
        r = post(UC + "/user/register", {"mobile": m, "password": "secret123", "nickname": nick})
        self.assertOk(r)
        self.assertEqual(count_users(), before + 1)
        self.assertEqual(user_row(m)["nickname"], hexs(nick))
        d = self.detail(r.data["accessToken"])
        self.assertEqual(d.data["userInfo"]["nickname"], nick)

    def test_body_too_large(self):
        m = fslib.unique_mobile()
        raw = '{"mobile":"%s","password":"secret123","nickname":"%s"}' % (m, "x" * 200 * 1024)
        r = post(UC + "/user/register", raw=raw)
        self.assertErr(r, 100010, 413)
        self.assertIn("x-request-id", r.headers)
        self.assertEqual(count_mobile(m), 0)

    def test_body_just_under_limit_is_parsed(self):
        # 60 KiB of padding in an ignored field: under the 64 KiB cap, so the usual checks run.
        m = fslib.unique_mobile()
        r = post(UC + "/user/register", {"mobile": m, "password": "secret123",
                                         "pad": "p" * 60 * 1024})
        self.assertOk(r)
        self.assertEqual(count_mobile(m), 1)


class LoginTest(UCTestCase):
    """POST /user/login (the per-mobile failure limit is its own class)."""

    def test_login_ok(self):
        mobile, token0 = fslib.register(password="loginpass1")
        t0 = time.time()
        r = post(UC + "/user/login", {"mobile": mobile, "password": "loginpass1"})
        token = self.assertTriple(r, t0)
        c0, c = jwt_claims(token0), jwt_claims(token)
        self.assertEqual(c["jwtUserId"], c0["jwtUserId"])
        self.assertNotEqual(c["jti"], c0["jti"])
        d = self.detail(token)
        self.assertOk(d)
        self.assertEqual(d.data["userInfo"]["mobile"], mobile)
        self.assertOk(self.detail(token0))  # a new session does not end the old one

    def test_wrong_password_and_unknown_mobile_look_alike(self):
        mobile, _ = fslib.register(password="loginpass1")
        wrong = post(UC + "/user/login", {"mobile": mobile, "password": "loginpass2"})
        self.assertErr(wrong, 200002, 401)
        unknown = post(UC + "/user/login", {"mobile": fslib.unique_mobile(),
                                            "password": "loginpass1"})
        self.assertErr(unknown, 200002, 401)
        self.assertEqual(wrong.json["msg"], unknown.json["msg"])
        # The password is case sensitive and compared whole.
        self.assertErr(post(UC + "/user/login", {"mobile": mobile, "password": "LOGINPASS1"}),
                       200002, 401)
        self.assertErr(post(UC + "/user/login", {"mobile": mobile, "password": "loginpass"}),
                       200002, 401)

    def test_login_bad_input(self):
        mobile, _ = fslib.register()
        cases = [
            ({"mobile": mobile}, "password"),
            ({"password": "secret123"}, "mobile"),
            ({"mobile": int(mobile), "password": "secret123"}, "mobile"),
            ({"mobile": mobile, "password": 123456}, "password"),
            ({"mobile": mobile[:10], "password": "secret123"}, "mobile"),
            ({"mobile": "2" + mobile[1:], "password": "secret123"}, "mobile"),
            ({"mobile": mobile[:10] + "x", "password": "secret123"}, "mobile"),
            ({"mobile": "1' OR 1=1 -- ", "password": "secret123"}, "mobile"),
            ({"mobile": mobile, "password": "p" * 65}, "password"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertErr(post(UC + "/user/login", body), 100002, 400, field)
        for raw in ("{bad json", "[1,2,3]", ""):
            with self.subTest(raw=raw):
                self.assertErr(post(UC + "/user/login", raw=raw), 100002, 400)
        # None of that counted against the account.
        self.assertOk(post(UC + "/user/login", {"mobile": mobile, "password": "secret123"}))


class ProfileTest(UCTestCase):
    """POST /user/detail and /user/update."""

    def setUp(self):
        self.mobile, self.token = fslib.register(nickname="Before")

    def update(self, body, token=None):
        return post(UC + "/user/update", body, token=token or self.token)

    def test_detail(self):
        r = self.detail(self.token)
        self.assertOk(r)
        info = r.data["userInfo"]
        self.assertEqual(set(info), {"id", "mobile", "nickname", "sex", "avatar", "info",
                                     "wxBound", "mobileVerified"})
        self.assertIs(info["wxBound"], False)
        self.assertIs(info["mobileVerified"], False)
        self.assertEqual(info["id"], int(user_row(self.mobile)["id"]))
        self.assertEqual(info["id"], jwt_claims(self.token)["jwtUserId"])
        self.assertEqual(info["mobile"], self.mobile)
        self.assertEqual(info["nickname"], "Before")
        self.assertIsInstance(info["sex"], int)
        self.assertIn(info["sex"], (0, 1))
        self.assertIsInstance(info["avatar"], str)
        self.assertIsInstance(info["info"], str)
        self.assertNotIn("password", r.text)

    def test_detail_is_per_user(self):
        other_mobile, other = fslib.register(nickname="Other")
        a, b = self.detail(self.token), self.detail(other)
        self.assertEqual(a.data["userInfo"]["mobile"], self.mobile)
        self.assertEqual(b.data["userInfo"]["mobile"], other_mobile)
        self.assertNotEqual(a.data["userInfo"]["id"], b.data["userInfo"]["id"])

    def test_update_each_field(self):
        steps = [
            ({"nickname": "After"}, "nickname", "After"),
            ({"sex": 1}, "sex", 1),
            ({"sex": 0}, "sex", 0),
            ({"avatar": "https://img.example.com/a.png"}, "avatar",
             "https://img.example.com/a.png"),
            ({"info": "hello 世界"}, "info", "hello 世界"),
            ({"nickname": "秒" * 32}, "nickname", "秒" * 32),
            ({"nickname": "😀" * 32}, "nickname", "😀" * 32),
            ({"avatar": ""}, "avatar", ""),
            ({"info": "i" * 255}, "info", "i" * 255),
        ]
        expect = dict(self.detail(self.token).data["userInfo"])
        for body, field, value in steps:
            with self.subTest(body=body):
                r = self.update(body)
                self.assertOk(r)
                expect[field] = value
                self.assertEqual(r.data["userInfo"], expect)
                self.assertEqual(self.detail(self.token).data["userInfo"], expect)
        row = user_row(self.mobile)
        self.assertEqual(row["nickname"], hexs("😀" * 32))
        self.assertEqual(row["info"], hexs("i" * 255))
        self.assertEqual(row["sex"], "0")

    def test_update_several_fields_and_unknown_ones(self):
        r = self.update({"nickname": "N2", "sex": 1, "avatar": "a.png", "info": "i2",
                         "mobile": "13999999999", "id": 1, "role": "admin"})
        self.assertOk(r)
        info = r.data["userInfo"]
        self.assertEqual((info["nickname"], info["sex"], info["avatar"], info["info"]),
                         ("N2", 1, "a.png", "i2"))
        self.assertEqual(info["mobile"], self.mobile)  # not updatable
        row = user_row(self.mobile)
        self.assertEqual(row["role"], "user")
        self.assertEqual(row["nickname"], hexs("N2"))

    def test_empty_update_changes_nothing(self):
        before = self.detail(self.token).data["userInfo"]
        r = self.update({})
        self.assertOk(r)
        self.assertEqual(r.data["userInfo"], before)

    def test_bad_updates_change_nothing(self):
        self.assertOk(self.update({"sex": 1, "avatar": "keep.png", "info": "keep"}))
        row0 = user_row(self.mobile)
        cases = [
            ({"sex": 2}, "sex"),
            ({"sex": -1}, "sex"),
            ({"sex": 99999999999999}, "sex"),
            ({"sex": "1"}, "sex"),
            ({"sex": 0.5}, "sex"),
            ({"sex": True}, "sex"),
            ({"nickname": "n" * 33}, "nickname"),
            ({"nickname": "秒" * 33}, "nickname"),
            ({"nickname": ""}, "nickname"),
            ({"nickname": 123}, "nickname"),
            ({"nickname": ["x"]}, "nickname"),
            ({"avatar": 1}, "avatar"),
            ({"avatar": "a" * 256}, "avatar"),
            # issue 10, 12a: only http(s) URLs and paths on this site
            ({"avatar": "javascript:alert(document.cookie)"}, "avatar"),
            ({"avatar": "JavaScript:alert(1)"}, "avatar"),
            ({"avatar": " javascript:alert(1)"}, "avatar"),
            ({"avatar": "data:text/html,<script>alert(1)</script>"}, "avatar"),
            ({"avatar": "vbscript:msgbox(1)"}, "avatar"),
            ({"avatar": "//evil.example/a.png"}, "avatar"),
            ({"avatar": "https://x.example/a.png\" onerror=\"alert(1)"}, "avatar"),
            ({"avatar": "http://"}, "avatar"),
            ({"info": {"k": "v"}}, "info"),
            ({"info": "i" * 256}, "info"),
            # one bad field spoils the whole update: the good one does not land either
            ({"nickname": "Partial", "sex": 7}, "sex"),
            ({"nickname": "Partial", "info": 5}, "info"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertErr(self.update(body), 100002, 400, field)
        for raw in ("{oops", "[]", '{"nickname":"x","nickname":"y"}'):
            with self.subTest(raw=raw):
                self.assertErr(post(UC + "/user/update", raw=raw, token=self.token), 100002, 400)
        self.assertEqual(user_row(self.mobile), row0)

    def test_sql_metacharacters_stored_verbatim(self):
        other_mobile, _ = fslib.register(nickname="Bystander")
        other0 = user_row(other_mobile)
        users0 = count_users()
        nick = "x'; DROP TABLE user; --"
        info = "' OR '1'='1\" ; UPDATE user SET role='admin' #"
        r = self.update({"nickname": nick, "info": info})
        self.assertOk(r)
        self.assertEqual(r.data["userInfo"]["nickname"], nick)
        self.assertEqual(r.data["userInfo"]["info"], info)
        row = user_row(self.mobile)
        self.assertEqual(row["nickname"], hexs(nick))
        self.assertEqual(row["info"], hexs(info))
        self.assertEqual(row["role"], "user")
        self.assertEqual(user_row(other_mobile), other0)
        self.assertEqual(count_users(), users0)

    def test_profile_needs_token(self):
        row0 = user_row(self.mobile)
        self.assertErr(post(UC + "/user/update", {"nickname": "NoToken"}), 100003, 401)
        self.assertErr(post(UC + "/user/detail", {}), 100003, 401)
        self.assertEqual(user_row(self.mobile), row0)


class SessionTest(UCTestCase):
    """POST /user/refresh and /user/logout."""

    def refresh_when_due(self, token):
        """Refresh once refreshAfter has passed (the test stack: 2 s after issue)."""
        r = fslib.wait_until(lambda: (lambda r: r if r.code != 100007 else None)(
            post(UC + "/user/refresh", {}, token=token)), timeout=10, interval=0.25)
        self.assertTrue(r, "refresh still refused 10 s after issue")
        return r

    def test_refresh(self):
        mobile, old = fslib.register()
        t0 = time.time()
        r = self.refresh_when_due(old)
        new = self.assertTriple(r, t0)
        self.assertNotEqual(new, old)
        co, cn = jwt_claims(old), jwt_claims(new)
        self.assertEqual(cn["jwtUserId"], co["jwtUserId"])
        self.assertNotEqual(cn["jti"], co["jti"])
        self.assertGreaterEqual(cn["exp"], co["exp"])
        self.assertOk(self.detail(new))
        self.assertOk(self.detail(old))  # the old token stays valid until it expires

    def test_refresh_needs_token(self):
        self.assertErr(post(UC + "/user/refresh", {}), 100003, 401)

    def test_refresh_only_after_refresh_after(self):
        # issue 10, 3: a token refreshed at once, thousands of times, made thousands of sessions
        mobile, _ = fslib.register()
        r = post(UC + "/user/login", {"mobile": mobile, "password": "secret123"})
        self.assertOk(r)
        due = r.data["refreshAfter"]
        token = r.data["accessToken"]
        if time.time() < due - 0.5:
            r = post(UC + "/user/refresh", {}, token=token)
            self.assertErr(r, 100007, 429)
            self.assertIn("retry-after", r.headers)
        self.assertOk(self.refresh_when_due(token))

    def test_sessions_per_user_are_capped(self):
        cap = stack_conf("auth", "max_sessions", 10)
        mobile, first = fslib.register()
        uid = jwt_claims(first)["jwtUserId"]
        tokens = [fslib.login(mobile) for _ in range(cap + 3)]
        self.assertEqual(int(fslib.redis("HLEN", "fs:usess:%d" % uid)), cap)
        # the oldest went first; the newest `cap` still work
        self.assertErr(self.detail(first), 100003, 401)
        for t in tokens[:3]:
            self.assertErr(self.detail(t), 100003, 401)
        for t in tokens[3:]:
            self.assertOk(self.detail(t))
        # refreshing does not grow it either
        self.refresh_when_due(tokens[-1])
        for _ in range(5):
            self.assertOk(post(UC + "/user/refresh", {}, token=tokens[-1]))
        self.assertEqual(int(fslib.redis("HLEN", "fs:usess:%d" % uid)), cap)

    def test_logout_everywhere(self):
        mobile, token = fslib.register()
        other = fslib.login(mobile)
        refreshed = self.refresh_when_due(other).data["accessToken"]
        bystander_mobile, bystander = fslib.register()
        self.assertErr(post(UC + "/user/logout", {"all": "yes"}, token=token), 100002, 400)
        self.assertOk(post(UC + "/user/logout", {"all": True}, token=token))
        for t in (token, other, refreshed):
            self.assertErr(self.detail(t), 100003, 401)
        self.assertOk(self.detail(bystander))
        self.assertOk(self.detail(fslib.login(mobile)))

    def test_logout_revokes_the_refresh_family(self):
        mobile, token = fslib.register()
        child = self.refresh_when_due(token).data["accessToken"]
        grandchild = self.refresh_when_due(child).data["accessToken"]
        other = fslib.login(mobile)
        self.assertOk(post(UC + "/user/logout", {}, token=token))
        for t in (token, child, grandchild):
            self.assertErr(self.detail(t), 100003, 401)
        self.assertOk(self.detail(other))
        # logging out with the newest of a family (the storefront refreshes first) ends it all
        login = fslib.login(mobile)
        newest = self.refresh_when_due(login).data["accessToken"]
        self.assertOk(post(UC + "/user/logout", {}, token=newest))
        for t in (login, newest):
            self.assertErr(self.detail(t), 100003, 401)
        self.assertOk(self.detail(other))

    def test_session_belongs_to_the_tokens_user(self):
        # issue 10, 12c: a session is looked up under, and must name, the token's user.
        _, victim = fslib.register()
        _, attacker = fslib.register()
        vc, ac = jwt_claims(victim), jwt_claims(attacker)
        h = jwt_parts(victim)[0]
        forged = hs256(h, dict(vc, jwtUserId=ac["jwtUserId"]), stack_secret())
        self.assertErr(self.detail(forged), 100003, 401)
        # a session entry under the attacker that names the victim is refused as well
        key = "fs:usess:%d" % ac["jwtUserId"]
        fslib.redis("HSET", key, vc["jti"], "%d user %d %d -" % (vc["jwtUserId"], vc["iat"],
                                                                 vc["exp"]))
        self.assertErr(self.detail(forged), 100003, 401)
        fslib.redis("HDEL", key, vc["jti"])
        self.assertOk(self.detail(victim))

    def test_logout(self):
        mobile, token = fslib.register()
        other = fslib.login(mobile)
        r = post(UC + "/user/logout", {}, token=token)
        self.assertOk(r)
        self.assertEqual(r.data, {})
        # the presented token is revoked at once, on every authenticated route
        self.assertErr(self.detail(token), 100003, 401)
        self.assertErr(post(UC + "/user/refresh", {}, token=token), 100003, 401)
        self.assertErr(post(UC + "/user/update", {"nickname": "ghost"}, token=token), 100003, 401)
        self.assertErr(post(UC + "/user/logout", {}, token=token), 100003, 401)
        # other sessions of the same user are untouched
        self.assertOk(self.detail(other))
        self.assertNotEqual(user_row(mobile)["nickname"], hexs("ghost"))
        # and the user can log in again
        self.assertOk(self.detail(fslib.login(mobile)))

    def test_logout_needs_token(self):
        self.assertErr(post(UC + "/user/logout", {}), 100003, 401)


class TokenTest(UCTestCase):
    """Forged, broken and expired tokens are 100003 / HTTP 401; a bare token works."""

    @classmethod
    def setUpClass(cls):
        cls.mobile, cls.token = fslib.register(nickname="TokenOwner")
        cls.victim_mobile, cls.victim_token = fslib.register(nickname="Victim")
        cls.header, cls.claims, cls.sig = jwt_parts(cls.token)
        cls.victim_id = jwt_claims(cls.victim_token)["jwtUserId"]

    def reject(self, headers=None, token=None):
        for path in ("/user/detail", "/user/refresh"):
            r = post(UC + path, {}, token=token, headers=headers)
            self.assertErr(r, 100003, 401)

    def test_bearer_and_bare_token(self):
        self.assertOk(self.detail(self.token))
        r = post(UC + "/user/detail", {}, headers={"Authorization": self.token})
        self.assertOk(r)
        self.assertEqual(r.data["userInfo"]["mobile"], self.mobile)

    def test_missing_and_malformed(self):
        self.reject()
        for value in ("", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer abc",
                      "Bearer a.b.c", "Bearer ...", "Bearer " + self.token[:-5],
                      "Bearer " + self.token + "x", "Bearer " + "A" * 4000,
                      "Bearer " + self.token.replace(".", "", 1),
                      "Bearer " + self.token + "." + self.sig):
            with self.subTest(value=value[:60]):
                self.reject(headers={"Authorization": value})

    def test_our_signing_matches_the_server(self):
        # Re-signing the real header and claims with the stack's secret gives the same token,
        # so the forgeries below differ from a valid token only where they claim to.
        h, p, s = self.token.split(".")
        sig = hmac.new(stack_secret().encode(), (h + "." + p).encode(), hashlib.sha256).digest()
        self.assertEqual(b64u(sig), s)
        resigned = hs256(self.header, self.claims, stack_secret())
        self.assertOk(self.detail(resigned))

    def test_alg_none(self):
        claims = dict(self.claims)
        for hdr in ({"alg": "none"}, {"alg": "none", "typ": "JWT"}, {"alg": "None"},
                    {"alg": "NONE", "typ": "JWT"}):
            forged = b64u(json.dumps(hdr).encode()) + "." + \
                b64u(json.dumps(claims).encode()) + "."
            with self.subTest(hdr=hdr):
                self.reject(token=forged)
                self.reject(token=forged + self.sig)

    def test_other_algorithms_with_the_real_secret(self):
        # HS512/HS384 signed with the real secret: the algorithm is pinned to HS256.
        for alg, fn in (("HS512", hashlib.sha512), ("HS384", hashlib.sha384)):
            hdr = {"alg": alg, "typ": "JWT"}
            signing = b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(self.claims).encode())
            sig = hmac.new(stack_secret().encode(), signing.encode(), fn).digest()
            with self.subTest(alg=alg):
                self.reject(token=signing + "." + b64u(sig))

    def test_tampered_payload(self):
        h, _, s = self.token.split(".")
        for change in ({"jwtUserId": self.victim_id}, {"role": "admin"},
                       {"exp": self.claims["exp"] + 86400}):
            claims = dict(self.claims, **change)
            forged = h + "." + b64u(json.dumps(claims, separators=(",", ":")).encode()) + "." + s
            with self.subTest(change=change):
                self.reject(token=forged)
        # the victim's profile was not reachable
        self.assertOk(self.detail(self.victim_token))

    def test_signature_from_another_secret(self):
        for secret in ("not-the-secret", stack_secret()[:-1], stack_secret() + "0", ""):
            with self.subTest(secret=secret[:8]):
                self.reject(token=hs256(self.header, self.claims, secret))

    def test_expired(self):
        now = int(time.time())
        for iat, exp in ((now - 3600, now - 60), (now - 120, now - 1), (now - 10, now)):
            claims = dict(self.claims, iat=iat, exp=exp)
            with self.subTest(exp=exp - now):
                self.reject(token=hs256(self.header, claims, stack_secret()))

    def test_valid_signature_without_session(self):
        # Correctly signed by the stack's secret, but no session was ever opened for this jti.
        claims = dict(self.claims, jti="0" * 32)
        self.reject(token=hs256(self.header, claims, stack_secret()))

    def test_bad_claim_types_with_valid_signature(self):
        for change in ({"jwtUserId": str(self.claims["jwtUserId"])}, {"jwtUserId": 0},
                       {"role": "root"}, {"exp": str(self.claims["exp"])}):
            claims = dict(self.claims, **change)
            with self.subTest(change=change):
                self.reject(token=hs256(self.header, claims, stack_secret()))


class LoginLimitTest(UCTestCase):
    """Failed logins per (mobile, address): after login_fail_per_mobile failures, 429 / 100007."""

    def test_per_mobile_limit(self):
        limit = stack_conf("usercenter", "login_fail_per_mobile", 5)
        window = stack_conf("usercenter", "login_fail_window", 300)
        mobile, token = fslib.register(password="right-pass")
        bystander, _ = fslib.register(password="right-pass")
        for i in range(limit):
            r = post(UC + "/user/login", {"mobile": mobile, "password": "wrong-pass-%d" % i})
            self.assertErr(r, 200002, 401)
        r = post(UC + "/user/login", {"mobile": mobile, "password": "wrong-pass-x"})
        self.assertErr(r, 100007, 429)
        self.assertIn("retry-after", r.headers)
        self.assertTrue(r.headers["retry-after"].isdigit(), r.headers)
        self.assertTrue(1 <= int(r.headers["retry-after"]) <= window, r.headers)
        self.assertIn("x-request-id", r.headers)
        # The right password is refused too while blocked ...
        r = post(UC + "/user/login", {"mobile": mobile, "password": "right-pass"})
        self.assertErr(r, 100007, 429)
        self.assertIn("retry-after", r.headers)
        # ... existing sessions keep working, and other mobiles are not affected.
        self.assertOk(self.detail(token))
        self.assertOk(post(UC + "/user/login", {"mobile": bystander, "password": "right-pass"}))

    def test_unknown_mobile_is_limited_too(self):
        limit = stack_conf("usercenter", "login_fail_per_mobile", 5)
        mobile = fslib.unique_mobile()
        codes = [post(UC + "/user/login", {"mobile": mobile, "password": "whatever1"}).code
                 for _ in range(limit + 1)]
        self.assertEqual(codes, [200002] * limit + [100007])

    def login_from(self, addr, mobile, password):
        return fslib.call_from(addr, "POST", UC + "/user/login",
                               {"mobile": mobile, "password": password})

    def test_failures_elsewhere_do_not_lock_the_owner_out(self):
        # issue 10, 4: five wrong passwords from five addresses made the owner's login 429
        limit = stack_conf("usercenter", "login_fail_per_mobile", 5)
        mobile, _ = fslib.register(password="owner-pass")
        for _ in range(limit):
            self.assertErr(self.login_from(fslib.random_loopback(), mobile, "guess"), 200002, 401)
        self.assertOk(self.login_from(fslib.random_loopback(), mobile, "owner-pass"))
        # one address guessing limit times is blocked for this mobile, the owner is not
        attacker = fslib.random_loopback()
        for i in range(limit):
            self.assertErr(self.login_from(attacker, mobile, "guess-%d" % i), 200002, 401)
        self.assertErr(self.login_from(attacker, mobile, "owner-pass"), 100007, 429)
        self.assertOk(self.login_from(fslib.random_loopback(), mobile, "owner-pass"))
        self.assertOk(post(UC + "/user/login", {"mobile": mobile, "password": "owner-pass"}))

    def test_many_failures_slow_guessing_addresses_only(self):
        slow = stack_conf("usercenter", "login_fail_slow", 20)
        per = stack_conf("usercenter", "login_fail_per_mobile", 5) - 2
        mobile, _ = fslib.register(password="owner-pass")
        addrs = []
        while len(addrs) * per < slow:
            addr = fslib.random_loopback()
            addrs.append(addr)
            for i in range(per):
                self.assertErr(self.login_from(addr, mobile, "guess-%d" % i), 200002, 401)
        # Past the threshold an address that failed gets one try per interval: back to back,
        # the second of two tries is slowed (429 with Retry-After), not blocked for long.
        codes = [self.login_from(addrs[0], mobile, "guess-x").code for _ in range(2)]
        self.assertIn(100007, codes)
        r = self.login_from(addrs[1], mobile, "guess-y")
        if r.code == 100007:
            self.assertLessEqual(int(r.headers["retry-after"]),
                                 stack_conf("usercenter", "login_slow_interval", 2))
        # an address with no failures is never slowed
        for _ in range(3):
            self.assertOk(self.login_from(fslib.random_loopback(), mobile, "owner-pass"))


class RegisterLimitTest(UCTestCase):
    """issue 10, 2: registrations per client address (usercenter.register_per_addr)."""

    def test_registrations_per_address_are_capped(self):
        cap = stack_conf("usercenter", "register_per_addr", 10)
        addr = fslib.random_loopback()
        for i in range(cap):
            r = fslib.call_from(addr, "POST", UC + "/user/register",
                                {"mobile": fslib.unique_mobile(), "password": "secret123"})
            self.assertOk(r)
        mobile = fslib.unique_mobile()
        users0 = count_users()
        t0 = time.time()
        r = fslib.call_from(addr, "POST", UC + "/user/register",
                            {"mobile": mobile, "password": "secret123"})
        self.assertErr(r, 100007, 429)
        self.assertTrue(r.headers.get("retry-after", "").isdigit(), r.headers)
        self.assertLess(time.time() - t0, 1.0)  # refused before any hashing
        self.assertEqual(count_mobile(mobile), 0)
        self.assertEqual(count_users(), users0)
        # other addresses register as before
        self.assertOk(fslib.call_from(fslib.random_loopback(), "POST", UC + "/user/register",
                                      {"mobile": fslib.unique_mobile(), "password": "x12345"}))

    def test_web_server_limits_a_registration_flood(self):
        """nginx's limit_req (2/s, burst 20) stands in front of the program's cap: of 60
        registrations sent at once from one address, at most burst + rate reach the program."""
        if fslib.SERVER != "nginx":
            self.skipTest("nginx's limit_req; behind Apache the program's cap alone applies")
        addr = fslib.random_loopback()

        def reached():
            r = fslib.get(UC + "/metrics")
            return sum(float(line.rsplit(" ", 1)[1]) for line in r.text.splitlines()
                       if line.startswith("flashsale_http_requests_total{") and
                       'route="/usercenter/v1/user/register"' in line)
        before, t0 = reached(), time.time()
        with concurrent.futures.ThreadPoolExecutor(30) as ex:
            answers = list(ex.map(lambda _: fslib.call_from(
                addr, "POST", UC + "/user/register",
                {"mobile": fslib.unique_mobile(), "password": "secret123"}), range(60)))
        elapsed = time.time() - t0
        self.assertTrue(all(r.code in (200, 100007) for r in answers), answers)
        # Counted by the program as it answers: poll until the count has settled.
        last = [None]

        def settled():
            v = reached() - before
            same, last[0] = v == last[0], v
            return same
        self.assertTrue(fslib.wait_until(settled, timeout=5, interval=0.2))
        n = last[0]
        self.assertGreater(n, 0)
        self.assertLessEqual(n, 20 + 2 * (elapsed + 1) + 1, (n, elapsed))
        self.assertGreaterEqual(sum(r.code == 100007 for r in answers), 60 - n)

    def test_hashing_has_its_own_pool(self):
        # Argon2id hashes run in usercenter's own lower-priority pool: while all of its workers
        # are busy (here: stopped), other usercenter requests still answer at once.
        import signal
        import subprocess
        with open(os.path.join(fslib.RUN, "usercenter-auth.extra.pid")) as f:
            pool = int(f.read().strip())
        nice = subprocess.run(["ps", "-o", "ni=", "-p", str(pool)], capture_output=True,
                              text=True).stdout.strip()
        self.assertEqual(nice, "10")
        # multiwatch's children are tools/fcgi-worker.sh loops: stop the programs under them too.
        workers, pending = [], [pool]
        while pending:
            kids = [int(p) for p in subprocess.run(["pgrep", "-P", str(pending.pop())],
                                                   capture_output=True, text=True).stdout.split()]
            workers += kids
            pending += kids
        self.assertTrue(workers)
        _, token = fslib.register()
        done = []
        try:
            for w in workers:
                os.kill(w, signal.SIGSTOP)
            t = threading.Thread(target=lambda: done.append(post(
                UC + "/user/register", {"mobile": fslib.unique_mobile(), "password": "x12345"})))
            t.start()
            time.sleep(0.2)
            t0 = time.time()
            self.assertOk(self.detail(token))
            self.assertLess(time.time() - t0, 1.0)
            self.assertEqual(done, [])  # the registration waits for its pool
        finally:
            for w in workers:
                os.kill(w, signal.SIGCONT)
        t.join(30)
        self.assertEqual(done[0].code, 200, done)

    def test_taken_mobile_is_refused_before_hashing(self):
        mobile, _ = fslib.register()
        hashes0 = user_row(mobile)["password"]
        r = post(UC + "/user/register", {"mobile": mobile, "password": "another-pass"})
        self.assertErr(r, 200001, 409)
        self.assertEqual(user_row(mobile)["password"], hashes0)


class ProtocolTest(UCTestCase):
    """Routes, methods, request ids, health, and what error bodies may say."""

    def test_unknown_route(self):
        for path in ("/usercenter/v1/user/nope", "/usercenter/v1/nope", "/usercenter/v2/user/login",
                     "/usercenter/v1/user/login/extra", "/usercenter/v1/user/"):
            with self.subTest(path=path):
                self.assertErr(post(path, {}), 100009, 404)

    def test_wrong_method(self):
        for method, path in (("GET", "/user/login"), ("GET", "/user/register"),
                             ("PUT", "/user/update"), ("DELETE", "/user/logout"),
                             ("POST", "/healthz")):
            with self.subTest(method=method, path=path):
                r = fslib.call(method, UC + path, {} if method != "GET" else None)
                self.assertErr(r, 100009, 404)

    def test_healthz(self):
        r = get(UC + "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ok", "checks": {"mysql": "ok", "redis": "ok"}})
        self.assertIn("json", r.headers.get("content-type", ""))

    def test_every_response_has_request_id(self):
        mobile, token = fslib.register()
        responses = [
            get(UC + "/healthz"),
            post(UC + "/user/detail", {}, token=token),
            post(UC + "/user/detail", {}),
            post(UC + "/user/login", {"mobile": "1"}),
            post(UC + "/user/login", {"mobile": mobile, "password": "wrong-one"}),
            post(UC + "/user/register", {"mobile": mobile, "password": "secret123"}),
            post(UC + "/user/nope", {}),
            post(UC + "/user/register", raw="x" * 100 * 1024),
        ]
        seen = set()
        for r in responses:
            with self.subTest(r=r):
                rid = r.headers.get("x-request-id")
                self.assertIsNotNone(rid, r)
                self.assertRegex(rid, RID_RE)
                seen.add(rid)
        self.assertEqual(len(seen), len(responses))  # one fresh id per request

    def test_client_request_id_echoed_once(self):
        for rid in ("test-abc12345", "A.b_c-0123456789", "x" * 64):
            with self.subTest(rid=rid):
                status, headers, _ = raw_call("POST", UC + "/user/detail", b"{}",
                                              {"X-Request-Id": rid})
                got = [v for k, v in headers if k.lower() == "x-request-id"]
                self.assertEqual(got, [rid])
                self.assertEqual(status, 401)
                r = get(UC + "/healthz", headers={"X-Request-Id": rid})
                self.assertEqual(r.headers.get("x-request-id"), rid)

    def test_request_id_reaches_program_log(self):
        rid = "test-log-%d" % (time.time_ns() % 10**12)
        r = post(UC + "/user/login", {"mobile": "1"}, headers={"X-Request-Id": rid})
        self.assertEqual(r.headers.get("x-request-id"), rid)
        log = os.path.join(fslib.VAR, "log", "usercenter.log")

        def logged():
            try:
                with open(log, encoding="utf-8", errors="replace") as f:
                    return '"requestId":"%s"' % rid in f.read()
            except OSError:
                return False

        self.assertTrue(fslib.wait_until(logged, timeout=5), "request id not in " + log)

    def test_invalid_client_request_id_replaced(self):
        for rid in ("has spaces in it", "a" * 200, "short", "semi;colon=1234", "über-123456",
                    "x" * 65):
            with self.subTest(rid=rid[:20]):
                wire = rid.encode("utf-8").decode("latin-1")  # http.client sends latin-1
                status, headers, _ = raw_call("POST", UC + "/user/detail", b"{}",
                                              {"X-Request-Id": wire})
                got = [v for k, v in headers if k.lower() == "x-request-id"]
                self.assertEqual(len(got), 1, headers)
                self.assertNotEqual(got[0], rid)
                self.assertRegex(got[0], RID_RE)
                self.assertEqual(status, 401)

    def test_error_bodies_leak_nothing(self):
        mobile, token = fslib.register()
        responses = [
            post(UC + "/user/register", raw="{\"mobile\": 'x' UNION SELECT * FROM mysql.user}"),
            post(UC + "/user/register", {"mobile": mobile, "password": "secret123"}),
            post(UC + "/user/login", {"mobile": "1' OR 1=1; --x", "password": "x"}),
            post(UC + "/user/login", {"mobile": mobile, "password": "x' OR '1'='1"}),
            post(UC + "/user/update", {"sex": "1; DROP TABLE user"}, token=token),
            post(UC + "/user/detail", {}, token="../../etc/passwd"),
            post(UC + "/user/detail", {}, token=hs256({"alg": "HS256"}, {"jwtUserId": "1 OR 1"},
                                                      "x")),
            post("/usercenter/v1/../../etc/passwd", {}),
            get(UC + "/user/detail", query={"q": "'; SELECT 1"}),
        ]
        for r in responses:
            with self.subTest(r=r):
                self.assertGreaterEqual(r.status, 400, r)
                low = r.text.lower()
                for bad in LEAKS + ("root:", "stack", "traceback", "segmentation"):
                    self.assertNotIn(bad, low, r)

    def test_error_content_type_is_json(self):
        for r in (post(UC + "/user/detail", {}), post(UC + "/user/nope", {}),
                  post(UC + "/user/login", raw="{")):
            with self.subTest(r=r):
                self.assertIn("application/json", r.headers.get("content-type", ""))
                self.assertIsInstance(r.json, dict)


class GrantAdminTest(UCTestCase):
    """The operator CLI: flashsale-admin grant-admin MOBILE."""

    def test_grant_admin(self):
        mobile, old = fslib.register()
        self.assertEqual(jwt_claims(old)["role"], "user")
        cp = fslib.admin_cli("grant-admin", mobile)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(user_row(mobile)["role"], "admin")
        token = fslib.login(mobile)
        self.assertEqual(jwt_claims(token)["role"], "admin")
        self.assertOk(self.detail(token))
        # issue 10, 7: a role change revokes the sessions that carry the old role
        self.assertErr(self.detail(old), 100003, 401)
        self.assertErr(post(UC + "/user/refresh", {}, token=old), 100003, 401)

    def test_demoted_admin_loses_admin_at_once(self):
        mobile, _ = fslib.register()
        self.assertEqual(fslib.admin_cli("grant-admin", mobile).returncode, 0)
        admin = fslib.login(mobile)
        probe = {"title": ""}  # invalid: an admin gets 100002, anyone else 100008
        r = post("/product/v1/admin/product/create", probe, token=admin)
        self.assertEqual(r.code, 100002, r)
        cp = fslib.admin_cli("revoke-admin", mobile)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(user_row(mobile)["role"], "user")
        self.assertErr(post("/product/v1/admin/product/create", probe, token=admin), 100003, 401)
        user = fslib.login(mobile)
        self.assertEqual(jwt_claims(user)["role"], "user")
        self.assertErr(post("/product/v1/admin/product/create", probe, token=user), 100008, 403)

    def test_admin_routes_read_the_role_of_the_session(self):
        mobile, _ = fslib.register()
        self.assertEqual(fslib.admin_cli("grant-admin", mobile).returncode, 0)
        admin = fslib.login(mobile)
        c = jwt_claims(admin)
        key = "fs:usess:%d" % c["jwtUserId"]
        # the token still says admin; the session (where the role is current) says user
        fslib.redis("HSET", key, c["jti"], "%d user %d %d -" % (c["jwtUserId"], c["iat"],
                                                                c["exp"]))
        r = post("/product/v1/admin/product/create", {"title": ""}, token=admin)
        self.assertErr(r, 100008, 403)

    def test_revoke_sessions(self):
        mobile, token = fslib.register()
        other = fslib.login(mobile)
        cp = fslib.admin_cli("revoke-sessions", mobile)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertErr(self.detail(token), 100003, 401)
        self.assertErr(self.detail(other), 100003, 401)

    def test_grant_admin_unknown_mobile(self):
        mobile = fslib.unique_mobile()
        users0 = count_users()
        cp = fslib.admin_cli("grant-admin", mobile)
        self.assertNotEqual(cp.returncode, 0)
        self.assertTrue(cp.stderr.strip())
        self.assertEqual(count_mobile(mobile), 0)
        self.assertEqual(count_users(), users0)

    def test_grant_admin_bad_usage(self):
        self.assertNotEqual(fslib.admin_cli("grant-admin").returncode, 0)
        self.assertNotEqual(fslib.admin_cli("no-such-command", "13800000000").returncode, 0)


class ZPerAddressLoginFloodTest(UCTestCase):
    """nginx's limit_req on /user/login (20 r/s, burst 40): a burst of 120 gets 429 / 100007.

    Runs last in this module (load_tests), then waits so the bucket drains for later suites.
    """

    @unittest.skipIf(fslib.SERVER == "apache", "per-address limit_req is nginx's (Apache: app)")
    def test_concurrent_logins_are_rate_limited(self):
        mobile, _ = fslib.register(password="flood-pass")
        results, errors = [], []
        lock = threading.Lock()
        n = 120
        barrier = threading.Barrier(n)

        def one():
            try:
                barrier.wait(timeout=30)
                r = post(UC + "/user/login", {"mobile": mobile, "password": "flood-pass"})
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(e))
                return
            with lock:
                results.append(r)

        threads = [threading.Thread(target=one) for _ in range(n)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        finally:
            time.sleep(3)  # let limit_req's bucket drain before anything else logs in
        self.assertEqual(errors, [])
        self.assertEqual(len(results), n)
        limited = [r for r in results if r.status == 429]
        ok = [r for r in results if r.status == 200]
        self.assertTrue(limited, "no 429 among %d concurrent logins" % n)
        self.assertTrue(ok, "every login was refused")
        self.assertEqual(len(limited) + len(ok), n, [r for r in results
                                                     if r.status not in (200, 429)][:3])
        for r in limited:
            self.assertEqual(r.code, 100007, r)
            self.assertIn("retry-after", r.headers)
            self.assertIn("x-request-id", r.headers)
        for r in ok:
            self.assertEqual(r.code, 200, r)
        # once the bucket has drained, logging in works again
        self.assertEqual(fslib.login(mobile, "flood-pass").count("."), 2)


def load_tests(loader, tests, pattern):
    """This module's classes in order, the per-address flood last."""
    suite = unittest.TestSuite()
    for cls in (RegisterTest, LoginTest, ProfileTest, SessionTest, TokenTest, LoginLimitTest,
                RegisterLimitTest, ProtocolTest, GrantAdminTest, ZPerAddressLoginFloodTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite
