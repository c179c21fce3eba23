"""test_refund - refunds end to end through the web server, the payment program and the simulator.

User and admin refunds (full, partial, over the total, twice), the contract's refusals, the
refund notification (forged, tampered, replayed), the results WeChat may report, the gateway
down and refund-query recovering, the platform key kinds, and the unpaid-order caps.
"""
import json
import os
import signal
import threading
import time
import unittest
import uuid

import fslib
from fslib import (aes_gcm_encrypt, admin_token, conf_value, get, post, redis, register,
                   rsa_sign, run_job, secret_path, sim_call, sql, wait_until)

OV = "/order/v1/order"
ADMIN = "/order/v1/admin/order"
PAY = "/payment/v1/thirdPayment/thirdPaymentWxPay"
PAY_CB = "/payment/v1/thirdPayment/thirdPaymentWxPayCallback"
REFUND_CB = "/payment/v1/thirdPayment/thirdPaymentWxRefundCallback"
DETAIL = "/payment/v1/thirdPayment/detail"
PRICE = 1999


def controls(**kw):
    r = sim_call("POST", "/simulator/controls", kw)
    assert r.status == 200, r
    return r.json["controls"]


def stream_has(topic, sn):
    """Does the Redis stream of topic hold an event keyed by / about order sn?"""
    return sn in redis("XRANGE", "fs:ev:" + topic, "-", "+")


def metric(name, **labels):
    """A sample of /payment/v1/metrics, e.g. metric(name, result="SUCCESS") (0 if absent)."""
    return fslib.metric("payment", name, labels) or 0


class RefundBase(unittest.TestCase):
    """An admin, a product, and helpers to make paid orders and follow their refunds."""

    @classmethod
    def setUpClass(cls):
        cls.admin = admin_token()
        cls.product = fslib.create_product(cls.admin, price=PRICE, stock=500)

    def setUp(self):
        controls(close_fails=False, refund_result="SUCCESS", notify=True)
        self.mobile, self.token = register()

    def tearDown(self):
        controls(close_fails=False, refund_result="SUCCESS", notify=True)

    def stock(self):
        return int(sql(f"SELECT stock FROM flashsale_product.product WHERE id = {self.product}")[0][0])

    def order(self, osn):
        """(trade_state, refunded, pay_total) of an order."""
        r = sql(f"SELECT trade_state, refunded, pay_total FROM flashsale_order.orders WHERE sn = '{osn}'")[0]
        return int(r[0]), int(r[1]), int(r[2])

    def refunds(self, osn):
        """[(sn, amount, status, source, requested)] of an order's refunds, oldest first."""
        return [(r[0], int(r[1]), r[2], r[3], int(r[4])) for r in sql(
            "SELECT sn, amount, status, source, requested FROM flashsale_payment.refund "
            f"WHERE order_sn = '{osn}' ORDER BY id")]

    def refund_status(self, rsn):
        rows = sql(f"SELECT status FROM flashsale_payment.refund WHERE sn = '{rsn}'")
        return rows[0][0] if rows else None

    def wait_status(self, rsn, want, timeout=15):
        got = wait_until(lambda: self.refund_status(rsn) == want, timeout=timeout)
        self.assertTrue(got, f"refund {rsn} is {self.refund_status(rsn)}, not {want}")

    def pay_status(self, psn):
        return int(sql(f"SELECT pay_status FROM flashsale_payment.payment WHERE sn = '{psn}'")[0][0])

    def paid_order(self, qty=1, token=None):
        """An order paid through the simulator and marked paid by order-events: (osn, psn)."""
        token = token or self.token
        r = post(OV + "/create", {"productId": self.product, "quantity": qty}, token=token)
        self.assertEqual(r.code, 200, r)
        return self.pay(r.data["orderSn"], token)

    def pay(self, osn, token=None):
        """Pay a waiting order through the simulator; wait until it is paid: (osn, psn)."""
        token = token or self.token
        r = post(PAY, {"orderSn": osn, "serviceType": "order", "tradeType": "NATIVE"}, token=token)
        self.assertEqual(r.code, 200, r)
        psn = sql(f"SELECT sn FROM flashsale_payment.payment WHERE order_sn = '{osn}'")[0][0]
        r = sim_call("POST", "/simulator/pay", {"out_trade_no": psn})
        self.assertEqual(r.status, 200, r)
        ok = wait_until(lambda: self.order(osn)[0] == 1, timeout=20)
        self.assertTrue(ok, f"order {osn} not paid: {self.order(osn)}")
        return osn, psn

    def user_refund(self, osn, token=None, reason="不想要了"):
        return post(OV + "/refund", {"sn": osn, "reason": reason}, token=token or self.token)

    def admin_refund(self, osn, amount=None, reason="admin refund"):
        body = {"sn": osn, "reason": reason}
        if amount is not None:
            body["amount"] = amount
        return post(ADMIN + "/refund", body, token=self.admin)

    def sim_refunds(self, psn):
        r = sim_call("GET", f"/simulator/trades/{psn}/refunds")
        self.assertEqual(r.status, 200, r)
        return r.json["list"]


