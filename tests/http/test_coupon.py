"""test_coupon - the coupon domain through the web server (API.md, "coupon") and coupons in orders.

Templates (validation changes nothing), ordinary claims (total and perUserLimit), flash claims
through Redis and the coupon-writer (300 users x 3 requests against 100 coupons give exactly
100, none over perUserLimit), redeem codes (hashed, once, rate-limited, the batch cap), and the
coupon in an order: locked by create (one order per coupon under concurrency, 700004 for the
others), released by cancel and timeout, used by payment, payTotal sent to WeChat Pay,
order/quote's breakdown and best coupon; bad coupons get their codes and change nothing.
"""
import hashlib
import os
import signal
import subprocess
import threading
import time
import unittest

import fslib
from fslib import get, post, sim_call, sql, wait_until

CV = "/coupon/v1"
OV = "/order/v1/order"


def user_id(token):
    r = post("/usercenter/v1/user/detail", {}, token=token)
    assert r.status == 200, r
    return r.data["userInfo"]["id"]


def one(q):
    """The single value of a SQL query, as int."""
    return int(sql(q)[0][0])


def coupon_row(cid):
    """status, order_sn of a coupon."""
    r = sql("SELECT status, order_sn FROM flashsale_coupon.coupon WHERE id = %d" % cid)[0]
    return int(r[0]), (r[1] if len(r) > 1 else "")


def run_parallel(fn, args, threads=20):
    """fn(arg) for each arg on a pool of threads; results in order."""
    out = [None] * len(args)
    idx = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = idx[0]
                idx[0] += 1
            if i >= len(args):
                return
            try:
                out[i] = fn(args[i])
            except Exception as e:  # noqa: BLE001 - recorded, asserted by the caller
                out[i] = e
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


class CouponBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = fslib.admin_token()
        _, cls.user = fslib.register()
        _, cls.other = fslib.register()

    def template(self, **fields):
        body = {"title": "test coupon", "kind": "amount", "amount": 5000, "minSpend": 20000,
                "total": 100, "perUserLimit": 5, "validDays": 7}
        body.update(fields)
        r = post(CV + "/admin/template/create", body, token=self.admin)
        self.assertEqual((r.status, r.code), (200, 200), r)
        return r.data["id"]

    def claim(self, tid, token=None):
        return post(CV + "/coupon/claim", {"templateId": tid}, token=token or self.user)

    def coupon(self, token=None, **fields):
        """A new template and one coupon of it claimed at once; its id."""
        r = self.claim(self.template(**fields), token)
        self.assertEqual((r.status, r.code), (200, 200), r)
        return r.data["couponId"]

    def order(self, pid, cid=None, token=None, qty=1):
        body = {"productId": pid, "quantity": qty}
        if cid is not None:
            body["couponId"] = cid
        return post(OV + "/create", body, token=token or self.user)

    def detail(self, sn, token=None):
        r = post(OV + "/detail", {"sn": sn}, token=token or self.user)
        self.assertEqual(r.code, 200, r)
        return r.data["order"]


