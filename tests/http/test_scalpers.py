"""test_scalpers - against scalpers (黄牛): the ALTCHA challenge before a seckill token, reservations,
account age, verified mobiles, the cap of accounts per client address, the blocklist, and a
scalper farm against honest users in one sale."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import time
import unittest

import fslib
from fslib import get, post, sql, wait_until

OK = 200
_admin = []


def admin():
    """One admin token for the whole suite."""
    if not _admin:
        _admin.append(fslib.admin_token())
    return _admin[0]


def make_activity(stock=10, limit=1, start=-1, end=600, **rules):
    """An activity with anti-scalper rules (start/end relative to now); returns its id."""
    pid = fslib.create_product(admin(), stock=stock + 10)
    now = int(time.time())
    body = {"productId": pid, "seckillPrice": 100, "stock": stock, "perUserLimit": limit,
            "startTime": now + start, "endTime": now + end}
    body.update(rules)
    r = post("/seckill/v1/admin/activity/create", body, token=admin())
    assert r.code == OK, r
    return r.data["id"]


def user(source=None, age_days=0, verified=False):
    """A new user (registered from source); its account made age_days old. Returns (id, token)."""
    mobile, tok = fslib.register(source=source)
    uid = int(sql(f"SELECT id FROM flashsale_usercenter.user WHERE mobile = '{mobile}'")[0][0])
    sets = []
    if age_days:
        sets.append(f"create_time = create_time - {int(age_days * 86400)}")
    if verified:
        sets.append("mobile_verified = 1, mobile_verify_time = UNIX_TIMESTAMP()")
    if sets:
        sql(f"UPDATE flashsale_usercenter.user SET {', '.join(sets)} WHERE id = {uid}")
    return uid, tok


def challenge(aid):
    r = get("/seckill/v1/seckill/challenge", {"activityId": aid})
    assert r.code == OK, r
    return r.data["challenge"]


def solve(ch):
    """The number a client finds by brute force (what the widget's workers do)."""
    for n in range(ch["maxnumber"] + 1):
        if hashlib.sha256((ch["salt"] + str(n)).encode()).hexdigest() == ch["challenge"]:
            return n
    raise AssertionError("challenge has no solution")


def payload(ch, number=None, **override):
    """The widget's payload: base64 of the JSON solution."""
    p = {"algorithm": ch["algorithm"], "challenge": ch["challenge"],
         "number": solve(ch) if number is None else number, "salt": ch["salt"],
         "signature": ch["signature"], "took": 12}
    p.update(override)
    return base64.b64encode(json.dumps(p).encode()).decode()


def signed(aid, expires, number=7):
    """A challenge signed with the stack's own key (to test what only the key holder can make)."""
    key = fslib.conf_value("seckill", "pow_secret").encode()
    salt = "00112233445566778899aabb?expires=%d&a=%d&" % (expires, aid)
    ch = hashlib.sha256((salt + str(number)).encode()).hexdigest()
    return {"algorithm": "SHA-256", "challenge": ch, "maxnumber": 1000, "salt": salt,
            "signature": hmac.new(key, ch.encode(), hashlib.sha256).hexdigest()}


def token(tok, aid, altcha=None, source=None):
    body = {"activityId": aid}
    if altcha is not None:
        body["altcha"] = altcha
    return post("/seckill/v1/seckill/token", body, token=tok, source=source)


def buy(tok, aid, stok, source=None):
    return post("/seckill/v1/seckill/do", {"activityId": aid, "token": stok, "quantity": 1},
                token=tok, query={"activityId": aid}, source=source)


def detail(aid):
    r = get("/seckill/v1/activity/detail", {"id": aid})
    assert r.code == OK, r
    return r.data["activity"]


class Challenge(unittest.TestCase):
    """GET /seckill/challenge and the solved challenge /seckill/token requires."""

    @classmethod
    def setUpClass(cls):
        cls.aid = make_activity(powDifficulty=5000)
        cls.uid, cls.tok = user()

    def test_challenge_format(self):
        ch = challenge(self.aid)
        self.assertEqual(ch["algorithm"], "SHA-256")
        self.assertEqual(ch["maxnumber"], 5000)
        self.assertRegex(ch["challenge"], "^[0-9a-f]{64}$")
        self.assertRegex(ch["signature"], "^[0-9a-f]{64}$")
        self.assertRegex(ch["salt"], r"^[0-9a-f]{24}\?expires=\d+&a=%d&$" % self.aid)
        exp = int(ch["salt"].split("expires=")[1].split("&")[0])
        self.assertGreater(exp, time.time())
        self.assertNotEqual(ch["challenge"], challenge(self.aid)["challenge"])

    def test_no_challenge_without_difficulty(self):
        aid = make_activity()
        self.assertIsNone(challenge(aid))
        self.assertEqual(token(self.tok, aid).code, OK)
        self.assertEqual(detail(aid)["powDifficulty"], 0)

    def test_challenge_bad_input(self):
        self.assertEqual(get("/seckill/v1/seckill/challenge", {"activityId": 999999999}).code,
                         600001)
        self.assertEqual(get("/seckill/v1/seckill/challenge", {"activityId": "x"}).code, 100002)
        self.assertEqual(get("/seckill/v1/seckill/challenge").code, 100002)

    def test_missing_solution(self):
        r = token(self.tok, self.aid)
        self.assertEqual((r.status, r.code), (403, 100012), r)
        self.assertEqual(token(self.tok, self.aid, altcha=5).code, 100012)

    def test_solved_once_then_replayed(self):
        p = payload(challenge(self.aid))
        r = token(self.tok, self.aid, p)
        self.assertEqual(r.code, OK, r)
        self.assertTrue(r.data["token"])
        r = token(self.tok, self.aid, p)
        self.assertEqual(r.code, 100012, r)
        self.assertIn("already used", r.json["msg"])
        # Another user cannot reuse it either.
        _, other = user()
        self.assertEqual(token(other, self.aid, p).code, 100012)

    def test_wrong_number(self):
        ch = challenge(self.aid)
        r = token(self.tok, self.aid, payload(ch, number=(solve(ch) + 1) % 5001))
        self.assertEqual(r.code, 100012, r)
        self.assertIn("wrong", r.json["msg"])

    def test_forged_signature(self):
        ch = challenge(self.aid)
        r = token(self.tok, self.aid, payload(ch, signature="0" * 64))
        self.assertEqual(r.code, 100012, r)
        # A challenge the client made up itself (signed with a guessed key).
        salt = "00112233445566778899aabb?expires=%d&a=%d&" % (time.time() + 300, self.aid)
        mine = hashlib.sha256((salt + "3").encode()).hexdigest()
        forged = {"algorithm": "SHA-256", "challenge": mine, "maxnumber": 10, "salt": salt,
                  "signature": hmac.new(b"guess", mine.encode(), hashlib.sha256).hexdigest()}
        self.assertEqual(token(self.tok, self.aid, payload(forged)).code, 100012)

    def test_salt_spliced_to_extend_expiry(self):
        ch = challenge(self.aid)
        n = solve(ch)
        r = token(self.tok, self.aid, payload(ch, number=n, salt=ch["salt"] + "expires=9999999999&"))
        self.assertEqual(r.code, 100012, r)

    def test_expired_salt(self):
        r = token(self.tok, self.aid, payload(signed(self.aid, int(time.time()) - 1)))
        self.assertEqual(r.code, 100012, r)
        self.assertIn("expired", r.json["msg"])

    def test_other_activity(self):
        other = make_activity(powDifficulty=5000)
        r = token(self.tok, self.aid, payload(challenge(other)))
        self.assertEqual(r.code, 100012, r)
        self.assertIn("another activity", r.json["msg"])

    def test_malformed_payloads(self):
        for bad in ["", "!!!", base64.b64encode(b"[]").decode(),
                    base64.b64encode(b'{"algorithm":"SHA-256"}').decode(), "A" * 5000]:
            r = token(self.tok, self.aid, bad)
            self.assertEqual(r.code, 100012, (bad[:20], r))

    def test_difficulty_validated(self):
        pid = fslib.create_product(admin())
        now = int(time.time())
        base = {"productId": pid, "seckillPrice": 1, "stock": 1, "perUserLimit": 1,
                "startTime": now, "endTime": now + 60}
        for bad in [{"powDifficulty": -1}, {"powDifficulty": 10}, {"powDifficulty": 10**9},
                    {"requireReservation": 1}, {"minAccountAge": -5},
                    {"maxAccountsPerAddress": "x"}]:
            r = post("/seckill/v1/admin/activity/create", dict(base, **bad), token=admin())
            self.assertEqual(r.code, 100002, (bad, r))


class Reservations(unittest.TestCase):
    """requireReservation: tokens only for users who reserved before the start."""

    def test_reserve_then_token(self):
        aid = make_activity(start=4, requireReservation=True)
        _, tok = user()
        _, stranger = user()
        self.assertTrue(detail(aid)["requireReservation"])
        self.assertEqual(detail(aid)["reserved"], 0)
        r = post("/seckill/v1/activity/reserve", {"activityId": aid}, token=tok)
        self.assertEqual(r.code, OK, r)
        # Twice is harmless and counts once.
        self.assertEqual(post("/seckill/v1/activity/reserve", {"activityId": aid},
                              token=tok).code, OK)
        self.assertEqual(detail(aid)["reserved"], 1)
        self.assertEqual(token(tok, aid).code, OK)
        r = token(stranger, aid)
        self.assertEqual((r.status, r.code), (403, 600009), r)
        # Reservations close at the start.
        self.assertTrue(wait_until(lambda: time.time() >= detail(aid)["startTime"], 10))
        r = post("/seckill/v1/activity/reserve", {"activityId": aid}, token=stranger)
        self.assertEqual(r.code, 100002, r)
        self.assertEqual(token(stranger, aid).code, 600009)

    def test_reserve_bad_input(self):
        _, tok = user()
        plain = make_activity(start=60)
        self.assertEqual(post("/seckill/v1/activity/reserve", {"activityId": plain},
                              token=tok).code, 100002)
        self.assertEqual(post("/seckill/v1/activity/reserve", {"activityId": 999999999},
                              token=tok).code, 600001)
        self.assertEqual(post("/seckill/v1/activity/reserve", {}, token=tok).code, 100002)
        self.assertEqual(post("/seckill/v1/activity/reserve", {"activityId": plain}).code,
                         100003)

    def test_redis_lost_reservations_reload_from_mysql(self):
        aid = make_activity(start=4, requireReservation=True)
        _, tok = user()
        _, stranger = user()
        self.assertEqual(post("/seckill/v1/activity/reserve", {"activityId": aid},
                              token=tok).code, OK)
        fslib.redis("DEL", "{a:%d}:reserved" % aid)
        self.assertEqual(token(stranger, aid).code, 600009)  # the set is loaded again first
        self.assertEqual(fslib.redis("SISMEMBER", "{a:%d}:reserved" % aid, "0"), "1")
        self.assertEqual(token(tok, aid).code, OK)


class Eligibility(unittest.TestCase):
    """minAccountAge, requireVerifiedMobile, maxAccountsPerAddress."""

    def test_account_age(self):
        aid = make_activity(minAccountAge=7 * 86400)
        _, young = user()
        _, old = user(age_days=8)
        r = token(young, aid)
        self.assertEqual((r.status, r.code), (403, 600008), r)
        self.assertIn("too new", r.json["msg"])
        self.assertEqual(token(old, aid).code, OK)

    def test_verified_mobile(self):
        aid = make_activity(requireVerifiedMobile=True)
        _, plain = user()
        _, verified = user(verified=True)
        r = token(plain, aid)
        self.assertEqual(r.code, 600008, r)
        self.assertIn("verified mobile", r.json["msg"])
        self.assertEqual(token(verified, aid).code, OK)

    def test_address_cap(self):
        aid = make_activity(maxAccountsPerAddress=2)
        a, b, c = (user()[1] for _ in range(3))
        self.assertEqual(token(a, aid, source="127.0.0.21").code, OK)
        self.assertEqual(token(b, aid, source="127.0.0.21").code, OK)
        r = token(c, aid, source="127.0.0.21")
        self.assertEqual(r.code, 600008, r)
        self.assertIn("address cap", r.json["msg"])
        # An account counted before gets its next token; another address is not affected.
        self.assertEqual(token(a, aid, source="127.0.0.21").code, OK)
        self.assertEqual(token(c, aid, source="127.0.0.22").code, OK)


class Blocklist(unittest.TestCase):
    """/admin/blocklist/*: users, mobiles and addresses refused tokens."""

    def setUp(self):
        self.aid = make_activity()

    def test_user_mobile_address(self):
        uid, tok = user()
        mobile = sql(f"SELECT mobile FROM flashsale_usercenter.user WHERE id = {uid}")[0][0]
        for entry, source in [({"userId": uid}, None), ({"mobile": mobile}, None),
                              ({"address": "127.0.0.33"}, "127.0.0.33")]:
            self.assertEqual(token(tok, self.aid, source=source).code, OK)
            r = post("/seckill/v1/admin/blocklist/add", dict(entry, reason="scalper"),
                     token=admin())
            self.assertEqual(r.code, OK, r)
            r = token(tok, self.aid, source=source)
            self.assertEqual(r.code, 600008, (entry, r))
            self.assertIn("blocked", r.json["msg"])
            r = get("/seckill/v1/admin/blocklist/list", {"page": 1, "pageSize": 100},
                    token=admin())
            self.assertEqual(r.code, OK, r)
            kind, value = next(iter(entry.items()))
            self.assertTrue(any(e["value"] == str(value) and e["reason"] == "scalper"
                                for e in r.data["list"]), r)
            self.assertEqual(post("/seckill/v1/admin/blocklist/remove", entry,
                                  token=admin()).code, OK)
            self.assertEqual(token(tok, self.aid, source=source).code, OK)

    def test_redis_copy_rebuilt_from_mysql(self):
        uid, tok = user()
        self.assertEqual(post("/seckill/v1/admin/blocklist/add", {"userId": uid},
                              token=admin()).code, OK)
        fslib.redis("DEL", "{bl}:blocklist")
        self.assertEqual(token(tok, self.aid).code, 600008)
        post("/seckill/v1/admin/blocklist/remove", {"userId": uid}, token=admin())

    def test_bad_input_and_admin_only(self):
        _, tok = user()
        for bad in [{}, {"userId": 1, "mobile": "13800000000"}, {"mobile": "23800000000"},
                    {"mobile": "1380000"}, {"address": "not-an-ip"}, {"userId": 0},
                    {"userId": 1, "reason": "x" * 200}]:
            r = post("/seckill/v1/admin/blocklist/add", bad, token=admin())
            self.assertEqual(r.code, 100002, (bad, r))
        self.assertEqual(post("/seckill/v1/admin/blocklist/add", {"userId": 5},
                              token=tok).code, 100008)
        self.assertEqual(get("/seckill/v1/admin/blocklist/list", token=tok).code, 100008)
        self.assertEqual(post("/seckill/v1/admin/blocklist/remove", {"userId": 5},
                              token=tok).code, 100008)


class ScalperFarm(unittest.TestCase):
    """One sale: a farm of 50 accounts on one address against 20 honest users."""

    STOCK, HONEST, FARM, CAP = 15, 20, 50, 3

    def test_farm_against_honest_users(self):
        aid = make_activity(stock=self.STOCK, limit=1, start=8, end=600,
                            requireReservation=True, powDifficulty=5000,
                            minAccountAge=86400, maxAccountsPerAddress=self.CAP)
        farm_addr = "127.0.0.50"
        # usercenter.register_per_addr, when the stack's config leaves it at the default (10).
        cap = int(fslib.conf_value("usercenter", "register_per_addr") or 10)
        # The farm registers a minute before the sale, from its address: the per-address
        # registration cap stops it there, so it registers the rest through proxies (other
        # addresses) and then acts from its one address. Half its accounts are bought old ones.
        mine = [post("/usercenter/v1/user/register",
                     {"mobile": fslib.unique_mobile(), "password": "secret123"},
                     source=farm_addr) for _ in range(cap + 5)]
        self.assertEqual(sum(r.code == OK for r in mine), cap, [r.code for r in mine])
        self.assertTrue(all(r.code == 100007 for r in mine if r.code != OK))
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            farm = list(ex.map(lambda i: user(source="127.0.3.%d" % (i + 1),
                                              age_days=30 if i % 2 else 0), range(self.FARM)))
            honest = list(ex.map(lambda i: (user(age_days=30), "127.0.1.%d" % (i + 1)),
                                 range(self.HONEST)))
            for _, tok in farm:
                self.assertEqual(post("/seckill/v1/activity/reserve", {"activityId": aid},
                                      token=tok, source=farm_addr).code, OK)
            for (_, tok), addr in honest:
                self.assertEqual(post("/seckill/v1/activity/reserve", {"activityId": aid},
                                      token=tok, source=addr).code, OK)
        self.assertEqual(detail(aid)["reserved"], self.FARM + self.HONEST)
        start = detail(aid)["startTime"]
        self.assertTrue(wait_until(lambda: time.time() >= start - 4, 15))

        # The farm's script: no challenge, a forged one, one solution replayed, then real work.
        farm_tokens = []
        ch = challenge(aid)
        replayed = payload(ch)
        for i, (_, tok) in enumerate(farm):
            self.assertEqual(token(tok, aid, source=farm_addr).code, 100012)
            forged = payload(ch, number=0, signature="f" * 64)
            self.assertEqual(token(tok, aid, forged, source=farm_addr).code, 100012)
            r = token(tok, aid, replayed, source=farm_addr)
            self.assertIn(r.code, (OK, 100012, 600008), r)
            if i > 0:
                self.assertEqual(r.code, 100012, r)  # used by the first account
            if r.code == OK:
                farm_tokens.append((tok, r.data["token"]))
                continue
            r = token(tok, aid, payload(challenge(aid)), source=farm_addr)
            self.assertIn(r.code, (OK, 600008), r)
            if r.code == OK:
                farm_tokens.append((tok, r.data["token"]))
        self.assertLessEqual(len(farm_tokens), self.CAP)

        # Honest users solve their challenge (the storefront's widget does it in the countdown).
        def honest_token(h):
            (_, tok), addr = h
            r = token(tok, aid, payload(challenge(aid)), source=addr)
            self.assertEqual(r.code, OK, r)
            return tok, r.data["token"], addr

        with concurrent.futures.ThreadPoolExecutor(10) as ex:
            honest_tokens = list(ex.map(honest_token, honest))
        self.assertEqual(len(honest_tokens), self.HONEST)

        self.assertTrue(wait_until(lambda: time.time() >= start, 15))
        buyers = [(t, s, a) for t, s, a in honest_tokens] + \
                 [(t, s, farm_addr) for t, s in farm_tokens]
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            answers = list(ex.map(lambda b: buy(b[0], aid, b[1], source=b[2]), buyers))
        queued = [a for a in answers if a.code == OK]
        self.assertEqual(len(queued), self.STOCK, [a.code for a in answers])
        self.assertTrue(all(a.code in (OK, 600004) for a in answers), answers)

        # Invariants: exactly the stock sold, at most one unit per user.
        def written():
            return int(sql("SELECT COUNT(*) FROM flashsale_order.orders WHERE activity_id = "
                           f"{aid}")[0][0])
        self.assertTrue(wait_until(lambda: written() == self.STOCK, 30), written())
        per_user = sql("SELECT user_id, SUM(quantity) FROM flashsale_order.orders WHERE "
                       f"activity_id = {aid} GROUP BY user_id HAVING SUM(quantity) > 1")
        self.assertEqual(per_user, [])
        sold = int(sql(f"SELECT sold FROM flashsale_seckill.activity WHERE id = {aid}")[0][0])
        self.assertEqual(sold, self.STOCK)


if __name__ == "__main__":
    unittest.main()
