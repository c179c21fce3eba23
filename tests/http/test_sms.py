"""test_sms - SMS verification codes through the web server (API.md, usercenter).

smsCode (the simulated gateway's outbox at GET /simulator/sms), loginBySms, register with a
code; a wrong code, an expired code, a used code, five wrong tries, resending too early, the
daily caps per mobile and per address, and the code stored hashed.
"""
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

import fslib
from fslib import post, sql

UC = "/usercenter/v1"


class SmsCase(unittest.TestCase):
    """Shared helpers."""

    def assertOk(self, r):
        self.assertEqual((r.status, r.code), (200, 200), r)

    def assertErr(self, r, code, status):
        self.assertEqual((r.status, r.code), (status, code), r)
        self.assertNotIn("data", r.json, r)

    def send(self, mobile, scene="login", **kw):
        return post(UC + "/user/smsCode", {"mobile": mobile, "scene": scene}, **kw)

    def code_for(self, mobile, scene="login"):
        """Ask for a code and read it from the gateway's outbox."""
        before = len(fslib.sms_outbox(mobile))
        r = self.send(mobile, scene)
        self.assertOk(r)
        self.assertEqual(r.data, {"resendAfter": 60})
        box = fslib.wait_until(lambda: (lambda b: b if len(b) > before else None)(
            fslib.sms_outbox(mobile)), timeout=5)
        self.assertTrue(box, "no SMS reached the gateway")
        self.assertRegex(box[0]["code"], r"^\d{6}$")
        self.assertIn(box[0]["code"], box[0]["text"])
        return box[0]["code"]

    def allow_resend(self, mobile):
        """Skip the 60 s between two sends (the daily caps still count)."""
        fslib.redis("DEL", "fs:sms:gap:" + mobile)

    def wrong(self, code):
        return "%06d" % ((int(code) + 1) % 1000000)


class LoginBySmsTest(SmsCase):
    """POST /user/smsCode and /user/loginBySms."""

    def test_unknown_mobile_gets_a_verified_account(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile)
        r = post(UC + "/user/loginBySms", {"mobile": mobile, "code": code})
        self.assertOk(r)
        self.assertEqual(set(r.data), {"accessToken", "accessExpire", "refreshAfter"})
        info = post(UC + "/user/detail", {}, token=r.data["accessToken"]).data["userInfo"]
        self.assertEqual(info["mobile"], mobile)
        self.assertTrue(info["mobileVerified"])
        self.assertEqual(sql("SELECT mobile_verified, mobile_verify_time > 0 FROM "
                             "flashsale_usercenter.user WHERE mobile = '%s'" % mobile),
                         [["1", "1"]])

    def test_known_mobile_logs_in_and_becomes_verified(self):
        mobile, token = fslib.register()
        uid = post(UC + "/user/detail", {}, token=token).data["userInfo"]["id"]
        self.assertEqual(sql("SELECT mobile_verified FROM flashsale_usercenter.user "
                             "WHERE id = %d" % uid), [["0"]])
        code = self.code_for(mobile)
        r = post(UC + "/user/loginBySms", {"mobile": mobile, "code": code})
        self.assertOk(r)
        info = post(UC + "/user/detail", {}, token=r.data["accessToken"]).data["userInfo"]
        self.assertEqual(info["id"], uid)
        self.assertTrue(info["mobileVerified"])

    def test_code_is_single_use(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile)
        self.assertOk(post(UC + "/user/loginBySms", {"mobile": mobile, "code": code}))
        self.assertErr(post(UC + "/user/loginBySms", {"mobile": mobile, "code": code}),
                       100011, 400)

    def test_wrong_code_then_right_one(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile)
        self.assertErr(post(UC + "/user/loginBySms", {"mobile": mobile,
                                                      "code": self.wrong(code)}), 100011, 400)
        self.assertOk(post(UC + "/user/loginBySms", {"mobile": mobile, "code": code}))

    def test_five_wrong_tries_burn_the_code(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile)
        for i in range(5):
            r = post(UC + "/user/loginBySms", {"mobile": mobile, "code": "%06d" % (
                (int(code) + 1 + i) % 1000000)})
            self.assertErr(r, 100011, 400)
        self.assertErr(post(UC + "/user/loginBySms", {"mobile": mobile, "code": code}),
                       100011, 400)
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_usercenter.user WHERE mobile = "
                             "'%s'" % mobile), [["0"]])

    def test_expired_code(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile)
        key = "fs:sms:code:login:" + mobile
        ttl = int(fslib.redis("TTL", key))
        self.assertTrue(280 <= ttl <= 300, ttl)  # 5 minutes
        fslib.redis("PEXPIRE", key, "1")  # let the 5 minutes pass
        self.assertTrue(fslib.wait_until(lambda: fslib.redis("EXISTS", key) == "0", 5))
        self.assertErr(post(UC + "/user/loginBySms", {"mobile": mobile, "code": code}),
                       100011, 400)

    def test_code_of_another_scene_does_not_log_in(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile, "bind")
        self.assertErr(post(UC + "/user/loginBySms", {"mobile": mobile, "code": code}),
                       100011, 400)

    def test_code_is_stored_hashed(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile)
        stored = fslib.redis("HGETALL", "fs:sms:code:login:" + mobile)
        self.assertTrue(stored)
        self.assertNotIn(code, stored)

    def test_bad_input(self):
        for body in ({}, {"mobile": "12345"}, {"mobile": "13800000000"},
                     {"mobile": "13800000000", "scene": "pay"},
                     {"mobile": "23800000000", "scene": "login"},
                     {"mobile": "13800000000", "scene": 1}):
            with self.subTest(body=body):
                self.assertErr(post(UC + "/user/smsCode", body), 100002, 400)
        for body in ({"mobile": fslib.unique_mobile()}, {"code": "123456"},
                     {"mobile": fslib.unique_mobile(), "code": 123456}):
            with self.subTest(body=body):
                self.assertErr(post(UC + "/user/loginBySms", body), 100002, 400)
        for code in ("12345", "1234567", "abcdef"):
            with self.subTest(code=code):
                self.assertErr(post(UC + "/user/loginBySms", {
                    "mobile": fslib.unique_mobile(), "code": code}), 100011, 400)


