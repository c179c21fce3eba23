"""test_seckill - the flash-sale engine through the web server: activities, tokens, the purchase,
results, the order-writer, layered sold-out answers, concurrency and faults (Redis restart,
MariaDB down, order-writer killed), reconcile and preheat."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import signal
import subprocess
import threading
import time
import unittest

import fslib
from fslib import get, post, sql, redis, wait_until

TOP = os.environ.get("FLASHSALE_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
OK = 200
_admin = []


def admin():
    """One admin token for the whole suite."""
    if not _admin:
        _admin.append(fslib.admin_token())
    return _admin[0]


def make_product(stock=1000, price=59900):
    """A product on the shelf; returns its id."""
    r = post("/product/v1/admin/product/create",
             {"title": "Seckill phone", "cover": "/img/products/phone.svg", "price": price,
              "marketPrice": price + 10000, "stock": stock, "status": 1}, token=admin())
    assert r.code == OK, r
    return r.data["id"]


def make_activity(stock=10, limit=2, start=-1, end=600, price=9900, pid=None):
    """An activity (start/end relative to now); returns (activity id, product id)."""
    pid = pid or make_product(stock=stock + 100)
    now = int(time.time())
    r = post("/seckill/v1/admin/activity/create",
             {"productId": pid, "seckillPrice": price, "stock": stock, "perUserLimit": limit,
              "startTime": now + start, "endTime": now + end}, token=admin())
    assert r.code == OK, r
    return r.data["id"], pid


def list_ids(status=None):
    """Ids of every activity the list shows for a status (all pages)."""
    ids, page = [], 1
    while True:
        q = {"page": page, "pageSize": 100}
        if status:
            q["status"] = status
        r = get("/seckill/v1/activity/list", q)
        assert r.code == OK, r
        ids += [x["id"] for x in r.data["list"]]
        if len(r.data["list"]) < 100:
            return ids
        page += 1


def users(n):
    """n freshly registered users' access tokens (registered in parallel)."""
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        return [t for _, t in ex.map(lambda _: fslib.register(), range(n))]


def sk_token(user, aid):
    r = post("/seckill/v1/seckill/token", {"activityId": aid}, token=user)
    assert r.code == OK, r
    return r.data["token"]


def buy(user, aid, tok, qty=1, url=True, key=None):
    """POST /seckill/do (with ?activityId=N in the URL as the storefront sends it); key: the
    client's own requestId (idempotency key), as the storefront sends it to retry safely."""
    body = {"activityId": aid, "token": tok, "quantity": qty}
    if key:
        body["requestId"] = key
    return post("/seckill/v1/seckill/do", body, token=user,
                query={"activityId": aid} if url else None)


def result(user, rid):
    return post("/seckill/v1/seckill/result", {"requestId": rid}, token=user)


def activity_row(aid):
    stock, sold, returned, status = sql(
        "SELECT stock, sold, returned, status FROM flashsale_seckill.activity "
        f"WHERE id = {int(aid)}")[0]
    return int(stock), int(sold), int(returned), int(status)


def order_units(aid):
    """(orders, units) of live seckill orders of an activity in MySQL."""
    n, units = sql("SELECT COUNT(*), COALESCE(SUM(quantity), 0) FROM flashsale_order.orders "
                   f"WHERE activity_id = {int(aid)} AND trade_state <> -1")[0]
    return int(n), int(units)


def redis_state(aid):
    """(remaining, units held by users, in-flight intents) of an activity in Redis."""
    left = redis("GET", "{a:%d}:stock" % aid)
    vals = redis("HVALS", "{a:%d}:users" % aid).split()
    return int(left or -1), sum(int(v) for v in vals), int(redis("XLEN", "{a:%d}:intents" % aid))


def wait_drained(aid, timeout=30):
    """Wait until the activity's intents are all written (stream empty)."""
    return wait_until(lambda: redis_state(aid)[2] == 0, timeout=timeout, interval=0.2)


def job(name, *args, env=None, wait_lock=True):
    """Run one of the jobs against the test stack (again while the stack's cron run holds
    the job's lock)."""
    e = dict(os.environ, FLASHSALE_CONF=os.path.join(fslib.VAR, "flashsale.conf"))
    e.update(env or {})
    for _ in range(100):
        cp = subprocess.run([os.path.join(fslib.BUILD, "jobs", "flashsale-" + name), *args],
                            env=e, capture_output=True, text=True, timeout=120)
        if not wait_lock or "holds the lock" not in cp.stderr:
            break
        time.sleep(0.2)
    return cp


