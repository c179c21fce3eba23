"""test_latepay - money for an order already cancelled never revives it: refunded in full, once.

End to end: the close at WeChat fails (the simulator's close_fails), order-timeout cancels the
expired order anyway after order.close_grace, the payer pays, and the money goes back exactly
once however often WeChat notifies and the jobs run.
"""
import json
import time
import unittest
import uuid

import fslib
from fslib import (aes_gcm_encrypt, admin_token, conf_value, post, register, rsa_sign,
                   run_job, secret_path, sim_call, sql, wait_until)

OV = "/order/v1/order"
PAY = "/payment/v1/thirdPayment/thirdPaymentWxPay"
PAY_CB = "/payment/v1/thirdPayment/thirdPaymentWxPayCallback"
PRICE = 2345


def late_metric():
    """flashsale_late_payments_total of /payment/v1/metrics (0 if absent)."""
    return fslib.metric("payment", "flashsale_late_payments_total") or 0


class LatePaymentTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.admin = admin_token()
        cls.product = fslib.create_product(cls.admin, price=PRICE, stock=20)

    def tearDown(self):
        sim_call("POST", "/simulator/controls", {"close_fails": False, "notify": True})

    def stock(self):
        return int(sql(f"SELECT stock FROM flashsale_product.product WHERE id = {self.product}")[0][0])

    def refunds(self, osn):
        return [(r[0], int(r[1]), r[2], r[3]) for r in sql(
            "SELECT sn, amount, status, source FROM flashsale_payment.refund "
            f"WHERE order_sn = '{osn}' ORDER BY id")]

    def order_state(self, osn):
        r = sql(f"SELECT trade_state, refunded, cancel_reason FROM flashsale_order.orders WHERE sn = '{osn}'")[0]
        return int(r[0]), int(r[1]), r[2]

    def native(self, token):
        r = post(OV + "/create", {"productId": self.product, "quantity": 2}, token=token)
        self.assertEqual(r.code, 200, r)
        osn = r.data["orderSn"]
        r = post(PAY, {"orderSn": osn, "serviceType": "order", "tradeType": "NATIVE"}, token=token)
        self.assertEqual(r.code, 200, r)
        psn = sql(f"SELECT sn FROM flashsale_payment.payment WHERE order_sn = '{osn}'")[0][0]
        return osn, psn

    def timeout_run(self):
        cp = run_job("order-timeout", "--wait", "60")
        return cp

    def crafted_paid_notification(self, psn, total):
        """A genuine-looking TRANSACTION.SUCCESS for psn, signed by the test: (body, headers)."""
        txn = {"appid": conf_value("wxpay", "appid"), "mchid": conf_value("wxpay", "mchid"),
               "out_trade_no": psn, "transaction_id": "4200" + str(uuid.uuid4().int)[:24],
               "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "ok",
               "bank_type": "OTHERS", "success_time": "2024-05-01T12:00:00+08:00",
               "payer": {"openid": "oLate"}, "amount": {"total": total, "payer_total": total,
                                                        "currency": "CNY", "payer_currency": "CNY"}}
        rnonce = uuid.uuid4().hex[:12]
        ct = aes_gcm_encrypt(conf_value("wxpay", "apiv3_key"), rnonce, "transaction", json.dumps(txn))
        body = json.dumps({"id": str(uuid.uuid4()), "create_time": "2024-01-01T00:00:00+08:00",
                           "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
                           "summary": "支付成功",
                           "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                                        "ciphertext": ct, "associated_data": "transaction",
                                        "nonce": rnonce}})
        ts, nonce = str(int(time.time())), uuid.uuid4().hex
        sig = rsa_sign(secret_path("wxpay_platform_key.pem"), f"{ts}\n{nonce}\n{body}\n")
        return body, {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": sig,
                      "Wechatpay-Serial": conf_value("wxpay", "platform_serial")}

    def test_paid_after_timeout_is_refunded_once(self):
        _, tok = register()
        before = self.stock()
        osn, psn = self.native(tok)
        self.assertEqual(self.stock(), before - 2)
        late0 = late_metric()
        # The close at WeChat fails: within the grace the order is kept ...
        sim_call("POST", "/simulator/controls", {"close_fails": True})
        sql(f"UPDATE flashsale_order.orders SET pay_deadline = UNIX_TIMESTAMP() - 5 WHERE sn = '{osn}'")
        self.timeout_run()
        self.assertEqual(self.order_state(osn)[0], 0)
        self.assertEqual(sim_call("GET", "/simulator/trades/" + psn).json["trade_state"], "NOTPAY")
        # ... past order.close_grace it is cancelled anyway, its stock returned once.
        grace = int(conf_value("order", "close_grace") or 600)
        sql(f"UPDATE flashsale_order.orders SET pay_deadline = UNIX_TIMESTAMP() - {grace + 5} "
            f"WHERE sn = '{osn}'")
        self.timeout_run()
        self.assertEqual(self.order_state(osn), (-1, 0, "timeout"))
        self.assertEqual(self.stock(), before)
        self.assertEqual(sim_call("GET", "/simulator/trades/" + psn).json["trade_state"], "NOTPAY")
        # The payer pays anyway: the money is recorded and goes back in full, by itself.
        sim_call("POST", "/simulator/controls", {"close_fails": False})
        r = sim_call("POST", "/simulator/pay", {"out_trade_no": psn})
        self.assertEqual(r.status, 200, r)
        ok = wait_until(lambda: [x[2] for x in self.refunds(osn)] == ["SUCCESS"], timeout=20)
        self.assertTrue(ok, self.refunds(osn))
        (rsn, amount, _, source), = self.refunds(osn)
        self.assertEqual((amount, source), (2 * PRICE, "late_payment"))
        self.assertEqual(self.order_state(osn), (-1, 2 * PRICE, "timeout"))  # never revived
        pay = sql(f"SELECT pay_status, transaction_id FROM flashsale_payment.payment WHERE sn = '{psn}'")[0]
        self.assertEqual(pay[0], "2")
        self.assertTrue(pay[1].startswith("4200"))
        self.assertEqual(self.stock(), before)
        sims = sim_call("GET", f"/simulator/trades/{psn}/refunds").json["list"]
        self.assertEqual([(x["out_refund_no"], x["amount"]["refund"], x["status"]) for x in sims],
                         [(rsn, 2 * PRICE, "SUCCESS")])
        self.assertEqual(late_metric(), late0 + 1)
        # WeChat notifying the payment again, and every job running again, change nothing.
        body, headers = self.crafted_paid_notification(psn, 2 * PRICE)
        r = post(PAY_CB, raw=body, headers=headers)
        self.assertEqual(r.status, 204, r)
        for job in ("refund-query", "order-timeout"):
            run_job(job, "--wait", "60", "--query-after", "0")
        self.assertEqual(len(self.refunds(osn)), 1)
        self.assertEqual(len(sim_call("GET", f"/simulator/trades/{psn}/refunds").json["list"]), 1)
        self.assertEqual(self.order_state(osn), (-1, 2 * PRICE, "timeout"))
        self.assertEqual(late_metric(), late0 + 1)
        self.assertEqual(self.stock(), before)
        # The user cannot refund it a second time either.
        r = post(OV + "/refund", {"sn": osn, "reason": "again"}, token=tok)
        self.assertEqual((r.status, r.code), (409, 400002), r)

    def test_late_payment_found_by_query(self):
        """The notification is lost too: order-timeout's query finds the payment and refunds it."""
        _, tok = register()
        osn, psn = self.native(tok)
        sim_call("POST", "/simulator/controls", {"close_fails": True})  # the cancel's close fails
        self.assertEqual(post(OV + "/cancel", {"sn": osn}, token=tok).code, 200)
        sim_call("POST", "/simulator/controls", {"close_fails": False})
        r = sim_call("POST", "/simulator/pay", {"out_trade_no": psn, "notify": False})
        self.assertEqual(r.status, 200, r)
        cp = run_job("order-timeout", "--wait", "60", "--query-after", "0")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        ok = wait_until(lambda: [(x[2], x[3]) for x in self.refunds(osn)] == [("SUCCESS", "late_payment")],
                        timeout=20)
        self.assertTrue(ok, self.refunds(osn))
        self.assertEqual(self.order_state(osn)[:2], (-1, 2 * PRICE))

    def test_refund_query_records_a_missing_late_refund(self):
        """A payment of a cancelled order whose refund a crash left out: refund-query adds it, once."""
        _, tok = register()
        osn, psn = self.native(tok)
        self.assertEqual(sim_call("POST", "/simulator/pay", {"out_trade_no": psn}).status, 200)
        self.assertTrue(wait_until(lambda: self.order_state(osn)[0] == 1, timeout=20))
        # As if the order had been cancelled and the program died before recording the refund.
        sql(f"UPDATE flashsale_order.orders SET trade_state = -1 WHERE sn = '{osn}'")
        self.assertEqual(self.refunds(osn), [])
        for _ in range(2):
            cp = run_job("refund-query", "--wait", "60")
            self.assertIn("refund-query:", cp.stdout, cp.stderr)
        ok = wait_until(lambda: [(x[2], x[3]) for x in self.refunds(osn)] == [("SUCCESS", "late_payment")],
                        timeout=20)
        self.assertTrue(ok, self.refunds(osn))
        self.assertEqual(len(sim_call("GET", f"/simulator/trades/{psn}/refunds").json["list"]), 1)

    def test_cancel_of_a_just_paid_order(self):
        """Paid a moment before the user cancels: the close says ORDERPAID, the cancel is refused."""
        _, tok = register()
        before = self.stock()
        osn, psn = self.native(tok)
        r = sim_call("POST", "/simulator/pay", {"out_trade_no": psn, "notify": False})
        self.assertEqual(r.status, 200, r)
        r = post(OV + "/cancel", {"sn": osn}, token=tok)
        self.assertEqual((r.status, r.code), (409, 400002), r)
        pay = sql(f"SELECT pay_status FROM flashsale_payment.payment WHERE sn = '{psn}'")[0][0]
        self.assertEqual(pay, "1")
        self.assertTrue(wait_until(lambda: self.order_state(osn)[0] == 1, timeout=20))
        self.assertEqual(self.refunds(osn), [])
        self.assertEqual(self.stock(), before - 2)


if __name__ == "__main__":
    unittest.main()
