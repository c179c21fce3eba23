"""test_payment - WeChat Pay v3 end to end through the web server and the stack's simulator.

Prepay (Native and JSAPI), the signed and encrypted callback, tampered / crafted / replayed /
duplicate notifications, order-timeout, and the refusals of API.md's payment section.
"""
import json
import os
import time
import unittest
import uuid

from fslib import (RUN, aes_gcm_encrypt, admin_token, conf_value, get, post, redis, register,
                   require_daemon, rsa_sign, rsa_verify, run_job, secret_path, sim_call, sql,
                   wait_until)

PAY = "/payment/v1/thirdPayment/thirdPaymentWxPay"
CALLBACK = "/payment/v1/thirdPayment/thirdPaymentWxPayCallback"
DETAIL = "/payment/v1/thirdPayment/detail"
PRICE = 1999


def user_id(token):
    r = post("/usercenter/v1/user/detail", {}, token=token)
    assert r.status == 200, r
    return r.data["userInfo"]["id"]


def order_api_up():
    return get("/order/v1/healthz").status == 200


class PaymentBase(unittest.TestCase):
    """A user, a product with stock, and helpers to make orders and payments."""

    @classmethod
    def setUpClass(cls):
        cls.mobile, cls.token = register()
        cls.uid = user_id(cls.token)
        cls.product = cls.make_product(stock=50)

    @classmethod
    def make_product(cls, stock):
        """A product on sale (through the admin API when up, else by SQL)."""
        if get("/product/v1/healthz").status == 200:
            r = post("/product/v1/admin/product/create",
                     {"title": "支付测试 " + uuid.uuid4().hex[:6], "price": PRICE, "stock": stock,
                      "status": 1, "info": "payment test"}, token=admin_token())
            assert r.status == 200, r
            return r.data["id"]
        sql("INSERT INTO flashsale_product.product (title, info, price, stock, status, "
            f"create_time, update_time) VALUES ('payment test', '', {PRICE}, {stock}, 1, "
            "UNIX_TIMESTAMP(), UNIX_TIMESTAMP())")
        return int(sql("SELECT MAX(id) FROM flashsale_product.product")[0][0])

    def stock(self, pid=None):
        return int(sql(f"SELECT stock FROM flashsale_product.product WHERE id = {int(pid or self.product)}")[0][0])

    def new_order(self, token=None, uid=None):
        """An order waiting for payment: through /order/v1/order/create (else SQL)."""
        token, uid = token or self.token, uid or self.uid
        if order_api_up():
            r = post("/order/v1/order/create", {"productId": self.product, "quantity": 1},
                     token=token)
            self.assertEqual(r.status, 200, r)
            return r.data["orderSn"]
        sn = "ORD" + uuid.uuid4().hex[:20]
        sql("INSERT INTO flashsale_order.orders (sn, user_id, product_id, title, quantity, "
            f"unit_price, total_price, trade_state, pay_deadline, create_time, update_time) "
            f"VALUES ('{sn}', {int(uid)}, {int(self.product)}, 'payment test', 1, {PRICE}, "
            f"{PRICE}, 0, UNIX_TIMESTAMP() + 900, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())")
        return sn

    def prepay(self, order_sn, trade_type="NATIVE", token=None):
        body = {"orderSn": order_sn, "serviceType": "order", "tradeType": trade_type}
        return post(PAY, body, token=token or self.token)

    def payment_sn(self, order_sn):
        rows = sql("SELECT sn FROM flashsale_payment.payment WHERE order_sn = "
                   f"'{order_sn}' ORDER BY id DESC LIMIT 1")
        return rows[0][0] if rows else None

    def native(self, token=None, uid=None):
        """A new order with a Native prepay: (order sn, payment sn)."""
        osn = self.new_order(token, uid)
        r = self.prepay(osn, token=token)
        self.assertEqual(r.status, 200, r)
        return osn, self.payment_sn(osn)

    def payment_row(self, psn):
        return sql("SELECT pay_status, transaction_id, pay_time, version, trade_state FROM "
                   f"flashsale_payment.payment WHERE sn = '{psn}'")[0]

    def order_row(self, osn):
        return sql("SELECT trade_state, pay_time, version, cancel_reason FROM "
                   f"flashsale_order.orders WHERE sn = '{osn}'")[0]

    def sim_pay(self, psn, notify=True, result="SUCCESS"):
        r = sim_call("POST", "/simulator/pay", {"out_trade_no": psn, "result": result,
                                                "notify": notify})
        self.assertEqual(r.status, 200, r)
        return r.json["trade"]

    def sim_trade(self, psn):
        r = sim_call("GET", "/simulator/trades/" + psn)
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_paid(self, osn, token=None):
        def paid():
            r = post(DETAIL, {"orderSn": osn}, token=token or self.token)
            return r.data if r.status == 200 and r.data["payStatus"] == 1 else None
        d = wait_until(paid, timeout=15)
        self.assertTrue(d, "payment not applied within 15 s")
        return d


