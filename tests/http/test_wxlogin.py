"""test_wxlogin - WeChat mini-program login through the web server (API.md, usercenter).

wxMiniAuth (code2session at the simulator), wxBind, wxPhone (getuserphonenumber with the
access token the programs share through Redis), WeChat's error answers becoming 200004, the
token's renewal on 40001/42001 by one worker, and the session_key never leaving the server.
"""
import os
import threading
import time
import unittest

import json

import fslib
from fslib import post, sql
from test_payment import PaymentBase, user_id

UC = "/usercenter/v1"
APPID = "wx2421b1c4370ec43b"


def token_key():
    """The Redis key of the cached access token."""
    return "fs:wx:token:" + APPID


class WxCase(unittest.TestCase):
    """Shared assertions."""

    def assertOk(self, r):
        self.assertEqual((r.status, r.code), (200, 200), r)

    def assertErr(self, r, code, status):
        self.assertEqual((r.status, r.code), (status, code), r)
        self.assertNotIn("data", r.json, r)
        self.assertNotIn("session_key", r.text, r)

    def mini_auth(self, openid=None, **extra):
        code, openid = fslib.wx_code(openid)
        r = post(UC + "/user/wxMiniAuth", dict(code=code, **extra))
        return r, openid

    def info(self, token):
        r = post(UC + "/user/detail", {}, token=token)
        self.assertOk(r)
        return r.data["userInfo"]


class MiniAuthTest(WxCase):
    """POST /user/wxMiniAuth."""

    def test_new_openid_gets_an_account_and_logs_in_again(self):
        users0 = int(sql("SELECT COUNT(*) FROM flashsale_usercenter.user")[0][0])
        r, openid = self.mini_auth(nickname="微信用户")
        self.assertOk(r)
        self.assertEqual(set(r.data), {"accessToken", "accessExpire", "refreshAfter"})
        self.assertNotIn("session_key", r.text)
        info = self.info(r.data["accessToken"])
        self.assertTrue(info["wxBound"])
        self.assertIsNone(info["mobile"])
        self.assertEqual(info["nickname"], "微信用户")
        self.assertEqual(int(sql("SELECT COUNT(*) FROM flashsale_usercenter.user")[0][0]),
                         users0 + 1)
        rows = sql("SELECT id FROM flashsale_usercenter.user WHERE openid = '%s'" % openid)
        self.assertEqual(len(rows), 1)
        # A second wx.login of the same WeChat user logs in to the same account.
        r2, _ = self.mini_auth(openid)
        self.assertOk(r2)
        self.assertEqual(self.info(r2.data["accessToken"])["id"], info["id"])
        self.assertEqual(int(sql("SELECT COUNT(*) FROM flashsale_usercenter.user")[0][0]),
                         users0 + 1)

    def test_password_login_is_impossible_for_a_wechat_account(self):
        r, openid = self.mini_auth()
        self.assertOk(r)
        row = sql("SELECT password FROM flashsale_usercenter.user WHERE openid = '%s'" % openid)
        self.assertEqual(row, [[""]])

    def test_bad_input(self):
        for body in ({}, {"code": ""}, {"code": 5}, {"code": "x" * 200}):
            with self.subTest(body=body):
                self.assertErr(post(UC + "/user/wxMiniAuth", body), 100002, 400)
        code, _ = fslib.wx_code()
        r = post(UC + "/user/wxMiniAuth", {"code": code, "avatar": "javascript:alert(1)"})
        self.assertErr(r, 100002, 400)

    def test_wechat_errcodes_become_200004(self):
        # 40029: a code WeChat never issued.
        self.assertErr(post(UC + "/user/wxMiniAuth", {"code": "neverIssued0123"}), 200004, 502)
        # 40163: a code used once already.
        code, _ = fslib.wx_code()
        self.assertOk(post(UC + "/user/wxMiniAuth", {"code": code}))
        r = post(UC + "/user/wxMiniAuth", {"code": code})
        self.assertErr(r, 200004, 502)
        self.assertIn("used", r.json["msg"])
        # 45011 (too frequent) and -1 (busy), forced by the simulator.
        for errcode in (45011, -1):
            with self.subTest(errcode=errcode):
                fslib.wx_controls(force={"api": "jscode2session", "errcode": errcode})
                code, _ = fslib.wx_code()
                r = post(UC + "/user/wxMiniAuth", {"code": code})
                self.assertErr(r, 200004, 502)
                self.assertIn(str(errcode), r.json["msg"])

    def test_wechat_unreachable_is_200004_not_500(self):
        # Two drops: curl retries once on a fresh connection when a reused one dies.
        fslib.wx_controls(force={"api": "jscode2session", "drop": True, "count": 2})
        code, _ = fslib.wx_code()
        t0 = time.time()
        r = post(UC + "/user/wxMiniAuth", {"code": code})
        fslib.wx_controls(clear=True)
        self.assertErr(r, 200004, 502)
        self.assertIn("unreachable", r.json["msg"])
        self.assertLess(time.time() - t0, 5)

    def test_session_key_is_not_logged(self):
        r, _ = self.mini_auth()
        self.assertOk(r)
        with open(os.path.join(fslib.VAR, "log", "usercenter.log"), errors="replace") as f:
            log = f.read()
        self.assertNotIn("session_key", log)
        self.assertNotIn("secret=", log)


