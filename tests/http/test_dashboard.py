"""test_dashboard - GET /seckill/v1/admin/dashboard, the operators' live view: admin only, and its
numbers (remaining, queued/written units, orders, writer lag, outcome counters) follow a small
sale this test drives itself; the /seckill/do outcome counters in the metrics too."""
import concurrent.futures
import os
import signal
import subprocess
import time
import unittest

import fslib
from fslib import get, post, wait_until

OK = 200
DASH = "/seckill/v1/admin/dashboard"
_admin = []


def admin():
    """One admin token for the whole suite."""
    if not _admin:
        _admin.append(fslib.admin_token())
    return _admin[0]


def make_activity(stock, limit, start=-1, end=600):
    """A product and an activity on it (times relative to now); returns the activity id."""
    pid = fslib.create_product(admin(), stock=stock + 10)
    now = int(time.time())
    r = post("/seckill/v1/admin/activity/create",
             {"productId": pid, "seckillPrice": 990, "stock": stock, "perUserLimit": limit,
              "startTime": now + start, "endTime": now + end}, token=admin())
    assert r.code == OK, r
    return r.data["id"]


def users(n):
    """n freshly registered users' access tokens."""
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        return [t for _, t in ex.map(lambda _: fslib.register(), range(n))]


def buy(user, aid, qty=1, url=False):
    """A seckill token, then /seckill/do; returns the answer of /seckill/do. Without url the
    request carries no ?activityId=N, so the web server's sold-out marker cannot answer it."""
    r = post("/seckill/v1/seckill/token", {"activityId": aid}, token=user)
    assert r.code == OK, r
    return post("/seckill/v1/seckill/do", {"activityId": aid, "token": r.data["token"],
                                           "quantity": qty}, token=user,
                query={"activityId": aid} if url else None)


def dash(aid=None, token=None):
    """The dashboard (of one activity with aid); returns the response."""
    return get(DASH, query={"id": aid} if aid else None, token=token or admin())


def one(aid):
    """The dashboard's entry of activity aid (asked for by id)."""
    r = dash(aid)
    assert r.code == OK, r
    assert len(r.data["list"]) == 1, r
    return r.data["list"][0]


def domain():
    """The program-wide outcome counters."""
    r = dash()
    assert r.code == OK, r
    return r.data["outcomes"]


