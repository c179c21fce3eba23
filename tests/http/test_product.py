"""test_product - the product domain through the web server (API.md, "product").

Create, detail, list with pagination and keyword search (Chinese substrings, SQL and LIKE
metacharacters), update, soft delete, off-shelf products, admin-only enforcement, bad input,
the Redis detail cache (served from Redis, dropped at once on update) and nginx's microcache.
A read with "Cache-Control: no-cache" from the machine itself bypasses the microcache
(nginx.conf, apache.conf), so it shows MariaDB/Redis as they are now; the public sees a change
within ~2 s (test_microcache).
"""
import json
import random
import time
import unittest

import fslib
from fslib import get, post, sql, redis

PV = "/product/v1"
FIELDS = ("id", "title", "subTitle", "cover", "banner", "info", "price", "marketPrice", "stock",
          "status", "createTime")
# nginx keeps a 1 s entry until the second after next (whole-second clock): at most ~2 s.
MICROCACHE_MAX = 3.0
# Text an error body must never contain (API.md: no SQL, stack, file paths or secrets).
LEAKS = ("mysql", "mariadb", "sql", "select ", "flashsale_", "/tmp/", "/work/", ".c:")


def tag():
    """A random ASCII word unique to one test, to find its products in the shared catalogue."""
    return "t%09d" % random.randrange(10**9)


def cjk_pair():
    """Two random CJK ideographs: a 2-character keyword no other product is likely to hold."""
    return "".join(chr(random.randrange(0x5000, 0x9000)) for _ in range(2))


def cache_key(pid):
    """The Redis key of a product's cached detail (common/stock.c)."""
    return "fs:product:{%d}" % pid


class ProductBase(unittest.TestCase):
    """Shared tokens: one admin and one plain user for the whole suite."""

    @classmethod
    def setUpClass(cls):
        cls.admin = fslib.admin_token()
        _, cls.user = fslib.register()

    def create(self, **fields):
        """Create a product as admin; returns its id."""
        return fslib.create_product(self.admin, **fields)

    def detail(self, pid, fresh=True):
        """GET detail; fresh=True reads past the microcache (no-cache, allowed from loopback)."""
        return get(PV + "/product/detail", {"id": pid}, token=self.admin if fresh else None,
                   headers={"Cache-Control": "no-cache"} if fresh else None)

    def public_sees(self, pid, pred):
        """Does a public detail satisfy pred within MICROCACHE_MAX seconds?"""
        return fslib.wait_until(lambda: pred(self.detail(pid, fresh=False)),
                                timeout=MICROCACHE_MAX, interval=0.2)

    def listing(self, fresh=True, **query):
        """GET list with the given query parameters."""
        return get(PV + "/product/list", query, token=self.admin if fresh else None,
                   headers={"Cache-Control": "no-cache"} if fresh else None)

    def update(self, body, token=None):
        """POST update as admin (or token)."""
        return post(PV + "/admin/product/update", body, token=token or self.admin)

    def assert_fail(self, r, code, status):
        """An error envelope with this code and HTTP status, and no internals in msg."""
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.code, code, r)
        self.assertIsInstance(r.json.get("msg"), str, r)
        self.assertNotIn("data", r.json, r)
        low = r.text.lower()
        for leak in LEAKS:
            self.assertNotIn(leak, low, r)