class TestPrepayAndCallback(PaymentBase):

    def test_healthz(self):
        r = get("/payment/v1/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "ok")

    def test_metrics_count_notifications(self):
        r = post(CALLBACK, raw="{}")  # no Wechatpay-* headers: 400
        self.assertEqual(r.status, 400, r)
        m = get("/payment/v1/metrics")
        self.assertEqual(m.status, 200, m)
        line = [ln for ln in m.text.splitlines()
                if ln.startswith("flashsale_wxpay_notifications_total{")
                and 'status="400"' in ln]
        self.assertTrue(line, m.text[:2000])
        self.assertGreaterEqual(float(line[0].split()[-1]), 1)

    def test_native_end_to_end(self):
        osn = self.new_order()
        r = self.prepay(osn)
        self.assertEqual(r.status, 200, r)
        code_url = r.data["codeUrl"]
        psn = self.payment_sn(osn)
        self.assertTrue(psn.startswith("PMT"), psn)
        self.assertTrue(code_url.endswith("/simulator/pay/" + psn), code_url)
        row = sql("SELECT pay_status, pay_total, trade_type, user_id FROM flashsale_payment.payment "
                  f"WHERE sn = '{psn}'")[0]
        self.assertEqual(row, ["0", str(PRICE), "NATIVE", str(self.uid)])
        d = post(DETAIL, {"orderSn": osn}, token=self.token)
        self.assertEqual((d.status, d.data["payStatus"]), (200, 0), d)
        trade = self.sim_trade(psn)
        self.assertEqual((trade["trade_state"], trade["amount"]["total"]), ("NOTPAY", PRICE))
        self.assertTrue(trade["notify_url"].endswith(CALLBACK))

        paid = self.sim_pay(psn)
        d = self.wait_paid(osn)
        self.assertEqual(d["transactionId"], paid["transaction_id"])
        self.assertEqual(d["payTotal"], PRICE)
        self.assertGreater(d["payTime"], 0)
        # The simulator records the callback's answer once it has read it.
        got = wait_until(lambda: [n["status"] for n in self.sim_trade(psn)["notifications"]])
        self.assertEqual(got, [204])

    def test_native_again_reuses_the_open_trade(self):
        osn = self.new_order()
        a, b = self.prepay(osn), self.prepay(osn)
        self.assertEqual((a.status, b.status), (200, 200), (a, b))
        self.assertEqual(a.data["codeUrl"], b.data["codeUrl"])
        n = sql(f"SELECT COUNT(*) FROM flashsale_payment.payment WHERE order_sn = '{osn}'")
        self.assertEqual(n[0][0], "1")

    def test_order_becomes_paid_and_user_notified(self):
        self.assertTrue(order_api_up(), "the order domain is down")
        require_daemon(self, "order-events")
        # Subscribe messages go to the user's openid: link one.
        _, token = register()
        uid = user_id(token)
        openid = "oNotify" + uuid.uuid4().hex[:20]
        sql(f"UPDATE flashsale_usercenter.user SET openid = '{openid}' WHERE id = {int(uid)}")
        osn, psn = self.native(token, uid)
        self.sim_pay(psn)
        self.wait_paid(osn, token)
        st = wait_until(lambda: self.order_row(osn)[0] == "1", timeout=15)
        self.assertTrue(st, f"order {osn} not marked paid by order-events: {self.order_row(osn)}")
        r = post("/order/v1/order/detail", {"sn": osn}, token=token)
        self.assertEqual(r.data["order"]["tradeState"], 1, r)
        require_daemon(self, "notify")
        msgs = wait_until(lambda: [m for m in sim_call("GET", "/simulator/messages").json["messages"]
                                   if osn in json.dumps(m, ensure_ascii=False)], timeout=20)
        self.assertTrue(msgs, "no WeChat subscribe message mentions the order")
        self.assertEqual(msgs[0]["touser"], openid)

    def test_duplicate_notifications_applied_once(self):
        osn, psn = self.native()
        self.sim_pay(psn)
        self.wait_paid(osn)
        before = self.payment_row(psn)
        for _ in range(3):
            r = sim_call("POST", "/simulator/notify", {"out_trade_no": psn})
            self.assertEqual(r.json["status"], 204, r)
        self.assertEqual(self.payment_row(psn), before)
        self.assertEqual(before[0], "1")

    def test_failed_delivery_is_retried(self):
        osn, psn = self.native()
        # Our side refuses the first delivery (the amount no longer matches) ...
        sql(f"UPDATE flashsale_payment.payment SET pay_total = pay_total + 1 WHERE sn = '{psn}'")
        self.sim_pay(psn)
        first = wait_until(lambda: self.sim_trade(psn)["notifications"], timeout=10)
        self.assertEqual([n["status"] for n in first], [400])
        self.assertEqual(self.payment_row(psn)[0], "0")
        # ... then accepts: the simulator's retry (after 1 s) is applied.
        sql(f"UPDATE flashsale_payment.payment SET pay_total = pay_total - 1 WHERE sn = '{psn}'")
        self.wait_paid(osn)
        got = wait_until(lambda: [n["status"] for n in self.sim_trade(psn)["notifications"]
                                  if n["status"] == 204], timeout=10)
        self.assertEqual(got, [204])
        self.assertEqual(self.sim_trade(psn)["notifications"][0]["status"], 400)

    def test_paid_order_refused(self):
        osn, psn = self.native()
        self.sim_pay(psn)
        self.wait_paid(osn)
        for tt in ("NATIVE", "JSAPI"):
            r = self.prepay(osn, tt)
            self.assertEqual((r.status, r.code), (409, 500002), r)

    def test_cancelled_order_refused(self):
        osn = self.new_order()
        if order_api_up():
            r = post("/order/v1/order/cancel", {"sn": osn}, token=self.token)
            self.assertEqual(r.status, 200, r)
        else:
            sql(f"UPDATE flashsale_order.orders SET trade_state = -1 WHERE sn = '{osn}'")
        r = self.prepay(osn)
        self.assertEqual((r.status, r.code), (409, 500002), r)
        self.assertIsNone(self.payment_sn(osn))

    def test_order_past_deadline_refused(self):
        osn = self.new_order()
        sql("UPDATE flashsale_order.orders SET pay_deadline = UNIX_TIMESTAMP() - 1 "
            f"WHERE sn = '{osn}'")
        r = self.prepay(osn)
        self.assertEqual((r.status, r.code), (409, 500002), r)

    def test_someone_elses_order(self):
        osn = self.new_order()
        _, other = register()
        r = self.prepay(osn, token=other)
        self.assertEqual((r.status, r.code), (404, 400001), r)
        r = post(DETAIL, {"orderSn": osn}, token=other)
        self.assertEqual((r.status, r.code), (404, 400001), r)
        r = self.prepay("ORDdoesnotexist")
        self.assertEqual((r.status, r.code), (404, 400001), r)

    def test_detail_without_payment(self):
        osn = self.new_order()
        r = post(DETAIL, {"orderSn": osn}, token=self.token)
        self.assertEqual((r.status, r.code), (404, 500001), r)

    def test_bad_parameters(self):
        osn = self.new_order()
        cases = [{"serviceType": "order"}, {"orderSn": osn},
                 {"orderSn": osn, "serviceType": "vip"},
                 {"orderSn": osn, "serviceType": "order", "tradeType": "APP"},
                 {"orderSn": 12, "serviceType": "order"}]
        for body in cases:
            r = post(PAY, body, token=self.token)
            self.assertEqual((r.status, r.code), (400, 100002), (body, r))
        r = post(PAY, {"orderSn": osn, "serviceType": "order"})
        self.assertEqual((r.status, r.code), (401, 100003), r)
        self.assertIsNone(self.payment_sn(osn))


class TestJsapi(PaymentBase):

    def test_jsapi_pay_sign_verifies(self):
        openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" + uuid.uuid4().hex[:4]
        sql(f"UPDATE flashsale_usercenter.user SET openid = '{openid}' WHERE id = {int(self.uid)}")
        osn = self.new_order()
        r = self.prepay(osn, "JSAPI")
        self.assertEqual(r.status, 200, r)
        d = r.data
        # The names wx.requestPayment / getBrandWCPayRequest take, exactly.
        self.assertEqual(sorted(d), ["appId", "nonceStr", "package", "paySign", "signType",
                                     "timeStamp"])
        self.assertEqual(d["appId"], conf_value("wxpay", "appid"))
        self.assertEqual(d["signType"], "RSA")
        self.assertTrue(d["package"].startswith("prepay_id=wx"), d)
        self.assertLess(abs(int(d["timeStamp"]) - time.time()), 60)
        msg = f"{d['appId']}\n{d['timeStamp']}\n{d['nonceStr']}\n{d['package']}\n"
        pub = secret_path("wxpay_merchant_pub.pem")
        self.assertTrue(rsa_verify(pub, msg, d["paySign"]), "paySign does not verify")
        self.assertFalse(rsa_verify(pub, msg.replace(d["nonceStr"], "X" + d["nonceStr"][1:]),
                                    d["paySign"]))
        psn = self.payment_sn(osn)
        trade = self.sim_trade(psn)
        self.assertEqual((trade["trade_type"], trade["payer"]["openid"]), ("JSAPI", openid))
        self.sim_pay(psn)
        self.assertEqual(self.wait_paid(osn)["tradeType"], "JSAPI")

    def test_jsapi_without_openid(self):
        _, token = register()
        uid = user_id(token)
        osn = self.new_order(token, uid)
        r = self.prepay(osn, "JSAPI", token=token)
        self.assertEqual((r.status, r.code), (400, 100002), r)
        self.assertIn("NATIVE", r.json["msg"])
        r = self.prepay(osn, "NATIVE", token=token)
        self.assertEqual(r.status, 200, r)


class TestForgedNotifications(PaymentBase):
    """Nothing a forger, a replayer or a broken notification sends changes any row."""

    def snapshot(self, osn, psn):
        return self.payment_row(psn), self.order_row(osn)

    def test_simulator_tampered_then_genuine(self):
        osn, psn = self.native()
        self.sim_pay(psn, notify=False)  # paid at WeChat; the notification is not sent yet
        before = self.snapshot(osn, psn)
        self.assertEqual(before[0][0], "0")
        want = {"signature": 401, "amount": 400, "ciphertext": 400, "stale": 400}
        for tamper, status in want.items():
            r = sim_call("POST", "/simulator/notify", {"out_trade_no": psn, "tamper": tamper})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["status"], status, (tamper, r))
            self.assertEqual(self.snapshot(osn, psn), before, tamper)
        # The genuine one is accepted: the rejections above were for the tampering alone.
        r = sim_call("POST", "/simulator/notify", {"out_trade_no": psn})
        self.assertEqual(r.json["status"], 204, r)
        self.wait_paid(osn)
        paid = self.snapshot(osn, psn)[0]
        # Replaying it (same nonce, timestamp, body and signature) is refused and changes nothing.
        r = sim_call("POST", "/simulator/notify", {"out_trade_no": psn, "replay": True})
        self.assertEqual(r.json["status"], 401, r)
        self.assertIn("nonce", r.json["error"])
        self.assertEqual(self.snapshot(osn, psn)[0], paid)

    def notification(self, txn, key=None, sign_key=None, serial=None, ts=None, nonce=None):
        """A notification built by the test itself: (body, headers)."""
        rnonce = uuid.uuid4().hex[:12]
        ct = aes_gcm_encrypt(key or conf_value("wxpay", "apiv3_key"), rnonce, "transaction",
                             json.dumps(txn))
        body = json.dumps({"id": str(uuid.uuid4()), "create_time": "2024-01-01T00:00:00+08:00",
                           "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
                           "summary": "支付成功",
                           "resource": {"original_type": "transaction",
                                        "algorithm": "AEAD_AES_256_GCM", "ciphertext": ct,
                                        "associated_data": "transaction", "nonce": rnonce}})
        ts = str(ts or int(time.time()))
        nonce = nonce or uuid.uuid4().hex
        sig = rsa_sign(sign_key or secret_path("wxpay_platform_key.pem"), f"{ts}\n{nonce}\n{body}\n")
        return body, {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
                      "Wechatpay-Signature": sig,
                      "Wechatpay-Serial": serial or conf_value("wxpay", "platform_serial")}

    def txn(self, psn, total=PRICE, **kw):
        t = {"appid": conf_value("wxpay", "appid"), "mchid": conf_value("wxpay", "mchid"),
             "out_trade_no": psn, "transaction_id": "4200" + uuid.uuid4().int.__str__()[:24],
             "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "ok",
             "bank_type": "OTHERS", "attach": "", "success_time": "2024-05-01T12:00:00+08:00",
             "payer": {"openid": "oTest"}, "amount": {"total": total, "payer_total": total,
                                                      "currency": "CNY", "payer_currency": "CNY"}}
        t.update(kw)
        return t

    def test_crafted_notifications(self):
        osn, psn = self.native()
        before = self.snapshot(osn, psn)
        cases = [
            ("merchant key instead of platform key", 401,
             self.notification(self.txn(psn), sign_key=secret_path("wxpay_merchant_key.pem"))),
            ("unknown serial", 401, self.notification(self.txn(psn), serial="PUB_KEY_ID_FORGED")),
            ("stale timestamp", 400, self.notification(self.txn(psn), ts=int(time.time()) - 301)),
            ("future timestamp", 400, self.notification(self.txn(psn), ts=int(time.time()) + 400)),
            ("wrong APIv3 key", 400, self.notification(self.txn(psn), key="x" * 32)),
            ("wrong amount", 400, self.notification(self.txn(psn, total=1))),
            ("another merchant", 400, self.notification(self.txn(psn, mchid="1900000999"))),
            ("another app", 400, self.notification(self.txn(psn, appid="wxforged000000"))),
            ("unknown out_trade_no", 404, self.notification(self.txn("PMT00000000000000000"))),
        ]
        for name, status, (body, headers) in cases:
            r = post(CALLBACK, raw=body, headers=headers)
            self.assertEqual(r.status, status, (name, r))
            self.assertEqual(r.json["code"], "FAIL", (name, r))
            self.assertTrue(r.json["message"], name)
            self.assertEqual(self.snapshot(osn, psn), before, name)
        # Headers missing, body altered after signing, and a body over 64 KiB.
        body, headers = self.notification(self.txn(psn))
        r = post(CALLBACK, raw=body)
        self.assertEqual((r.status, r.json["code"]), (400, "FAIL"), r)
        altered = body.replace('"encrypt-resource"', '"encrypt-resourcf"')
        self.assertNotEqual(altered, body)
        r = post(CALLBACK, raw=altered, headers=headers)
        self.assertEqual(r.status, 401, r)
        r = post(CALLBACK, raw="x" * (65 * 1024), headers=headers)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(self.snapshot(osn, psn), before)
        # The same construction with everything right is accepted (positive control), and
        # sending that very request again is a replay.
        body, headers = self.notification(self.txn(psn))
        r = post(CALLBACK, raw=body, headers=headers)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.payment_row(psn)[0], "1")
        paid = self.payment_row(psn)
        r = post(CALLBACK, raw=body, headers=headers)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.payment_row(psn), paid)
        self.assertTrue(redis("EXISTS", "fs:wxpay:nonce:" + headers["Wechatpay-Nonce"]) == "1")