def writer_pid():
    """The stack's order-writer process (the child of its supervisor, named by the pidfile)."""
    sup = open(os.path.join(fslib.RUN, "order-writer.pid")).read().strip()
    return int(subprocess.run(["pgrep", "-P", sup], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def metric(name, labels):
    """A sample of /seckill/v1/metrics (summed over matching lines), or None."""
    return fslib.metric("seckill", name, labels)


class Access(unittest.TestCase):
    """Only admins see the dashboard; bad input is refused."""

    def test_no_token_is_100003(self):
        r = get(DASH)
        self.assertEqual((r.status, r.code), (401, 100003), r)

    def test_bad_token_is_100003(self):
        r = get(DASH, token="not.a.jwt")
        self.assertEqual((r.status, r.code), (401, 100003), r)

    def test_user_is_100008(self):
        _, user = fslib.register()
        r = get(DASH, token=user)
        self.assertEqual((r.status, r.code), (403, 100008), r)
        self.assertIsNone(r.data)

    def test_bad_id_is_100002(self):
        for bad in ("abc", "0", "-3", "1.5"):
            r = get(DASH, query={"id": bad}, token=admin())
            self.assertEqual((r.status, r.code), (400, 100002), (bad, r))
            self.assertIn("id", r.json["msg"])

    def test_unknown_id_is_600001(self):
        r = dash(10**12)
        self.assertEqual((r.status, r.code), (404, 600001), r)

    def test_shape(self):
        r = dash()
        self.assertEqual(r.code, OK, r)
        d = r.data
        self.assertIsInstance(d["list"], list)
        self.assertLessEqual(abs(d["serverTime"] - time.time()), 5)
        self.assertEqual(d["serverTimeMs"] // 1000, d["serverTime"])
        self.assertIn("remaining", d["queuedSource"])
        for k in ("requests", "queued", "soldOut", "soldOutMemo", "limitReached",
                  "tokenInvalid", "rateLimited"):
            self.assertIsInstance(d["outcomes"][k], int, k)


class Sale(unittest.TestCase):
    """A small sale driven by the test, seen on the dashboard."""

    def test_buys_and_limit_then_drained(self):
        before = domain()
        limit_before = metric("flashsale_seckill_outcomes_total", {"reason": "limit"})
        aid = make_activity(stock=10, limit=1)
        a = one(aid)
        self.assertEqual((a["status"], a["stock"], a["remaining"], a["queued"], a["orders"]),
                         ("ongoing", 10, 10, 0, 0), a)
        self.assertEqual(a["outcomes"]["requests"], 0, a)
        buyers = users(5)
        for u in buyers:
            r = buy(u, aid)
            self.assertEqual(r.code, OK, r)
        for u in buyers[:3]:
            r = buy(u, aid)
            self.assertEqual(r.code, 600005, r)
        a = one(aid)
        self.assertEqual(a["remaining"], 5, a)
        # Units taken in Redis are either still queued or written (sold) by now.
        self.assertEqual(a["queued"] + a["sold"], 5, a)
        o = a["outcomes"]
        self.assertEqual((o["requests"], o["queued"], o["limitReached"], o["soldOut"]),
                         (8, 5, 3, 0), o)
        # The default list (no id) shows the ongoing activity too, with the same counters.
        r = dash()
        listed = [x for x in r.data["list"] if x["id"] == aid]
        self.assertEqual(len(listed), 1, "the ongoing activity is not listed")
        self.assertEqual(listed[0]["outcomes"]["limitReached"], 3)
        # The order-writer drains: every unit written, nothing queued, no lag.
        a = wait_until(lambda: (lambda x: x if x["writer"]["intents"] == 0 and
                                x["orders"] == 5 else None)(one(aid)), timeout=30, interval=0.3)
        self.assertTrue(a, "the order-writer did not drain the activity's intents")
        self.assertEqual((a["orders"], a["sold"], a["queued"], a["remaining"]), (5, 5, 0, 5), a)
        self.assertEqual((a["writer"]["pending"], a["writer"]["oldestAgeMs"]), (0, None), a)
        after = domain()
        self.assertEqual(after["queued"] - before["queued"], 5)
        self.assertEqual(after["limitReached"] - before["limitReached"], 3)
        self.assertEqual(
            metric("flashsale_seckill_outcomes_total", {"reason": "limit"}) - limit_before, 3)

    def test_writer_lag_while_intents_wait(self):
        """An intent the writer cannot have read yet shows as lag: stream length, age."""
        aid = make_activity(stock=5, limit=5)
        # Hold the intents back: the order-writer sleeps (SIGSTOP) until the checks are done.
        writer = writer_pid()
        os.kill(writer, signal.SIGSTOP)
        try:
            (u,) = users(1)
            self.assertEqual(buy(u, aid, qty=2).code, OK)
            a = wait_until(lambda: (lambda x: x if (x["writer"]["oldestAgeMs"] or 0) >= 1000
                                    else None)(one(aid)), timeout=10, interval=0.1)
            self.assertTrue(a, one(aid))
            self.assertEqual((a["remaining"], a["queued"], a["sold"]), (3, 2, 0), a)
            self.assertEqual(a["writer"]["intents"], 1, a)
            self.assertLess(a["writer"]["oldestAgeMs"], 30000, a)
        finally:
            os.kill(writer, signal.SIGCONT)
        a = wait_until(lambda: (lambda x: x if x["writer"]["intents"] == 0 else None)(one(aid)),
                       timeout=30, interval=0.3)
        self.assertTrue(a, "the intent was not written once its stream was listed again")
        self.assertEqual((a["queued"], a["sold"], a["orders"]), (0, 2, 1), a)

    def test_sold_out_counted_in_redis_and_memo_not_nginx(self):
        aid = make_activity(stock=2, limit=2)
        buyers = users(4)
        self.assertEqual(buy(buyers[0], aid, qty=2).code, OK)
        for u in buyers[1:]:
            for _ in range(2):
                r = buy(u, aid)
                self.assertEqual(r.code, 600004, r)
        a = one(aid)
        o = a["outcomes"]
        self.assertEqual(a["status"], "soldout", a)
        self.assertEqual(a["remaining"], 0, a)
        self.assertEqual((o["queued"], o["soldOut"], o["requests"]), (1, 6, 7), o)
        self.assertLessEqual(o["soldOutMemo"], 6, o)
        self.assertTrue(o["memoCounted"], o)
        # With ?activityId=N the web server answers from the sold-out marker by itself: the
        # program never sees those requests, so they are not counted (the page says so).
        r = buy(buyers[1], aid, url=True)
        self.assertEqual(r.code, 600004, r)
        self.assertEqual(one(aid)["outcomes"]["soldOut"], 6)

    def test_cancelled_then_ended_answers(self):
        aid = make_activity(stock=3, limit=1)
        (u,) = users(1)
        r = post("/seckill/v1/seckill/token", {"activityId": aid}, token=u)
        self.assertEqual(r.code, OK, r)
        tok = r.data["token"]
        r = post("/seckill/v1/admin/activity/cancel", {"id": aid}, token=admin())
        self.assertEqual(r.code, OK, r)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": tok}, token=u)
        self.assertEqual(r.code, 600003, r)
        a = one(aid)
        self.assertEqual((a["status"], a["remaining"], a["queued"]), ("cancelled", 0, 0), a)
        self.assertEqual((a["outcomes"]["ended"], a["outcomes"]["requests"]), (1, 1), a)
        # Cancelled a moment ago: still on the default list, so the end of a sale stays visible.
        self.assertIn(aid, [x["id"] for x in dash().data["list"]])

    def test_refusals_before_redis_counted_program_wide(self):
        aid = make_activity(stock=3, limit=1)
        (u,) = users(1)
        before = domain()
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": "forged.token"},
                 token=u)
        self.assertEqual(r.code, 600006, r)
        r = post("/seckill/v1/seckill/do", {"activityId": "x", "token": "t"}, token=u)
        self.assertEqual(r.code, 100002, r)
        after = domain()
        self.assertEqual(after["tokenInvalid"] - before["tokenInvalid"], 1)
        self.assertEqual(after["badRequest"] - before["badRequest"], 1)
        self.assertGreaterEqual(after["requests"] - before["requests"], 2)
        # Not per activity: the id of a request with a forged token is not trusted.
        self.assertEqual(one(aid)["outcomes"]["requests"], 0)


if __name__ == "__main__":
    unittest.main()