class TestProductRead(ProductBase):
    """Health, create + detail round trip, list shape, pagination and search."""

    def test_healthz(self):
        r = get(PV + "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ok", "checks": {"mysql": "ok", "redis": "ok"}})

    def test_create_then_detail_round_trip(self):
        t = tag()
        body = {"title": "Apple iPhone 15 128G " + t, "subTitle": "A16 仿生芯片 · 灵动岛",
                "cover": "/img/products/phone.svg",
                "banner": "/img/products/phone.svg,https://cdn.example.com/a.png",
                "info": "第一行\n第二行\t(tab)", "price": 599900, "marketPrice": 699900,
                "stock": 42, "status": 1}
        before = int(time.time())
        r = post(PV + "/admin/product/create", body, token=self.admin)
        self.assertEqual((r.status, r.code), (200, 200), r)
        pid = r.data["id"]
        self.assertIsInstance(pid, int)
        self.assertGreater(pid, 0)
        d = self.detail(pid, fresh=False)
        self.assertEqual((d.status, d.code), (200, 200), d)
        p = d.data["product"]
        self.assertEqual(sorted(p), sorted(FIELDS))
        for k, v in body.items():
            self.assertEqual(p[k], v, k)
        self.assertEqual(p["id"], pid)
        self.assertTrue(before - 2 <= p["createTime"] <= time.time() + 2, p)

    def test_create_defaults(self):
        t = tag()
        pid = self.create(title="minimal " + t, price=0, stock=0, status=1)
        p = self.detail(pid).data["product"]
        self.assertEqual((p["subTitle"], p["cover"], p["banner"], p["info"]), ("", "", "", ""))
        self.assertEqual((p["price"], p["marketPrice"], p["stock"]), (0, 0, 0))

    def test_list_pagination_and_totals(self):
        t = tag()
        ids = [self.create(title="page %s %d" % (t, i), price=100 + i) for i in range(5)]
        self.create(title="page %s off shelf" % t, status=0)
        seen = []
        for page, want in ((1, 2), (2, 2), (3, 1), (4, 0)):
            r = self.listing(page=page, pageSize=2, keyword=t)
            self.assertEqual((r.status, r.code), (200, 200), r)
            self.assertEqual(r.data["total"], 5, r)
            self.assertEqual((r.data["page"], r.data["pageSize"]), (page, 2))
            self.assertEqual(len(r.data["list"]), want, r)
            seen += [p["id"] for p in r.data["list"]]
        self.assertEqual(seen, sorted(ids, reverse=True), "newest first, no overlap, none lost")
        one = self.listing(page=1, pageSize=2, keyword=t).data["list"][0]
        for k in ("id", "title", "subTitle", "cover", "price", "marketPrice", "stock", "status",
                  "createTime"):
            self.assertIn(k, one)
        self.assertEqual(one["status"], 1)

    def test_list_without_keyword_counts_live_products(self):
        self.create(title="count " + tag())
        live = int(sql("SELECT COUNT(*) FROM flashsale_product.product "
                       "WHERE del_state = 0 AND status = 1")[0][0])
        r = self.listing(page=1, pageSize=100)
        self.assertEqual((r.status, r.code), (200, 200), r)
        self.assertEqual(r.data["total"], live)
        self.assertEqual(len(r.data["list"]), min(live, 100))
        self.assertTrue(all(p["status"] == 1 for p in r.data["list"]))

    def test_chinese_keyword_two_characters(self):
        pair = cjk_pair()
        pid = self.create(title="限时秒杀%s旗舰手机" % pair, subTitle="5G 全网通")
        r = self.listing(page=1, pageSize=10, keyword=pair)
        self.assertEqual((r.status, r.code), (200, 200), r)
        self.assertEqual([p["id"] for p in r.data["list"]], [pid], r)
        self.assertEqual(r.data["total"], 1)
        # The subtitle is searched too, and ASCII matches ignore case.
        pair2 = cjk_pair()
        t = tag()
        pid2 = self.create(title="Mate " + t.upper(), subTitle="麒麟%s芯片" % pair2)
        self.assertEqual([p["id"] for p in self.listing(page=1, pageSize=10,
                                                        keyword=pair2).data["list"]], [pid2])
        self.assertEqual([p["id"] for p in self.listing(page=1, pageSize=10,
                                                        keyword="mate " + t).data["list"]],
                         [pid2])

    def test_keyword_metacharacters_are_literal(self):
        t = tag()
        pct = self.create(title="100%% 纯棉 %s" % t)
        self.create(title="1000 纯棉 %s" % t)
        und = self.create(title="snake_case %s" % t)
        self.create(title="snakeXcase %s" % t)
        r = self.listing(page=1, pageSize=10, keyword="0% 纯棉 " + t)
        self.assertEqual([p["id"] for p in r.data["list"]], [pct], r)
        r = self.listing(page=1, pageSize=10, keyword="e_case " + t)
        self.assertEqual([p["id"] for p in r.data["list"]], [und], r)
        for kw in ("' OR 1=1 -- ", "\" OR \"\"=\"", "'; DROP TABLE product; --", "%", "_",
                   "!", "\\", "%' OR '1'='1"):
            r = self.listing(page=1, pageSize=10, keyword=kw + t)
            self.assertEqual((r.status, r.code), (200, 200), (kw, r))
            self.assertEqual((r.data["list"], r.data["total"]), ([], 0), kw)
        r = self.listing(page=1, pageSize=10, keyword="' OR 1=1 -- ")
        self.assertEqual((r.status, r.code, r.data["total"]), (200, 200, 0), r)
        self.assertEqual(sql("SELECT COUNT(*) > 0 FROM flashsale_product.product")[0][0], "1")

    def test_bad_list_parameters(self):
        for q in ({"page": 1, "pageSize": 0}, {"page": 1, "pageSize": 1000},
                  {"page": 0, "pageSize": 10}, {"page": -1, "pageSize": 10},
                  {"page": "abc", "pageSize": 10}, {"page": 1, "pageSize": "1e2"},
                  {"pageSize": 10}, {"page": 1}, {"page": 1, "pageSize": 10, "keyword": "x" * 65},
                  {"page": 1, "pageSize": 10, "keyword": "a\nb"}):
            r = self.listing(fresh=False, **q)
            self.assert_fail(r, 100002, 400)
        r = self.listing(fresh=False, page=1, pageSize=0)
        self.assertIn("pageSize", r.json["msg"])
        r = self.listing(fresh=False, page=1, pageSize=100, keyword="")
        self.assertEqual((r.status, r.code), (200, 200), r)

    def test_bad_detail_parameters(self):
        for q in ({"id": "abc"}, {"id": "0"}, {"id": "-5"}, {"id": "1.5"}, {"id": ""}, {}):
            r = get(PV + "/product/detail", q)
            self.assert_fail(r, 100002, 400)
        self.assertIn("id", get(PV + "/product/detail", {"id": "abc"}).json["msg"])
        top = int(sql("SELECT COALESCE(MAX(id), 0) FROM flashsale_product.product")[0][0])
        r = get(PV + "/product/detail", {"id": top + 100000})
        self.assert_fail(r, 300001, 404)


