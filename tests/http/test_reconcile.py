"""test_reconcile - daily reconciliation (对账) of WeChat Pay's trade bill with local payments and
refunds: flashsale-bill-reconcile against the simulator's bills, GET /payment/v1/admin/reconcile,
the settle job's marks and the flashsale_reconcile_differences gauge.

Each test works on its own random past day D (Asia/Shanghai): trades paid through the simulator
are moved to D at both ends (the simulator's bill_date_shift control, pay_time by SQL), so other
suites' trades of today never show up in these bills.
"""
import calendar
import random
import re
import time
import unittest
import uuid

from fslib import (VAR, admin_token, conf_value, get, register, rsa_sign, run_job,
                   secret_path, sim_call, sql, wait_until)
from test_payment import PRICE, PaymentBase

RECONCILE = "/payment/v1/admin/reconcile"
_days = set()


def random_day():
    """A past day no other test of this run uses."""
    while True:
        d = "%04d-%02d-%02d" % (random.randint(2001, 2024), random.randint(1, 12),
                                random.randint(1, 28))
        if d not in _days:
            _days.add(d)
            return d


def noon(day):
    """Unix time of 12:00 Asia/Shanghai on day."""
    return calendar.timegm(time.strptime(day, "%Y-%m-%d")) - 8 * 3600 + 12 * 3600


def control(**kw):
    r = sim_call("POST", "/simulator/controls", kw)
    assert r.status == 200, r
    return r