def stack_fn(fn):
    """Call a tools/stack.sh function with the test stack's VAR and RUN (same server args)."""
    cp = subprocess.run(["bash", "-c", f'source "$TOP/tools/stack.sh"; {fn} "$1" "$2"', "fs",
                         fslib.VAR, fslib.RUN], env=dict(os.environ, TOP=TOP),
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr


def wait_healthy(timeout=30):
    """After a server restart: until every program answers its healthz several times in a row
    (each worker finds its dead connection on first use and reconnects)."""
    def healthy():
        for d in ("usercenter", "product", "seckill", "order"):
            for _ in range(12):
                r = get("/%s/v1/healthz" % d)
                if r.status == 404:
                    break
                if r.status != 200:
                    return False
        return True
    return wait_until(healthy, timeout=timeout, interval=0.2)


def redis_up():
    try:
        return redis("PING") == "PONG"
    except subprocess.CalledProcessError:
        return False


def jwt_claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def sign_token(user, aid, exp, uid=None):
    """A seckill token made the server's way with the stack's secret (for expiry tests)."""
    c = jwt_claims(user)
    with open(os.path.join(fslib.VAR, "secrets", "seckill_token_secret")) as f:
        secret = f.read().strip()
    msg = "v1|%d|%d|%s|%d" % (uid or c["jwtUserId"], aid, c["jti"], exp)
    return "%d.%s" % (exp, hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest())


def request_log_count(path):
    """Requests for path the seckill program logged so far."""
    with open(os.path.join(fslib.VAR, "log", "seckill.log")) as f:
        return sum(1 for line in f if '"path":"%s"' % path in line)


class ActivityAdmin(unittest.TestCase):
    """Create, list, detail, cancel: admin only, validated, units moved exactly once."""

    def test_create_moves_units_and_reads_back(self):
        pid = make_product(stock=50)
        aid, _ = make_activity(stock=20, limit=3, pid=pid)
        self.assertEqual(fslib.product_stock(pid), 30)
        r = get("/seckill/v1/activity/detail", {"id": aid})
        self.assertEqual(r.code, OK, r)
        a = r.data["activity"]
        self.assertEqual((a["id"], a["productId"], a["stock"], a["remaining"], a["perUserLimit"],
                          a["seckillPrice"], a["price"], a["title"], a["status"]),
                         (aid, pid, 20, 20, 3, 9900, 59900, "Seckill phone", "ongoing"))
        self.assertIsInstance(r.data["serverTime"], int)
        self.assertIn(aid, list_ids())
        self.assertIn(aid, list_ids("ongoing"))
        self.assertIn(aid, list_ids("all"))
        self.assertNotIn(aid, list_ids("upcoming"))
        self.assertNotIn(aid, list_ids("ended"))
        self.assertEqual(get("/seckill/v1/activity/list", {"status": "soon"}).code, 100002)
        self.assertEqual(get("/seckill/v1/activity/list", {"pageSize": 101}).code, 100002)
        r = get("/seckill/v1/activity/list", {"status": "all", "pageSize": 1, "page": 1})
        self.assertEqual((len(r.data["list"]), r.data["list"][0]["id"]), (1, aid))  # newest

    def test_upcoming_listed_as_upcoming(self):
        aid, _ = make_activity(start=3600, end=7200)
        self.assertIn(aid, list_ids("upcoming"))
        self.assertNotIn(aid, list_ids("ongoing"))
        self.assertEqual(get("/seckill/v1/activity/detail", {"id": aid}).data["activity"]["status"],
                         "upcoming")

    def test_detail_unknown_and_bad_id(self):
        self.assertEqual(get("/seckill/v1/activity/detail", {"id": 99999999}).code, 600001)
        r = get("/seckill/v1/activity/detail", {"id": "x"})
        self.assertEqual((r.status, r.code), (400, 100002))

    def test_admin_only(self):
        _, user = fslib.register()
        body = {"productId": 1, "seckillPrice": 1, "stock": 1, "perUserLimit": 1,
                "startTime": 1, "endTime": int(time.time()) + 60}
        self.assertEqual(post("/seckill/v1/admin/activity/create", body).code, 100003)
        r = post("/seckill/v1/admin/activity/create", body, token=user)
        self.assertEqual((r.status, r.code), (403, 100008))
        self.assertEqual(post("/seckill/v1/admin/activity/cancel", {"id": 1}, token=user).code,
                         100008)

    def test_validation_changes_nothing(self):
        pid = make_product(stock=10)
        now = int(time.time())
        good = {"productId": pid, "seckillPrice": 100, "stock": 5, "perUserLimit": 1,
                "startTime": now, "endTime": now + 60}
        bad = [("productId", None), ("seckillPrice", -1), ("stock", 0), ("stock", "5"),
               ("perUserLimit", 0), ("startTime", None), ("endTime", now - 10),
               ("endTime", now), ("seckillPrice", 1.5)]
        before = sql("SELECT COUNT(*) FROM flashsale_seckill.activity")[0][0]
        for field, value in bad:
            body = dict(good)
            if value is None:
                del body[field]
            else:
                body[field] = value
            r = post("/seckill/v1/admin/activity/create", body, token=admin())
            self.assertEqual((r.status, r.code), (400, 100002), (field, value, r))
            self.assertIn(field, r.json["msg"])
        r = post("/seckill/v1/admin/activity/create", dict(good, productId=99999999),
                 token=admin())
        self.assertEqual((r.status, r.code), (404, 300001))
        r = post("/seckill/v1/admin/activity/create", dict(good, stock=11), token=admin())
        self.assertEqual((r.status, r.code), (409, 300002))
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_seckill.activity")[0][0], before)
        self.assertEqual(fslib.product_stock(pid), 10)

    def test_cancel_returns_unsold_once(self):
        pid = make_product(stock=30)
        aid, _ = make_activity(stock=10, limit=5, pid=pid)
        u = users(1)[0]
        r = buy(u, aid, sk_token(u, aid), qty=3)
        self.assertEqual(r.code, OK, r)
        self.assertTrue(wait_drained(aid))
        self.assertEqual(fslib.product_stock(pid), 20)
        r = post("/seckill/v1/admin/activity/cancel", {"id": aid}, token=admin())
        self.assertEqual(r.code, OK, r)
        self.assertEqual(fslib.product_stock(pid), 27)  # 7 unsold units back, the 3 sold stay sold
        self.assertEqual(activity_row(aid), (10, 3, 7, 1))
        r = post("/seckill/v1/admin/activity/cancel", {"id": aid}, token=admin())
        self.assertEqual(r.code, OK, r)
        self.assertEqual(fslib.product_stock(pid), 27)  # not twice
        a = get("/seckill/v1/activity/detail", {"id": aid}).data["activity"]
        self.assertEqual((a["status"], a["remaining"]), ("cancelled", 0))
        self.assertIn(aid, list_ids("ended"))
        self.assertNotIn(aid, list_ids())
        self.assertEqual(post("/seckill/v1/admin/activity/cancel", {"id": 99999999},
                              token=admin()).code, 600001)


class Boundaries(unittest.TestCase):
    """The purchase at its edges: every refusal changes nothing."""

    def test_stock_one_two_buyers(self):
        aid, _ = make_activity(stock=1, limit=1)
        a, b = users(2)
        ta, tb = sk_token(a, aid), sk_token(b, aid)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            ra, rb = ex.map(lambda ut: buy(ut[0], aid, ut[1]), [(a, ta), (b, tb)])
        self.assertEqual(sorted([ra.code, rb.code]), [OK, 600004], (ra, rb))
        winner, rw = (a, ra) if ra.code == OK else (b, rb)
        self.assertTrue(wait_until(lambda: result(winner, rw.data["requestId"]).data["status"]
                                   == "success", timeout=10))
        self.assertEqual(order_units(aid), (1, 1))
        self.assertEqual(activity_row(aid)[1], 1)

    def test_quantity_above_remaining(self):
        aid, _ = make_activity(stock=3, limit=5)
        u = users(1)[0]
        r = buy(u, aid, sk_token(u, aid), qty=4)
        self.assertEqual((r.status, r.code), (409, 600004), r)
        self.assertEqual(redis_state(aid)[:2], (3, 0))
        r = buy(u, aid, sk_token(u, aid), qty=3)
        self.assertEqual(r.code, OK, r)

    def test_limit(self):
        aid, _ = make_activity(stock=10, limit=2)
        u = users(1)[0]
        tok = sk_token(u, aid)
        r = buy(u, aid, tok, qty=3)
        self.assertEqual((r.status, r.code), (409, 600005), r)
        self.assertEqual(buy(u, aid, tok, qty=2).code, OK)
        self.assertEqual(buy(u, aid, tok, qty=1).code, 600005)
        self.assertEqual(redis_state(aid)[:2], (8, 2))

    def test_bad_quantity(self):
        aid, _ = make_activity()
        u = users(1)[0]
        tok = sk_token(u, aid)
        for q in (0, -1, "1", 1001):
            r = buy(u, aid, tok, qty=q)
            self.assertEqual((r.status, r.code), (400, 100002), (q, r))
        self.assertEqual(redis_state(aid)[:2], (10, 0))

    def test_before_start(self):
        aid, _ = make_activity(start=60)
        u = users(1)[0]
        r = post("/seckill/v1/seckill/token", {"activityId": aid}, token=u)
        self.assertEqual((r.status, r.code), (409, 600002), r)
        # Within 5 s of the start a token is issued, but buying waits for the start.
        aid, _ = make_activity(start=3)
        tok = sk_token(u, aid)
        r = buy(u, aid, tok)
        self.assertEqual(r.code, 600002, r)
        self.assertEqual(redis_state(aid)[:2], (10, 0))
        self.assertTrue(wait_until(lambda: buy(u, aid, tok).code == OK, timeout=8,
                                   interval=0.25))

    def test_after_end(self):
        aid, _ = make_activity(start=-10, end=2)
        u = users(1)[0]
        tok = sk_token(u, aid)
        self.assertTrue(wait_until(lambda: get("/seckill/v1/activity/detail", {"id": aid})
                                   .data["activity"]["status"] == "ended", timeout=8))
        self.assertEqual(buy(u, aid, tok).code, 600003)
        r = post("/seckill/v1/seckill/token", {"activityId": aid}, token=u)
        self.assertEqual((r.status, r.code), (409, 600003), r)
        self.assertEqual(redis_state(aid)[:2], (10, 0))

    def test_cancelled(self):
        aid, _ = make_activity()
        u = users(1)[0]
        tok = sk_token(u, aid)
        self.assertEqual(post("/seckill/v1/admin/activity/cancel", {"id": aid},
                              token=admin()).code, OK)
        r = buy(u, aid, tok)
        self.assertEqual((r.code, r.json["msg"]), (600003, "activity cancelled"), r)
        self.assertEqual(post("/seckill/v1/seckill/token", {"activityId": aid},
                              token=u).code, 600003)
        self.assertEqual(order_units(aid), (0, 0))

    def test_unknown_activity(self):
        u = users(1)[0]
        self.assertEqual(post("/seckill/v1/seckill/token", {"activityId": 99999999},
                              token=u).code, 600001)

    def test_token_bound_to_user_activity_and_expiry(self):
        aid, _ = make_activity()
        aid2, _ = make_activity()
        a, b = users(2)
        ta = sk_token(a, aid)
        self.assertEqual(buy(b, aid, ta).code, 600006)  # another user's token
        r = post("/seckill/v1/seckill/do", {"activityId": aid2, "token": ta}, token=a,
                 query={"activityId": aid2})
        self.assertEqual((r.status, r.code), (403, 600006))  # another activity's
        forged = ta[:-1] + ("0" if ta[-1] != "0" else "1")
        self.assertEqual(buy(a, aid, forged).code, 600006)
        self.assertEqual(buy(a, aid, "12345.abc").code, 600006)
        now = int(time.time())
        self.assertEqual(buy(a, aid, sign_token(a, aid, now - 1)).code, 600006)  # expired
        self.assertEqual(buy(a, aid, sign_token(b, aid, now + 30)).code, 600006)
        # The same recipe with a live expiry is accepted: the expired one failed on expiry.
        self.assertEqual(buy(a, aid, sign_token(a, aid, now + 30)).code, OK)
        self.assertEqual(redis_state(aid)[:2], (9, 1))

    def test_token_bound_to_session(self):
        aid, _ = make_activity()
        mobile, first = fslib.register()
        tok = sk_token(first, aid)
        second = fslib.login(mobile)  # same user, another session (jti)
        self.assertEqual(buy(second, aid, tok).code, 600006)
        self.assertEqual(post("/usercenter/v1/user/logout", {}, token=first).code, OK)
        # A revoked session gets no new seckill token (the one it holds dies within 60 s).
        r = post("/seckill/v1/seckill/token", {"activityId": aid}, token=first)
        self.assertEqual((r.status, r.code), (401, 100003))
        self.assertEqual(buy(second, aid, sk_token(second, aid)).code, OK)

    def test_token_expires_after_60s(self):
        aid, _ = make_activity()
        u = users(1)[0]
        r = post("/seckill/v1/seckill/token", {"activityId": aid}, token=u)
        self.assertAlmostEqual(r.data["expireAt"], int(time.time()) + 60, delta=2)

    def test_replayed_request(self):
        aid, _ = make_activity(stock=10, limit=1)
        u = users(1)[0]
        tok = sk_token(u, aid)
        body = {"activityId": aid, "token": tok, "quantity": 1}
        first = post("/seckill/v1/seckill/do", body, token=u)
        self.assertEqual(first.code, OK, first)
        again = [post("/seckill/v1/seckill/do", body, token=u) for _ in range(3)]
        self.assertEqual([r.code for r in again], [600005] * 3)
        self.assertTrue(wait_drained(aid))
        self.assertEqual(order_units(aid), (1, 1))
        aid, _ = make_activity(stock=10, limit=2)
        tok = sk_token(u, aid)
        codes = [buy(u, aid, tok).code for _ in range(4)]
        self.assertEqual(codes, [OK, OK, 600005, 600005])

    def test_auth_and_url_id(self):
        aid, _ = make_activity()
        u = users(1)[0]
        tok = sk_token(u, aid)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": tok})
        self.assertEqual((r.status, r.code), (401, 100003))
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": tok}, token=u + "x")
        self.assertEqual(r.code, 100003)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": tok}, token=u,
                 query={"activityId": aid + 1})
        self.assertEqual((r.status, r.code), (400, 100002))
        self.assertIn("activityId", r.json["msg"])
        self.assertEqual(post("/seckill/v1/seckill/do", {"token": tok}, token=u).code, 100002)
        self.assertEqual(redis_state(aid)[:2], (10, 0))

    def test_result_owner_only(self):
        aid, _ = make_activity()
        a, b = users(2)
        r = buy(a, aid, sk_token(a, aid))
        rid = r.data["requestId"]
        self.assertIn(result(a, rid).data["status"], ("queued", "success"))
        self.assertTrue(wait_until(lambda: result(a, rid).data["status"] == "success"))
        sn = result(a, rid).data["orderSn"]
        # The writer left the record queued; the first answer from MySQL noted the success.
        self.assertEqual(redis("GET", "{a:%d}:req:%s" % (aid, rid)),
                         "%s success %s" % (jwt_claims(a)["jwtUserId"], sn))
        self.assertEqual(sql("SELECT user_id, activity_id, order_type, unit_price, quantity, "
                             "trade_state FROM flashsale_order.orders WHERE sn = '%s'" % sn),
                         [[str(jwt_claims(a)["jwtUserId"]), str(aid), "1", "9900", "1", "0"]])
        r = result(b, rid)
        self.assertEqual((r.status, r.code), (404, 600007))
        self.assertEqual(result(a, "%d-%s" % (aid, "0" * 32)).code, 600007)
        self.assertEqual(result(a, "nonsense").code, 600007)
        self.assertEqual(post("/seckill/v1/seckill/result", {}, token=a).code, 100002)
        self.assertEqual(post("/seckill/v1/seckill/result", {"requestId": rid}).code, 100003)
        # After the Redis record expires the order in MySQL still answers.
        redis("DEL", "{a:%d}:req:%s" % (aid, rid))
        self.assertEqual(result(a, rid).data, {"status": "success", "orderSn": sn})

    def test_user_rate_limit(self):
        aid, _ = make_activity(stock=100, limit=1)
        u = users(1)[0]
        tok = sk_token(u, aid)
        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            rs = list(ex.map(lambda _: buy(u, aid, tok), range(20)))
        codes = [r.code for r in rs]
        self.assertEqual(codes.count(OK), 1, codes)
        limited = [r for r in rs if r.code == 100007]
        self.assertGreater(len(limited), 0, codes)
        self.assertTrue(all(r.status == 429 and int(r.headers["retry-after"]) >= 1
                            for r in limited))
        self.assertEqual(set(codes) - {OK, 600005, 100007}, set())

    def test_sold_out_answered_by_web_server(self):
        aid, _ = make_activity(stock=2, limit=2)
        a, b = users(2)
        r = buy(a, aid, sk_token(a, aid), qty=2)
        self.assertEqual(r.code, OK, r)
        marker = os.path.join(fslib.RUN, "soldout", str(aid))
        self.assertTrue(os.path.exists(marker))
        a_ = get("/seckill/v1/activity/detail", {"id": aid}).data["activity"]
        self.assertEqual((a_["status"], a_["remaining"]), ("soldout", 0))
        tb = sk_token(b, aid)
        before = request_log_count("/seckill/v1/seckill/do")
        rs = [buy(b, aid, tb) for _ in range(15)]
        self.assertEqual({(r.status, r.code) for r in rs}, {(409, 600004)})
        r = buy(b, aid, tb, url=False)  # without the id in the URL the program answers
        self.assertEqual(r.code, 600004)
        if fslib.SERVER == "nginx":
            # The program's own answer is logged after the 15 earlier requests ended: once
            # its line is there, the count tells whether any of them reached the program.
            self.assertTrue(wait_until(
                lambda: request_log_count("/seckill/v1/seckill/do") >= before + 1, timeout=5))
            self.assertEqual(request_log_count("/seckill/v1/seckill/do"), before + 1)
        self.assertTrue(wait_drained(aid))
        self.assertEqual(activity_row(aid)[1], 2)

    def test_cancelled_order_units_sell_again(self):
        aid, _ = make_activity(stock=1, limit=1)
        a, b = users(2)
        rid = buy(a, aid, sk_token(a, aid)).data["requestId"]
        self.assertTrue(wait_until(lambda: result(a, rid).data["status"] == "success"))
        sn = result(a, rid).data["orderSn"]
        tb = sk_token(b, aid)
        self.assertEqual(buy(b, aid, tb).code, 600004)
        r = post("/order/v1/order/cancel", {"sn": sn}, token=a)
        self.assertEqual(r.code, OK, r)
        self.assertEqual(activity_row(aid)[:2], (1, 0))
        self.assertEqual(redis_state(aid)[:2], (1, 0))
        marker = os.path.join(fslib.RUN, "soldout", str(aid))
        self.assertTrue(wait_until(lambda: not os.path.exists(marker), timeout=5))
        self.assertTrue(wait_until(lambda: buy(b, aid, tb).code == OK, timeout=3))
        self.assertTrue(wait_drained(aid))
        self.assertEqual(activity_row(aid)[:2], (1, 1))


    def test_order_cancelled_after_activity_closed_returns_to_product(self):
        pid = make_product(stock=10)
        aid, _ = make_activity(stock=4, limit=2, pid=pid)
        a = users(1)[0]
        rid = buy(a, aid, sk_token(a, aid), qty=2).data["requestId"]
        self.assertTrue(wait_until(lambda: result(a, rid).data["status"] == "success"))
        self.assertEqual(post("/seckill/v1/admin/activity/cancel", {"id": aid},
                              token=admin()).code, OK)
        self.assertEqual((fslib.product_stock(pid), activity_row(aid)), (8, (4, 2, 2, 1)))
        r = post("/order/v1/order/cancel", {"sn": result(a, rid).data["orderSn"]}, token=a)
        self.assertEqual(r.code, OK, r)
        # The activity is closed: the units follow its unsold ones back to the product.
        self.assertEqual((fslib.product_stock(pid), activity_row(aid)), (10, (4, 0, 4, 1)))
        self.assertEqual(redis_state(aid)[:2], (0, 0))
        cp = job("reconcile", "--activity", str(aid))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)