class TestProductAdmin(ProductBase):
    """Admin-only writes: enforcement, validation, update, soft delete, shelf status."""

    def count_titled(self, title):
        """Rows in MariaDB with exactly this title (deleted or not)."""
        return int(sql("SELECT COUNT(*) FROM flashsale_product.product WHERE title = '%s'"
                       % title.replace("'", "''"))[0][0])

    def test_admin_only(self):
        pid = self.create(title="guarded " + tag(), price=500)
        t = "forbidden " + tag()
        for path, body in (("create", {"title": t, "price": 1, "stock": 1, "status": 1}),
                           ("update", {"id": pid, "price": 1}), ("delete", {"id": pid})):
            r = post(PV + "/admin/product/" + path, body, token=self.user)
            self.assert_fail(r, 100008, 403)
            r = post(PV + "/admin/product/" + path, body)
            self.assert_fail(r, 100003, 401)
            r = post(PV + "/admin/product/" + path, body, token="not-a-token")
            self.assert_fail(r, 100003, 401)
        self.assertEqual(self.count_titled(t), 0)
        p = self.detail(pid).data["product"]
        self.assertEqual(p["price"], 500)

    def test_create_validation(self):
        t = "invalid " + tag()
        good = {"title": t, "price": 100, "stock": 5, "status": 1}
        bad = [dict(good, price=-1), {k: v for k, v in good.items() if k != "title"},
               dict(good, title=""), dict(good, title="x" * 129), dict(good, title="长" * 129),
               dict(good, title="   "), dict(good, status=2), dict(good, status=-1),
               {k: v for k, v in good.items() if k != "price"},
               {k: v for k, v in good.items() if k != "stock"},
               {k: v for k, v in good.items() if k != "status"},
               dict(good, stock=-1), dict(good, marketPrice=-1), dict(good, price="100"),
               dict(good, price=1.5), dict(good, title=123), dict(good, title="a\x00b"),
               dict(good, cover="javascript:alert(1)"), dict(good, cover="/a.png\" onerror=x"),
               dict(good, banner="/a.png,data:x"), dict(good, subTitle="s" * 256),
               dict(good, price=10**15), dict(good, stock=2**31)]
        for body in bad:
            r = post(PV + "/admin/product/create", body, token=self.admin)
            self.assert_fail(r, 100002, 400)
        r = post(PV + "/admin/product/create", raw="[1,2]", token=self.admin)
        self.assert_fail(r, 100002, 400)
        r = post(PV + "/admin/product/create", raw="{\"title\":", token=self.admin)
        self.assert_fail(r, 100002, 400)
        self.assertEqual(self.count_titled(t), 0, "bad input changed nothing")
        # The boundaries are accepted: 128 characters (Chinese counts as one each), price 0.
        pid = self.create(title="长" * 128, price=0, stock=0, status=0)
        self.assertEqual(self.update({"id": pid, "status": 1}).data["product"]["title"], "长" * 128)

    def test_update_visible_at_once_and_cache_dropped(self):
        pid = self.create(title="cached " + tag(), price=1000, stock=7)
        self.assertEqual(self.detail(pid, fresh=False).data["product"]["price"], 1000)
        cached = redis("GET", cache_key(pid))
        self.assertEqual(json.loads(cached)["price"], 1000, "detail filled the Redis cache")
        ttl = int(redis("TTL", cache_key(pid)))
        self.assertTrue(0 < ttl <= 60, ttl)
        r = self.update({"id": pid, "price": 2000, "subTitle": "new subtitle"})
        self.assertEqual((r.status, r.code), (200, 200), r)
        self.assertEqual(sorted(r.data["product"]), sorted(FIELDS))
        self.assertEqual((r.data["product"]["price"], r.data["product"]["subTitle"]),
                         (2000, "new subtitle"))
        self.assertEqual(r.data["product"]["stock"], 7, "fields not given stay")
        self.assertEqual(redis("EXISTS", cache_key(pid)), "0", "update dropped the cached copy")
        d = self.detail(pid)
        self.assertEqual(d.data["product"]["price"], 2000, d)
        self.assertEqual(json.loads(redis("GET", cache_key(pid)))["price"], 2000)
        # The public (microcached for 1 s) sees it too once that second is over.
        self.assertTrue(self.public_sees(pid, lambda r: r.data["product"]["price"] == 2000))

    def test_detail_is_served_from_redis(self):
        pid = self.create(title="redis " + tag(), stock=3)
        self.assertEqual(self.detail(pid).data["product"]["stock"], 3)
        # Behind the API's back MariaDB changes; the cached copy answers until it is dropped.
        sql("UPDATE flashsale_product.product SET stock = 9 WHERE id = %d" % pid)
        self.assertEqual(self.detail(pid).data["product"]["stock"], 3)
        redis("DEL", cache_key(pid))
        self.assertEqual(self.detail(pid).data["product"]["stock"], 9)

    def test_unknown_id_remembered_briefly(self):
        top = int(sql("SELECT COALESCE(MAX(id), 0) FROM flashsale_product.product")[0][0])
        missing = top + 500000
        self.assert_fail(self.detail(missing), 300001, 404)
        self.assertEqual(redis("GET", cache_key(missing)), "")
        self.assertEqual(redis("EXISTS", cache_key(missing)), "1")
        ttl = int(redis("TTL", cache_key(missing)))
        self.assertTrue(0 < ttl <= 10, ttl)
        redis("DEL", cache_key(missing))

    def test_create_forgets_remembered_missing_id(self):
        nxt = int(sql("SELECT AUTO_INCREMENT FROM information_schema.TABLES "
                      "WHERE TABLE_SCHEMA = 'flashsale_product' AND TABLE_NAME = 'product'")[0][0])
        self.assert_fail(self.detail(nxt, fresh=False), 300001, 404)
        self.assertEqual(redis("EXISTS", cache_key(nxt)), "1", "the miss was remembered")
        pid = self.create(title="next " + tag())
        self.assertEqual(pid, nxt, "no other product was created meanwhile")
        self.assertEqual(redis("EXISTS", cache_key(nxt)), "0", "create forgot the remembered miss")
        # The program answers at once; nginx's microcache may hold the 404 for its second.
        self.assertEqual(self.detail(pid).data["product"]["id"], pid)
        self.assertTrue(self.public_sees(pid, lambda d: d.status == 200 and
                                         d.data["product"]["id"] == pid))

    def test_update_validation(self):
        pid = self.create(title="upd " + tag(), price=300)
        for body in ({"id": pid}, {"id": "abc", "price": 1}, {"id": 0, "price": 1},
                     {"price": 1}, {"id": pid, "price": -1}, {"id": pid, "status": 2},
                     {"id": pid, "title": ""}, {"id": pid, "title": "x" * 129},
                     {"id": pid, "stock": -3}, {"id": pid, "price": "free"}):
            self.assert_fail(self.update(body), 100002, 400)
        top = int(sql("SELECT MAX(id) FROM flashsale_product.product")[0][0])
        self.assert_fail(self.update({"id": top + 100000, "price": 1}), 300001, 404)
        p = self.detail(pid).data["product"]
        self.assertEqual((p["price"], p["title"][:4]), (300, "upd "))

    def test_soft_delete(self):
        t = tag()
        pid = self.create(title="doomed " + t)
        self.assertEqual(self.detail(pid, fresh=False).code, 200)
        self.assertEqual([p["id"] for p in self.listing(page=1, pageSize=10,
                                                        keyword=t).data["list"]], [pid])
        r = post(PV + "/admin/product/delete", {"id": pid}, token=self.admin)
        self.assertEqual((r.status, r.code, r.data), (200, 200, {}), r)
        self.assert_fail(self.detail(pid), 300001, 404)
        self.assertTrue(self.public_sees(pid, lambda r: r.code == 300001))
        self.assert_fail(self.detail(pid, fresh=False), 300001, 404)
        r = self.listing(page=1, pageSize=10, keyword=t)
        self.assertEqual((r.data["list"], r.data["total"]), ([], 0))
        self.assertEqual(sql("SELECT del_state FROM flashsale_product.product WHERE id = %d"
                             % pid), [["1"]], "the row stays, marked deleted")
        self.assert_fail(post(PV + "/admin/product/delete", {"id": pid}, token=self.admin),
                         300001, 404)
        self.assert_fail(self.update({"id": pid, "price": 1}), 300001, 404)
        self.assert_fail(post(PV + "/admin/product/delete", {"id": "abc"}, token=self.admin),
                         100002, 400)

    def test_off_shelf_hidden_until_on_shelf(self):
        t = tag()
        pid = self.create(title="shelf " + t, status=0)
        self.assert_fail(self.detail(pid), 300001, 404)
        self.assertEqual(self.listing(page=1, pageSize=10, keyword=t).data["total"], 0)
        r = self.update({"id": pid, "status": 1})
        self.assertEqual(r.data["product"]["status"], 1, r)
        self.assertEqual(self.detail(pid).data["product"]["status"], 1)
        self.assertEqual(self.listing(page=1, pageSize=10, keyword=t).data["total"], 1)
        self.update({"id": pid, "status": 0})
        self.assert_fail(self.detail(pid), 300001, 404)