class ReconcileBase(PaymentBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = admin_token()

    def paid_on(self, day):
        """A Native payment paid through the simulator, then moved to day: (order sn, payment sn)."""
        osn, psn = self.native()
        self.sim_pay(psn)
        self.wait_paid(osn)
        control(bill_date_shift={"out_trade_no": psn, "date": day})
        sql(f"UPDATE flashsale_payment.payment SET pay_time = {noon(day)} WHERE sn = '{psn}'")
        return osn, psn

    def local_refund(self, psn, osn, day, amount, status="SUCCESS"):
        """A refund row as the refund code writes it once WeChat accepted it; its sn."""
        rsn = "RFD" + uuid.uuid4().hex[:20]
        # A PROCESSING row touched now: the stack's cron refund-query leaves refunds alone for
        # wxpay.refund_query_after after their last update, so it cannot settle this one first.
        updated = "UNIX_TIMESTAMP()" if status == "PROCESSING" else str(noon(day))
        sql("INSERT INTO flashsale_payment.refund (sn, payment_sn, order_sn, user_id, amount, "
            f"total, reason, source, status, requested, success_time, create_time, update_time) "
            f"VALUES ('{rsn}', '{psn}', '{osn}', {int(self.uid)}, {amount}, {PRICE}, 'test', "
            f"'admin', '{status}', 1, {noon(day)}, {noon(day)}, {updated})")
        return rsn

    def reconcile(self, day, expect=None):
        cp = run_job("bill-reconcile", "--date", day)
        if expect is not None:
            self.assertEqual(cp.returncode, expect, cp.stdout + cp.stderr)
        return cp

    def view(self, day, token=None):
        r = get(RECONCILE, {"date": day}, token=token or self.admin)
        self.assertEqual((r.status, r.code), (200, 200), r)
        self.assertEqual(r.data["date"], day)
        return r.data

    def one_diff(self, day, kind):
        d = self.view(day)
        self.assertEqual(d["status"], "differences", d)
        self.assertEqual(len(d["diffs"]), 1, d)
        self.assertEqual(d["diffs"][0]["kind"], kind, d)
        return d["diffs"][0]

    def gauge(self, kind):
        r = get("/payment/v1/metrics")
        self.assertEqual(r.status, 200, r)
        m = re.search(r'^flashsale_reconcile_differences\{[^}]*kind="%s"\} (\d+)$' % kind, r.text,
                      re.M)
        self.assertTrue(m, r.text[:2000])
        return int(m.group(1))


class TestReconcile(ReconcileBase):

    def test_clean_day_reconciles_and_rerun_replaces_it(self):
        day = random_day()
        osn1, psn1 = self.paid_on(day)
        osn2, psn2 = self.paid_on(day)
        # A refund of the first: at WeChat (in the bill) and here.
        rsn = "RFD" + uuid.uuid4().hex[:20]
        control(bill_extra={"out_refund_no": rsn, "out_trade_no": psn1, "amount": 500,
                            "date": day})
        sql("INSERT INTO flashsale_payment.refund (sn, payment_sn, order_sn, user_id, amount, "
            "total, reason, source, status, requested, success_time, create_time, update_time) "
            f"VALUES ('{rsn}', '{psn1}', '{osn1}', {int(self.uid)}, 500, {PRICE}, 'test', "
            f"'admin', 'SUCCESS', 1, {noon(day)}, {noon(day)}, {noon(day)})")
        # Before the run: pending, with the local side counted now.
        d = self.view(day)
        self.assertEqual(d["status"], "pending")
        self.assertEqual(d["local"]["payments"], {"count": 2, "amount": 2 * PRICE})
        self.assertEqual(d["local"]["refunds"], {"count": 1, "amount": 500})
        self.assertEqual(d["diffs"], [])
        # settle marks the day's settlement pending until the bill is reconciled.
        self.assertTrue(wait_until(lambda: sql(
            "SELECT COUNT(*) FROM flashsale_order.orders WHERE trade_state = 1 AND sn IN "
            f"('{osn1}', '{osn2}')")[0][0] == "2", timeout=15))
        sql(f"UPDATE flashsale_order.orders SET pay_time = {noon(day)} WHERE sn IN "
            f"('{osn1}', '{osn2}')")
        self.assertEqual(run_job("settle", "--day", day).returncode, 0)
        self.assertEqual(sql("SELECT DISTINCT reconcile_status FROM flashsale_order.settlement "
                             f"WHERE day = '{day}'"), [["pending"]])

        for _ in range(2):  # a second run replaces the first
            cp = self.reconcile(day, expect=0)
            self.assertIn("0 differences", cp.stdout)
            d = self.view(day)
            self.assertEqual(d["status"], "reconciled", d)
            self.assertEqual(d["diffs"], [])
            for side in ("local", "wechat"):
                self.assertEqual(d[side]["payments"], {"count": 2, "amount": 2 * PRICE}, d)
                self.assertEqual(d[side]["refunds"], {"count": 1, "amount": 500}, d)
            self.assertIsInstance(d["reconcileTime"], int)
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_payment.reconcile_day WHERE "
                             f"bill_date = '{day}'"), [["1"]])
        self.assertEqual(self.gauge("only_wechat") + self.gauge("amount"), 0)
        self.assertEqual(run_job("settle", "--day", day).returncode, 0)
        self.assertEqual(sql("SELECT DISTINCT reconcile_status FROM flashsale_order.settlement "
                             f"WHERE day = '{day}'"), [["reconciled"]])
        # The admin list of days shows it.
        r = get(RECONCILE + "/days", {"limit": 366}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertIn({"date": day, "status": "reconciled", "differences": 0, "payments": 2,
                       "refunds": 1}, [{k: x[k] for k in ("date", "status", "differences",
                                                          "payments", "refunds")}
                                       for x in r.data["list"]])

    def test_day_without_bill_is_reconciled_empty(self):
        day = random_day()  # WeChat answers NO_STATEMENT_EXIST: no trades that day
        self.reconcile(day, expect=0)
        d = self.view(day)
        self.assertEqual(d["status"], "reconciled")
        self.assertEqual(d["wechat"]["payments"], {"count": 0, "amount": 0})

    def test_only_wechat_is_queried_and_applied(self):
        day = random_day()
        osn, psn = self.native()  # waiting here; WeChat took the money, no notification came
        control(bill_extra={"out_trade_no": psn, "date": day})
        self.assertEqual(self.payment_row(psn)[0], "0")
        self.reconcile(day, expect=3)
        diff = self.one_diff(day, "only_wechat")
        self.assertEqual(diff["outTradeNo"], psn)
        self.assertEqual(diff["local"], {"amount": PRICE, "state": "NOTPAY"})
        self.assertEqual(diff["wechat"], {"amount": PRICE, "state": "SUCCESS"})
        self.assertEqual(diff["resolution"], "applied")
        self.assertEqual(self.gauge("only_wechat"), 1)
        # Applied through the normal path: the payment is paid with WeChat's time, the order too.
        d = self.wait_paid(osn)
        self.assertEqual(d["payTime"], noon(day))
        self.assertTrue(wait_until(lambda: self.order_row(osn)[0] == "1", timeout=15))
        # Re-running the day now finds it in the books.
        self.reconcile(day, expect=0)
        self.assertEqual(self.view(day)["status"], "reconciled")
        self.assertEqual(self.gauge("only_wechat"), 0)

    def test_only_wechat_unknown_trade(self):
        day = random_day()
        sn = "PMTX" + uuid.uuid4().hex[:20]
        control(bill_extra={"out_trade_no": sn, "amount": 777, "date": day})
        self.reconcile(day, expect=3)
        diff = self.one_diff(day, "only_wechat")
        self.assertEqual((diff["outTradeNo"], diff["local"], diff["wechat"]["amount"],
                          diff["resolution"]), (sn, None, 777, "not_found"))

    def test_only_local(self):
        day = random_day()
        psn = "PMT" + uuid.uuid4().hex[:20]
        sql("INSERT INTO flashsale_payment.payment (sn, order_sn, user_id, trade_type, "
            "pay_total, pay_status, trade_state, transaction_id, pay_time, pay_deadline, "
            f"create_time, update_time) VALUES ('{psn}', 'ORDX{psn}', {int(self.uid)}, 'NATIVE', "
            f"321, 1, 'SUCCESS', '42000', {noon(day)}, {noon(day)}, {noon(day)}, {noon(day)})")
        self.reconcile(day, expect=3)
        diff = self.one_diff(day, "only_local")
        self.assertEqual((diff["outTradeNo"], diff["local"], diff["wechat"]),
                         (psn, {"amount": 321, "state": "SUCCESS"}, None))
        d = self.view(day)
        self.assertEqual(d["local"]["payments"], {"count": 1, "amount": 321})
        self.assertEqual(d["wechat"]["payments"], {"count": 0, "amount": 0})
        self.assertEqual(self.gauge("only_local"), 1)
        # A refund only here is one too.
        day2 = random_day()
        osn, psn2 = self.paid_on(day2)
        rsn = self.local_refund(psn2, osn, day2, 100)
        self.reconcile(day2, expect=3)
        diff = self.one_diff(day2, "only_local")
        self.assertEqual((diff["outTradeNo"], diff["outRefundNo"], diff["local"]),
                         (psn2, rsn, {"amount": 100, "state": "SUCCESS"}))

    def test_amount_difference(self):
        day = random_day()
        _, psn = self.paid_on(day)
        sql(f"UPDATE flashsale_payment.payment SET pay_total = pay_total + 1 WHERE sn = '{psn}'")
        self.reconcile(day, expect=3)
        diff = self.one_diff(day, "amount")
        self.assertEqual((diff["outTradeNo"], diff["local"]["amount"], diff["wechat"]["amount"]),
                         (psn, PRICE + 1, PRICE))
        self.assertEqual(self.gauge("amount"), 1)

    def test_state_difference(self):
        day = random_day()
        osn, psn = self.paid_on(day)
        # WeChat refunded it; here the refund is still waiting for its notification.
        rsn = self.local_refund(psn, osn, day, 300, status="PROCESSING")
        control(bill_extra={"out_refund_no": rsn, "out_trade_no": psn, "amount": 300,
                            "status": "SUCCESS", "date": day})
        self.reconcile(day, expect=3)
        diff = self.one_diff(day, "state")
        self.assertEqual((diff["outTradeNo"], diff["outRefundNo"]), (psn, rsn))
        self.assertEqual(diff["local"], {"amount": 300, "state": "PROCESSING"})
        self.assertEqual(diff["wechat"], {"amount": 300, "state": "SUCCESS"})
        self.assertEqual(self.gauge("state"), 1)
        # Once the refund is recorded as done, the day reconciles.
        sql(f"UPDATE flashsale_payment.refund SET status = 'SUCCESS' WHERE sn = '{rsn}'")
        self.reconcile(day, expect=0)
        self.assertEqual(self.view(day)["status"], "reconciled")

    def test_hash_mismatch_is_rejected(self):
        day = random_day()
        self.paid_on(day)
        control(bill_corrupt=True)
        cp = self.reconcile(day, expect=1)
        self.assertIn("hash mismatch", cp.stderr)
        self.assertEqual(self.view(day)["status"], "pending")
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_payment.reconcile_day WHERE "
                             f"bill_date = '{day}'"), [["0"]])
        self.reconcile(day, expect=0)  # the next (intact) download is accepted
        self.assertEqual(self.view(day)["status"], "reconciled")

    def test_bill_over_the_size_limit_is_refused(self):
        import os
        import tempfile
        day = random_day()
        control(bill_extra=[{"out_trade_no": "PMTL%02d%s" % (i, uuid.uuid4().hex[:16]),
                             "amount": 100 + i, "date": day} for i in range(12)])
        with open(os.path.join(VAR, "flashsale.conf")) as f:
            conf = f.read()
        conf = re.sub(r"(?m)^\[wxpay\]$", "[wxpay]\nbill_max_bytes = 1024", conf, count=1)
        with tempfile.NamedTemporaryFile("w", suffix=".conf", dir=VAR, delete=False) as f:
            f.write(conf)
        try:
            cp = run_job("bill-reconcile", "-c", f.name, "--date", day)
        finally:
            os.unlink(f.name)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("larger than", cp.stderr)
        self.assertEqual(self.view(day)["status"], "pending")
        self.reconcile(day, expect=3)  # within the default limit: 12 trades only WeChat knows
        self.assertEqual(len(self.view(day)["diffs"]), 12)

    def test_bad_dates(self):
        for bad in ["2026-02-30", "20261201", "2026-1-01", "yesterday", "2026-12-01x"]:
            with self.subTest(date=bad):
                r = get(RECONCILE, {"date": bad}, token=self.admin)
                self.assertEqual((r.status, r.code), (400, 100002), r)
                self.assertEqual(run_job("bill-reconcile", "--date", bad).returncode, 2)
        # Without a date: yesterday in Asia/Shanghai.
        r = get(RECONCILE, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.data["date"], time.strftime("%Y-%m-%d",
                                                       time.gmtime(time.time() + 8 * 3600 - 86400)))

    def test_admin_only(self):
        r = get(RECONCILE, {"date": "2024-01-01"})
        self.assertEqual((r.status, r.code), (401, 100003), r)
        _, user = register()
        r = get(RECONCILE, {"date": "2024-01-01"}, token=user)
        self.assertEqual((r.status, r.code), (403, 100008), r)
        r = get(RECONCILE + "/days", token=user)
        self.assertEqual((r.status, r.code), (403, 100008), r)


