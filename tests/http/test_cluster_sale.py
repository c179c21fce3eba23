"""test_cluster_sale - a sale on a Redis Cluster (3 masters + 3 replicas) through two seckill
socket sets and two order-writers, with MariaDB's reads that may lag on its GTID replica, and
faults while it runs: kill -9 the master of the hot activity (its replica is promoted), kill -9
one writer, kill one seckill socket set, kill -9 the MariaDB replica. Run by tools/run-tests.sh
(`./flashsale test cluster`) on a stack in replica mode, once per redis.wait_replicas (0 and 1),
which restarts seckill and the writers on the cluster; FLASHSALE_TEST_REDIS_CLUSTER names its
nodes, FLASHSALE_TEST_CLUSTER_DIR its state, FLASHSALE_TEST_WAIT_REPLICAS the WAIT in force."""
import concurrent.futures
import os
import signal
import subprocess
import threading
import time
import unittest

import fslib
from fslib import conf_value, get, post, sql, wait_until
from test_replica import LIST, caught_up, reads, replica_pid, restart_replica
from test_seckill import activity_row, admin, buy, make_activity, users

SEEDS = [s for s in os.environ.get("FLASHSALE_TEST_REDIS_CLUSTER", "").split(",") if s]
CDIR = os.environ.get("FLASHSALE_TEST_CLUSTER_DIR", "")
WAIT = int(os.environ.get("FLASHSALE_TEST_WAIT_REPLICAS", "0") or 0)
USERS, TRIES, STOCK, LIMIT, COLD = 300, 3, 100, 2, 5
# A purchase answered 100005 (Redis down: the slot failing over) or a 502 (a socket set died
# under the request) is retried with its requestId, as the storefront does, until this deadline.
RETRY_S = 30
# The domains whose reads may lag (db_reader): activity list, detail and dashboard; catalogue;
# order list. A lagging read after the MariaDB replica is stopped answers within this (seconds).
READ_DOMAINS, READ_BOUND_S = ("seckill", "product", "order"), 1.0


def ports():
    return [int(s.rsplit(":", 1)[1]) for s in SEEDS]


def node(port, *args):
    """A command on one cluster node (no redirects); stdout stripped, None if it is down."""
    cp = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                        capture_output=True, text=True, timeout=10)
    return cp.stdout.strip() if cp.returncode == 0 and "Could not connect" not in cp.stdout \
        else None


def cluster(*args):
    """A command on the cluster (redis-cli -c follows MOVED), from the first node that answers."""
    for p in ports():
        cp = subprocess.run(["redis-cli", "-c", "-h", "127.0.0.1", "-p", str(p), *args],
                            capture_output=True, text=True, timeout=10)
        if cp.returncode == 0 and "Could not connect" not in cp.stdout + cp.stderr \
                and "CLUSTERDOWN" not in cp.stdout:
            return cp.stdout.strip()
    return None


def masters():
    """{port: [(lo, hi), ...]} of the masters that hold slots, as a live node sees them."""
    for p in ports():
        out = node(p, "CLUSTER", "NODES")
        if not out:
            continue
        res = {}
        for line in out.splitlines():
            f = line.split()
            if "master" not in f[2] or "fail" in f[2] or len(f) < 9:
                continue
            rng = []
            for r in f[8:]:
                if r.startswith("["):
                    continue
                lo, _, hi = r.partition("-")
                rng.append((int(lo), int(hi or lo)))
            res[int(f[1].split("@")[0].rsplit(":", 1)[1])] = rng
        return res
    return {}


def owner(slot):
    for p, rng in masters().items():
        if any(lo <= slot <= hi for lo, hi in rng):
            return p
    return None


def slot_of(aid):
    return int(cluster("CLUSTER", "KEYSLOT", "{a:%d}:stock" % aid))


def token(user, aid):
    """A seckill token; a 100005 (a node just started or failing over) is retried for 10 s."""
    end = time.time() + 10
    while True:
        r = fslib.post("/seckill/v1/seckill/token", {"activityId": aid}, token=user)
        if r.code != 100005 or time.time() > end:
            assert r.code == 200, r
            return r.data["token"]
        time.sleep(0.2)