class TestSimulator(PaymentBase):

    def test_rejects_unsigned_and_wrongly_signed_requests(self):
        body = json.dumps({"appid": conf_value("wxpay", "appid"), "mchid": conf_value("wxpay", "mchid"),
                           "description": "x", "out_trade_no": "SIMTEST" + uuid.uuid4().hex[:10],
                           "notify_url": conf_value("wxpay", "notify_url"),
                           "amount": {"total": 1, "currency": "CNY"}})
        path = "/v3/pay/transactions/native"

        def auth(key, ts=None, nonce=None, serial=None):
            ts, nonce = str(ts or int(time.time())), nonce or uuid.uuid4().hex
            sig = rsa_sign(key, f"POST\n{path}\n{ts}\n{nonce}\n{body}\n")
            return ("WECHATPAY2-SHA256-RSA2048 mchid=\"%s\",nonce_str=\"%s\",signature=\"%s\","
                    "timestamp=\"%s\",serial_no=\"%s\"" % (conf_value("wxpay", "mchid"), nonce, sig,
                                                           ts, serial or conf_value("wxpay", "serial_no")))
        merchant = secret_path("wxpay_merchant_key.pem")
        for name, a in [("none", None), ("platform key", auth(secret_path("wxpay_platform_key.pem"))),
                        ("stale", auth(merchant, ts=int(time.time()) - 600)),
                        ("serial", auth(merchant, serial="0000"))]:
            r = sim_call("POST", path, raw=body, headers={"Authorization": a} if a else {})
            self.assertEqual((r.status, r.json["code"]), (401, "SIGN_ERROR"), (name, r))
        good = auth(merchant)
        r = sim_call("POST", path, raw=body, headers={"Authorization": good})
        self.assertEqual(r.status, 200, r)
        self.assertIn("code_url", r.json)
        # Answers are signed by the platform over timestamp, nonce and body.
        h = r.headers
        msg = f"{h['wechatpay-timestamp']}\n{h['wechatpay-nonce']}\n{r.text}\n"
        self.assertTrue(rsa_verify(secret_path("wxpay_platform_pub.pem"), msg,
                                   h["wechatpay-signature"]))
        r = sim_call("POST", path, raw=body, headers={"Authorization": good})
        self.assertEqual((r.status, r.json["code"]), (401, "SIGN_ERROR"), "nonce replay accepted")

    def test_pay_page(self):
        osn, psn = self.native()
        r = sim_call("GET", "/simulator/pay/" + psn)
        self.assertEqual(r.status, 200, r)
        self.assertIn(f'action="/simulator/pay/{psn}"', r.text)
        self.assertIn("¥19.99", r.text)
        self.assertNotIn("<script", r.text)
        self.assertIn("form-action 'self'", r.headers["content-security-policy"])
        r = sim_call("POST", "/simulator/pay/" + psn, raw="result=SUCCESS",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200, r)
        self.wait_paid(osn)