class TestSimulatorBill(ReconcileBase):
    """The simulator's tradebill and download as WeChat serves them: signed requests only."""

    def signed(self, path):
        ts, nonce = str(int(time.time())), uuid.uuid4().hex
        sig = rsa_sign(secret_path("wxpay_merchant_key.pem"), f"GET\n{path}\n{ts}\n{nonce}\n\n")
        return {"Authorization": "WECHATPAY2-SHA256-RSA2048 mchid=\"%s\",nonce_str=\"%s\","
                "signature=\"%s\",timestamp=\"%s\",serial_no=\"%s\"" % (
                    conf_value("wxpay", "mchid"), nonce, sig, ts, conf_value("wxpay", "serial_no"))}

    def test_bill_format_and_signed_download(self):
        import hashlib
        import urllib.parse
        day = random_day()
        _, psn = self.paid_on(day)
        path = f"/v3/bill/tradebill?bill_date={day}&bill_type=ALL"
        self.assertEqual(sim_call("GET", path).status, 401)
        r = sim_call("GET", path, headers=self.signed(path))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["hash_type"], "SHA1")
        u = urllib.parse.urlparse(r.json["download_url"])
        dpath = u.path + "?" + u.query
        self.assertEqual(sim_call("GET", dpath).status, 401)  # the download must be signed too
        f = sim_call("GET", dpath, headers=self.signed(dpath))
        self.assertEqual(f.status, 200, f)
        body = f.text.encode()
        self.assertEqual(hashlib.sha1(body).hexdigest(), r.json["hash_value"])
        lines = f.text.split("\r\n")
        self.assertTrue(lines[0].startswith("交易时间,公众账号ID,商户号"), lines[0])
        self.assertTrue(lines[1].startswith("`"), lines[1])
        self.assertIn("`" + psn + ",", lines[1])
        self.assertTrue(lines[2].startswith("总交易单数"), lines[2])
        self.assertEqual(lines[3].split(",")[:2], ["`1", "`%d.%02d" % (PRICE // 100, PRICE % 100)])
        # A day in the future has no bill; a malformed date is refused.
        for d, code in [("2999-01-01", "INVALID_REQUEST"), ("2024-02-30", "PARAM_ERROR")]:
            p = f"/v3/bill/tradebill?bill_date={d}&bill_type=ALL"
            r = sim_call("GET", p, headers=self.signed(p))
            self.assertEqual((r.status, r.json["code"]), (400, code), r)


if __name__ == "__main__":
    unittest.main()
