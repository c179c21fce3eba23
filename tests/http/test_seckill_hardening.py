"""test_seckill_hardening - the purchase path's hardening (issue 10 items 8, 14, 16, 20; issue 11):
a logged-out token stops buying at once, the client's requestId makes /seckill/do idempotent,
intents the order-writer cannot write (malformed, or refused by MySQL) go to the activity's
dead-letter stream with their units returned once, sold-out markers of ended activities go,
and /seckill/do authenticates by its route flag."""
import os
import time
import unittest

import fslib
from fslib import get, post, sql, redis, wait_until
from test_lua import Resp
from test_seckill import (OK, activity_row, admin, buy, job, make_activity, order_units,
                          redis_state, result, sk_token, users, wait_drained)


def do(user, aid, tok, qty=1, rid=None, url=True):
    """POST /seckill/do, with the client's requestId when given."""
    body = {"activityId": aid, "token": tok, "quantity": qty}
    if rid is not None:
        body["requestId"] = rid
    return post("/seckill/v1/seckill/do", body, token=user,
                query={"activityId": aid} if url else None)


def metric(name, labels=None):
    """A sample of /seckill/v1/metrics summed over lines with those labels, or None."""
    return fslib.metric("seckill", name, labels)


def rcall(*args):
    """One Redis command with exact reply types (lists, ints, strings)."""
    r = Resp()
    try:
        return r.call(*args)
    finally:
        r.close()


def dead_entries(aid):
    """The activity's dead letters as dicts (oldest first)."""
    out = []
    for eid, fields in rcall("XRANGE", "{a:%d}:dead" % aid, "-", "+"):
        d = dict(zip(fields[::2], fields[1::2]))
        d["id"] = eid
        out.append(d)
    return out


def hold_stream(aid):
    """Keep the order-writer off the activity's stream: out of the live set, then wait until
    no writer has read it for 2.5 s (it reloads the set every second, blocks at most 1 s)."""
    redis("SREM", "fs:seckill:live", str(aid))
    since = time.time()

    def idle():
        cs = [dict(zip(c[::2], c[1::2]))
              for c in rcall("XINFO", "CONSUMERS", "{a:%d}:intents" % aid, "writers")]
        if not cs:
            return time.time() - since >= 2.5
        return all(c["idle"] >= 2500 for c in cs)
    assert wait_until(idle, timeout=15, interval=0.2), "the writer kept reading the stream"


def release_stream(aid):
    redis("SADD", "fs:seckill:live", str(aid))


def poison_xadd(aid, rid, uid, qty):
    """An intent the purchase script did not make, with its units taken as the script would."""
    redis("DECRBY", "{a:%d}:stock" % aid, str(qty))
    redis("HINCRBY", "{a:%d}:users" % aid, str(uid), str(qty))
    return redis("XADD", "{a:%d}:intents" % aid, "*", "rid", rid, "uid", str(uid),
                 "aid", str(aid), "qty", str(qty))


def jti(token):
    """The jti claim of an access token (its payload, not verified)."""
    import base64
    import json
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["jti"]