class TestOrderTimeout(PaymentBase):

    def expire(self, osn):
        sql("UPDATE flashsale_order.orders SET pay_deadline = UNIX_TIMESTAMP() - 1 "
            f"WHERE sn = '{osn}'")

    def run_timeout(self, *args):
        cp = run_job("order-timeout", "--wait", "60", *args)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        return cp

    def test_timeout_closes_trade_cancels_order_returns_stock(self):
        before = self.stock()
        osn, psn = self.native()
        if order_api_up():
            self.assertEqual(self.stock(), before - 1)
        reserved = self.stock()
        self.expire(osn)
        self.run_timeout()
        self.assertEqual(self.sim_trade(psn)["trade_state"], "CLOSED")
        self.assertEqual(self.order_row(osn)[0], "-1")
        self.assertEqual(self.order_row(osn)[3], "timeout")
        self.assertEqual(self.payment_row(psn)[0], "-1")
        self.assertEqual(self.stock(), reserved + 1)
        # A second run changes nothing: the units came back exactly once.
        self.run_timeout()
        self.assertEqual(self.stock(), reserved + 1)
        # The closed trade can no longer be paid at WeChat.
        r = sim_call("POST", "/simulator/pay", {"out_trade_no": psn})
        self.assertEqual(r.status, 409, r)

    def test_paid_just_before_deadline_is_applied_not_cancelled(self):
        osn, psn = self.native()
        reserved = self.stock()
        self.sim_pay(psn, notify=False)  # paid, but the notification never arrives
        self.expire(osn)
        self.run_timeout()
        self.assertEqual(self.payment_row(psn)[0], "1")
        self.assertNotEqual(self.order_row(osn)[0], "-1")
        self.assertEqual(self.sim_trade(psn)["trade_state"], "SUCCESS")
        self.assertEqual(self.stock(), reserved)
        d = post(DETAIL, {"orderSn": osn}, token=self.token).data
        self.assertEqual(d["transactionId"], self.sim_trade(psn)["transaction_id"])

    def test_cancel_closes_the_trade_at_wechat(self):
        osn, psn = self.native()
        r = post("/order/v1/order/cancel", {"sn": osn}, token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sim_trade(psn)["trade_state"], "CLOSED")
        self.assertEqual(self.payment_row(psn)[0], "-1")
        r = sim_call("POST", "/simulator/pay", {"out_trade_no": psn})
        self.assertEqual(r.status, 409, r)

    def test_trade_of_cancelled_order_is_closed(self):
        """The close at cancel failed (WeChat down): order-timeout closes the trade later."""
        osn, psn = self.native()
        sim_call("POST", "/simulator/controls", {"close_fails": True})
        try:
            r = post("/order/v1/order/cancel", {"sn": osn}, token=self.token)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.sim_trade(psn)["trade_state"], "NOTPAY")
            self.assertEqual(self.order_row(osn)[0], "-1")
        finally:
            sim_call("POST", "/simulator/controls", {"close_fails": False})
        self.run_timeout("--query-after", "0")
        self.assertEqual(self.sim_trade(psn)["trade_state"], "CLOSED")
        self.assertEqual(self.payment_row(psn)[0], "-1")

    def test_unnotified_payment_is_queried(self):
        osn, psn = self.native()
        self.sim_pay(psn, notify=False)
        self.assertEqual(self.payment_row(psn)[0], "0")
        self.run_timeout("--query-after", "0")
        self.assertEqual(self.payment_row(psn)[0], "1")
        self.assertEqual(self.order_row(osn)[0] in ("0", "1"), True)


if __name__ == "__main__":
    unittest.main()