class BindTest(WxCase):
    """POST /user/wxBind and /user/wxPhone."""

    def test_bind_then_login_by_wechat(self):
        mobile, token = fslib.register()
        self.assertFalse(self.info(token)["wxBound"])
        code, openid = fslib.wx_code()
        r = post(UC + "/user/wxBind", {"code": code}, token=token)
        self.assertOk(r)
        self.assertTrue(r.data["userInfo"]["wxBound"])
        self.assertEqual(r.data["userInfo"]["mobile"], mobile)
        # wx.login by that WeChat user now reaches the mobile account.
        r2, _ = self.mini_auth(openid)
        self.assertOk(r2)
        self.assertEqual(self.info(r2.data["accessToken"])["mobile"], mobile)

    def test_openid_of_another_user_is_200003(self):
        _, t1 = fslib.register()
        _, t2 = fslib.register()
        code, openid = fslib.wx_code()
        self.assertOk(post(UC + "/user/wxBind", {"code": code}, token=t1))
        code2, _ = fslib.wx_code(openid)
        self.assertErr(post(UC + "/user/wxBind", {"code": code2}, token=t2), 200003, 409)
        self.assertFalse(self.info(t2)["wxBound"])
        # An openid that made its own account by wxMiniAuth is bound too.
        r, openid3 = self.mini_auth()
        self.assertOk(r)
        code3, _ = fslib.wx_code(openid3)
        self.assertErr(post(UC + "/user/wxBind", {"code": code3}, token=t2), 200003, 409)
        # Binding again to the same user is fine.
        code4, _ = fslib.wx_code(openid)
        self.assertOk(post(UC + "/user/wxBind", {"code": code4}, token=t1))

    def test_bind_needs_token_and_valid_code(self):
        code, _ = fslib.wx_code()
        self.assertErr(post(UC + "/user/wxBind", {"code": code}), 100003, 401)
        _, token = fslib.register()
        self.assertErr(post(UC + "/user/wxBind", {"code": "neverIssued0123"}, token=token),
                       200004, 502)

    def test_phone_verifies_the_mobile(self):
        r, _ = self.mini_auth()
        token = r.data["accessToken"]
        phone = fslib.unique_mobile()
        code, _ = fslib.wx_code(phone=phone)
        r = post(UC + "/user/wxPhone", {"code": code}, token=token)
        self.assertOk(r)
        self.assertEqual(r.data["userInfo"]["mobile"], phone)
        self.assertTrue(r.data["userInfo"]["mobileVerified"])
        row = sql("SELECT mobile_verified, mobile_verify_time > 0 FROM flashsale_usercenter.user "
                  "WHERE mobile = '%s'" % phone)
        self.assertEqual(row, [["1", "1"]])
        # The phone code is single use; another account's mobile is refused.
        self.assertErr(post(UC + "/user/wxPhone", {"code": code}, token=token), 200004, 502)
        taken, _ = fslib.register()
        code2, _ = fslib.wx_code(phone=taken)
        self.assertErr(post(UC + "/user/wxPhone", {"code": code2}, token=token), 200001, 409)
        self.assertEqual(self.info(token)["mobile"], phone)