class Revocation(unittest.TestCase):
    """Item 8: logout revokes the token on /seckill/do at once (same EVAL, no session lookup)."""

    def test_logout_stops_buying_at_once(self):
        aid, _ = make_activity(stock=10, limit=2)
        mobile, u = fslib.register()
        other = users(1)[0]
        tok = sk_token(u, aid)              # a fresh seckill token, obtained before logout
        tok_other = sk_token(other, aid)
        self.assertEqual(post("/usercenter/v1/user/logout", {}, token=u).code, OK)
        r = do(u, aid, tok)
        self.assertEqual((r.status, r.code), (401, 100003), r)
        self.assertEqual(redis_state(aid)[:2], (10, 0))  # nothing taken
        self.assertEqual(do(other, aid, tok_other).code, OK)  # others buy on
        # The revocation outlives the token: the key expires no sooner than its exp.
        exp = int(redis("ZRANGE", "{a:%d}:revoked" % aid, "-1", "-1", "WITHSCORES")
                  .split()[1])
        self.assertGreaterEqual(int(redis("EXPIRETIME", "{a:%d}:revoked" % aid)), exp)
        self.assertGreater(exp, time.time())
        # A new login buys again (its own jti).
        u2 = fslib.login(mobile)
        self.assertEqual(do(u2, aid, sk_token(u2, aid)).code, OK)

    def test_logout_all_stops_every_session_buying(self):
        """Logout {all: true}: every session's jti is revoked on /seckill/do, not just the caller's."""
        aid, _ = make_activity(stock=10, limit=2)
        mobile, u = fslib.register()
        u2 = fslib.login(mobile)            # a second session (another device)
        other = users(1)[0]
        toks = [(t, sk_token(t, aid)) for t in (u, u2)]
        self.assertEqual(post("/usercenter/v1/user/logout", {"all": True}, token=u).code, OK)
        for t, tok in toks:
            r = do(t, aid, tok)
            self.assertEqual((r.status, r.code), (401, 100003), r)
            self.assertTrue(redis("ZSCORE", "{a:%d}:revoked" % aid, jti(t)), "jti not revoked")
        self.assertEqual(redis_state(aid)[:2], (10, 0))
        self.assertEqual(do(other, aid, sk_token(other, aid)).code, OK)

    def test_logout_revokes_the_family_on_seckill(self):
        """Logging out with a refreshed token also revokes the login it came from on /seckill/do."""
        aid, _ = make_activity(stock=10, limit=2)
        _, u = fslib.register()
        tok = sk_token(u, aid)
        r = wait_until(lambda: (lambda r: r if r.code != 100007 else None)(
            post("/usercenter/v1/user/refresh", {}, token=u)), timeout=10, interval=0.25)
        self.assertTrue(r and r.code == OK, r)
        child = r.data["accessToken"]
        self.assertEqual(post("/usercenter/v1/user/logout", {}, token=child).code, OK)
        for t in (u, child):
            self.assertTrue(redis("ZSCORE", "{a:%d}:revoked" % aid, jti(t)), "jti not revoked")
        r = do(u, aid, tok)
        self.assertEqual((r.status, r.code), (401, 100003), r)
        self.assertEqual(redis_state(aid)[:2], (10, 0))

    def test_session_evicted_by_the_cap_stops_buying(self):
        """auth.max_sessions: the oldest session, evicted by one login too many, is revoked on
        /seckill/do as a logout would revoke it (its seckill token stops buying at once)."""
        cap = int(fslib.conf_value("auth", "max_sessions") or 10)
        aid, _ = make_activity(stock=10, limit=2)
        mobile, oldest = fslib.register()
        tok = sk_token(oldest, aid)
        newer = [fslib.login(mobile) for _ in range(cap - 1)]  # the cap is full, nothing evicted
        self.assertFalse(redis("ZSCORE", "{a:%d}:revoked" % aid, jti(oldest)))
        newest = fslib.login(mobile)  # one too many: the oldest goes
        self.assertTrue(redis("ZSCORE", "{a:%d}:revoked" % aid, jti(oldest)), "jti not revoked")
        r = do(oldest, aid, tok)
        self.assertEqual((r.status, r.code), (401, 100003), r)
        self.assertEqual(redis_state(aid)[:2], (10, 0))
        for t in (newer[0], newest):  # the sessions kept buy on
            self.assertFalse(redis("ZSCORE", "{a:%d}:revoked" % aid, jti(t)))
        self.assertEqual(do(newest, aid, sk_token(newest, aid)).code, OK)

    def test_route_flag_checks_the_token(self):
        aid, _ = make_activity()
        u = users(1)[0]
        tok = sk_token(u, aid)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": tok})
        self.assertEqual((r.status, r.code), (401, 100003), r)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": tok}, token=u + "x")
        self.assertEqual((r.status, r.code), (401, 100003), r)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": tok}, token=u,
                 query={"activityId": aid + 1})
        self.assertEqual((r.status, r.code), (400, 100002), r)
        r = post("/seckill/v1/seckill/do", {"activityId": aid, "token": tok}, token=u,
                 query={"activityId": "7x"})
        self.assertEqual((r.status, r.code), (400, 100002), r)
        self.assertEqual(redis_state(aid)[:2], (10, 0))