class UserRefundTest(RefundBase):

    def test_full_refund_end_to_end(self):
        before = self.stock()
        osn, psn = self.paid_order(qty=2)
        self.assertEqual(self.stock(), before - 2)
        r = self.user_refund(osn)
        self.assertEqual(r.code, 200, r)
        rsn = r.data["refundSn"]
        self.assertTrue(rsn.startswith("RFD"), rsn)
        self.assertIn(r.data["status"], ("PROCESSING", "SUCCESS"))
        self.wait_status(rsn, "SUCCESS")
        self.assertEqual(self.order(osn), (3, 2 * PRICE, 2 * PRICE))
        self.assertEqual(self.pay_status(psn), 2)
        d = post(DETAIL, {"orderSn": osn}, token=self.token)
        self.assertEqual(d.data["payStatus"], 2, d)
        o = post(OV + "/detail", {"sn": osn}, token=self.token).data["order"]
        self.assertEqual((o["tradeState"], o["refunded"], o["payTotal"], o["refundStatus"]),
                         (3, 2 * PRICE, 2 * PRICE, "SUCCESS"))
        self.assertEqual(self.stock(), before)  # the units came back
        self.assertTrue(wait_until(lambda: stream_has("order.refunded", osn), timeout=5))
        lst = post(OV + "/refunds", {"sn": osn}, token=self.token)
        self.assertEqual(lst.code, 200, lst)
        self.assertEqual([(x["refundSn"], x["amount"], x["status"], x["reason"]) for x in lst.data["list"]],
                         [(rsn, 2 * PRICE, "SUCCESS", "不想要了")])
        self.assertGreater(lst.data["list"][0]["successTime"], 0)
        sims = self.sim_refunds(psn)
        self.assertEqual([(x["out_refund_no"], x["amount"]["refund"], x["status"]) for x in sims],
                         [(rsn, 2 * PRICE, "SUCCESS")])
        # WeChat notifying again (a new genuine notification) changes nothing: applied once.
        n = sim_call("POST", "/simulator/refund-notify", {"out_refund_no": rsn})
        self.assertEqual(n.json["status"], 204, n)
        self.assertEqual(self.order(osn), (3, 2 * PRICE, 2 * PRICE))
        self.assertEqual(self.stock(), before)
        # Nothing is left to refund.
        r = self.user_refund(osn)
        self.assertEqual((r.status, r.code), (409, 400003), r)
        self.assertEqual(len(self.refunds(osn)), 1)

    def test_double_request_is_one_refund(self):
        osn, psn = self.paid_order()
        controls(notify=False)  # the refund stays PROCESSING here until refund-query asks
        results = []
        threads = [threading.Thread(target=lambda: results.append(self.user_refund(osn)))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        again = self.user_refund(osn)
        results.append(again)
        self.assertTrue(all(r.code == 200 for r in results), results)
        sns = {r.data["refundSn"] for r in results}
        self.assertEqual(len(sns), 1, results)
        rsn = sns.pop()
        self.assertEqual([(x[0], x[1]) for x in self.refunds(osn)], [(rsn, PRICE)])
        self.assertEqual(len(self.sim_refunds(psn)), 1)
        self.assertEqual(self.refund_status(rsn), "PROCESSING")
        self.assertTrue(wait_until(lambda: self.sim_refunds(psn)[0]["status"] == "SUCCESS"))
        # The notification never comes: refund-query finds the result.
        cp = run_job("refund-query", "--wait", "60", "--query-after", "0")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(self.refund_status(rsn), "SUCCESS")
        self.assertEqual(self.order(osn)[0], 3)
        r = self.user_refund(osn)
        self.assertEqual((r.status, r.code), (409, 400003), r)

    def test_refusals_change_nothing(self):
        osn, _ = self.paid_order()
        _, other = register()
        cases = [
            ("someone else's order", other, {"sn": osn, "reason": "x"}, 404, 400001),
            ("unknown order", self.token, {"sn": "ORD00000000000000000000000", "reason": "x"}, 404, 400001),
            ("no reason", self.token, {"sn": osn}, 400, 100002),
            ("reason too long", self.token, {"sn": osn, "reason": "长" * 81}, 400, 100002),
            ("sn not a string", self.token, {"sn": 5, "reason": "x"}, 400, 100002),
        ]
        for name, tok, body, status, code in cases:
            r = post(OV + "/refund", body, token=tok)
            self.assertEqual((r.status, r.code), (status, code), (name, r))
        r = post(OV + "/refunds", {"sn": osn}, token=other)
        self.assertEqual((r.status, r.code), (404, 400001), r)
        r = post(OV + "/refund", {"sn": osn, "reason": "x"})
        self.assertEqual(r.status, 401, r)
        # Not paid: a waiting order and a cancelled one.
        w = post(OV + "/create", {"productId": self.product, "quantity": 1}, token=self.token).data["orderSn"]
        r = self.user_refund(w)
        self.assertEqual((r.status, r.code), (409, 400002), r)
        self.assertEqual(post(OV + "/cancel", {"sn": w}, token=self.token).code, 200)
        r = self.user_refund(w)
        self.assertEqual((r.status, r.code), (409, 400002), r)
        r = self.admin_refund(w)
        self.assertEqual((r.status, r.code), (409, 400002), r)
        # Past the refund window (paid 7 days and a minute ago): users no, admins yes.
        window = int(conf_value("order", "refund_window") or 604800)
        sql(f"UPDATE flashsale_order.orders SET pay_time = UNIX_TIMESTAMP() - {window + 60} "
            f"WHERE sn = '{osn}'")
        r = self.user_refund(osn)
        self.assertEqual((r.status, r.code), (409, 400003), r)
        self.assertEqual(self.refunds(osn), [])
        self.assertEqual(self.order(osn)[:2], (1, 0))
        # Users may not use the admin routes.
        for path, body in ((ADMIN + "/refund", {"sn": osn, "reason": "x"}),
                           (ADMIN + "/list", {"pageSize": 5})):
            r = post(path, body, token=self.token)
            self.assertEqual((r.status, r.code), (403, 100008), r)
        r = self.admin_refund(osn)
        self.assertEqual(r.code, 200, r)
        self.wait_status(r.data["refundSn"], "SUCCESS")


class AdminRefundTest(RefundBase):

    def test_partial_refunds_sum_to_the_total(self):
        before = self.stock()
        osn, psn = self.paid_order(qty=3)
        total = 3 * PRICE
        sns = []
        for amount, left in ((1000, total - 1000), (2000, total - 3000)):
            r = self.admin_refund(osn, amount)
            self.assertEqual(r.code, 200, r)
            sns.append(r.data["refundSn"])
            self.wait_status(sns[-1], "SUCCESS")
            self.assertEqual(self.order(osn), (1, total - left, total))
            self.assertEqual(self.pay_status(psn), 1)
        self.assertEqual(self.stock(), before - 3)  # partial refunds move no units
        # Above what is left: refused, nothing changes.
        r = self.admin_refund(osn, total - 3000 + 1)
        self.assertEqual((r.status, r.code), (409, 400003), r)
        for bad in (0, -5, "100", 1.5):
            r = self.admin_refund(osn, bad)
            self.assertEqual((r.status, r.code), (400, 100002), (bad, r))
        self.assertEqual(len(self.refunds(osn)), 2)
        # No amount: what is left.
        r = self.admin_refund(osn)
        self.assertEqual(r.code, 200, r)
        self.wait_status(r.data["refundSn"], "SUCCESS")
        self.assertEqual(self.order(osn), (3, total, total))
        self.assertEqual(self.pay_status(psn), 2)
        self.assertEqual(self.stock(), before)
        self.assertEqual(sum(x[1] for x in self.refunds(osn)), total)
        self.assertEqual(sum(x["amount"]["refund"] for x in self.sim_refunds(psn)), total)
        r = self.admin_refund(osn, 1)
        self.assertEqual((r.status, r.code), (409, 400003), r)

    def test_refund_over_the_total(self):
        osn, psn = self.paid_order()
        r = self.admin_refund(osn, PRICE + 1)
        self.assertEqual((r.status, r.code), (409, 400003), r)
        self.assertEqual(self.refunds(osn), [])
        self.assertEqual(self.sim_refunds(psn), [])
        self.assertEqual(self.order(osn), (1, 0, PRICE))

    def test_admin_list_filters(self):
        osn, _ = self.paid_order()
        uid = post("/usercenter/v1/user/detail", {}, token=self.token).data["userInfo"]["id"]
        w = post(OV + "/create", {"productId": self.product, "quantity": 1}, token=self.token).data["orderSn"]
        r = post(ADMIN + "/list", {"lastId": 0, "pageSize": 10, "tradeState": -99, "userId": uid},
                 token=self.admin)
        self.assertEqual(r.code, 200, r)
        self.assertEqual([o["sn"] for o in r.data["list"]], [w, osn])
        r = post(ADMIN + "/list", {"pageSize": 10, "tradeState": 1, "userId": uid}, token=self.admin)
        self.assertEqual([o["sn"] for o in r.data["list"]], [osn])
        r = post(ADMIN + "/list", {"pageSize": 10, "tradeState": -99, "sn": w}, token=self.admin)
        self.assertEqual([(o["sn"], o["userId"], o["payTotal"]) for o in r.data["list"]], [(w, uid, PRICE)])
        r = post(ADMIN + "/list", {"pageSize": 1, "tradeState": -99, "userId": uid}, token=self.admin)
        first = r.data["list"][0]["id"]
        r = post(ADMIN + "/list", {"pageSize": 5, "lastId": first, "tradeState": -99, "userId": uid},
                 token=self.admin)
        self.assertEqual([o["sn"] for o in r.data["list"]], [osn])
        for bad in ({"pageSize": 0}, {"pageSize": 101}, {"tradeState": -2}, {"userId": "x"}):
            r = post(ADMIN + "/list", bad, token=self.admin)
            self.assertEqual((r.status, r.code), (400, 100002), (bad, r))

    def test_abnormal_and_closed_results(self):
        osn, psn = self.paid_order(qty=2)
        controls(refund_result="ABNORMAL")
        r = self.admin_refund(osn, 500)
        self.wait_status(r.data["refundSn"], "ABNORMAL")
        self.assertEqual(self.order(osn)[:2], (1, 0))
        # An ABNORMAL refund still holds its amount (the merchant settles it by hand).
        r = self.admin_refund(osn, 2 * PRICE - 500 + 1)
        self.assertEqual((r.status, r.code), (409, 400003), r)
        controls(refund_result="CLOSED")
        r = self.admin_refund(osn, 2 * PRICE - 500)
        self.wait_status(r.data["refundSn"], "CLOSED")
        self.assertEqual(self.order(osn)[:2], (1, 0))
        # A CLOSED refund frees its amount.
        controls(refund_result="SUCCESS")
        r = self.admin_refund(osn)
        self.assertEqual(r.code, 200, r)
        self.wait_status(r.data["refundSn"], "SUCCESS")
        self.assertEqual(self.order(osn)[:2], (1, 2 * PRICE - 500))
        self.assertEqual([x[2] for x in self.refunds(osn)], ["ABNORMAL", "CLOSED", "SUCCESS"])


class RefundNotificationTest(RefundBase):
    """Nothing a forger, a replayer or a broken refund notification sends changes any row."""

    def pending_refund(self):
        """A refund that is SUCCESS at WeChat, not yet notified: (osn, psn, rsn)."""
        osn, psn = self.paid_order()
        controls(notify=False)
        r = self.admin_refund(osn)
        self.assertEqual(r.code, 200, r)
        rsn = r.data["refundSn"]
        ok = wait_until(lambda: sim_call("GET", "/simulator/refunds/" + rsn).json["status"] == "SUCCESS")
        self.assertTrue(ok)
        controls(notify=True)
        return osn, psn, rsn

    def snapshot(self, osn, psn, rsn):
        return self.order(osn), self.pay_status(psn), self.refund_status(rsn)

    def test_tampered_then_genuine_then_replayed(self):
        osn, psn, rsn = self.pending_refund()
        before = self.snapshot(osn, psn, rsn)
        self.assertEqual(before[2], "PROCESSING")
        for tamper, status in {"signature": 401, "amount": 400, "ciphertext": 400, "stale": 400}.items():
            r = sim_call("POST", "/simulator/refund-notify", {"out_refund_no": rsn, "tamper": tamper})
            self.assertEqual(r.json["status"], status, (tamper, r))
            self.assertEqual(self.snapshot(osn, psn, rsn), before, tamper)
        r = sim_call("POST", "/simulator/refund-notify", {"out_refund_no": rsn})
        self.assertEqual(r.json["status"], 204, r)
        self.assertEqual(self.snapshot(osn, psn, rsn), ((3, PRICE, PRICE), 2, "SUCCESS"))
        r = sim_call("POST", "/simulator/refund-notify", {"out_refund_no": rsn, "replay": True})
        self.assertEqual(r.json["status"], 401, r)
        self.assertIn("nonce", r.json["error"])
        self.assertEqual(self.snapshot(osn, psn, rsn), ((3, PRICE, PRICE), 2, "SUCCESS"))

    def notification(self, resource, event="REFUND.SUCCESS", key=None, serial=None, aad="refund",
                     body=None):
        """A notification built and signed by the test itself: (body, headers)."""
        if body is None:
            rnonce = uuid.uuid4().hex[:12]
            ct = aes_gcm_encrypt(conf_value("wxpay", "apiv3_key"), rnonce, aad, json.dumps(resource))
            body = json.dumps({"id": str(uuid.uuid4()), "create_time": "2024-01-01T00:00:00+08:00",
                               "resource_type": "encrypt-resource", "event_type": event,
                               "summary": "退款成功",
                               "resource": {"original_type": aad, "algorithm": "AEAD_AES_256_GCM",
                                            "ciphertext": ct, "associated_data": aad,
                                            "nonce": rnonce}})
        ts, nonce = str(int(time.time())), uuid.uuid4().hex
        sig = rsa_sign(key or secret_path("wxpay_platform_key.pem"), f"{ts}\n{nonce}\n{body}\n")
        return body, {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
                      "Wechatpay-Signature": sig,
                      "Wechatpay-Serial": serial or conf_value("wxpay", "platform_serial")}

    def resource(self, rsn, psn, refund=PRICE, **kw):
        r = {"mchid": conf_value("wxpay", "mchid"), "out_trade_no": psn,
             "transaction_id": "4200" + str(uuid.uuid4().int)[:24], "out_refund_no": rsn,
             "refund_id": "5030" + str(uuid.uuid4().int)[:24], "refund_status": "SUCCESS",
             "success_time": "2024-05-01T12:00:00+08:00", "user_received_account": "支付用户零钱",
             "amount": {"total": PRICE, "refund": refund, "payer_total": PRICE, "payer_refund": refund}}
        r.update(kw)
        return r

    def test_crafted_notifications(self):
        osn, psn, rsn = self.pending_refund()
        before = self.snapshot(osn, psn, rsn)
        cases = [
            ("merchant key", 401, self.notification(self.resource(rsn, psn),
                                                    key=secret_path("wxpay_merchant_key.pem"))),
            ("unknown serial", 401, self.notification(self.resource(rsn, psn), serial="PUB_KEY_ID_FORGED")),
            ("another merchant", 400, self.notification(self.resource(rsn, psn, mchid="1900000999"))),
            ("wrong amount", 400, self.notification(self.resource(rsn, psn, refund=PRICE - 1))),
            ("another trade", 400, self.notification(self.resource(rsn, "PMT00000000000000000"))),
            ("unknown refund", 404, self.notification(self.resource("RFD0000000000000000000000", psn))),
            ("no status", 400, self.notification(self.resource(rsn, psn, refund_status=None))),
            ("signed, not JSON", 400, self.notification(None, body="not json at all")),
            ("signed, a JSON array", 400, self.notification(None, body="[1,2]")),
        ]
        for url in (REFUND_CB, PAY_CB):
            for name, status, (body, headers) in cases:
                headers = dict(headers, **{"Wechatpay-Nonce": uuid.uuid4().hex})
                ts = headers["Wechatpay-Timestamp"]
                key = (secret_path("wxpay_merchant_key.pem") if name == "merchant key"
                       else secret_path("wxpay_platform_key.pem"))
                headers["Wechatpay-Signature"] = rsa_sign(key, f"{ts}\n{headers['Wechatpay-Nonce']}\n{body}\n")
                r = post(url, raw=body, headers=headers)
                self.assertEqual(r.status, status, (url, name, r))
                self.assertEqual(r.json["code"], "FAIL", (name, r))
                self.assertEqual(self.snapshot(osn, psn, rsn), before, name)
        # The same construction with everything right is applied, once; sending it again is a replay.
        body, headers = self.notification(self.resource(rsn, psn))
        r = post(REFUND_CB, raw=body, headers=headers)
        self.assertEqual(r.status, 204, r)
        after = self.snapshot(osn, psn, rsn)
        self.assertEqual(after, ((3, PRICE, PRICE), 2, "SUCCESS"))
        r = post(REFUND_CB, raw=body, headers=headers)
        self.assertEqual(r.status, 401, r)
        body, headers = self.notification(self.resource(rsn, psn))
        r = post(REFUND_CB, raw=body, headers=headers)
        self.assertEqual(r.status, 204, r)  # a new genuine one: accepted, changes nothing
        self.assertEqual(self.snapshot(osn, psn, rsn), after)


class PlatformKeyTest(RefundBase):
    """The stack trusts a bare public key (PUB_KEY_ID_ serial) and a platform certificate."""

    def cert_serial(self):
        import subprocess
        out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in",
                              secret_path("wxpay_platform_cert.pem")], capture_output=True,
                             text=True, check=True).stdout.strip()
        return out.split("=", 1)[1].upper()

    def test_certificate_signed_notification(self):
        osn, psn, rsn = RefundNotificationTest.pending_refund(self)
        cert_key, serial = secret_path("wxpay_platform_cert_key.pem"), self.cert_serial()
        res = RefundNotificationTest.resource(self, rsn, psn)
        # The certificate's key under the public key's serial, and the reverse: refused.
        for key, ser in ((cert_key, conf_value("wxpay", "platform_serial")),
                         (secret_path("wxpay_platform_key.pem"), serial)):
            body, headers = RefundNotificationTest.notification(self, res, key=key, serial=ser)
            r = post(REFUND_CB, raw=body, headers=headers)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(self.refund_status(rsn), "PROCESSING")
        body, headers = RefundNotificationTest.notification(self, res, key=cert_key, serial=serial)
        r = post(REFUND_CB, raw=body, headers=headers)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.refund_status(rsn), "SUCCESS")