class AccessTokenTest(WxCase):
    """The access token: cached in Redis for every worker, renewed on 40001/42001, by one."""

    def phone(self, token):
        code, _ = fslib.wx_code(phone=fslib.unique_mobile())
        return post(UC + "/user/wxPhone", {"code": code}, token=token)

    def setUp(self):
        r, _ = self.mini_auth()
        self.token = r.data["accessToken"]

    def test_cached_token_is_reused(self):
        self.assertOk(self.phone(self.token))
        issued0 = fslib.wx_controls()["issued"]
        for _ in range(3):
            r, _ = self.mini_auth()
            self.assertOk(self.phone(r.data["accessToken"]))
        self.assertEqual(fslib.wx_controls()["issued"], issued0)
        self.assertGreater(int(fslib.redis("TTL", token_key())), 60)

    def test_invalidated_and_expired_tokens_are_renewed(self):
        self.assertOk(self.phone(self.token))
        for action in ("invalidate", "expire"):
            with self.subTest(action=action):
                old = fslib.redis("GET", token_key())
                issued0 = fslib.wx_controls(tokens=action)["issued"]
                r, _ = self.mini_auth()
                self.assertOk(self.phone(r.data["accessToken"]))
                self.assertEqual(fslib.wx_controls()["issued"], issued0 + 1)
                self.assertNotEqual(fslib.redis("GET", token_key()), old)

    def test_one_worker_renews_for_all(self):
        tokens = []
        for _ in range(8):
            r, _ = self.mini_auth()
            tokens.append(r.data["accessToken"])
        self.assertOk(self.phone(tokens[0]))
        issued0 = fslib.wx_controls(tokens="invalidate")["issued"]
        results = []
        barrier = threading.Barrier(len(tokens))

        def one(t):
            barrier.wait(timeout=30)
            results.append(self.phone(t))

        threads = [threading.Thread(target=one, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual([(r.status, r.code) for r in results], [(200, 200)] * len(tokens))
        self.assertEqual(fslib.wx_controls()["issued"], issued0 + 1)

    def test_token_endpoint_down_is_200004(self):
        fslib.redis("DEL", token_key())
        fslib.wx_controls(force={"api": "stable_token", "errcode": -1})
        r = self.phone(self.token)
        self.assertErr(r, 200004, 502)
        self.assertOk(self.phone(self.token))

    def test_simulator_checks_credentials(self):
        r = fslib.sim_call("GET", "/cgi-bin/token?grant_type=client_credential&appid=%s"
                           "&secret=wrong" % APPID)
        self.assertEqual(r.json["errcode"], 40001)
        r = fslib.sim_call("POST", "/cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": "wxnope", "secret": "x"})
        self.assertEqual(r.json["errcode"], 40013)
        r = fslib.sim_call("POST", "/cgi-bin/message/subscribe/send?access_token=forged",
                           {"touser": "o1", "template_id": "t"})
        self.assertEqual(r.json["errcode"], 40001)

    def test_metrics_count_calls(self):
        self.assertOk(self.phone(self.token))
        r = fslib.get(UC + "/metrics")
        for api in ("jscode2session", "getuserphonenumber"):
            self.assertRegex(r.text, r'flashsale_wx_api_calls_total\{program="usercenter",'
                             r'api="%s",result="ok"\} [1-9]' % api)


class PaymentWithWechatTest(PaymentBase):
    """The bound openid pays by JSAPI; the notify job renews a refused access token."""

    def test_bound_openid_is_the_jsapi_payer(self):
        _, token = fslib.register()
        uid = user_id(token)
        code, openid = fslib.wx_code()
        r = post(UC + "/user/wxBind", {"code": code}, token=token)
        self.assertEqual(r.code, 200, r)
        osn = self.new_order(token, uid)
        r = self.prepay(osn, "JSAPI", token=token)
        self.assertEqual(r.status, 200, r)
        trade = self.sim_trade(self.payment_sn(osn))
        self.assertEqual((trade["trade_type"], trade["payer"]["openid"]), ("JSAPI", openid))

    def test_notify_renews_a_refused_token(self):
        fslib.require_daemon(self, "notify")  # fails unless FLASHSALE_DAEMONS leaves it out
        _, token = fslib.register()
        uid = user_id(token)
        code, openid = fslib.wx_code()
        self.assertEqual(post(UC + "/user/wxBind", {"code": code}, token=token).code, 200)
        # Make sure a token is cached, then have WeChat refuse it (40001).
        if not fslib.redis("GET", token_key()):
            t = post(UC + "/user/wxMiniAuth", {"code": fslib.wx_code()[0]}).data["accessToken"]
            pc, _ = fslib.wx_code(phone=fslib.unique_mobile())
            self.assertEqual(post(UC + "/user/wxPhone", {"code": pc}, token=t).code, 200)
        self.assertTrue(fslib.redis("GET", token_key()))
        issued0 = fslib.wx_controls(tokens="invalidate")["issued"]
        osn, psn = self.native(token, uid)
        self.sim_pay(psn)
        msgs = fslib.wait_until(lambda: [
            m for m in fslib.sim_call("GET", "/simulator/messages").json["messages"]
            if osn in json.dumps(m, ensure_ascii=False)], timeout=20)
        self.assertTrue(msgs, "no subscribe message for the order")
        self.assertEqual(msgs[0]["touser"], openid)
        self.assertGreaterEqual(fslib.wx_controls()["issued"], issued0 + 1)


if __name__ == "__main__":
    unittest.main()