class Idempotency(unittest.TestCase):
    """Item 20: the client's requestId makes a retry answer the first outcome, never a unit more."""

    def test_same_request_id_one_intent_same_answer(self):
        aid, _ = make_activity(stock=10, limit=5)
        u = users(1)[0]
        tok = sk_token(u, aid)
        hold_stream(aid)
        try:
            first = do(u, aid, tok, rid="client-retry_0001")
            second = do(u, aid, tok, rid="client-retry_0001")
            self.assertEqual(first.code, OK, first)
            self.assertEqual(second.code, OK, second)
            self.assertEqual(first.data, second.data)
            self.assertEqual(first.data["status"], "queued")
            self.assertRegex(first.data["requestId"], r"^%d-[0-9a-f]{32}$" % aid)
            self.assertEqual(redis_state(aid), (9, 1, 1))  # one unit, one intent
            third = do(u, aid, tok, rid="client-retry_0002")  # another key: another unit
            self.assertEqual(third.code, OK, third)
            self.assertNotEqual(third.data["requestId"], first.data["requestId"])
        finally:
            release_stream(aid)
        self.assertTrue(wait_drained(aid))
        self.assertEqual(order_units(aid), (2, 2))
        self.assertEqual(result(u, first.data["requestId"]).data["status"], "success")
        # After the order exists, a retry still answers queued and adds nothing.
        again = do(u, aid, tok, rid="client-retry_0001")
        self.assertEqual((again.code, again.data), (OK, first.data))
        self.assertEqual(redis_state(aid)[:2], (8, 2))

    def test_users_keys_never_meet(self):
        aid, _ = make_activity(stock=10, limit=5)
        a, b = users(2)
        ra = do(a, aid, sk_token(a, aid), rid="same-key-123")
        rb = do(b, aid, sk_token(b, aid), rid="same-key-123")
        self.assertEqual((ra.code, rb.code), (OK, OK))
        self.assertNotEqual(ra.data["requestId"], rb.data["requestId"])
        self.assertTrue(wait_drained(aid))
        self.assertEqual(order_units(aid), (2, 2))

    def test_bad_request_id(self):
        aid, _ = make_activity()
        u = users(1)[0]
        tok = sk_token(u, aid)
        for bad in ("short", "x" * 65, "has space!", "dot.ted.id", 12345678, "é" * 10):
            r = do(u, aid, tok, rid=bad)
            self.assertEqual((r.status, r.code), (400, 100002), (bad, r))
        self.assertEqual(redis_state(aid)[:2], (10, 0))