class GatewayDownTest(RefundBase):

    def sim_pid(self):
        with open(os.path.join(fslib.RUN, "wxpay-sim.pid")) as f:
            return int(f.read().strip())

    def test_gateway_down_then_refund_query_recovers(self):
        osn, psn = self.paid_order()
        # Keep clear of the stack's cron run of refund-query at the top of each minute.
        wait_until(lambda: 3 <= time.time() % 60 <= 35, timeout=60, interval=0.5)
        pid = self.sim_pid()
        os.kill(pid, signal.SIGSTOP)  # WeChat stops answering
        try:
            t0 = time.time()
            r = self.user_refund(osn)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertEqual(r.code, 200, r)
        self.assertEqual(r.data["status"], "PROCESSING", r)
        self.assertLess(time.time() - t0, 15)
        rsn = r.data["refundSn"]
        rows = self.refunds(osn)
        self.assertEqual([(x[0], x[2], x[4]) for x in rows], [(rsn, "PROCESSING", 0)])
        # refund-query with WeChat unreachable (a dead port): still retryable, not closed.
        cp = run_job("refund-query", "--wait", "60", env={"FLASHSALE_WXPAY_API_BASE": "http://127.0.0.1:1"})
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        self.assertEqual([(x[2], x[4]) for x in self.refunds(osn)], [("PROCESSING", 0)])
        attempts = int(sql(f"SELECT attempts FROM flashsale_payment.refund WHERE sn = '{rsn}'")[0][0])
        self.assertGreaterEqual(attempts, 2)
        # WeChat is back: the same out_refund_no goes again; WeChat has it once.
        cp = run_job("refund-query", "--wait", "60")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.wait_status(rsn, "SUCCESS")
        self.assertEqual(self.order(osn), (3, PRICE, PRICE))
        sims = self.sim_refunds(psn)
        self.assertEqual([(x["out_refund_no"], x["amount"]["refund"]) for x in sims], [(rsn, PRICE)])

    def test_metrics(self):
        ok0 = metric("flashsale_refunds_total", result="SUCCESS")
        m = get("/payment/v1/metrics").text
        self.assertIn("flashsale_refunds_stuck", m)
        self.assertIn("flashsale_late_payments_total", m)
        osn, _ = self.paid_order()
        r = self.admin_refund(osn)
        self.wait_status(r.data["refundSn"], "SUCCESS")
        self.assertEqual(metric("flashsale_refunds_total", result="SUCCESS"), ok0 + 1)
        # A refund PROCESSING for more than 10 minutes counts as stuck.
        stuck0 = metric("flashsale_refunds_stuck")
        osn2, _ = self.paid_order()
        controls(notify=False)
        r = self.admin_refund(osn2)
        rsn = r.data["refundSn"]
        sql("UPDATE flashsale_payment.refund SET create_time = create_time - 700 "
            f"WHERE sn = '{rsn}' AND status = 'PROCESSING'")
        self.assertEqual(metric("flashsale_refunds_stuck"), stuck0 + 1)
        self.assertTrue(wait_until(lambda: sim_call("GET", "/simulator/refunds/" + rsn).json["status"] == "SUCCESS"))
        cp = run_job("refund-query", "--wait", "60", "--query-after", "0")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(self.refund_status(rsn), "SUCCESS")
        self.assertEqual(metric("flashsale_refunds_stuck"), stuck0)