def descendants(pid):
    """pid and every process under it."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        pending += [int(x) for x in subprocess.run(["pgrep", "-P", str(p)], capture_output=True,
                                                text=True).stdout.split()]
    return out


def pidfile(name):
    with open(os.path.join(fslib.RUN, name)) as f:
        return int(f.read().strip())


def wait_shorts():
    """WAITs that missed redis.wait_replicas so far (the seckill log's warnings)."""
    with open(os.path.join(fslib.VAR, "log", "seckill.log")) as f:
        return sum(1 for line in f if "WAIT reached" in line)


def read_counts():
    """flashsale_mysql_replica_reads_total of each domain whose reads may lag, by target."""
    return {d: reads(d) for d in READ_DOMAINS}


def read_delta(a, b):
    """{domain: {target: b - a}}."""
    return {d: {t: b[d][t] - a[d][t] for t in a[d]} for d in a}


def lagging_reads(other, user, admin_tok):
    """Each read that may lag: (name, bounded, call). The bounded ones touch no key of the
    failing master (`other`: a live activity elsewhere; the upcoming list: activities elsewhere)
    and must answer within READ_BOUND_S all along; the others (a session, every live activity)
    wait out the Redis failover like any request."""
    return [
        ("activity detail", True, lambda: get("/seckill/v1/activity/detail", {"id": other})),
        ("activity list", True, lambda: get("/seckill/v1/activity/list",
                                            {"status": "upcoming", "pageSize": 20})),
        ("catalogue", True, lambda: get(LIST, {"page": 1, "pageSize": 10},
                                        headers={"Cache-Control": "no-cache"})),
        ("order list", False, lambda: post("/order/v1/order/list", {}, token=user)),
        ("dashboard", False, lambda: get("/seckill/v1/admin/dashboard", token=admin_tok)),
    ]


class ClusterSale(unittest.TestCase):
    """300 users x 3 requests against stock 100 on the cluster, with faults mid-sale."""

    def restore_replica(self):
        """Start the MariaDB replica again if the sale killed it (it resumes from its GTID
        position) and wait until it caught up, for the run that follows."""
        try:
            with open("/proc/%d/comm" % replica_pid()) as f:
                alive = f.read().strip() == "mariadbd"
        except OSError:
            alive = False
        t0 = time.monotonic()
        if not alive:
            restart_replica()

        def ok():
            try:
                return caught_up()
            except subprocess.SubprocessError:
                return False
        self.assertTrue(wait_until(ok, timeout=30, interval=0.2), "the replica did not catch up")
        print("  MariaDB replica restarted and caught up in %.1f s" % (time.monotonic() - t0))

    def test_sale_with_failover_writer_host_and_db_replica_killed(self):
        self.assertEqual(len(SEEDS), 6, "run by tools/run-tests.sh on the 3+3 cluster")
        self.assertTrue(conf_value("mysql", "replica"), "run on a stack with a MariaDB replica")
        self.assertTrue(caught_up(), "the MariaDB replica is behind before the sale")
        self.addCleanup(self.restore_replica)
        # Activities whose hash-tagged keys spread over the masters; the hot one's keys share
        # one slot, owned by a master with a replica.
        hot, _ = make_activity(stock=STOCK, limit=LIMIT)
        cold = [make_activity(stock=20, limit=1)[0] for _ in range(COLD)]
        slot = slot_of(hot)
        for part in ("info", "users", "intents", "stats", "req:x", "rl:1"):
            self.assertEqual(int(cluster("CLUSTER", "KEYSLOT", "{a:%d}:%s" % (hot, part))), slot)
        hot_master = owner(slot)
        self.assertIsNotNone(hot_master)
        self.assertTrue(wait_until(lambda: int(node(hot_master, "CLUSTER", "COUNTKEYSINSLOT",
                                                    str(slot)) or 0) >= 3, timeout=10),
                        "the hot activity's keys are not on its master")
        where = {a: owner(slot_of(a)) for a in [hot] + cold}
        self.assertGreaterEqual(len(set(where.values())), 2, "activities all on one master")
        elsewhere = [a for a in cold if where[a] != hot_master]
        # The upcoming list's rows on other masters than the hot one (a former run's row there
        # cancelled), one at least.
        ups = [int(r[0]) for r in sql("SELECT id FROM flashsale_seckill.activity "
                                      "WHERE status = 0 AND start_time > UNIX_TIMESTAMP()")]
        for _ in range(10):
            if any(owner(slot_of(a)) != hot_master for a in ups):
                break
            ups.append(make_activity(stock=5, limit=1, start=3600, end=7200)[0])
        for a in ups:
            if owner(slot_of(a)) == hot_master:
                r = post("/seckill/v1/admin/activity/cancel", {"id": a}, token=admin())
                self.assertEqual(r.code, 200, r)

        people = users(USERS)
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            toks = list(ex.map(lambda u: token(u, hot), people))
            cold_toks = list(ex.map(lambda i: (people[i], [token(people[i], a) for a in cold]),
                                    range(30)))

        lock = threading.Lock()
        st = {"queued": {}, "retries": 0, "bad_gateway": 0, "other": {}, "faults": []}

        def faults():
            """Run the four faults once enough purchases were acknowledged."""
            n = len(st["queued"])
            if n >= 20 and "db replica" not in st["faults"]:
                st["faults"].append("db replica")
                rd["pid"] = replica_pid()
                os.kill(rd["pid"], signal.SIGKILL)
                rd["stopped"], rd["stopped_at"] = time.time(), n
            if n >= 30 and "master" not in st["faults"]:
                st["faults"].append("master")
                st["master_at"] = time.time()
                os.kill(int(open(os.path.join(CDIR, "node-%d.pid" % hot_master)).read()),
                        signal.SIGKILL)
                pgrep = subprocess.run(["pgrep", "-P", str(pidfile("order-writer-2.extra.pid"))],
                                       capture_output=True, text=True).stdout.split()
                if pgrep:
                    os.kill(int(pgrep[0]), signal.SIGKILL)
                    st["faults"].append("writer")
            if n >= 50 and "host" not in st["faults"]:
                st["faults"].append("host")
                for p in descendants(pidfile("seckill-2.extra.pid")):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

        def one(args):
            u, tok, key, aid = args
            end = time.time() + RETRY_S
            while True:
                r = buy(u, aid, tok, key=key)
                if r.code == 100005 or r.status in (502, 504):
                    with lock:
                        st["retries"] += 1
                        st["bad_gateway"] += r.code != 100005
                    if time.time() < end:
                        time.sleep(0.1)
                        continue
                with lock:
                    if r.code == 200 and r.data.get("status") == "queued":
                        st["queued"][r.data["requestId"]] = (u, aid)
                    else:
                        k = "%s %s" % (r.code, ((r.json or {}).get("msg") or "")[:30])
                        st["other"][k] = st["other"].get(k, 0) + 1
                    if aid == hot:
                        faults()
                return r.code

        # The reads that may lag, one after another all along the sale: a first round on the
        # replica before it starts; after the replica's kill (faults) every read answers from
        # the primary. The counters' snapshot is taken once the replica's process is gone (~2 s
        # here): no read can count on it after (reads until then count on the primary: fine).
        calls = lagging_reads(elsewhere[0], people[0], admin())
        rd = {"stopped": None, "stopped_at": 0, "gone": 0, "back": None, "m": [], "before": [],
              "after": [], "final": [], "retries": 0, "error": None}
        done, round1 = threading.Event(), threading.Event()

        def watcher():
            """The counters once the killed replica is gone; then when the hot slot is back."""
            try:
                while not done.is_set() and rd["stopped"] is None:
                    time.sleep(0.01)
                if rd["stopped"] is not None:
                    wait_until(lambda: not os.path.exists("/proc/%d" % rd["pid"]), timeout=10)
                    rd["gone"] = time.time() - rd["stopped"]
                    rd["m"].append(read_counts())
                while not done.is_set() and rd["back"] is None:
                    if "master" in st["faults"] and owner(slot) not in (None, hot_master):
                        rd["back"] = time.time()
                    time.sleep(0.05)
            except Exception as e:  # noqa: BLE001 - reported by the test thread
                rd["error"] = repr(e)

        def read_once(name, call):
            end = time.time() + RETRY_S
            while True:
                phase = "after" if rd["stopped"] else "before"
                t0 = time.time()
                r = call()
                rd[phase].append((name, t0, time.time() - t0, r.status, r.code))
                if (r.code == 100005 or r.status in (502, 504)) and time.time() < end:
                    rd["retries"] += 1
                    time.sleep(0.1)
                    continue
                rd["final"].append((phase, name, r.status, r.code))
                return

        def reader():
            """Rounds of the lagging reads until the sale ends, then one more past the failover."""
            try:
                last = False
                while not last:
                    if done.is_set():
                        last = True
                        while time.time() < (rd["back"] or done_at[0]) + 0.6:
                            time.sleep(0.05)
                    for name, _, call in calls:
                        read_once(name, call)
                        time.sleep(0.02)
                    round1.set()
            except Exception as e:  # noqa: BLE001 - reported by the test thread
                rd["error"] = repr(e)

        shorts0 = wait_shorts()
        m0 = read_counts()
        done_at = [0.0]
        rthread = threading.Thread(target=reader, daemon=True)
        wthread = threading.Thread(target=watcher, daemon=True)
        rthread.start()
        self.assertTrue(round1.wait(30), "the first round of lagging reads never finished")
        wthread.start()
        jobs = [(people[i], toks[i], "u%03dtry%d-%d" % (i, t, hot), hot)
                for t in range(TRIES) for i in range(USERS)]
        for u, ts in cold_toks:
            jobs += [(u, ts[k], "coldbuy%d-%d" % (k, cold[k]), cold[k]) for k in range(COLD)]
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(24) as ex:
            codes = list(ex.map(one, jobs))
        took = time.time() - t0
        t_end = time.time()
        done_at[0] = t_end
        done.set()
        rthread.join(60)
        wthread.join(10)
        m2 = read_counts()
        self.assertEqual(sorted(st["faults"]), ["db replica", "host", "master", "writer"], st)
        self.assertNotIn(100005, codes, "a purchase still failing after %d s" % RETRY_S)

        # Every stream drained by the surviving writers (the killed one's entries claimed).
        def drained():
            for a in [hot] + cold:
                n = cluster("XLEN", "{a:%d}:intents" % a)
                if n is None or int(n) != 0:
                    return False
            return True
        self.assertTrue(wait_until(drained, timeout=60, interval=0.3), "intents left unwritten")

        stock, sold, returned, _ = activity_row(hot)
        rows = sql("SELECT request_id, user_id, quantity FROM flashsale_order.orders "
                   f"WHERE activity_id = {hot} AND trade_state <> -1")
        orders = [r[0] for r in rows]
        self.assertLessEqual(sold, stock, "oversold")
        self.assertLessEqual(sum(int(r[2]) for r in rows), stock, "orders above stock")
        self.assertEqual(sold, sum(int(r[2]) for r in rows), "sold count and orders differ")
        per_user = {}
        for r in rows:
            per_user[r[1]] = per_user.get(r[1], 0) + int(r[2])
        self.assertLessEqual(max(per_user.values()), LIMIT, "per-user limit broken")
        self.assertEqual(len(orders), len(set(orders)), "a request became two orders")
        queued = {rid for rid, (_, a) in st["queued"].items() if a == hot}
        lost = queued - set(orders)
        unasked = set(orders) - queued
        shorts = wait_shorts() - shorts0
        # Cold activities on the other masters (no failover there): every queued one written.
        self.assertTrue(elsewhere)
        for a in elsewhere:
            q = {rid for rid, (_, b) in st["queued"].items() if b == a}
            got = {r[0] for r in sql("SELECT request_id FROM flashsale_order.orders "
                                     f"WHERE activity_id = {a} AND trade_state <> -1")}
            self.assertEqual(q, got, "activity %d: queued answers and orders differ" % a)
        line = ("cluster sale wait_replicas=%d: %d requests in %.1f s, queued %d (hot), orders "
                "%d, sold %d/%d, lost by the failover %d, orders without a queued answer %d, "
                "short WAITs %d, retries %d (of them 502s %d), other answers %s"
                % (WAIT, len(jobs), took, len(queued), len(orders), sold, stock, len(lost),
                   len(unasked), shorts, st["retries"], st["bad_gateway"], st["other"]))
        print(line)
        res = os.environ.get("FLASHSALE_TEST_RESULTS")
        if res:
            with open(os.path.join(res, "cluster-sale.txt"), "a") as f:
                f.write(line + "\n")
        self.assertGreater(len(queued), 30)

        # The MariaDB replica: used until it was killed mid-sale, then every read on the primary.
        self.assertFalse(rthread.is_alive(), "the lagging reads never finished")
        self.assertIsNone(rd["error"])
        self.assertIsNotNone(rd["stopped"], "the MariaDB replica was never stopped")
        self.assertEqual(len(rd["m"]), 1, "no counters taken after the replica's kill")
        self.assertLess(rd["stopped"], t_end, "the MariaDB replica was stopped after the sale")
        before, after = read_delta(m0, rd["m"][0]), read_delta(rd["m"][0], m2)
        for d in READ_DOMAINS:
            self.assertGreater(before[d]["replica"], 0, "%s: no read on the replica" % d)
            self.assertGreater(after[d]["primary"], 0, "%s: no read on the primary" % d)
            self.assertEqual(after[d]["replica"], 0, "%s: a read on the dead replica" % d)
        # Every read answered in the end (before the stop, retried through the failover).
        self.assertEqual([x for x in rd["final"] if x[2:] != (200, 200)], [])
        for phase in ("before", "after"):
            self.assertEqual({x[1] for x in rd["final"] if x[0] == phase},
                             {n for n, _, _ in calls}, "not every lagging read ran " + phase)
        # The bounded reads after the stop: each answers 200 within READ_BOUND_S; the seckill
        # ones not while the hot slot fails over (its purchases then hold every seckill worker
        # for redis.timeout_ms each; the catalogue is timed all along).
        back = (rd["back"] or t_end) + 0.5
        bounded = {n for n, b, _ in calls if b}
        timed = [x for x in rd["after"] if x[0] in bounded and not (
            x[0] != "catalogue" and x[1] < back and x[1] + x[2] > st["master_at"])]
        slow = max(x[2] for x in timed)
        errs_after = [x for x in timed if x[3:] != (200, 200)]
        self.assertTrue({x[0] for x in timed} == bounded, "a bounded read never timed")
        rline = ("  MariaDB replica killed at %d queued, %.1f s before the sale ended (its "
                 "process gone %.1f s later); lagging reads %d before (on the replica: %s), %d "
                 "after (on the primary: %s, on the replica: %s); %d bounded reads timed after "
                 "the stop, slowest %.3f s, non-200 %d; read retries %d"
                 % (rd["stopped_at"], t_end - rd["stopped"], rd["gone"], len(rd["before"]),
                    {d: before[d]["replica"] for d in READ_DOMAINS}, len(rd["after"]),
                    {d: after[d]["primary"] for d in READ_DOMAINS},
                    {d: after[d]["replica"] for d in READ_DOMAINS}, len(timed), slow,
                    len(errs_after), rd["retries"]))
        print(rline)
        if res:
            with open(os.path.join(res, "cluster-sale.txt"), "a") as f:
                f.write(rline + "\n")
        self.assertEqual(errs_after, [], "a lagging read after the replica stopped failed")
        self.assertLess(slow, READ_BOUND_S, "a read waited on the dead replica")
        if WAIT > 0:
            # With WAIT, a purchase the failover lost must be one whose WAIT came back short.
            self.assertLessEqual(len(lost), shorts, line)


if __name__ == "__main__":
    unittest.main()