class TestTemplates(CouponBase):
    def test_healthz_and_metrics(self):
        r = get(CV + "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "ok")
        m = get(CV + "/metrics")
        self.assertEqual(m.status, 200)
        self.assertIn("flashsale_coupon_flash_claims_total", m.text)

    def test_bad_templates_change_nothing(self):
        before = one("SELECT COUNT(*) FROM flashsale_coupon.template")
        now = int(time.time())
        bad = [dict(kind="discount", percent=0, maxDiscount=100),
               dict(kind="discount", percent=100),
               dict(amount=-1), dict(amount=0), dict(total=0), dict(perUserLimit=0),
               dict(kind="gift"), dict(minSpend=-5), dict(validDays=None, validTo=now - 10),
               dict(validDays=None), dict(flash=True), dict(flash="yes"),
               dict(productIds=[0]), dict(productIds="1,2"), dict(title=""),
               dict(validDays=None, validTo=now + 60, flash=True, startTime=now + 61)]
        for fields in bad:
            body = {"title": "bad", "kind": "amount", "amount": 100, "minSpend": 0,
                    "total": 10, "perUserLimit": 1, "validDays": 7}
            body.update(fields)
            body = {k: v for k, v in body.items() if v is not None}
            r = post(CV + "/admin/template/create", body, token=self.admin)
            self.assertEqual((r.status, r.code), (400, 100002), (fields, r))
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_coupon.template"), before)
        r = post(CV + "/admin/template/create", {"title": "x", "kind": "amount", "amount": 1,
                                                   "total": 1, "perUserLimit": 1,
                                                   "validDays": 1}, token=self.user)
        self.assertEqual(r.code, 100008, r)

    def test_list_shows_live_templates(self):
        tid = self.template(title="列表券")
        fid = self.template(title="flash list", flash=True, startTime=int(time.time()) + 3600,
                            total=7)
        r = get(CV + "/template/list", {"page": 1, "pageSize": 100})
        self.assertEqual(r.code, 200, r)
        self.assertLessEqual(abs(r.data["serverTime"] - time.time()), 5)
        by_id = {t["id"]: t for t in r.data["list"]}
        self.assertEqual(by_id[tid]["title"], "列表券")
        self.assertEqual(by_id[tid]["kind"], "amount")
        self.assertIs(by_id[tid]["flash"], False)
        self.assertIs(by_id[fid]["flash"], True)
        self.assertEqual(by_id[fid]["remaining"], 7)
        post(CV + "/admin/template/stop", {"id": tid}, token=self.admin)
        r = get(CV + "/template/list", {"page": 1, "pageSize": 100})
        self.assertNotIn(tid, [t["id"] for t in r.data["list"]])


class TestClaims(CouponBase):
    def test_ordinary_claim_limits(self):
        tid = self.template(total=3, perUserLimit=2)
        a = self.claim(tid)
        self.assertEqual(a.code, 200, a)
        self.assertEqual(self.claim(tid).code, 200)
        r = self.claim(tid)
        self.assertEqual((r.status, r.code), (409, 700003), r)
        self.assertEqual(self.claim(tid, self.other).code, 200)
        r = self.claim(tid, self.other)
        self.assertEqual((r.status, r.code), (409, 700002), r)
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_coupon.coupon WHERE template_id = %d"
                             % tid), 3)
        mine = post(CV + "/coupon/mine", {"status": "unused"}, token=self.user)
        got = [c for c in mine.data["list"] if c["templateId"] == tid]
        self.assertEqual(len(got), 2)
        c = got[0]
        self.assertEqual((c["kind"], c["amount"], c["minSpend"], c["status"]),
                         ("amount", 5000, 20000, "unused"))
        self.assertAlmostEqual(c["validTo"] - c["validFrom"], 7 * 86400, delta=2)

    def test_unknown_stopped_and_bad_claims(self):
        r = self.claim(987654321)
        self.assertEqual((r.status, r.code), (404, 700001), r)
        tid = self.template()
        r = post(CV + "/admin/template/stop", {"id": tid}, token=self.admin)
        self.assertEqual(r.code, 200, r)
        r = self.claim(tid)
        self.assertEqual((r.status, r.code), (409, 700005), r)
        r = post(CV + "/admin/template/stop", {"id": 987654321}, token=self.admin)
        self.assertEqual((r.status, r.code), (404, 700001), r)
        fid = self.template(flash=True, startTime=int(time.time()) - 1)
        self.assertEqual(self.claim(fid).code, 200)
        self.assertEqual(post(CV + "/admin/template/stop", {"id": fid}, token=self.admin).code,
                         200)
        r = self.claim(fid)
        self.assertEqual((r.status, r.code), (409, 700005), r)
        for body in ({}, {"templateId": "x"}, {"templateId": 0}):
            r = post(CV + "/coupon/claim", body, token=self.user)
            self.assertEqual(r.code, 100002, r)
        self.assertEqual(post(CV + "/coupon/claim", {"templateId": tid}).code, 100003)
        r = post(CV + "/coupon/mine", {"status": "lost"}, token=self.user)
        self.assertEqual(r.code, 100002, r)

    def wait_result(self, rid, token):
        def done():
            r = post(CV + "/coupon/result", {"requestId": rid}, token=token)
            return r.data if r.code == 200 and r.data["status"] != "queued" else None
        d = wait_until(done, timeout=20)
        self.assertTrue(d, "claim %s still queued after 20 s" % rid)
        return d

    def test_flash_not_open_then_grab(self):
        start = int(time.time()) + 2
        tid = self.template(flash=True, startTime=start, total=5, perUserLimit=1)
        r = self.claim(tid)
        self.assertEqual((r.status, r.code), (409, 700005), r)
        r = wait_until(lambda: (lambda x: x if x.code == 200 else None)(self.claim(tid)),
                       timeout=10, interval=0.1)
        self.assertTrue(r, "flash claim not open 8 s after its start")
        self.assertEqual(r.data["status"], "queued")
        d = self.wait_result(r.data["requestId"], self.user)
        self.assertEqual(d["status"], "success", d)
        status, _ = coupon_row(d["couponId"])
        self.assertEqual(status, 0)
        r = self.claim(tid)
        self.assertEqual((r.status, r.code), (409, 700003), r)
        # Someone else's request id is not found.
        r = post(CV + "/coupon/result", {"requestId": r.data["requestId"] if r.data else
                                         "%d-%s" % (tid, "0" * 32)}, token=self.other)
        self.assertEqual(r.code, 700001, r)

    def test_flash_crowd_exactly_total(self):
        """300 users x 3 requests against 100 coupons (limit 2): exactly 100, none over 2."""
        tid = self.template(flash=True, startTime=int(time.time()) - 1, total=100,
                            perUserLimit=2, title="flash crowd")
        users = run_parallel(lambda _: fslib.register()[1], list(range(300)), threads=16)
        self.assertTrue(all(isinstance(u, str) for u in users), users[:3])
        res = run_parallel(lambda t: self.claim(tid, t), [u for u in users for _ in range(3)],
                           threads=32)
        self.assertFalse([r for r in res if isinstance(r, Exception)])
        queued = [r for r in res if r.code == 200]
        codes = {r.code for r in res}
        self.assertTrue(codes <= {200, 700002, 700003}, codes)
        self.assertEqual(len(queued), 100)

        def written():
            n = one("SELECT COUNT(*) FROM flashsale_coupon.coupon WHERE template_id = %d" % tid)
            return n if n >= 100 else None
        self.assertEqual(wait_until(written, timeout=30), 100)
        time.sleep(0.5)  # nothing more may arrive: the count stays exact
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_coupon.coupon WHERE template_id = %d"
                             % tid), 100)
        self.assertEqual(one("SELECT issued FROM flashsale_coupon.template WHERE id = %d" % tid),
                         100)
        self.assertEqual(one("SELECT IFNULL(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM "
                             "flashsale_coupon.coupon WHERE template_id = %d GROUP BY user_id) x"
                             % tid), 2)
        self.assertEqual(fslib.redis("GET", "{c:%d}:left" % tid), "0")
        r = self.claim(tid, users[0])
        self.assertIn(r.code, (700002, 700003), r)


