"""MariaDB replica: the reads that may lag (catalogue, order and activity lists, dashboard) go to
the replica while it replicates within mysql.replica_max_lag; stopped, lagging or frozen, reads
answer from the primary, fresh and fast; writes never reach the replica. Needs the stack in
replica mode (./flashsale test replica, tools/stack-replica.sh)."""
import os
import re
import signal
import subprocess
import time
import unittest

from fslib import (RUN, VAR, admin_token, conf_value, create_product, get, post, sql, wait_until)

LIST = "/product/v1/product/list"
REPLICA_SOCK = os.path.join(RUN, "mysql-replica.sock")
# A new query string each read: nginx's 1 s microcache of the catalogue is not under test.


def rsql(query, names=False):
    """Run SQL as root on the replica; rows as lists of strings (the column names first with
    names)."""
    out = subprocess.run(["mariadb", "--socket=" + REPLICA_SOCK, "-uroot", "--batch"]
                         + ([] if names else ["--skip-column-names"]) + ["-e", query],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def replica_status():
    """What SHOW REPLICA STATUS says of the threads, the lag and the errors."""
    try:
        rows = rsql("SHOW REPLICA STATUS", names=True)
    except subprocess.CalledProcessError as e:
        return "replica unreachable: %s" % e.stderr.strip()
    if len(rows) < 2:
        return "no replica status"
    row = dict(zip(rows[0], rows[1]))
    return {k: row.get(k) for k in ("Slave_IO_Running", "Slave_SQL_Running",
                                    "Seconds_Behind_Master", "Last_IO_Error", "Last_SQL_Error",
                                    "Gtid_IO_Pos")}


def replica_pid():
    """The replica mariadbd's pid."""
    with open(os.path.join(RUN, "mysqld-replica.pid")) as f:
        return int(f.read().strip())


def restart_replica():
    """Start the replica's mariadbd again (tools/stack-replica.sh, existing data directory)."""
    top = os.environ.get("FLASHSALE_TOP") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))
    script = ('TOP="$1"; BUILD="$TOP/build"; source "$TOP/tools/stack.sh"; STACK_REPLICA=1; '
              'stack_run_as; stack_replica_start "$2" "$3" ""')
    subprocess.run(["bash", "-c", script, "restart", top, VAR, RUN], check=True, timeout=60,
                   capture_output=True)


def reads(domain="product"):
    """flashsale_mysql_replica_reads_total of a domain, by target."""
    r = get("/%s/v1/metrics" % domain)
    assert r.status == 200, r
    out = {"replica": 0, "primary": 0}
    for line in r.text.splitlines():
        m = re.match(r'^flashsale_mysql_replica_reads_total\{([^}]*)\} (\d+)$', line)
        if m:
            t = re.search(r'target="(\w+)"', m.group(1))
            if t and t.group(1) in out:
                out[t.group(1)] += int(m.group(2))
    return out


def titles():
    """The titles of the catalogue's first page (newest first)."""
    # Past nginx's microcache (only loopback may): its key holds the route's parameters alone,
    # so an extra one no longer reaches the program.
    r = get(LIST, {"page": 1, "pageSize": 100}, headers={"Cache-Control": "no-cache"})
    assert r.status == 200 and r.code == 200, r
    return [p["title"] for p in r.data["list"]]


def batch(n=8, fn=titles):
    """Run fn n times; the change of the product domain's read counters."""
    before = reads()
    for _ in range(n):
        fn()
    after = reads()
    return {k: after[k] - before[k] for k in after}


def all_on(target, n=8, timeout=15.0):
    """Poll until a whole batch of catalogue reads went to target (and none elsewhere)."""
    other = "primary" if target == "replica" else "replica"

    last = {}

    def ok():
        last.update(batch(n))
        return dict(last) if last[target] >= n and last[other] == 0 else None
    got = wait_until(ok, timeout=timeout, interval=0.2)
    if not got:
        # What the failure message alone cannot tell: where the last batch went, and why.
        print("\nlast batch %s; replica: %s" % (last, replica_status()))
    return got


def caught_up():
    """Has the replica applied everything the primary has written?"""
    pos = sql("SELECT @@gtid_binlog_pos")[0][0]
    return rsql("SELECT MASTER_GTID_WAIT('%s', 10)" % pos)[0][0] == "0"