class SendLimitTest(SmsCase):
    """One send per mobile per 60 s, daily caps per mobile and per address."""

    def test_resend_too_early(self):
        mobile = fslib.unique_mobile()
        self.code_for(mobile)
        r = self.send(mobile)
        self.assertErr(r, 100007, 429)
        self.assertTrue(50 <= int(r.headers["retry-after"]) <= 60, r.headers)
        self.assertEqual(len(fslib.sms_outbox(mobile)), 1)
        # Another scene shares the mobile's 60 s.
        self.assertErr(self.send(mobile, "bind"), 100007, 429)

    def test_new_code_replaces_the_old(self):
        mobile = fslib.unique_mobile()
        first = self.code_for(mobile)
        self.allow_resend(mobile)
        second = self.code_for(mobile)
        if first != second:
            self.assertErr(post(UC + "/user/loginBySms", {"mobile": mobile, "code": first}),
                           100011, 400)
        self.assertOk(post(UC + "/user/loginBySms", {"mobile": mobile, "code": second}))

    def test_daily_cap_per_mobile(self):
        mobile = fslib.unique_mobile()
        for _ in range(10):
            self.assertOk(self.send(mobile))
            self.allow_resend(mobile)
        r = self.send(mobile)
        self.assertErr(r, 100007, 429)
        self.assertIn("daily", r.json["msg"])
        self.assertEqual(len(fslib.sms_outbox(mobile)), 10)

    def test_daily_cap_per_address(self):
        addr = fslib.random_loopback()
        for i in range(50):
            r = fslib.call_from(addr, "POST", UC + "/user/smsCode",
                                {"mobile": fslib.unique_mobile(), "scene": "login"})
            self.assertEqual(r.code, 200, (i, r))
        r = fslib.call_from(addr, "POST", UC + "/user/smsCode",
                            {"mobile": fslib.unique_mobile(), "scene": "login"})
        self.assertEqual((r.status, r.code), (429, 100007), r)
        # Another address is not affected.
        r = fslib.call_from(fslib.random_loopback(), "POST", UC + "/user/smsCode",
                            {"mobile": fslib.unique_mobile(), "scene": "login"})
        self.assertEqual(r.code, 200, r)

    def test_register_scene_for_a_taken_mobile(self):
        mobile, _ = fslib.register()
        self.assertErr(self.send(mobile, "register"), 200001, 409)
        self.assertEqual(fslib.sms_outbox(mobile), [])