class SeckillRefundTest(RefundBase):
    """A refunded seckill order's units stay sold, and the buyer's quota stays used (README)."""

    def test_units_and_quota_stay(self):
        import test_order  # its seckill helpers, called on this test
        fslib.require_daemon(self, "order-writer")
        sk = test_order.SeckillCancelTest
        aid, pid = sk.activity(self)
        uid = post("/usercenter/v1/user/detail", {}, token=self.token).data["userInfo"]["id"]
        osn = sk.buy(self, self.token, aid, 2)
        self.pay(osn)
        before = sk.state(self, aid, uid)
        self.assertEqual(before, (2, 2, 8, 2))
        stock = int(sql(f"SELECT stock FROM flashsale_product.product WHERE id = {pid}")[0][0])
        r = self.user_refund(osn)
        self.assertEqual(r.code, 200, r)
        self.wait_status(r.data["refundSn"], "SUCCESS")
        self.assertEqual(self.order(osn)[:2], (3, 2000))
        self.assertEqual(sk.state(self, aid, uid), before)
        self.assertEqual(int(sql(f"SELECT stock FROM flashsale_product.product WHERE id = {pid}")[0][0]), stock)
        t = post("/seckill/v1/seckill/token", {"activityId": aid}, token=self.token)
        self.assertEqual(t.code, 200, t)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": t.data["token"], "quantity": 1},
                 token=self.token, query={"activityId": aid})
        self.assertEqual(r.code, 600005, r)