class DeadLetters(unittest.TestCase):
    """Item 14: a poison intent is dead-lettered with its units back once; the batch goes on."""

    def dead_metric(self):
        return metric("flashsale_deadletter_entries", {"stream": "seckill.intents"}) or 0

    def test_malformed_intent(self):
        aid, _ = make_activity(stock=10, limit=5)
        buyers = users(3)
        toks = [sk_token(u, aid) for u in buyers]
        before = self.dead_metric()
        hold_stream(aid)
        try:
            rids = []
            for i, (u, t) in enumerate(zip(buyers, toks)):
                if i == 1:
                    poison_xadd(aid, "not a request id!", 777001, 2)
                r = do(u, aid, t)
                self.assertEqual(r.code, OK, r)
                rids.append(r.data["requestId"])
            self.assertEqual(redis_state(aid), (5, 5, 4))
        finally:
            release_stream(aid)
        self.assertTrue(wait_drained(aid), redis_state(aid))
        self.assertEqual(order_units(aid), (3, 3))  # the rest of the batch is written
        for u, rid in zip(buyers, rids):
            self.assertEqual(result(u, rid).data["status"], "success")
        self.assertEqual(redis_state(aid), (7, 3, 0))  # the poison's 2 units came back
        self.assertEqual(activity_row(aid)[:2], (10, 3))
        dead = dead_entries(aid)
        self.assertEqual([(d["uid"], d["qty"], d["reason"]) for d in dead],
                         [("777001", "2", "malformed intent")])
        self.assertTrue(wait_until(lambda: self.dead_metric() == before + 1, timeout=5))
        r = get("/seckill/v1/admin/deadletters", {"limit": 10}, token=admin())
        self.assertEqual(r.code, OK, r)
        mine = [s for s in r.data["streams"] if s["activityId"] == aid]
        self.assertEqual(len(mine), 1, r.data)
        self.assertEqual((mine[0]["stream"], mine[0]["entries"]), ("seckill.intents", 1))
        self.assertEqual(mine[0]["list"][0]["reason"], "malformed intent")
        cp = job("reconcile", "--activity", str(aid))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def test_intent_mysql_refuses_is_isolated(self):
        aid, _ = make_activity(stock=10, limit=5)
        buyers = users(3)
        toks = [sk_token(u, aid) for u in buyers]
        poison_rid = "%d-%s" % (aid, "f" * 32)
        trigger = "poison_%d" % aid
        sql(f"DELIMITER //\nCREATE TRIGGER flashsale_order.{trigger} BEFORE INSERT ON "
            f"flashsale_order.orders FOR EACH ROW IF NEW.request_id = '{poison_rid}' THEN "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poison'; END IF//\nDELIMITER ;")
        try:
            hold_stream(aid)
            try:
                rids = []
                for i, (u, t) in enumerate(zip(buyers, toks)):
                    if i == 1:
                        poison_xadd(aid, poison_rid, 777002, 1)
                        redis("SET", "{a:%d}:req:%s" % (aid, poison_rid), "777002 queued",
                              "EX", "600")
                    r = do(u, aid, t)
                    self.assertEqual(r.code, OK, r)
                    rids.append(r.data["requestId"])
            finally:
                release_stream(aid)
            # Retried seckill.writer_attempts times as a batch, then one by one.
            self.assertTrue(wait_drained(aid, timeout=30), redis_state(aid))
        finally:
            sql(f"DROP TRIGGER IF EXISTS flashsale_order.{trigger}")
        self.assertEqual(order_units(aid), (3, 3))
        for u, rid in zip(buyers, rids):
            self.assertEqual(result(u, rid).data["status"], "success")
        # The request's record: "<uid> failed <reason>" (lua/finish.lua).
        self.assertEqual(redis("GET", "{a:%d}:req:%s" % (aid, poison_rid)).split(" ")[:2],
                         ["777002", "failed"])
        self.assertEqual(redis_state(aid), (7, 3, 0))
        self.assertEqual(activity_row(aid)[:2], (10, 3))
        dead = dead_entries(aid)
        self.assertEqual([(d["rid"], d["reason"]) for d in dead],
                         [(poison_rid, "order could not be written")])
        # Replaying cannot return the units twice: the entry is acknowledged and gone.
        self.assertEqual(rcall("XPENDING", "{a:%d}:intents" % aid, "writers")[0], 0)


    def test_guard_refusal_counted(self):
        """MySQL's sold-count guard refusing a batch is counted (it cannot happen unless
        something else changed the row: a trigger plays that part), and the intent does not
        retry forever."""
        aid, _ = make_activity(stock=10, limit=5)
        u = users(1)[0]
        tok = sk_token(u, aid)
        before = metric("flashsale_orderwriter_guard_refusals_total") or 0
        trigger = "guard_%d" % aid
        sql(f"DELIMITER //\nCREATE TRIGGER flashsale_seckill.{trigger} BEFORE UPDATE ON "
            f"flashsale_seckill.activity FOR EACH ROW IF NEW.id = {aid} AND NEW.sold > OLD.sold "
            "THEN SET NEW.sold = OLD.sold, NEW.orders = OLD.orders, NEW.version = OLD.version, "
            "NEW.update_time = OLD.update_time; END IF//\nDELIMITER ;")
        try:
            r = do(u, aid, tok)
            self.assertEqual(r.code, OK, r)
            self.assertTrue(wait_drained(aid, timeout=30), redis_state(aid))
        finally:
            sql(f"DROP TRIGGER IF EXISTS flashsale_seckill.{trigger}")
        self.assertTrue(wait_until(lambda: (metric("flashsale_orderwriter_guard_refusals_total")
                                            or 0) > before, timeout=5))
        self.assertEqual(order_units(aid), (0, 0))
        self.assertEqual(result(u, r.data["requestId"]).data["status"], "failed")
        self.assertEqual(redis_state(aid), (10, 0, 0))  # its unit came back, once
        self.assertEqual(len(dead_entries(aid)), 1)


class Markers(unittest.TestCase):
    """Item 16: preheat removes sold-out markers of ended or cancelled activities."""

    def test_preheat_removes_markers_of_ended(self):
        closed, _ = make_activity(stock=1, limit=1)
        live, _ = make_activity(stock=1, limit=1)
        a, b = users(2)
        self.assertEqual(buy(a, closed, sk_token(a, closed)).code, OK)
        self.assertEqual(buy(b, live, sk_token(b, live)).code, OK)
        mclosed = os.path.join(fslib.RUN, "soldout", str(closed))
        mlive = os.path.join(fslib.RUN, "soldout", str(live))
        self.assertTrue(os.path.exists(mclosed) and os.path.exists(mlive))
        self.assertTrue(wait_drained(closed))
        self.assertEqual(post("/seckill/v1/admin/activity/cancel", {"id": closed},
                              token=admin()).code, OK)
        # A marker of an activity MySQL never had goes too.
        stray = os.path.join(fslib.RUN, "soldout", "987654321987")
        with open(stray, "w") as f:
            f.write("{}")
        cp = job("seckill-preheat")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertFalse(os.path.exists(mclosed))
        self.assertFalse(os.path.exists(stray))
        self.assertTrue(os.path.exists(mlive))  # still live and sold out


if __name__ == "__main__":
    unittest.main()