def crowd_buy(aid, toks, per_user, workers=200):
    """Each (user, token) tries per_user times, `workers` requests in flight; returns responses."""
    jobs = [ut for ut in toks for _ in range(per_user)]
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(lambda ut: (ut[0], buy(ut[0], aid, ut[1])), jobs))


def assert_invariants(tc, aid, stock, limit, queued):
    """Every queued request is exactly one order; no oversell; Redis agrees with MySQL."""
    tc.assertTrue(wait_drained(aid, timeout=60), redis_state(aid))
    rids = [r.data["requestId"] for _, r in queued]
    n, units = order_units(aid)
    tc.assertEqual(n, len(rids))
    got = sql("SELECT request_id FROM flashsale_order.orders WHERE activity_id = %d" % aid)
    tc.assertEqual(sorted(x[0] for x in got), sorted(rids))
    _, sold, returned, _ = activity_row(aid)
    tc.assertEqual(sold, units)
    tc.assertLessEqual(sold, stock)
    over = sql("SELECT COUNT(*) FROM flashsale_seckill.user_quota WHERE activity_id = %d AND "
               "units > %d" % (aid, limit))
    tc.assertEqual(over, [["0"]])
    over = sql("SELECT COUNT(*) FROM (SELECT user_id FROM flashsale_order.orders WHERE "
               "activity_id = %d GROUP BY user_id HAVING SUM(quantity) > %d) x" % (aid, limit))
    tc.assertEqual(over, [["0"]])
    # Each user's quota row holds the units of their orders that stand (one snapshot: a
    # cancellation gives both back in one transaction).
    off = sql("SELECT COUNT(*) FROM (SELECT user_id FROM (SELECT user_id, units AS q, 0 AS o "
              "FROM flashsale_seckill.user_quota WHERE activity_id = %d UNION ALL SELECT "
              "user_id, 0, quantity FROM flashsale_order.orders WHERE activity_id = %d AND "
              "trade_state <> -1) x GROUP BY user_id HAVING SUM(q) <> SUM(o)) y" % (aid, aid))
    tc.assertEqual(off, [["0"]])
    left, held, _ = redis_state(aid)
    tc.assertEqual(held, sold)
    tc.assertEqual(left + held + returned, stock)
    return sold