class OrderCapsTest(unittest.TestCase):
    """Per-user caps on unpaid orders and units (order.max_unpaid_*): 100007 with Retry-After."""

    @classmethod
    def setUpClass(cls):
        cls.admin = admin_token()

    def create(self, token, pid, qty):
        return post(OV + "/create", {"productId": pid, "quantity": qty}, token=token)

    def test_unpaid_units_per_product(self):
        cap = int(conf_value("order", "max_unpaid_units") or 99)
        pid = fslib.create_product(self.admin, stock=3 * cap)
        _, tok = register()
        self.assertEqual(self.create(tok, pid, cap - 1).code, 200)
        r = self.create(tok, pid, 2)
        self.assertEqual((r.status, r.code), (429, 100007), r)
        self.assertGreater(int(r.headers["retry-after"]), 0)
        self.assertIn("unpaid", r.json["msg"])
        self.assertEqual(self.create(tok, pid, 1).code, 200)  # up to the cap exactly
        stock = int(sql(f"SELECT stock FROM flashsale_product.product WHERE id = {pid}")[0][0])
        self.assertEqual(stock, 2 * cap)
        # Another user is not limited by the first one's orders.
        _, other = register()
        self.assertEqual(self.create(other, pid, cap).code, 200)

    def test_open_unpaid_orders(self):
        cap = int(conf_value("order", "max_unpaid_orders") or 10)
        pid = fslib.create_product(self.admin, stock=100)
        _, tok = register()
        sns = [self.create(tok, pid, 1).data["orderSn"] for _ in range(cap)]
        r = self.create(tok, pid, 1)
        self.assertEqual((r.status, r.code), (429, 100007), r)
        # Cancelling one makes room again, and order.closed is published for a user cancel too.
        self.assertEqual(post(OV + "/cancel", {"sn": sns[0]}, token=tok).code, 200)
        self.assertTrue(wait_until(lambda: stream_has("order.closed", sns[0]), timeout=5))
        self.assertEqual(self.create(tok, pid, 1).code, 200)
        r = self.create(tok, pid, 1)
        self.assertEqual((r.status, r.code), (429, 100007), r)


if __name__ == "__main__":
    unittest.main()
