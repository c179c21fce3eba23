"""test_events - the event bus and the order-side jobs of a running stack.

payment.status events (in the Redis stream format of common/event-redis.c: XADD
fs:ev:<topic> * key <key> payload <json>) make order-events mark the order paid once however
often they come, and publish order.paid; notify turns that into one WeChat subscribe message
at the stack's simulator (one notification row per order), retrying failures with backoff;
a crashed consumer's pending event is claimed; settle writes idempotent daily sums per
merchant; and the same order-events program runs on Kafka (librdkafka's mock cluster over TCP).
"""
import http.server
import json
import os
import random
import subprocess
import tempfile
import threading
import time
import unittest

import fslib
from fslib import RUN, BUILD, VAR, post, redis, sql, wait_until

OV = "/order/v1/order"


def stream_key(topic):
    return "fs:ev:" + topic


def xadd(topic, key, payload):
    """Publish an event the way common/event-redis.c does; returns the entry id."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return redis("XADD", stream_key(topic), "*", "key", key, "payload", text)


def id_tuple(entry_id):
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def group_info(topic, group):
    """XINFO GROUPS of a stream as a dict for one group (None if absent)."""
    out = redis("XINFO", "GROUPS", stream_key(topic)).splitlines()
    groups, cur = [], None
    for i in range(0, len(out) - 1, 2):
        if out[i] == "name":
            cur = {}
            groups.append(cur)
        if cur is not None:
            cur[out[i]] = out[i + 1]
    for g in groups:
        if g.get("name") == group:
            return g
    return None


def consumed(topic, group, entry_id, timeout=15):
    """Wait until group has read past entry_id and acknowledged everything."""
    def done():
        g = group_info(topic, group)
        return (g and id_tuple(g["last-delivered-id"]) >= id_tuple(entry_id)
                and g["pending"] == "0")
    return wait_until(done, timeout=timeout)


def daemon_alive(name):
    """Is the stack's daemon running (its supervisor's pidfile names a live process)?"""
    try:
        with open(os.path.join(RUN, name + ".pid")) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def last_entry_with(topic, text):
    """The id of the last entry of topic whose payload contains text (None if none)."""
    out = redis("XRANGE", stream_key(topic), "-", "+").splitlines()
    ids = [out[i - 3] for i in range(3, len(out) - 1)
           if out[i] == "payload" and text in out[i + 1]]
    return ids[-1] if ids else None


def order_state(sn):
    return sql("SELECT trade_state, pay_time, pay_type FROM flashsale_order.orders "
               "WHERE sn = '%s'" % sn)[0]


def notifications(sn):
    return sql("SELECT status, attempts, touser, last_error FROM flashsale_order.notification "
               "WHERE order_sn = '%s'" % sn)


def sim_messages(sn):
    """Subscribe messages the stack's simulator received about order sn."""
    msgs = fslib.sim_call("GET", "/simulator/messages").json["messages"]
    return [m for m in msgs
            if m.get("data", {}).get("character_string1", {}).get("value") == sn]