class TestProductMicrocache(ProductBase):
    """nginx's 1 s microcache of public catalogue reads (nginx.conf)."""

    def test_public_reads_are_microcached(self):
        if fslib.SERVER != "nginx":
            self.skipTest("the microcache is nginx's")
        pid = self.create(title="micro " + tag())
        first = self.detail(pid, fresh=False)
        second = self.detail(pid, fresh=False)
        self.assertEqual(first.headers.get("x-cache-status"), "MISS")
        self.assertEqual(second.headers.get("x-cache-status"), "HIT")
        self.assertEqual(first.json, second.json)
        for h in ("x-request-id", "x-content-type-options", "content-security-policy",
                  "referrer-policy"):
            self.assertIn(h, second.headers)
        self.assertNotEqual(first.headers["x-request-id"], second.headers["x-request-id"])
        self.assertEqual(self.detail(pid).headers.get("x-cache-status"), "BYPASS")
        # Errors are not cached: a bad request is answered by the program every time.
        bad = get(PV + "/product/detail", {"id": "abc"})
        self.assertNotEqual(get(PV + "/product/detail", {"id": "abc"}).headers.get(
            "x-cache-status"), "HIT", bad)

    def test_refreshed_entries_never_go_back(self):
        """Hits keep the cache file open (open_file_cache): each refresh is seen, and once a
        price was seen publicly no older one comes back (an old file's descriptor is not used)."""
        if fslib.SERVER != "nginx":
            self.skipTest("the microcache is nginx's")
        pid = self.create(title="refresh " + tag(), price=100)
        seen = []
        for price in (101, 102, 103):
            self.assertEqual(self.update({"id": pid, "price": price}).code, 200)
            deadline = time.monotonic() + MICROCACHE_MAX
            while time.monotonic() < deadline:
                got = self.detail(pid, fresh=False).data["product"]["price"]
                if not seen or seen[-1] != got:
                    seen.append(got)
                if got == price:
                    break
                time.sleep(0.02)
            self.assertEqual(seen[-1], price, seen)
        self.assertEqual(seen, sorted(seen), "an older price came back: %s" % seen)