class TestClaimsUnderStress(CouponBase):
    def count(self, tid):
        return one("SELECT COUNT(*) FROM flashsale_coupon.coupon WHERE template_id = %d" % tid)

    def max_per_user(self, tid):
        return one("SELECT IFNULL(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM "
                   "flashsale_coupon.coupon WHERE template_id = %d GROUP BY user_id) x" % tid)

    def test_ordinary_crowd_exactly_total(self):
        tid = self.template(total=20, perUserLimit=2)
        users = run_parallel(lambda _: fslib.register()[1], list(range(30)), threads=10)
        res = run_parallel(lambda t: self.claim(tid, t), [u for u in users for _ in range(3)],
                           threads=24)
        self.assertEqual(len([r for r in res if r.code == 200]), 20, res)
        self.assertTrue({r.code for r in res} <= {200, 700002, 700003}, {r.code for r in res})
        self.assertEqual(self.count(tid), 20)
        self.assertLessEqual(self.max_per_user(tid), 2)
        self.assertEqual(one("SELECT issued FROM flashsale_coupon.template WHERE id = %d" % tid),
                         20)

    def writer_pid(self):
        with open(os.path.join(fslib.RUN, "coupon-writer.pid")) as f:
            sup = f.read().strip()
        out = subprocess.run(["pgrep", "-P", sup], capture_output=True, text=True).stdout
        self.assertTrue(out.split(), "no coupon-writer under its supervisor")
        return int(out.split()[0])

    def test_writer_killed_loses_nothing(self):
        tid = self.template(flash=True, startTime=int(time.time()) - 1, total=50,
                            perUserLimit=1)
        users = run_parallel(lambda _: fslib.register()[1], list(range(20)), threads=10)
        pid = self.writer_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            res = run_parallel(lambda t: self.claim(tid, t), users, threads=10)
            self.assertEqual([r.code for r in res], [200] * 20, res)
            self.assertEqual(self.count(tid), 0)
        finally:
            os.kill(pid, signal.SIGKILL)
        self.assertEqual(wait_until(lambda: self.count(tid) == 20 and 20, timeout=40), 20,
                         "claims of the killed writer were not written by its successor")
        for r, u in zip(res, users):
            d = wait_until(lambda: (lambda x: x.data if x.data["status"] != "queued" else None)(
                post(CV + "/coupon/result", {"requestId": r.data["requestId"]}, token=u)),
                timeout=10)
            self.assertEqual(d and d["status"], "success", d)
        self.assertEqual(fslib.redis("XLEN", "{c:%d}:claims" % tid), "0")

    def test_lost_redis_state_is_reloaded(self):
        tid = self.template(flash=True, startTime=int(time.time()) - 1, total=10,
                            perUserLimit=5)
        for _ in range(3):
            self.assertEqual(self.claim(tid).code, 200)
        self.assertTrue(wait_until(lambda: self.count(tid) == 3, timeout=20))
        fslib.redis("DEL", "{c:%d}:info" % tid, "{c:%d}:left" % tid, "{c:%d}:users" % tid)
        r = self.claim(tid)
        self.assertEqual(r.code, 200, r)
        self.assertTrue(wait_until(lambda: self.count(tid) == 4, timeout=20))
        self.assertEqual(fslib.redis("GET", "{c:%d}:left" % tid), "6")