class Concurrency(unittest.TestCase):
    """300 users x 3 requests, 200 at a time, stock 100, limit 2."""

    def test_crowd(self):
        aid, _ = make_activity(stock=100, limit=2)
        toks = users(300)
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            pairs = list(ex.map(lambda u: (u, sk_token(u, aid)), toks))
        rs = crowd_buy(aid, pairs, 3)
        queued = [(u, r) for u, r in rs if r.code == OK]
        codes = {r.code for _, r in rs}
        self.assertEqual(codes - {OK, 600004, 600005}, set(), codes)
        self.assertEqual(len(queued), 100)
        per_user = {}
        for u, _ in queued:
            per_user[u] = per_user.get(u, 0) + 1
        self.assertLessEqual(max(per_user.values()), 2)
        sold = assert_invariants(self, aid, 100, 2, queued)
        self.assertEqual(sold, 100)
        self.assertEqual(redis_state(aid)[0], 0)
        self.assertEqual(activity_row(aid)[1], 100)
        # Every request reports its order.
        sample = queued[:20]
        for u, r in sample:
            res = result(u, r.data["requestId"]).data
            self.assertEqual(res["status"], "success", res)
            self.assertTrue(res["orderSn"].startswith("ORD"))


def writer_pid():
    """The running order-writer (the supervisor's child)."""
    with open(os.path.join(fslib.RUN, "order-writer.pid")) as f:
        sup = f.read().strip()
    out = subprocess.run(["pgrep", "-P", sup], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def prefill(aid, n, first_uid=10**9):
    """Queue n intents of n synthetic users the way the purchase script does (a backlog)."""
    script = """
local pid = redis.call('HGET', KEYS[1], 'product')
local price = redis.call('HGET', KEYS[1], 'price')
for i = 0, tonumber(ARGV[1]) - 1 do
  local uid = tostring(tonumber(ARGV[2]) + i)
  local rid = ARGV[3] .. '-' .. string.format('%032x', tonumber(ARGV[2]) + i)
  redis.call('DECRBY', KEYS[2], 1)
  redis.call('HINCRBY', KEYS[3], uid, 1)
  redis.call('XADD', KEYS[4], '*', 'rid', rid, 'uid', uid, 'aid', ARGV[3], 'pid', pid,
             'qty', 1, 'price', price, 'ts', 0)
  redis.call('HSET', ARGV[4] .. rid, 'uid', uid, 'status', 'queued')
end
return 1
"""
    keys = ["{a:%d}:%s" % (aid, k) for k in ("info", "stock", "users", "intents")]
    # Test fixture on the single test Redis: the request keys are built from ARGV[4].
    redis("EVAL", script, "4", *keys, str(n), str(first_uid), str(aid), "{a:%d}:req:" % aid)


class WriterBatches(unittest.TestCase):
    """seckill.writer_linger_ms: after a batch short of writer_batch the order-writer waits
    before reading again, so purchases trickling in share transactions instead of one each."""

    def test_trickle_shares_batches(self):
        linger = int(fslib.conf_value("seckill", "writer_linger_ms") or 50)  # the default
        self.assertGreaterEqual(linger, 20, "the stack runs the writer without a linger")
        n = 30
        aid, _ = make_activity(stock=n, limit=1)
        pairs = [(u, sk_token(u, aid)) for u in users(n)]

        def batches():
            # The writer's guarded sold UPDATE bumps the version once per batch.
            return int(sql("SELECT version FROM flashsale_seckill.activity WHERE id = %d"
                           % aid)[0][0])
        # The first purchase written: the writer reads this stream now (it refreshes its live
        # set once a second), so the next ones reach it as they come.
        self.assertEqual(buy(pairs[0][0], aid, pairs[0][1]).code, OK)
        self.assertTrue(wait_until(lambda: order_units(aid) == (1, 1), timeout=10))
        v0 = batches()
        t0 = time.monotonic()
        for u, tok in pairs[1:]:
            self.assertEqual(buy(u, aid, tok).code, OK)
            time.sleep(0.01)  # pacing: each purchase alone in the stream when it comes
        spread = time.monotonic() - t0
        self.assertTrue(wait_drained(aid), redis_state(aid))
        self.assertEqual(order_units(aid), (n, n))
        written = batches() - v0
        # Read at once, each purchase is a batch of its own (n - 1 of them); with the linger,
        # consecutive batches start at least writer_linger_ms apart.
        bound = min(n - 2, int(spread * 1000 / linger) + 3)
        self.assertLessEqual(written, bound, "%d batches for %d purchases over %.2f s"
                             % (written, n - 1, spread))
        self.assertGreaterEqual(written, 1)


class Faults(unittest.TestCase):
    """Workers and servers that die and come back lose and duplicate nothing."""

    def test_writer_killed_while_draining(self):
        n = 10000
        aid, _ = make_activity(stock=n, limit=1)
        pid = writer_pid()
        self.assertIsNotNone(pid)
        os.kill(pid, signal.SIGSTOP)
        try:
            prefill(aid, n)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertTrue(wait_until(lambda: order_units(aid)[0] > 0, timeout=10, interval=0.02))
        os.kill(pid, signal.SIGKILL)
        written_at_kill = order_units(aid)[0]
        self.assertLess(written_at_kill, n)  # it died mid-drain
        self.assertTrue(wait_until(lambda: writer_pid() not in (None, pid), timeout=10))
        self.assertTrue(wait_drained(aid, timeout=60), redis_state(aid))
        self.assertEqual(order_units(aid), (n, n))
        self.assertEqual(sql("SELECT COUNT(DISTINCT request_id) FROM flashsale_order.orders "
                             "WHERE activity_id = %d" % aid), [[str(n)]])
        self.assertEqual(activity_row(aid)[:2], (n, n))
        self.assertEqual(redis_state(aid), (0, n, 0))
        rid = "%d-%032x" % (aid, 10**9 + 17)
        # A success leaves the request's record as it was (lua/finish.lua): /seckill/result
        # finds the order in MySQL by the request id, written once.
        self.assertEqual(redis("HGET", "{a:%d}:req:%s" % (aid, rid), "status"), "queued")
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_order.orders WHERE request_id = "
                             "'%s'" % rid), [["1"]])

    def test_fresh_intent_of_a_written_order(self):
        """An intent read for the first time whose order exists already (its request record
        lost with a Redis failover, the client's retry queued it again) is found by the
        writer's replay check on the duplicate key: written once, nothing returned twice."""
        aid, _ = make_activity(stock=10, limit=5)
        u = users(1)[0]
        tok = sk_token(u, aid)
        rid = buy(u, aid, tok).data["requestId"]
        self.assertTrue(wait_until(lambda: result(u, rid).data["status"] == "success"))
        uid = str(jwt_claims(u)["jwtUserId"])
        redis("XADD", "{a:%d}:intents" % aid, "*", "rid", rid, "uid", uid, "qty", "1",
              "ts", "0")
        self.assertTrue(wait_drained(aid), redis_state(aid))
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_order.orders WHERE request_id = "
                             "'%s'" % rid), [["1"]])
        self.assertEqual(redis("XLEN", "{a:%d}:dead" % aid), "0")
        self.assertEqual(order_units(aid), (1, 1))
        self.assertEqual(result(u, rid).data["status"], "success")
        # The writer goes on with the next purchase.
        rid2 = buy(u, aid, tok).data["requestId"]
        self.assertTrue(wait_until(lambda: result(u, rid2).data["status"] == "success"))
        self.assertEqual(order_units(aid), (2, 2))

    def test_two_writers_share_the_stream(self):
        n = 6000
        aid, _ = make_activity(stock=n + 1, limit=1)
        # One intent first, written by the stack's writer: it then reads this stream (its live
        # set is refreshed once a second), so both writers are at it when the backlog comes.
        prefill(aid, 1, first_uid=3 * 10**9)
        self.assertTrue(wait_drained(aid, timeout=20), redis_state(aid))
        log = os.path.join(fslib.VAR, "log", "order-writer-extra.log")
        if os.path.exists(log):
            os.unlink(log)
        env = dict(os.environ, FLASHSALE_CONF=os.path.join(fslib.VAR, "flashsale.conf"),
                   FLASHSALE_LOG_FILE=log)
        extra = subprocess.Popen([os.path.join(fslib.BUILD, "jobs", "flashsale-order-writer")],
                                 env=env)
        try:
            self.assertTrue(wait_until(lambda: os.path.exists(log) and "ready" in open(log).read(),
                                       timeout=10))
            # Its first pass, right after "ready", reads the live set, which lists the activity
            # already; Redis shows nothing of an empty read (no consumer is made), so "ready" is
            # the barrier, and the drain of n intents lasts far longer than that first pass.
            prefill(aid, n, first_uid=2 * 10**9)
            self.assertTrue(wait_drained(aid, timeout=60), redis_state(aid))
        finally:
            extra.send_signal(signal.SIGTERM)
            rc = extra.wait(timeout=15)
        self.assertEqual(rc, 0)  # SIGTERM: a clean stop
        with open(log) as f:
            stops = [json.loads(line) for line in f if "stopping" in line]
        self.assertEqual(len(stops), 1)
        mine = int(stops[0]["msg"].split(": ")[1].split()[0])
        self.assertGreater(mine, 0)  # both writers took batches
        self.assertLess(mine, n)
        self.assertEqual(order_units(aid), (n + 1, n + 1))
        self.assertEqual(sql("SELECT COUNT(DISTINCT request_id) FROM flashsale_order.orders "
                             "WHERE activity_id = %d" % aid), [[str(n + 1)]])
        self.assertEqual(activity_row(aid)[:2], (n + 1, n + 1))

    def test_redis_restart_during_sale(self):
        aid, _ = make_activity(stock=150, limit=2)
        toks = users(120)
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            pairs = list(ex.map(lambda u: (u, sk_token(u, aid)), toks))
        out = []  # (time, user, response), paced so the sale spans the restart
        keyed = []  # (user, token, client requestId, response) of every attempt

        def paced(ut):
            time.sleep(0.05)  # pacing the load, not synchronisation
            key = "rr-" + os.urandom(12).hex()
            r = buy(ut[0], aid, ut[1], key=key)
            out.append((time.time(), ut[0], r))
            keyed.append((ut[0], ut[1], key, r))

        def crowd():
            with concurrent.futures.ThreadPoolExecutor(10) as ex:
                list(ex.map(paced, [ut for ut in pairs for _ in range(2)]))

        def seen(code):
            return any(r.code == code for _, _, r in list(out))

        t = threading.Thread(target=crowd)
        t.start()
        self.assertTrue(wait_until(lambda: seen(OK), timeout=10))  # the sale is on
        down_at = time.time()
        redis("SHUTDOWN")  # AOF is flushed on shutdown
        self.assertTrue(wait_until(lambda: seen(100005), timeout=10))  # clients saw it down
        stack_fn("stack_redis_start")
        self.assertTrue(wait_until(redis_up, timeout=30))  # AOF loaded
        up_at = time.time()
        t.join()
        codes = {r.code for _, _, r in out}
        self.assertEqual(codes - {OK, 600004, 600005, 100005}, set(), codes)
        self.assertTrue(any(r.code == OK and at < down_at for at, _, r in out))  # before
        self.assertIn(100005, codes)  # while Redis was down: answered, "busy"
        queued = [(u, r) for _, u, r in out if r.code == OK]
        # Buy the rest after the restart: the sale goes on where it stopped. A worker that met
        # the dead server keeps answering 100005 for breaker.cooldown_ms (1 s) before it tries
        # again: let that pass first.
        self.assertTrue(wait_healthy())
        self.assertTrue(wait_until(lambda: all(
            post("/seckill/v1/seckill/token", {"activityId": aid}, token=pairs[0][0]).code == OK
            for _ in range(8)), timeout=10))  # every worker's breaker closed again
        # A 100005 may hide a purchase that ran (Redis died between the script and its answer):
        # the client retries with its requestId, as the storefront does, and hears the first
        # attempt's outcome, never a second purchase.
        for u, tok, key, r in keyed:
            if r.code == 100005:
                again = buy(u, aid, tok, key=key)
                self.assertIn(again.code, (OK, 600004, 600005), again)
                if again.code == OK:
                    queued.append((u, again))
        more = crowd_buy(aid, pairs, 3, workers=40)
        self.assertTrue(any(r.code == OK for _, r in more) or
                        any(r.code == OK and at > up_at for at, _, r in out))
        queued += [(u, r) for u, r in more if r.code == OK]
        sold = assert_invariants(self, aid, 150, 2, queued)
        self.assertEqual(sold, 150)
        self.assertTrue(wait_healthy())
        cp = job("reconcile", "--activity", str(aid))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def test_mariadb_down_sale_goes_on(self):
        aid, _ = make_activity(stock=60, limit=2)
        toks = users(30)
        pairs = [(u, sk_token(u, aid)) for u in toks]
        with open(os.path.join(fslib.RUN, "mysqld.pid")) as f:
            mpid = int(f.read().strip())
        os.kill(mpid, signal.SIGKILL)
        try:
            wait_until(lambda: not os.path.exists("/proc/%d" % mpid), timeout=10)
            t0 = time.time()
            rs = crowd_buy(aid, pairs, 1, workers=10)
            self.assertLess(time.time() - t0, 15)
            queued = [(u, r) for u, r in rs if r.code == OK]
            self.assertEqual(len(queued), 30, {r.code for _, r in rs})
            self.assertEqual(redis_state(aid)[2], 30)  # the backlog waits in the stream
            u, r = queued[0]
            self.assertEqual(result(u, r.data["requestId"]).data["status"], "queued")
        finally:
            stack_fn("stack_mysql_start")
        self.assertTrue(wait_drained(aid, timeout=40), redis_state(aid))
        assert_invariants(self, aid, 60, 2, queued)
        self.assertEqual(order_units(aid), (30, 30))
        self.assertTrue(wait_healthy())