class RegisterWithCodeTest(SmsCase):
    """register's optional code (required where usercenter.require_sms_code is on)."""

    def test_register_with_code_is_verified(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile, "register")
        r = post(UC + "/user/register", {"mobile": mobile, "password": "secret123",
                                         "code": code})
        self.assertOk(r)
        self.assertEqual(sql("SELECT mobile_verified FROM flashsale_usercenter.user "
                             "WHERE mobile = '%s'" % mobile), [["1"]])

    def test_register_with_wrong_code_creates_nothing(self):
        mobile = fslib.unique_mobile()
        code = self.code_for(mobile, "register")
        r = post(UC + "/user/register", {"mobile": mobile, "password": "secret123",
                                         "code": self.wrong(code)})
        self.assertErr(r, 100011, 400)
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_usercenter.user "
                             "WHERE mobile = '%s'" % mobile), [["0"]])
        # A login code is not a register code.
        mobile2 = fslib.unique_mobile()
        code2 = self.code_for(mobile2, "login")
        self.assertErr(post(UC + "/user/register", {"mobile": mobile2, "password": "secret123",
                                                    "code": code2}), 100011, 400)

    def test_register_without_code_is_unverified_here(self):
        # The test stack leaves usercenter.require_sms_code off (the sample config has it on).
        self.assertEqual(fslib.conf_value("usercenter", "require_sms_code"), "0")
        mobile, _ = fslib.register()
        self.assertEqual(sql("SELECT mobile_verified FROM flashsale_usercenter.user "
                             "WHERE mobile = '%s'" % mobile), [["0"]])


class RequiredCodeTest(SmsCase):
    """usercenter.require_sms_code = 1 (the production default), on a usercenter program of
    the build started for this test with that setting, reached over FastCGI directly."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fs-sms-")
        cls.sock_path = os.path.join(cls.dir, "uc.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(cls.sock_path)
        lsock.listen(16)
        env = dict(os.environ, FLASHSALE_CONF=os.path.join(fslib.VAR, "flashsale.conf"),
                   FLASHSALE_USERCENTER_REQUIRE_SMS_CODE="1",
                   FLASHSALE_LOG_FILE=os.path.join(cls.dir, "uc.log"), FLASHSALE_METRICS_DIR="",
                   FLASHSALE_TRACE_SOCKET="")
        # libfcgi accepts on standard input when it is a listening socket (as spawn-fcgi does).
        cls.proc = subprocess.Popen([os.path.join(fslib.BUILD, "fcgi", "usercenter",
                                                  "flashsale-usercenter")],
                                    stdin=lsock.fileno(), env=env)
        lsock.close()

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(10)

    def register(self, body):
        return fslib.fcgi_call(self.sock_path, "POST", UC + "/user/register",
                               json.dumps(body).encode())

    def test_register_needs_the_code(self):
        mobile = fslib.unique_mobile()
        r = self.register({"mobile": mobile, "password": "secret123"})
        self.assertErr(r, 100002, 400)
        self.assertIn("code", r.json["msg"])
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_usercenter.user WHERE mobile = "
                             "'%s'" % mobile), [["0"]])
        code = self.code_for(mobile, "register")
        self.assertErr(self.register({"mobile": mobile, "password": "secret123",
                                      "code": self.wrong(code)}), 100011, 400)
        r = self.register({"mobile": mobile, "password": "secret123", "code": code})
        self.assertOk(r)
        self.assertEqual(sql("SELECT mobile_verified FROM flashsale_usercenter.user "
                             "WHERE mobile = '%s'" % mobile), [["1"]])


if __name__ == "__main__":
    unittest.main()