class TestCodes(CouponBase):
    def test_batch_redeem_once_hashed(self):
        tid = self.template(total=10, perUserLimit=10)
        r = post(CV + "/admin/code/batch", {"templateId": tid, "count": 5}, token=self.admin)
        self.assertEqual(r.code, 200, r)
        codes = r.data["codes"]
        self.assertEqual(len(set(codes)), 5)
        for c in codes:
            self.assertRegex(c, r"^[0-9a-f]{32}$")
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_coupon.code WHERE code_hash = '%s'"
                             % codes[0]), 0)
        h = hashlib.sha256(codes[0].encode()).hexdigest()
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_coupon.code WHERE code_hash = '%s'"
                             % h), 1)
        r = post(CV + "/coupon/redeem", {"code": codes[0].upper()}, token=self.user)
        self.assertEqual(r.code, 200, r)
        cid = r.data["couponId"]
        self.assertEqual(one("SELECT user_id FROM flashsale_coupon.coupon WHERE id = %d" % cid),
                         user_id(self.user))
        r = post(CV + "/coupon/redeem", {"code": codes[0]}, token=self.other)
        self.assertEqual((r.status, r.code), (409, 700004), r)
        r = post(CV + "/coupon/redeem", {"code": "0" * 32}, token=self.other)
        self.assertEqual((r.status, r.code), (404, 700001), r)

    def test_bad_batches_and_codes(self):
        tid = self.template()
        before = one("SELECT COUNT(*) FROM flashsale_coupon.code")
        for body in ({"templateId": tid, "count": 10001}, {"templateId": tid, "count": 0},
                     {"templateId": tid}, {"count": 5}):
            r = post(CV + "/admin/code/batch", body, token=self.admin)
            self.assertEqual((r.status, r.code), (400, 100002), (body, r))
        r = post(CV + "/admin/code/batch", {"templateId": 987654321, "count": 1},
                 token=self.admin)
        self.assertEqual(r.code, 700001, r)
        r = post(CV + "/admin/code/batch", {"templateId": tid, "count": 1}, token=self.user)
        self.assertEqual(r.code, 100008, r)
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_coupon.code"), before)
        _, tok = fslib.register()
        coupons = one("SELECT COUNT(*) FROM flashsale_coupon.coupon")
        for code in ("xyz", "g" * 32, "0" * 31, "0" * 33):
            r = post(CV + "/coupon/redeem", {"code": code}, token=tok)
            self.assertEqual((r.status, r.code), (400, 100002), (code, r))
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_coupon.coupon"), coupons)

    def test_redeem_rate_limited_per_user(self):
        _, tok = fslib.register()
        limit = int(fslib.conf_value("coupon", "redeem_per_user") or 10)
        codes = [post(CV + "/coupon/redeem", {"code": "%032x" % i}, token=tok).code
                 for i in range(limit + 1)]
        self.assertEqual(codes[:limit], [700001] * limit)
        r = post(CV + "/coupon/redeem", {"code": "%032x" % 99}, token=tok)
        self.assertEqual((r.status, r.code), (429, 100007), r)
        self.assertTrue(int(r.headers.get("retry-after", "0")) >= 1, r.headers)


