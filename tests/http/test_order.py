"""test_order - the order domain through the web server (API.md, "order").

Create (product stock taken in the same transaction, 300001/300002/100002 change nothing),
detail and list of the caller's own orders only (400001 for another user's), list paging by
lastId and the tradeState filter, cancel (stock returned exactly once, 400002 after), and a
concurrent create race that must not oversell.
"""
import os
import threading
import time
import unittest

import fslib
from fslib import post, sql

OV = "/order/v1/order"
FIELDS = ("id", "sn", "userId", "productId", "activityId", "orderType", "title", "cover",
          "quantity", "unitPrice", "totalPrice", "tradeState", "createTime", "payDeadline",
          "payTime", "payType", "remark", "couponId", "discount", "payTotal", "refunded",
          "refundStatus")


def order_count(pid):
    """Orders of a product in MariaDB."""
    return int(sql("SELECT COUNT(*) FROM flashsale_order.orders WHERE product_id = %d" % pid)[0][0])


class OrderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = fslib.admin_token()
        _, cls.user = fslib.register()
        _, cls.other = fslib.register()

    def create(self, pid, qty=1, token=None, **extra):
        body = {"productId": pid, "quantity": qty}
        body.update(extra)
        return post(OV + "/create", body, token=token or self.user)

    def test_create_detail_fields(self):
        pid = fslib.create_product(self.admin, price=1234, stock=10, cover="/img/placeholder.svg")
        before = int(time.time())
        r = self.create(pid, 3, remark="leave at the door 门口")
        self.assertEqual((r.status, r.code), (200, 200), r)
        sn = r.data["orderSn"]
        self.assertTrue(sn.startswith("ORD"), sn)
        self.assertEqual(fslib.product_stock(pid), 7)
        d = post(OV + "/detail", {"sn": sn}, token=self.user)
        self.assertEqual(d.code, 200, d)
        o = d.data["order"]
        self.assertEqual(set(o), set(FIELDS))
        self.assertEqual(o["sn"], sn)
        self.assertEqual(o["productId"], pid)
        self.assertEqual(o["activityId"], 0)
        self.assertEqual(o["orderType"], "normal")
        self.assertEqual(o["quantity"], 3)
        self.assertEqual(o["unitPrice"], 1234)
        self.assertEqual(o["totalPrice"], 3702)
        self.assertEqual(o["tradeState"], 0)
        self.assertEqual(o["payTime"], 0)
        self.assertEqual(o["cover"], "/img/placeholder.svg")
        self.assertEqual(o["remark"], "leave at the door 门口")
        for k in ("id", "userId", "createTime", "payDeadline", "payTime"):
            self.assertIsInstance(o[k], int, k)
        self.assertGreaterEqual(o["createTime"], before - 1)
        # the test stack keeps the default 15 minute timeout unless configured otherwise
        timeout = int(sql("SELECT pay_deadline - create_time FROM flashsale_order.orders "
                          "WHERE sn = '%s'" % sn)[0][0])
        self.assertEqual(o["payDeadline"] - o["createTime"], timeout)
        self.assertGreater(timeout, 0)
        merchant = sql("SELECT o.merchant_id = p.merchant_id FROM flashsale_order.orders o "
                       "JOIN flashsale_product.product p ON p.id = o.product_id "
                       "WHERE o.sn = '%s'" % sn)[0][0]
        self.assertEqual(merchant, "1")

    def test_bad_input_changes_nothing(self):
        pid = fslib.create_product(self.admin, stock=5)
        for body in ({"productId": pid, "quantity": 0}, {"productId": pid, "quantity": 100},
                     {"productId": pid}, {"quantity": 1}, {"productId": "x", "quantity": 1},
                     {"productId": pid, "quantity": 1.5},
                     {"productId": pid, "quantity": 1, "remark": "r" * 256},
                     {"productId": pid, "quantity": 1, "remark": 7}):
            r = post(OV + "/create", body, token=self.user)
            self.assertEqual((r.status, r.code), (400, 100002), (body, r))
        self.assertEqual(fslib.product_stock(pid), 5)
        self.assertEqual(order_count(pid), 0)
        # 255 characters is the limit, not beyond
        r = self.create(pid, 1, remark="订" * 255)
        self.assertEqual(r.code, 200, r)

    def test_healthz_and_metrics(self):
        r = fslib.get("/order/v1/healthz")
        self.assertEqual((r.status, r.json), (200, {"status": "ok",
                                                   "checks": {"mysql": "ok", "redis": "ok"}}))
        self.assertEqual(post(OV + "/detail", {"sn": "x"}, token=self.user).code, 400001)
        m = fslib.get("/order/v1/metrics")
        self.assertEqual(m.status, 200, m)
        self.assertIn('route="/order/v1/order/detail"', m.text)

    def test_auth_required(self):
        r = post(OV + "/create", {"productId": 1, "quantity": 1})
        self.assertEqual((r.status, r.code), (401, 100003), r)
        r = post(OV + "/list", {"lastId": 0, "pageSize": 10, "tradeState": -99},
                 token="not-a-token")
        self.assertEqual((r.status, r.code), (401, 100003), r)

    def test_product_not_found(self):
        missing = int(sql("SELECT COALESCE(MAX(id), 0) + 1000 FROM flashsale_product.product")
                      [0][0])
        r = self.create(missing)
        self.assertEqual((r.status, r.code), (404, 300001), r)
        off = fslib.create_product(self.admin, stock=5, status=0)
        r = self.create(off)
        self.assertEqual((r.status, r.code), (404, 300001), r)
        gone = fslib.create_product(self.admin, stock=5)
        d = post("/product/v1/admin/product/delete", {"id": gone}, token=self.admin)
        self.assertEqual(d.code, 200, d)
        r = self.create(gone)
        self.assertEqual((r.status, r.code), (404, 300001), r)
        self.assertEqual(fslib.product_stock(off), 5)
        self.assertEqual(fslib.product_stock(gone), 5)
        self.assertEqual(order_count(off) + order_count(gone), 0)

    def test_stock_short(self):
        pid = fslib.create_product(self.admin, stock=2)
        r = self.create(pid, 3)
        self.assertEqual((r.status, r.code), (409, 300002), r)
        self.assertEqual(fslib.product_stock(pid), 2)
        self.assertEqual(order_count(pid), 0)
        self.assertEqual(self.create(pid, 2).code, 200)
        self.assertEqual(fslib.product_stock(pid), 0)
        r = self.create(pid, 1)
        self.assertEqual((r.status, r.code), (409, 300002), r)
        self.assertEqual(fslib.product_stock(pid), 0)
        self.assertEqual(order_count(pid), 1)
        # the public product detail shows the new stock (the cache was dropped)
        g = fslib.get("/product/v1/product/detail", {"id": pid}, token=self.user)
        self.assertEqual(g.data["product"]["stock"], 0, g)

    def test_other_users_order(self):
        pid = fslib.create_product(self.admin, stock=5)
        sn = self.create(pid, 1).data["orderSn"]
        r = post(OV + "/detail", {"sn": sn}, token=self.other)
        self.assertEqual((r.status, r.code), (404, 400001), r)
        r = post(OV + "/cancel", {"sn": sn}, token=self.other)
        self.assertEqual((r.status, r.code), (404, 400001), r)
        self.assertEqual(fslib.product_stock(pid), 4)
        lst = post(OV + "/list", {"lastId": 0, "pageSize": 100, "tradeState": -99},
                   token=self.other).data["list"]
        self.assertNotIn(sn, [o["sn"] for o in lst])
        r = post(OV + "/detail", {"sn": "ORD-no-such-order"}, token=self.user)
        self.assertEqual((r.status, r.code), (404, 400001), r)
        r = post(OV + "/detail", {}, token=self.user)
        self.assertEqual((r.status, r.code), (400, 100002), r)

    def test_cancel_returns_stock_once(self):
        pid = fslib.create_product(self.admin, stock=10)
        sn = self.create(pid, 4).data["orderSn"]
        self.assertEqual(fslib.product_stock(pid), 6)
        r = post(OV + "/cancel", {"sn": sn}, token=self.user)
        self.assertEqual((r.status, r.code), (200, 200), r)
        self.assertEqual(r.data, {})
        self.assertEqual(fslib.product_stock(pid), 10)
        o = post(OV + "/detail", {"sn": sn}, token=self.user).data["order"]
        self.assertEqual(o["tradeState"], -1)
        reason = sql("SELECT cancel_reason FROM flashsale_order.orders WHERE sn = '%s'" % sn)
        self.assertEqual(reason, [["user"]])
        r = post(OV + "/cancel", {"sn": sn}, token=self.user)
        self.assertEqual((r.status, r.code), (409, 400002), r)
        self.assertEqual(fslib.product_stock(pid), 10)

    def test_cancel_race_returns_once(self):
        pid = fslib.create_product(self.admin, stock=10)
        sn = self.create(pid, 5).data["orderSn"]
        codes = []

        def cancel():
            codes.append(post(OV + "/cancel", {"sn": sn}, token=self.user).code)
        ts = [threading.Thread(target=cancel) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(sorted(codes), [200] + [400002] * 5)
        self.assertEqual(fslib.product_stock(pid), 10)

    def test_paid_order_cannot_be_cancelled(self):
        pid = fslib.create_product(self.admin, stock=3)
        sn = self.create(pid, 1).data["orderSn"]
        sql("UPDATE flashsale_order.orders SET trade_state = 1, pay_time = UNIX_TIMESTAMP() "
            "WHERE sn = '%s'" % sn)
        r = post(OV + "/cancel", {"sn": sn}, token=self.user)
        self.assertEqual((r.status, r.code), (409, 400002), r)
        self.assertEqual(fslib.product_stock(pid), 2)

    def test_list_paging_and_filter(self):
        _, tok = fslib.register()
        pid = fslib.create_product(self.admin, stock=50)
        sns = [self.create(pid, 1, token=tok).data["orderSn"] for _ in range(7)]
        for sn in sns[:2]:
            self.assertEqual(post(OV + "/cancel", {"sn": sn}, token=tok).code, 200)
        seen, last = [], 0
        while True:
            r = post(OV + "/list", {"lastId": last, "pageSize": 3, "tradeState": -99}, token=tok)
            self.assertEqual(r.code, 200, r)
            page = r.data["list"]
            self.assertLessEqual(len(page), 3)
            if not page:
                break
            ids = [o["id"] for o in page]
            self.assertEqual(ids, sorted(ids, reverse=True))
            if last:
                self.assertTrue(all(i < last for i in ids))
            seen += page
            last = ids[-1]
        self.assertEqual([o["sn"] for o in seen], list(reversed(sns)))
        for o in seen:
            self.assertEqual(set(o), set(FIELDS))
        waiting = post(OV + "/list", {"lastId": 0, "pageSize": 100, "tradeState": 0},
                       token=tok).data["list"]
        self.assertEqual([o["sn"] for o in waiting], list(reversed(sns[2:])))
        cancelled = post(OV + "/list", {"lastId": 0, "pageSize": 100, "tradeState": -1},
                         token=tok).data["list"]
        self.assertEqual([o["sn"] for o in cancelled], list(reversed(sns[:2])))
        paid = post(OV + "/list", {"lastId": 0, "pageSize": 100, "tradeState": 1},
                    token=tok).data["list"]
        self.assertEqual(paid, [])
        for bad in ({"pageSize": 0}, {"pageSize": 101}, {"tradeState": -2}, {"tradeState": 4},
                    {"lastId": -1}, {"tradeState": "all"}):
            body = {"lastId": 0, "pageSize": 10, "tradeState": -99}
            body.update(bad)
            r = post(OV + "/list", body, token=tok)
            self.assertEqual((r.status, r.code), (400, 100002), (bad, r))

    def test_concurrent_creates_never_oversell(self):
        pid = fslib.create_product(self.admin, stock=5)
        codes = []
        lock = threading.Lock()

        def buy():
            r = self.create(pid, 1)
            with lock:
                codes.append(r.code)
        ts = [threading.Thread(target=buy) for _ in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(codes.count(200), 5, codes)
        self.assertEqual(codes.count(300002), 7, codes)
        self.assertEqual(fslib.product_stock(pid), 0)
        self.assertEqual(order_count(pid), 5)


class SeckillCancelTest(unittest.TestCase):
    """A seckill order's units go back to its activity (MySQL and Redis), exactly once."""

    @classmethod
    def setUpClass(cls):
        cls.admin = fslib.admin_token()

    def setUp(self):
        # The seckill domain always runs in the stack; the order-writer unless configured out.
        self.assertEqual(fslib.get("/seckill/v1/healthz").status, 200, "seckill domain down")
        fslib.require_daemon(self, "order-writer")

    def activity(self):
        """(activity id, product id): live now, 10 units, 2 per user."""
        pid = fslib.create_product(self.admin, price=5000, stock=110)
        now = int(time.time())
        r = post("/seckill/v1/admin/activity/create",
                 {"productId": pid, "seckillPrice": 1000, "stock": 10, "perUserLimit": 2,
                  "startTime": now - 1, "endTime": now + 600}, token=self.admin)
        self.assertEqual(r.code, 200, r)
        return r.data["id"], pid

    def buy(self, tok, aid, qty):
        """A seckill purchase through to its order; returns the order sn."""
        t = post("/seckill/v1/seckill/token", {"activityId": aid}, token=tok)
        self.assertEqual(t.code, 200, t)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": t.data["token"],
                                            "quantity": qty}, token=tok,
                 query={"activityId": aid})
        self.assertEqual(r.code, 200, r)
        rid = r.data["requestId"]

        def done():
            x = post("/seckill/v1/seckill/result", {"requestId": rid}, token=tok)
            return x.data if x.code == 200 and x.data["status"] != "queued" else None
        res = fslib.wait_until(done, timeout=20)
        self.assertTrue(res and res["status"] == "success", res)
        return res["orderSn"]

    def state(self, aid, uid):
        """(sold in MySQL, user's quota in MySQL, remaining in Redis, user's units in Redis)."""
        sold = int(sql("SELECT sold FROM flashsale_seckill.activity WHERE id = %d" % aid)[0][0])
        q = sql("SELECT units FROM flashsale_seckill.user_quota WHERE activity_id = %d AND "
                "user_id = %d" % (aid, uid))
        left = fslib.redis("GET", "{a:%d}:stock" % aid)
        held = fslib.redis("HGET", "{a:%d}:users" % aid, str(uid))
        return sold, int(q[0][0]) if q else 0, int(left), int(held or 0)

    def test_cancel_returns_units_to_activity_once(self):
        aid, pid = self.activity()
        _, tok = fslib.register()
        uid = post("/usercenter/v1/user/detail", {}, token=tok).data["userInfo"]["id"]
        sn = self.buy(tok, aid, 2)
        o = post(OV + "/detail", {"sn": sn}, token=tok).data["order"]
        self.assertEqual((o["orderType"], o["activityId"], o["quantity"], o["unitPrice"]),
                         ("seckill", aid, 2, 1000))
        self.assertEqual(self.state(aid, uid), (2, 2, 8, 2))
        product_before = fslib.product_stock(pid)
        r = post(OV + "/cancel", {"sn": sn}, token=tok)
        self.assertEqual(r.code, 200, r)
        self.assertEqual(self.state(aid, uid), (0, 0, 10, 0))
        self.assertEqual(fslib.product_stock(pid), product_before)
        r = post(OV + "/cancel", {"sn": sn}, token=tok)
        self.assertEqual((r.status, r.code), (409, 400002), r)
        self.assertEqual(self.state(aid, uid), (0, 0, 10, 0))
        # the quota came back: the same user may buy the limit again
        self.buy(tok, aid, 2)
        self.assertEqual(self.state(aid, uid), (2, 2, 8, 2))


if __name__ == "__main__":
    unittest.main()
