"""Two order-writers in one Kafka consumer group (writer.transport kafka), fed by the intent
relay, through librdkafka's mock cluster over TCP: a sale through the real /seckill/do while one
relay and one writer are killed with kill -9 mid-batch.

"Mid-batch" is made real by writer.test_stall_ms (the kafka suite sets it): the relay holds each
delivered batch before its XACK, a writer each batch after its MySQL commit and before the Redis
finish and the offsets' commit, and says so in its log. The test kills the process that just
said so, while it holds the batch; the writer's supervisor is stopped first (SIGSTOP), so the
killed writer's partitions must move to the surviving one, and only then it is let go again.

Run by tools/run-tests.sh's "kafka" suite (the relay, two writers, the topic seckill.intents with
4 partitions); not part of the default discovery (run.py)."""
import concurrent.futures
import json
import os
import signal
import subprocess
import threading
import time
import unittest

import fslib
from fslib import redis, sql, wait_until
from test_seckill import activity_row, buy, job, make_activity, sk_token, users

BROKERS = os.environ.get("FLASHSALE_TEST_KAFKA_BROKERS", "")
STOCKS = [40, 40, 35, 35]  # 150 units over four activities: one per partition (id mod 4)
USERS, TRIES, LIMIT = 200, 2, 1


def child_of(pidfile):
    """The process a supervisor (tools/supervise.sh) runs now, or None."""
    with open(os.path.join(fslib.RUN, pidfile)) as f:
        sup = int(f.read().strip())
    out = subprocess.run(["pgrep", "-P", str(sup)], capture_output=True, text=True).stdout.split()
    return sup, (int(out[0]) if out else None)


class Log:
    """The JSON lines a log file gained since this object was made, read as it grows."""

    def __init__(self, name, start=None):
        self.path = os.path.join(fslib.VAR, "log", name)
        self.pos = os.path.getsize(self.path) if start is None else start
        self.all = []

    def new(self):
        """The complete lines written since the last call (all of them kept in self.all)."""
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self.pos += cut
        out = []
        for raw in data[:cut].splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                pass
        self.all += out
        return out

    def lines(self):
        self.new()
        return self.all


def assignment(lines, pid):
    """The partitions pid holds after the last rebalance it logged (None: none logged)."""
    held = None
    for line in lines:
        msg = line.get("msg", "")
        if line.get("pid") != pid or not msg.startswith("kafka writer: partitions "):
            continue
        held = set(held or ())
        kind, _, parts = msg[len("kafka writer: partitions "):].partition(": ")
        nums = {int(p) for p in parts.split(",") if p.isdigit()}
        held = held | nums if kind == "assigned" else held - nums
    return held


KAFKA_ENV = {"FLASHSALE_WRITER_TRANSPORT": "kafka", "FLASHSALE_EVENTS_KAFKA_BROKERS": BROKERS}