class Replica(unittest.TestCase):
    """Read routing between the primary and the replica."""

    @classmethod
    def setUpClass(cls):
        if not conf_value("mysql", "replica"):
            raise AssertionError("the stack has no mysql.replica: run ./flashsale test replica")
        cls.admin = admin_token()

    def setUp(self):
        # Every test starts from a healthy, caught-up replica whose reads are in use.
        rsql("START SLAVE")
        self.assertTrue(caught_up())
        self.assertTrue(all_on("replica"), "catalogue reads never went to the replica")

    def tearDown(self):
        try:
            os.kill(replica_pid(), signal.SIGCONT)
        except OSError:
            pass
        rsql("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE")

    def test_catalogue_reads_go_to_replica(self):
        d = batch(5)
        # Each list is a count and a page: two reads, both on the replica.
        self.assertEqual(d, {"replica": 10, "primary": 0})

    def test_activity_and_order_lists_go_to_replica(self):
        before = reads("seckill")
        r = get("/seckill/v1/activity/list", {"status": "all"})
        self.assertEqual((r.status, r.code), (200, 200), r)
        d = wait_until(lambda: reads("seckill")["replica"] - before["replica"], timeout=5)
        self.assertGreaterEqual(d, 1)
        before = reads("order")
        r = post("/order/v1/order/list", {}, token=self.admin)
        self.assertEqual((r.status, r.code), (200, 200), r)
        self.assertEqual(reads("order")["replica"] - before["replica"], 1)

    def test_new_product_visible_through_replica(self):
        title = "replicated %d" % time.time_ns()
        create_product(self.admin, title=title)
        before = reads()
        self.assertTrue(wait_until(lambda: title in titles(), timeout=5),
                        "a new product never showed in the list")
        d = {k: reads()[k] - before[k] for k in before}
        self.assertGreater(d["replica"], 0)
        self.assertEqual(d["primary"], 0)
        self.assertEqual(rsql("SELECT COUNT(*) FROM flashsale_product.product WHERE title = '%s'"
                              % title), [["1"]])

    def test_writes_never_go_to_replica(self):
        def stats():
            # userstat: what the programs' account did on the replica.
            rows = rsql("SELECT SELECT_COMMANDS, UPDATE_COMMANDS + ROWS_INSERTED + ROWS_UPDATED "
                        "+ ROWS_DELETED FROM INFORMATION_SCHEMA.USER_STATISTICS "
                        "WHERE USER = 'flashsale'")
            return tuple(int(v) for v in rows[0]) if rows else (0, 0)
        rsql("SET GLOBAL userstat = 1")  # a restarted replica starts with it off
        self.assertEqual(rsql("SELECT @@read_only"), [["1"]])
        before = stats()
        title = "write %d" % time.time_ns()
        pid = create_product(self.admin, title=title)
        r = post("/product/v1/admin/product/update", {"id": pid, "price": 1234}, token=self.admin)
        self.assertEqual((r.status, r.code), (200, 200), r)
        self.assertTrue(wait_until(lambda: title in titles(), timeout=5))
        self.assertTrue(caught_up())
        # The rows arrived by replication...
        self.assertEqual(rsql("SELECT price FROM flashsale_product.product WHERE id = %d" % pid),
                         [["1234"]])
        # ...the programs read there, and wrote nothing there.
        after = stats()
        self.assertGreater(after[0], before[0])
        self.assertEqual(after[1], before[1])

    def test_stopped_replication_falls_back_to_primary(self):
        rsql("STOP SLAVE")
        self.assertTrue(all_on("primary"), "reads stayed on a replica whose replication stopped")
        title = "fresh %d" % time.time_ns()
        create_product(self.admin, title=title)
        # Fresh data: the replica cannot have it, the list shows it at once.
        self.assertEqual(rsql("SELECT COUNT(*) FROM flashsale_product.product WHERE title = '%s'"
                              % title), [["0"]])
        self.assertIn(title, titles())
        rsql("START SLAVE")
        self.assertTrue(all_on("replica"), "reads did not return to the replica")

    def test_lagging_replica_falls_back_to_primary(self):
        rsql("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 60; START SLAVE")
        title = "lagged %d" % time.time_ns()
        create_product(self.admin, title=title)
        # Seconds_Behind_Master passes replica_max_lag (2 s) while the event waits its delay.
        self.assertTrue(all_on("primary", timeout=20), "reads stayed on a lagging replica")
        self.assertIn(title, titles())
        self.assertEqual(rsql("SELECT COUNT(*) FROM flashsale_product.product WHERE title = '%s'"
                              % title), [["0"]])
        rsql("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE")
        self.assertTrue(caught_up())
        self.assertTrue(all_on("replica"), "reads did not return to the replica")

    def test_frozen_replica_answers_from_primary_within_1s(self):
        os.kill(replica_pid(), signal.SIGSTOP)
        try:
            slowest = 0.0
            before = reads()
            # Enough reads that every worker meets the frozen replica at least once.
            for _ in range(16):
                t0 = time.monotonic()
                r = get(LIST, {"page": 1, "pageSize": 10}, headers={"Cache-Control": "no-cache"})
                slowest = max(slowest, time.monotonic() - t0)
                self.assertEqual((r.status, r.code), (200, 200), r)
            self.assertLess(slowest, 1.0, "a read waited on the frozen replica")
            d = {k: reads()[k] - before[k] for k in before}
            self.assertEqual(d["replica"], 0)
            self.assertGreaterEqual(d["primary"], 32)
        finally:
            os.kill(replica_pid(), signal.SIGCONT)
        self.assertTrue(all_on("replica"), "reads did not return to the replica")

    def test_killed_replica_answers_from_primary_and_recovers(self):
        pid = replica_pid()
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not os.path.exists("/proc/%d" % pid), timeout=10))
        try:
            title = "while down %d" % time.time_ns()
            create_product(self.admin, title=title)
            slowest = 0.0
            for _ in range(12):
                t0 = time.monotonic()
                self.assertIn(title, titles())
                slowest = max(slowest, time.monotonic() - t0)
            self.assertLess(slowest, 1.0, "a read waited on the dead replica")
        finally:
            restart_replica()
        # Restarted, it resumes from its GTID position, catches up and serves reads again.
        self.assertTrue(wait_until(caught_up, timeout=20))
        # Each worker's breaker may stay open 8 cooldowns (8 s) after its last failed try on the
        # dead replica, and the lag is read again within 1 s: 15 s left too little on a slow box.
        self.assertTrue(all_on("replica", timeout=30),
                        "reads did not return to the restarted replica")
        self.assertIn(title, titles())


if __name__ == "__main__":
    unittest.main()