class TestCouponOrders(CouponBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pid = fslib.create_product(cls.admin, price=30000, stock=1000)
        cls.pid2 = fslib.create_product(cls.admin, price=30000, stock=1000)

    def test_lock_cancel_release_reuse(self):
        cid = self.coupon()
        r = self.order(self.pid, cid)
        self.assertEqual(r.code, 200, r)
        sn = r.data["orderSn"]
        o = self.detail(sn)
        self.assertEqual((o["totalPrice"], o["discount"], o["payTotal"], o["couponId"]),
                         (30000, 5000, 25000, cid))
        self.assertEqual(coupon_row(cid), (1, sn))
        stock = fslib.product_stock(self.pid)
        r = self.order(self.pid, cid)
        self.assertEqual((r.status, r.code), (409, 700004), r)
        self.assertEqual(fslib.product_stock(self.pid), stock)
        mine = post(CV + "/coupon/mine", {"status": "locked"}, token=self.user)
        self.assertIn(cid, [c["id"] for c in mine.data["list"]])
        self.assertEqual(post(OV + "/cancel", {"sn": sn}, token=self.user).code, 200)
        self.assertEqual(coupon_row(cid), (0, ""))
        r = self.order(self.pid, cid)
        self.assertEqual(r.code, 200, r)
        self.assertEqual(self.detail(r.data["orderSn"])["payTotal"], 25000)

    def test_timeout_releases(self):
        cid = self.coupon()
        sn = self.order(self.pid, cid).data["orderSn"]
        sql("UPDATE flashsale_order.orders SET pay_deadline = UNIX_TIMESTAMP() - 5 "
            "WHERE sn = '%s'" % sn)
        cp = fslib.run_job("order-timeout")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(self.detail(sn)["tradeState"], -1)
        self.assertEqual(coupon_row(cid), (0, ""))

    def test_concurrent_orders_one_coupon(self):
        cid = self.coupon()
        stock = fslib.product_stock(self.pid2)
        res = run_parallel(lambda _: self.order(self.pid2, cid), list(range(12)), threads=12)
        ok = [r for r in res if r.code == 200]
        self.assertEqual(len(ok), 1, res)
        self.assertEqual(sorted({r.code for r in res if r.code != 200}), [700004], res)
        self.assertEqual(fslib.product_stock(self.pid2), stock - 1)
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_order.orders WHERE coupon_id = %d"
                             % cid), 1)

    def assert_refused(self, pid, cid, code, token=None, qty=1):
        stock = fslib.product_stock(pid)
        orders = one("SELECT COUNT(*) FROM flashsale_order.orders")
        before = sql("SELECT status, order_sn FROM flashsale_coupon.coupon WHERE id = %d" % cid)
        r = self.order(pid, cid, token=token, qty=qty)
        self.assertEqual(r.code, code, r)
        self.assertEqual(fslib.product_stock(pid), stock)
        self.assertEqual(one("SELECT COUNT(*) FROM flashsale_order.orders"), orders)
        self.assertEqual(sql("SELECT status, order_sn FROM flashsale_coupon.coupon WHERE id = %d"
                             % cid), before)
        return r

    def test_bad_coupons_change_nothing(self):
        cid = self.coupon()
        self.assert_refused(self.pid, cid, 700001, token=self.other)  # someone else's
        self.assert_refused(self.pid, 987654321, 700001)
        r = self.order(self.pid, cid, qty=1)  # not too small: 30000 >= 20000 passes...
        self.assertEqual(r.code, 200)
        post(OV + "/cancel", {"sn": r.data["orderSn"]}, token=self.user)
        low = fslib.create_product(self.admin, price=10000, stock=10)
        r = self.assert_refused(low, cid, 700004)  # below the minimum spend
        self.assertIn("minimum", r.json["msg"])
        only = self.coupon(productIds=[self.pid2])
        mine = post(CV + "/coupon/mine", {}, token=self.user).data["list"]
        self.assertEqual([c["productIds"] for c in mine if c["id"] == only], [[self.pid2]])
        r = self.assert_refused(self.pid, only, 700004)  # wrong product
        self.assertIn("product", r.json["msg"])
        expired = self.coupon()
        sql("UPDATE flashsale_coupon.coupon SET valid_to = UNIX_TIMESTAMP() - 1 WHERE id = %d"
            % expired)
        r = self.assert_refused(self.pid, expired, 700004)
        self.assertIn("expired", r.json["msg"])
        used = self.coupon()
        sql("UPDATE flashsale_coupon.coupon SET status = 2 WHERE id = %d" % used)
        self.assert_refused(self.pid, used, 700004)
        r = self.order(self.pid, "abc")
        self.assertEqual(r.code, 100002, r)

    def test_quote_and_best(self):
        _, tok = fslib.register()
        small = self.coupon(tok, amount=1000, minSpend=0)
        pct = self.coupon(tok, kind="discount", percent=20, maxDiscount=4000, minSpend=0)
        big = self.coupon(tok, amount=3000, minSpend=50000)  # needs quantity 2
        self.coupon(tok, amount=9000, minSpend=0, productIds=[self.pid2])  # other product
        def q(**b):
            return post(OV + "/quote", {"productId": self.pid, "quantity": 1, **b}, token=tok)
        r = q()
        self.assertEqual(r.code, 200, r)
        d = r.data
        self.assertEqual((d["unitPrice"], d["totalPrice"], d["discount"], d["payTotal"]),
                         (30000, 30000, 0, 30000))
        self.assertIsNone(d["coupon"])
        self.assertEqual((d["bestCouponId"], d["bestDiscount"]), (pct, 4000))
        r = q(couponId=pct)
        self.assertEqual((r.data["discount"], r.data["payTotal"]), (4000, 26000), r)
        self.assertEqual(r.data["coupon"]["id"], pct)
        self.assertEqual(q(couponId=small).data["discount"], 1000)
        r = q(couponId=big)
        self.assertEqual((r.status, r.code), (409, 700004), r)
        r = q(couponId=big, quantity=2)
        self.assertEqual((r.data["payTotal"], r.data["bestCouponId"]), (57000, pct), r)
        self.assertEqual(q(couponId=small, productId=987654321).code, 300001)
        self.assertEqual(post(OV + "/quote", {"productId": self.pid, "couponId": pct},
                              token=self.other).code, 700001)

    def test_pay_total_sent_and_coupon_used(self):
        cid = self.coupon(kind="discount", percent=10, minSpend=0)
        sn = self.order(self.pid, cid).data["orderSn"]
        self.assertEqual(self.detail(sn)["payTotal"], 27000)
        r = post("/payment/v1/thirdPayment/thirdPaymentWxPay",
                 {"orderSn": sn, "serviceType": "order", "tradeType": "NATIVE"}, token=self.user)
        self.assertEqual(r.code, 200, r)
        psn = sql("SELECT sn, pay_total FROM flashsale_payment.payment WHERE order_sn = '%s'"
                  % sn)[0]
        self.assertEqual(int(psn[1]), 27000)
        t = sim_call("GET", "/simulator/trades/" + psn[0]).json
        self.assertEqual(t["amount"]["total"], 27000, t)
        r = sim_call("POST", "/simulator/pay", {"out_trade_no": psn[0]})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(wait_until(lambda: self.detail(sn)["tradeState"] == 1, timeout=20), sn)
        self.assertTrue(wait_until(lambda: coupon_row(cid)[0] == 2, timeout=5), coupon_row(cid))
        mine = post(CV + "/coupon/mine", {"status": "used"}, token=self.user)
        self.assertIn(cid, [c["id"] for c in mine.data["list"]])
        r = self.order(self.pid, cid)
        self.assertEqual(r.code, 700004, r)


if __name__ == "__main__":
    unittest.main()