def job_env(**extra):
    env = dict(os.environ, FLASHSALE_CONF=os.path.join(VAR, "flashsale.conf"))
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Receiver:
    """A loopback HTTP endpoint standing in for WeChat: answers from a script of statuses."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.bodies = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.bodies.append(json.loads(self.rfile.read(n)))
                status = outer.statuses.pop(0) if outer.statuses else 200
                body = json.dumps({"errcode": 0, "errmsg": "ok", "msgid": 7} if status == 200
                                  else {"errcode": -1, "errmsg": "system busy"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/cgi-bin/message/subscribe/send" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class EventsBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The stack runs these daemons unless FLASHSALE_DAEMONS says otherwise (an explicit
        # choice: skip); otherwise one that is not running is a failure, not a skip.
        chosen = os.environ.get("FLASHSALE_DAEMONS")
        for d in ("order-events", "notify"):
            if chosen is not None and d not in chosen.split():
                raise unittest.SkipTest("FLASHSALE_DAEMONS leaves out %s" % d)
            assert daemon_alive(d), "the %s daemon is not running in this stack" % d
        cls.admin = fslib.admin_token()
        cls.product = fslib.create_product(cls.admin, price=2599, stock=1000,
                                           title="事件测试 %d" % random.randrange(10**6))

    def new_user(self, openid=True):
        """A user (with a WeChat openid unless told otherwise): (token, id, openid)."""
        _, tok = fslib.register()
        uid = post("/usercenter/v1/user/detail", {}, token=tok).data["userInfo"]["id"]
        oid = ""
        if openid:
            oid = "oTest%020d" % random.randrange(10**20)
            sql("UPDATE flashsale_usercenter.user SET openid = '%s' WHERE id = %d" % (oid, uid))
        return tok, uid, oid

    def new_order(self, tok, qty=1):
        r = post(OV + "/create", {"productId": self.product, "quantity": qty}, token=tok)
        self.assertEqual(r.code, 200, r)
        return r.data["orderSn"]

    def payment_event(self, sn, total, **over):
        ev = {"orderSn": sn, "paymentSn": "PMT" + sn[3:], "status": "SUCCESS",
              "payTime": int(time.time()) - 5, "transactionId": "42000%d" % random.randrange(10**9),
              "amount": total}
        ev.update(over)
        return ev


class TestOrderEvents(EventsBase):
    def test_paid_once_then_order_paid_and_one_notification(self):
        tok, uid, oid = self.new_user()
        sn = self.new_order(tok, 2)
        ev = self.payment_event(sn, 2 * 2599, payTime=1790000000)
        last = None
        for _ in range(4):  # WeChat and our own retries deliver duplicates
            last = xadd("payment.status", sn, ev)
        self.assertTrue(consumed("payment.status", "order-events", last))
        st = order_state(sn)
        self.assertEqual(st, ["1", "1790000000", "wxpay"])
        o = post(OV + "/detail", {"sn": sn}, token=tok).data["order"]
        self.assertEqual((o["tradeState"], o["payTime"]), (1, 1790000000))
        # order.paid carries what notify and others need
        out = redis("XRANGE", stream_key("order.paid"), "-", "+").splitlines()
        mine = [json.loads(out[i + 1]) for i in range(len(out) - 1)
                if out[i] == "payload" and sn in out[i + 1]]
        self.assertGreaterEqual(len(mine), 1)
        self.assertEqual(mine[0]["orderSn"], sn)
        self.assertEqual(mine[0]["userId"], uid)
        self.assertEqual(mine[0]["total"], 2 * 2599)
        self.assertEqual(mine[0]["payTime"], 1790000000)
        # notify: exactly one row and one message, to the buyer's openid
        self.assertTrue(wait_until(lambda: notifications(sn) and notifications(sn)[0][0] == "1",
                                   timeout=15), notifications(sn))
        msgs = sim_messages(sn)
        self.assertEqual(len(msgs), 1, msgs)
        self.assertEqual(msgs[0]["touser"], oid)
        self.assertEqual(msgs[0]["template_id"], fslib.conf_value("jobs", "notify_template_id")
                         or "order-paid")
        self.assertEqual(msgs[0]["data"]["amount3"]["value"], "51.98")
        # once notify has consumed every order.paid of this order, no second message can come
        self.assertTrue(consumed("order.paid", "notify", last_entry_with("order.paid", sn)))
        self.assertEqual(len(notifications(sn)), 1)
        self.assertEqual(notifications(sn)[0][:2], ["1", "1"])
        self.assertEqual(len(sim_messages(sn)), 1)

    def test_payer_openid_from_the_event(self):
        tok, _, _ = self.new_user(openid=False)
        sn = self.new_order(tok)
        last = xadd("payment.status", sn, self.payment_event(sn, 2599, openid="oPayerFromWx01"))
        self.assertTrue(consumed("payment.status", "order-events", last))
        self.assertTrue(wait_until(lambda: notifications(sn) and notifications(sn)[0][0] == "1",
                                   timeout=15), notifications(sn))
        self.assertEqual(sim_messages(sn)[0]["touser"], "oPayerFromWx01")

    def test_buyer_without_openid_is_skipped(self):
        tok, _, _ = self.new_user(openid=False)
        sn = self.new_order(tok)
        last = xadd("payment.status", sn, self.payment_event(sn, 2599))
        self.assertTrue(consumed("payment.status", "order-events", last))
        self.assertEqual(order_state(sn)[0], "1")
        # "3" (skipped) is final: the row settles there, and nothing is ever sent
        self.assertTrue(wait_until(lambda: notifications(sn) and notifications(sn)[0][0] == "3",
                                   timeout=15), notifications(sn))
        self.assertEqual(sim_messages(sn), [])

    def test_payment_event_in_fcgi_payment_format(self):
        # what fcgi/payment publishes: payStatus / payTotal instead of status / amount
        tok, _, _ = self.new_user()
        sn = self.new_order(tok)
        last = xadd("payment.status", sn, {"orderSn": sn, "paymentSn": "PMT1", "payStatus": 1,
                                           "payTotal": 2599, "payTime": 1790000100,
                                           "transactionId": "4200001",
                                           "payType": "x" * 40})  # too wide: "wxpay"
        self.assertTrue(consumed("payment.status", "order-events", last))
        self.assertEqual(order_state(sn), ["1", "1790000100", "wxpay"])

    def test_refused_events_change_nothing(self):
        tok, _, _ = self.new_user()
        wrong = self.new_order(tok)
        failed = self.new_order(tok)
        cancelled = self.new_order(tok)
        self.assertEqual(post(OV + "/cancel", {"sn": cancelled}, token=tok).code, 200)
        stock = sql("SELECT stock FROM flashsale_product.product WHERE id = %d" % self.product)
        xadd("payment.status", wrong, self.payment_event(wrong, 1))
        xadd("payment.status", failed, self.payment_event(failed, 2599, status="PAYERROR"))
        xadd("payment.status", cancelled, self.payment_event(cancelled, 2599))
        xadd("payment.status", "x", "this is not JSON")
        xadd("payment.status", "y", {"orderSn": "ORD-unknown", "status": "SUCCESS"})
        # a good event after the bad ones is still processed (nothing blocks the stream)
        good = self.new_order(tok)
        last = xadd("payment.status", good, self.payment_event(good, 2599))
        self.assertTrue(consumed("payment.status", "order-events", last))
        self.assertEqual(order_state(good)[0], "1")
        self.assertEqual(order_state(wrong)[:2], ["0", "0"])
        self.assertEqual(order_state(failed)[:2], ["0", "0"])
        self.assertEqual(order_state(cancelled)[:2], ["-1", "0"])
        self.assertEqual(sql("SELECT stock FROM flashsale_product.product WHERE id = %d"
                             % self.product), [[str(int(stock[0][0]) - 1)]])
        for sn in (wrong, failed, cancelled):
            self.assertEqual(notifications(sn), [])

    def test_crashed_consumers_event_is_claimed(self):
        tok, _, _ = self.new_user()
        sn = self.new_order(tok)
        payload = json.dumps(self.payment_event(sn, 2599))
        # Deliver the entry to a consumer that then "dies" without XACK, atomically so the
        # live daemon cannot read it first.
        script = ("MULTI\nXADD %s * key %s payload '%s'\n"
                  "XREADGROUP GROUP order-events crashed-consumer COUNT 100 STREAMS %s >\nEXEC\n"
                  % (stream_key("payment.status"), sn, payload, stream_key("payment.status")))
        out = subprocess.run(["redis-cli", "-s", os.path.join(RUN, "redis.sock")], input=script,
                             capture_output=True, text=True, timeout=30, check=True).stdout
        self.assertIn(sn, out)
        self.assertEqual(order_state(sn)[0], "0")
        claim_ms = int(fslib.conf_value("events", "claim_idle_ms") or "30000")
        self.assertTrue(wait_until(lambda: order_state(sn)[0] == "1",
                                   timeout=claim_ms / 1000 * 2 + 10), order_state(sn))
        pend = redis("XPENDING", stream_key("payment.status"), "order-events").splitlines()
        self.assertEqual(pend[0], "0")


class TestNotifyRetries(EventsBase):
    def paid_order(self, openid=True):
        tok, _, oid = self.new_user(openid)
        sn = self.new_order(tok)
        # paid without an event, so only this test's --send touches its notification
        sql("UPDATE flashsale_order.orders SET trade_state = 1, pay_time = UNIX_TIMESTAMP() "
            "WHERE sn = '%s'" % sn)
        return sn, oid

    def test_failure_is_retried_with_backoff(self):
        sn, oid = self.paid_order()
        rcv = Receiver([500])
        try:
            cp = subprocess.run([os.path.join(BUILD, "jobs", "flashsale-notify"), "--send", sn],
                                env=job_env(FLASHSALE_JOBS_NOTIFY_URL=rcv.url,
                                            FLASHSALE_JOBS_NOTIFY_BACKOFF_MS=1500),
                                capture_output=True, text=True, timeout=60)
        finally:
            rcv.close()
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(len(rcv.bodies), 1)
        body = rcv.bodies[0]
        self.assertEqual(body["touser"], oid)
        self.assertEqual(body["data"]["character_string1"]["value"], sn)
        self.assertEqual(body["data"]["amount3"]["value"], "25.99")
        n = notifications(sn)
        self.assertEqual(n[0][:2], ["0", "1"])
        self.assertIn("500", n[0][3])
        # the daemon's sweeper retries once the backoff has passed, at the stack's endpoint
        self.assertTrue(wait_until(lambda: notifications(sn)[0][0] == "1", timeout=15),
                        notifications(sn))
        self.assertEqual(notifications(sn)[0][1], "2")
        self.assertEqual(len(sim_messages(sn)), 1)

    def test_gives_up_after_attempts(self):
        sn, _ = self.paid_order()
        rcv = Receiver([503, 503])
        try:
            cp = subprocess.run([os.path.join(BUILD, "jobs", "flashsale-notify"), "--send", sn],
                                env=job_env(FLASHSALE_JOBS_NOTIFY_URL=rcv.url,
                                            FLASHSALE_JOBS_NOTIFY_ATTEMPTS=1),
                                capture_output=True, text=True, timeout=60)
        finally:
            rcv.close()
        self.assertEqual(cp.returncode, 1)
        self.assertIn("failed", cp.stdout)
        self.assertEqual(notifications(sn)[0][:2], ["2", "1"])
        # a later notification the daemon's sweeper does retry: once it is sent, a sweep ran
        # after this one failed, and it left the failed one alone
        later, _ = self.paid_order()
        rcv = Receiver([500])
        try:
            subprocess.run([os.path.join(BUILD, "jobs", "flashsale-notify"), "--send", later],
                           env=job_env(FLASHSALE_JOBS_NOTIFY_URL=rcv.url,
                                       FLASHSALE_JOBS_NOTIFY_BACKOFF_MS=10),
                           capture_output=True, text=True, timeout=60)
        finally:
            rcv.close()
        self.assertTrue(wait_until(lambda: notifications(later)[0][0] == "1", timeout=15),
                        notifications(later))
        self.assertEqual(notifications(sn)[0][:2], ["2", "1"])
        self.assertEqual(sim_messages(sn), [])

    def test_send_refuses_unpaid_order(self):
        tok, _, _ = self.new_user()
        sn = self.new_order(tok)
        cp = subprocess.run([os.path.join(BUILD, "jobs", "flashsale-notify"), "--send", sn],
                            env=job_env(), capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("no paid order", cp.stderr)
        self.assertEqual(notifications(sn), [])


class TestSettle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = fslib.admin_token()
        _, cls.tok = fslib.register()
        cls.product = fslib.create_product(cls.admin, price=1000, stock=100)

    def settle(self, *args):
        return subprocess.run([os.path.join(BUILD, "jobs", "flashsale-settle"), *args],
                              env=job_env(), capture_output=True, text=True, timeout=60)

    def order(self, qty, state, pay_time, merchant):
        sn = post(OV + "/create", {"productId": self.product, "quantity": qty},
                  token=self.tok).data["orderSn"]
        sql("UPDATE flashsale_order.orders SET trade_state = %d, pay_time = %d, merchant_id = %d "
            "WHERE sn = '%s'" % (state, pay_time, merchant, sn))
        return sn

    def rows(self, day, merchant):
        return sql("SELECT id, order_count, gross FROM flashsale_order.settlement "
                   "WHERE day = '%s' AND merchant_id = %d" % (day, merchant))

    def test_daily_sums_idempotent(self):
        # a random past UTC day and merchants of our own, so reruns of the suite do not collide
        day_start = 946684800 + random.randrange(0, 7000) * 86400
        day = time.strftime("%Y-%m-%d", time.gmtime(day_start))
        m1, m2 = random.randrange(10**9, 2 * 10**9), random.randrange(2 * 10**9, 3 * 10**9)
        self.order(2, 1, day_start, m1)              # 2000, first second of the day
        self.order(1, 2, day_start + 86399, m1)      # completed counts, last second
        refund = self.order(3, 1, day_start + 3600, m1)
        self.order(5, 1, day_start + 7200, m2)
        self.order(4, 1, day_start + 86400, m1)      # next day
        self.order(4, 1, day_start - 1, m1)          # previous day
        self.order(1, 0, 0, m1)                      # unpaid
        cp = self.settle("--day", day)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        r1 = self.rows(day, m1)
        self.assertEqual([r[1:] for r in r1], [["3", "6000"]])
        self.assertEqual([r[1:] for r in self.rows(day, m2)], [["1", "5000"]])
        # rerun: same rows, same values
        self.assertEqual(self.settle("--day", day).returncode, 0)
        self.assertEqual(self.rows(day, m1), r1)
        # a refund since: the rerun corrects the day in place
        sql("UPDATE flashsale_order.orders SET trade_state = 3 WHERE sn = '%s'" % refund)
        self.assertEqual(self.settle("--day", day).returncode, 0)
        self.assertEqual(self.rows(day, m1), [[r1[0][0], "2", "3000"]])
        # neighbouring days are settled on their own
        nxt = time.strftime("%Y-%m-%d", time.gmtime(day_start + 86400))
        self.assertEqual(self.settle("--day", nxt).returncode, 0)
        self.assertEqual([r[1:] for r in self.rows(nxt, m1)], [["1", "4000"]])

    def test_bad_day_refused(self):
        before = sql("SELECT COUNT(*) FROM flashsale_order.settlement")
        for bad in ("2024-02-30", "2024-2-01", "yesterday", "2024-01-011"):
            cp = self.settle("--day", bad)
            self.assertEqual(cp.returncode, 2, bad)
            self.assertIn("YYYY-MM-DD", cp.stderr)
        self.assertEqual(sql("SELECT COUNT(*) FROM flashsale_order.settlement"), before)


class TestKafka(EventsBase):
    """order-events on the kafka transport against librdkafka's mock cluster (real TCP)."""

    def setUp(self):
        self.procs = []
        mock = os.path.join(BUILD, "tools", "kafka-mock")
        if not os.path.exists(mock):
            self.skipTest("tools/kafka-mock not built")
        p = subprocess.Popen([mock], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
        self.procs.append(p)
        self.brokers = p.stdout.readline().strip()
        self.assertRegex(self.brokers, r"^127\.0\.0\.1:\d+")
        self.logdir = tempfile.mkdtemp(prefix="fs-kafka-")
        self.kenv = dict(FLASHSALE_EVENTS_TRANSPORT="kafka",
                         FLASHSALE_EVENTS_KAFKA_BROKERS=self.brokers)

    def tearDown(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cli(self, *args, timeout=60):
        return subprocess.run([os.path.join(BUILD, "tools", "event-cli"), *args],
                              env=job_env(**self.kenv), capture_output=True, text=True,
                              timeout=timeout)

    def test_payment_status_over_kafka(self):
        log = os.path.join(self.logdir, "order-events.log")
        self.procs.append(subprocess.Popen(
            [os.path.join(BUILD, "jobs", "flashsale-order-events")],
            env=job_env(FLASHSALE_LOG_FILE=log, **self.kenv),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        tok, uid, _ = self.new_user()
        sn = self.new_order(tok)
        ev = json.dumps(self.payment_event(sn, 2599, payTime=1790000200))
        for _ in range(2):  # a duplicate is applied once
            cp = self.cli("publish", "payment.status", sn, ev)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertTrue(wait_until(lambda: order_state(sn)[0] == "1", timeout=30),
                        open(log).read()[-2000:])
        self.assertEqual(order_state(sn)[:2], ["1", "1790000200"])
        # order.paid went to Kafka, not to the Redis stream
        cp = self.cli("consume", "test-%d" % random.randrange(10**9), "order.paid", "1", "30")
        self.assertEqual(cp.returncode, 0, cp.stderr[-2000:])
        got = json.loads(cp.stdout.splitlines()[0])
        self.assertEqual((got["key"], got["payload"]["orderSn"], got["payload"]["userId"]),
                         (sn, sn, uid))
        self.assertNotIn(sn, redis("XRANGE", stream_key("order.paid"), "-", "+"))

    def test_publish_fails_without_a_broker(self):
        # a closed port: publish must not report success without a delivery report
        self.procs[0].terminate()
        self.procs[0].wait(timeout=15)
        t = time.time()
        cp = subprocess.run([os.path.join(BUILD, "tools", "event-cli"), "publish",
                             "payment.status", "k", '{"a":1}'],
                            env=job_env(FLASHSALE_EVENTS_KAFKA_TIMEOUT_MS=2000, **self.kenv),
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 1, cp.stdout)
        self.assertLess(time.time() - t, 20)


if __name__ == "__main__":
    unittest.main()