class Jobs(unittest.TestCase):
    """reconcile finds and repairs drift; preheat loads, settles once, and takes its lock."""

    def test_reconcile_reports_and_repairs(self):
        aid, _ = make_activity(stock=20, limit=2)
        u = users(1)[0]
        self.assertEqual(buy(u, aid, sk_token(u, aid), qty=2).code, OK)
        self.assertTrue(wait_drained(aid))
        cp = job("reconcile", "--activity", str(aid))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("activity %d: ok" % aid, cp.stdout)
        redis("SET", "{a:%d}:stock" % aid, "999")
        redis("HSET", "{a:%d}:users" % aid, "424242", "1")
        cp = job("reconcile", "--activity", str(aid))
        self.assertEqual(cp.returncode, 3, cp.stdout + cp.stderr)
        self.assertIn("MISMATCH", cp.stdout)
        self.assertEqual(redis_state(aid)[0], 999)  # reported, not changed
        cp = job("reconcile", "--repair", "--activity", str(aid))
        self.assertEqual(cp.returncode, 3, cp.stdout + cp.stderr)
        self.assertIn("repaired", cp.stdout)
        self.assertEqual(redis_state(aid), (18, 2, 0))
        self.assertEqual(job("reconcile", "--activity", str(aid)).returncode, 0)

    def test_preheat_loads_and_settles_once(self):
        soon, _ = make_activity(start=120, end=600)
        # Hold the lock as another host would (the stack's cron runs preheat every minute).
        self.assertTrue(wait_until(lambda: redis("SET", "fs:lock:seckill-preheat",
                                                 "someone-else", "NX", "PX", "20000") == "OK",
                                   timeout=30))
        for k in ("info", "stock", "users"):
            redis("DEL", "{a:%d}:%s" % (soon, k))
        pid = make_product(stock=10)
        ended, _ = make_activity(stock=6, limit=2, start=-5, end=2, pid=pid)
        u = users(1)[0]
        self.assertEqual(buy(u, ended, sk_token(u, ended), qty=2).code, OK)
        self.assertTrue(wait_drained(ended))
        self.assertEqual(fslib.product_stock(pid), 4)
        self.assertTrue(wait_until(lambda: get("/seckill/v1/activity/detail", {"id": ended})
                                   .data["activity"]["status"] == "ended", timeout=8))
        env = {"FLASHSALE_SECKILL_SETTLE_GRACE": "0"}
        cp = job("seckill-preheat", env=env, wait_lock=False)
        self.assertIn("another run holds the lock", cp.stderr)
        self.assertEqual(redis("EXISTS", "{a:%d}:info" % soon), "0")
        redis("DEL", "fs:lock:seckill-preheat")
        cp = job("seckill-preheat", env=env)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(redis("HGET", "{a:%d}:info" % soon, "status"), "0")
        self.assertEqual(redis_state(soon)[:2], (10, 0))
        self.assertEqual(fslib.product_stock(pid), 8)  # 4 unsold back
        self.assertEqual(activity_row(ended), (6, 2, 4, 2))
        self.assertEqual(redis_state(ended)[0], 0)
        # Released at the end (held, it would block for its 55 s lifetime).
        self.assertTrue(wait_until(lambda: redis("SET", "fs:lock:seckill-preheat", "t", "NX",
                                                 "PX", "1000") == "OK", timeout=5))
        redis("DEL", "fs:lock:seckill-preheat")
        job("seckill-preheat", env=env)
        self.assertEqual(fslib.product_stock(pid), 8)  # once
        self.assertEqual(get("/seckill/v1/activity/detail", {"id": ended}).data["activity"]
                         ["status"], "ended")


if __name__ == "__main__":
    unittest.main()