def lag():
    """(total lag, high watermarks' sum) of the writers' group (flashsale-order-writer --lag)."""
    env = dict(os.environ, FLASHSALE_CONF=os.path.join(fslib.VAR, "flashsale.conf"),
               FLASHSALE_LOG_FILE="/dev/null", **KAFKA_ENV)
    cp = subprocess.run([os.path.join(fslib.BUILD, "jobs", "flashsale-order-writer"), "--lag"],
                        env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    high = sum(int(line.split()[5]) for line in cp.stdout.splitlines()
               if line.startswith("partition "))
    return int(cp.stdout.split("lag ")[-1]), high


def record(aid, rid):
    return redis("GET", "{a:%d}:req:%s" % (aid, rid))


@unittest.skipUnless(BROKERS, "the writers are not on Kafka (run the kafka suite)")
class WritersOnKafka(unittest.TestCase):

    def test_sale_with_relay_and_writer_killed_mid_batch(self):
        wlog, rlog = Log("order-writer.log"), Log("intent-relay.log")
        aids = [make_activity(stock=s, limit=LIMIT)[0] for s in STOCKS]
        self.assertEqual({a % 4 for a in aids}, {0, 1, 2, 3}, aids)
        _, w1 = child_of("order-writer.pid")
        sup2, w2 = child_of("order-writer-2.extra.pid")
        self.assertIsNotNone(w1)
        self.assertIsNotNone(w2)
        # Both writers are members of the group, the four partitions split between them.
        old = Log("order-writer.log", start=0)

        def split():
            ls = old.lines()
            a, b = assignment(ls, w1), assignment(ls, w2)
            return a and b and a | b == {0, 1, 2, 3} and not a & b
        self.assertTrue(wait_until(split, timeout=30, interval=0.3),
                        (assignment(old.all, w1), assignment(old.all, w2)))

        people = users(USERS)
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            toks = list(ex.map(lambda i: sk_token(people[i], aids[i % 4]), range(USERS)))
        lock = threading.Lock()
        st = {"queued": {}, "other": {}, "relay": None, "writer": None}
        done = threading.Event()

        def faults():
            """kill -9 the relay, then a writer, each while its newest log line says it holds
            a batch (the hold lasts writer.test_stall_ms; we look every 30 ms)."""
            end = time.time() + 90
            while time.time() < end and not st["writer"]:
                if not st["relay"]:
                    _, rpid = child_of("intent-relay.pid")
                    new = [ln for ln in rlog.new() if ln.get("pid") == rpid]
                    if new and "before the XACK" in new[-1].get("msg", ""):
                        os.kill(rpid, signal.SIGKILL)
                        st["relay"] = rpid
                        wlog.new()  # a writer's hold counts from here on
                else:
                    new = [ln for ln in wlog.new() if ln.get("pid") in (w1, w2)]
                    last = {}
                    for ln in new:
                        last[ln["pid"]] = ln
                    for victim, ln in last.items():
                        msg = ln.get("msg", "")
                        if "after the MySQL commit" in msg and "(0 orders" not in msg:
                            sup = sup2 if victim == w2 else child_of("order-writer.pid")[0]
                            os.kill(sup, signal.SIGSTOP)  # no restart: the survivor takes over
                            os.kill(victim, signal.SIGKILL)
                            st["writer"], st["sup"], st["writer_line"] = victim, sup, ln
                            break
                time.sleep(0.03)
            done.set()

        def one(i_t):
            i, t = i_t
            r = buy(people[i], aids[i % 4], toks[i])
            with lock:
                if r.code == 200 and r.data.get("status") == "queued":
                    st["queued"][r.data["requestId"]] = (i, aids[i % 4])
                else:
                    st["other"][r.code] = st["other"].get(r.code, 0) + 1

        f = threading.Thread(target=faults, daemon=True)
        f.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(32) as ex:
                # User by user, so many a second try comes while stock lasts: the limit binds.
                list(ex.map(one, [(i, t) for i in range(USERS) for t in range(TRIES)]))
            self.assertTrue(done.wait(95), "faults never ran")
            self.assertTrue(st["relay"], "the relay never held a batch")
            self.assertTrue(st["writer"], "no writer held a batch after the relay's kill")
            survivor = w1 if st["writer"] == w2 else w2
            # The victim died holding its batch: the stall line is the last it ever wrote.
            mine = [ln for ln in wlog.lines() if ln.get("pid") == st["writer"]]
            self.assertTrue(mine)
            self.assertEqual(mine[-1], st["writer_line"])
            self.assertTrue(wait_until(lambda: child_of("intent-relay.pid")[1] not in
                                       (None, st["relay"]), timeout=15), "relay not restarted")

            # With the victim gone for good, the survivor drains everything alone.
            def drained():
                if any(int(redis("XLEN", "{a:%d}:intents" % a)) for a in aids):
                    return False
                # Each queued request is an order or reads failed (a success's record stays
                # queued: /seckill/result finds the order in MySQL).
                ordered = {r[0] for r in sql(
                    "SELECT request_id FROM flashsale_order.orders WHERE activity_id IN (%s)"
                    % ",".join(map(str, aids)))}
                if any(rid not in ordered and record(a, rid).split(" ")[1:2] != ["failed"]
                       for rid, (_, a) in st["queued"].items()):
                    return False
                return lag()[0] == 0
            self.assertTrue(wait_until(drained, timeout=90, interval=0.5),
                            "intents left unwritten: lag %s" % (lag(),))
            self.assertEqual(assignment(wlog.lines(), survivor), {0, 1, 2, 3},
                             "the killed writer's partitions did not move to the survivor")
        finally:
            if st.get("sup"):
                os.kill(st["sup"], signal.SIGCONT)  # its supervisor restarts the writer

        queued = st["queued"]
        self.assertEqual(len(queued), sum(STOCKS), st["other"])
        self.assertEqual(set(st["other"]) - {600004, 600005}, set(), st["other"])
        self.assertIn(600005, st["other"], "the per-user limit never bound")
        rows = sql("SELECT request_id, user_id, activity_id, quantity FROM flashsale_order.orders "
                   "WHERE activity_id IN (%s)" % ",".join(map(str, aids)))
        rids = [r[0] for r in rows]
        self.assertEqual(len(rids), len(set(rids)), "a request id twice in the orders")
        self.assertEqual(set(rids), set(queued), "queued answers and orders differ")
        per_user = {}
        for r in rows:
            per_user[(r[1], r[2])] = per_user.get((r[1], r[2]), 0) + int(r[3])
        self.assertLessEqual(max(per_user.values()), LIMIT, "per-user limit broken")
        for aid, stock in zip(aids, STOCKS):
            _, sold, returned, _ = activity_row(aid)
            units = sum(int(r[3]) for r in rows if int(r[2]) == aid)
            self.assertLessEqual(sold, stock, "oversold")
            self.assertEqual(sold, units, "sold count and orders differ")
            left = int(redis("GET", "{a:%d}:stock" % aid))
            self.assertEqual(left + sold + returned, stock, "Redis stock + sold != stock")
        # Every queued request became an order: no record reads failed, and each still reads
        # queued (the writer leaves a success's record as it is) or success (a result noted it).
        for rid, (_, aid) in queued.items():
            self.assertRegex(record(aid, rid), r"^\d+ (queued|success ORD)", rid)
        # The killed relay's batch was produced twice (claimed and relayed again on restart):
        # the topic holds more messages than intents, and still each became one order.
        # reconcile on Kafka compares only with the writers' lag at 0: here it does, and agrees.
        for aid in aids:
            cp = job("reconcile", "--activity", str(aid), env=KAFKA_ENV)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            self.assertIn("activity %d: ok" % aid, cp.stdout)
        total, high = lag()
        self.assertEqual(total, 0)
        self.assertGreater(high, len(queued), "no intent reached the topic twice")
        print("kafka writers: %d queued, %d orders, %d messages on the topic, relay %d and "
              "writer %d killed mid-batch; answers %s" % (len(queued), len(rows), high,
                                                          st["relay"], st["writer"], st["other"]))

    def test_writer_lag_counts_kafka_while_the_writers_are_paused(self):
        """The relay moves the intents to the topic while both writers are stopped (SIGSTOP):
        the streams are empty, so only the Kafka part (the relay's published measurement of the
        group's lag) shows the units not yet written, on the dashboard and in the metrics."""
        import test_dashboard as dash
        n = 12

        def kafka_metrics():
            return {k: fslib.metric("seckill", "flashsale_orderwriter_" + k)
                    for k in ("backlog", "stream_backlog", "kafka_lag")}

        def writers():
            pids = [child_of("order-writer.pid")[1], child_of("order-writer-2.extra.pid")[1]]
            return pids if None not in pids else None
        # What an earlier test left is written first (its restarted writer rejoined the group).
        pids = wait_until(writers, timeout=30, interval=0.3)
        self.assertTrue(pids, "the two writers are not running")
        self.assertTrue(wait_until(lambda: lag()[0] == 0, timeout=90, interval=0.5), lag())
        aid = make_activity(stock=n + 8, limit=1)[0]
        people = users(n)
        toks = [sk_token(u, aid) for u in people]
        self.assertTrue(wait_until(lambda: kafka_metrics()["kafka_lag"] == 0 and
                                   dash.one(aid)["writer"]["kafka"] == {"partition": aid % 4,
                                                                        "lag": 0},
                                   timeout=15, interval=0.3), kafka_metrics())

        def stop():
            # The pids of now: a writer an earlier test killed may have been restarted by its
            # supervisor since they were read.
            ps = writers()
            try:
                for p in ps or []:
                    os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                return None
            return ps
        pids = wait_until(stop, timeout=10, interval=0.1)
        self.assertTrue(pids, "the two writers could not be stopped")
        try:
            for u, t in zip(people, toks):
                r = buy(u, aid, t)
                self.assertEqual((r.code, r.data.get("status")), (200, "queued"), r)

            def relayed():
                a = dash.one(aid)
                k = a["writer"]["kafka"]
                return a if (a["writer"]["intents"] == 0 and k and k["lag"] == n and
                             a["queued"] == n) else None
            a = wait_until(relayed, timeout=30, interval=0.3)
            self.assertTrue(a, dash.one(aid))
            # The stream part alone would say "no lag": nothing waits in Redis.
            self.assertEqual((a["writer"]["pending"], a["writer"]["oldestAgeMs"]), (0, None), a)
            self.assertEqual(a["writer"]["kafka"]["partition"], aid % 4, a)
            whole = dash.dash(aid).data["writerKafka"]
            self.assertEqual(whole["lag"], n, whole)
            self.assertEqual(whole["partitions"][aid % 4], n, whole)
            self.assertLess(whole["measuredAgeMs"], 5000, whole)
            self.assertEqual(lag()[0], n)  # what flashsale-order-writer --lag reports
            self.assertEqual(int(sql("SELECT COUNT(*) FROM flashsale_order.orders "
                                     "WHERE activity_id = %d" % aid)[0][0]), 0)
            self.assertTrue(wait_until(lambda: kafka_metrics() == {
                "backlog": n, "stream_backlog": 0, "kafka_lag": n}, timeout=15, interval=0.3),
                kafka_metrics())
        finally:
            for p in pids:
                os.kill(p, signal.SIGCONT)

        def written():
            a = dash.one(aid)
            return a if (a["writer"]["kafka"]["lag"] == 0 and a["queued"] == 0 and
                         a["orders"] == n) else None
        # The stopped writers left the group (a 3 s session): they rejoin first, then write.
        self.assertTrue(wait_until(written, timeout=90, interval=0.5), dash.one(aid))
        self.assertEqual(dash.dash(aid).data["writerKafka"]["lag"], 0)
        self.assertTrue(wait_until(lambda: kafka_metrics() == {
            "backlog": 0, "stream_backlog": 0, "kafka_lag": 0}, timeout=15, interval=0.3),
            kafka_metrics())


if __name__ == "__main__":
    unittest.main()
