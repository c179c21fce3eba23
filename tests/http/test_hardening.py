"""Hardening (issue 10): slow bodies, the web servers' own answers, crashed workers, secrets and
the database closed to other local users, Redis that never evicts. Runs through nginx and Apache
(FLASHSALE_SERVER tells which); items that do not depend on the web server run in both."""
import http.client
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest
import urllib.parse

import fslib
from fslib import RUN, VAR, get, post, wait_until


def raw_request(data, timeout=10):
    """Send raw bytes to the web server; returns (status, headers dict, body bytes)."""
    u = urllib.parse.urlparse(fslib.BASE_URL)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(data)
        resp = http.client.HTTPResponse(s)
        resp.begin()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


class SlowBodies(unittest.TestCase):
    """Item 1: clients trickling request bodies hold no FastCGI worker."""

    N = 20

    def test_slow_bodies_do_not_starve_the_domain(self):
        u = urllib.parse.urlparse(fslib.BASE_URL)
        socks = []
        stop = threading.Event()
        try:
            for _ in range(self.N):
                s = socket.create_connection((u.hostname, u.port), timeout=10)
                s.sendall(b"POST /usercenter/v1/user/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 60\r\n\r\n{")
                socks.append(s)

            def trickle():
                while not stop.wait(0.5):
                    for s in socks:
                        try:
                            s.send(b" ")
                        except OSError:
                            pass
            threading.Thread(target=trickle, daemon=True).start()
            lat = []
            end = time.time() + 4
            while time.time() < end:
                t0 = time.time()
                r = get("/usercenter/v1/healthz", timeout=5)
                lat.append(time.time() - t0)
                self.assertEqual(r.status, 200, r)
                time.sleep(0.05)
            slow = [x for x in lat if x > 0.1]
            # Within 100 ms; one answer in 20 may miss it on this shared 2-core box.
            self.assertLessEqual(len(slow), len(lat) // 20, "healthz latencies %r" % lat)
            self.assertLess(max(lat), 1.0, lat)
        finally:
            stop.set()
            for s in socks:
                s.close()


def fcgi_record(rtype, content, rid=1):
    """One FastCGI record."""
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), 0, 0) + content


def fcgi_params(pairs):
    """FastCGI name-value pairs (short lengths)."""
    out = b""
    for k, v in pairs.items():
        out += bytes([len(k), len(v)]) + k.encode() + v.encode()
    return out


class ProgramBodyDeadline(unittest.TestCase):
    """Item 1, in the program: a worker stops waiting for a trickled body at http.body_timeout_ms
    (whatever the web server does), answers 400 / 100002 and is free again."""

    def test_trickled_body_times_out_in_the_worker(self):
        limit = int(fslib.conf_value("http", "body_timeout_ms") or 5000) / 1000
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(limit + 10)
        s.connect(os.path.join(RUN, "usercenter.sock"))
        stop = threading.Event()
        try:
            s.sendall(fcgi_record(1, struct.pack(">HB5x", 1, 0)) + fcgi_record(4, fcgi_params({
                "REQUEST_METHOD": "POST", "REQUEST_URI": "/usercenter/v1/user/login",
                "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "60",
                "REMOTE_ADDR": "127.0.0.1"})) + fcgi_record(4, b"") + fcgi_record(5, b"{"))
            t0 = time.time()

            def trickle():
                while not stop.wait(0.5):
                    try:
                        s.sendall(fcgi_record(5, b" "))
                    except OSError:
                        return
            threading.Thread(target=trickle, daemon=True).start()
            out = b""
            while b"Status:" not in out:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            elapsed = time.time() - t0
        finally:
            stop.set()
            s.close()
        self.assertIn(b"Status: 400", out, out[:300])
        self.assertIn(b"100002", out, out[:300])
        self.assertLess(elapsed, limit + 2.5, "the worker waited %.1f s for the body" % elapsed)
        self.assertGreater(elapsed, limit - 0.5, elapsed)


class WebServerAnswers(unittest.TestCase):
    """Items 11, 12e, 18: the web server's own answers are the JSON envelope with API.md's
    status, TRACE is refused, no version is shown."""

    def test_trace_refused_without_echo(self):
        st, h, body = raw_request(b"TRACE /usercenter/v1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"Authorization: Bearer secret-token-xyz\r\n"
                                  b"Connection: close\r\n\r\n")
        self.assertEqual(st, 405, body)
        self.assertNotIn(b"secret-token-xyz", body)
        self.assertIn(b'"code":100009', body)
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)

    def test_server_header_has_no_version(self):
        r = get("/usercenter/v1/healthz")
        server = r.headers.get("server", "")
        self.assertIn(server, ("nginx", "Apache"), server)

    def test_static_404_is_envelope(self):
        r = get("/no-such-page-%d.html" % random.randrange(10**9))
        self.assertEqual((r.status, r.code), (404, 100009), r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r)

    def test_oversized_body_is_envelope(self):
        # Larger than both servers' caps: nginx's 64 KiB and Apache's LimitRequestBody (1 MiB).
        r = post("/usercenter/v1/user/login", raw="x" * (2 << 20))
        self.assertEqual((r.status, r.code), (413, 100010), r)

    def test_worker_killed_mid_request_is_503(self):
        """A product worker is stopped inside a request (Redis frozen) and killed: 503 / 100005."""
        redis_pid = int(open(os.path.join(RUN, "redis.pid")).read())
        before = fslib.domain_workers("product")
        self.assertTrue(before, "no product workers found")
        result = {}

        def call():
            result["r"] = get("/product/v1/healthz", timeout=20)
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            t = threading.Thread(target=call)
            t.start()
            # Until a worker has taken the request (it leaves accept() to wait on Redis).
            self.assertTrue(wait_until(lambda: any(not in_accept(p) for p in before),
                                       timeout=10), "no worker took the request")
            for pid in before:
                os.kill(pid, signal.SIGKILL)
            t.join(20)
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        r = result["r"]
        self.assertEqual((r.status, r.code), (503, 100005), r)
        self.assertTrue(wait_until(lambda: len(fslib.domain_workers("product")) == len(before),
                                   timeout=20), "product workers not restored")


def in_accept(pid):
    """Is a worker idle, every thread of it blocked in accept() (x86-64 syscalls 43 and 288)?"""
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                if f.read().split()[0] not in ("43", "288"):
                    return False
        return True
    except (OSError, IndexError):
        return True


class WorkersRestored(unittest.TestCase):
    """Item 17: a domain returns to full strength after a crash loop, and metrics count it."""

    def live_metric(self):
        r = get("/seckill/v1/metrics")
        for line in r.text.splitlines():
            if line.startswith("flashsale_workers_live"):
                return int(float(line.split()[-1]))
        return None

    def test_crash_loop_then_full_strength(self):
        full = len(fslib.domain_workers("seckill"))
        self.assertGreaterEqual(full, 2)
        self.assertEqual(self.live_metric(), full)
        for _ in range(14):
            pids = fslib.domain_workers("seckill")
            if pids:
                try:
                    os.kill(random.choice(pids), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.4)
        ok = wait_until(lambda: len(fslib.domain_workers("seckill")) == full, timeout=25,
                        interval=0.2)
        self.assertTrue(ok, "%d of %d seckill workers after the crash loop"
                        % (len(fslib.domain_workers("seckill")), full))
        self.assertTrue(wait_until(lambda: self.live_metric() == full, timeout=10),
                        self.live_metric())
        self.assertEqual(get("/seckill/v1/healthz").status, 200)


def as_nobody(*cmd):
    """Run a command as the user nobody; returns CompletedProcess."""
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           "--", *cmd], capture_output=True, text=True, timeout=30)


@unittest.skipUnless(os.geteuid() == 0, "switching to nobody needs root")
class SecretsClosed(unittest.TestCase):
    """Item 9: another local user reads no secret and reaches no server; the programs run
    unprivileged with a MariaDB account that cannot change the schema."""

    def test_nobody_cannot_read_the_config_or_secrets(self):
        conf = os.path.join(VAR, "flashsale.conf")
        self.assertEqual(os.stat(conf).st_mode & 0o777, 0o640)
        self.assertEqual(subprocess.run(["cat", conf], capture_output=True).returncode, 0)
        self.assertNotEqual(as_nobody("cat", conf).returncode, 0)
        self.assertNotEqual(as_nobody("cat", os.path.join(VAR, "secrets", "jwt_secret"))
                            .returncode, 0)

    def test_nobody_cannot_connect_to_mariadb_or_redis(self):
        sock = os.path.join(RUN, "mysql.sock")
        for user in ("root", fslib.conf_value("mysql", "user")):
            cp = as_nobody("mariadb", "--socket=" + sock, "-u" + user, "-e", "SELECT 1")
            self.assertNotEqual(cp.returncode, 0, (user, cp.stdout))
        cp = as_nobody("redis-cli", "-s", os.path.join(RUN, "redis.sock"), "ping")
        self.assertNotIn("PONG", cp.stdout)
        self.assertEqual(fslib.sql("SELECT 1"), [["1"]])  # root still can

    def test_programs_run_unprivileged(self):
        for d in ("usercenter", "seckill"):
            for pid in fslib.domain_workers(d):
                self.assertNotEqual(os.stat("/proc/%d" % pid).st_uid, 0, (d, pid))

    def app_sql(self, query):
        """Run SQL with the programs' MariaDB account (from the config)."""
        return subprocess.run(["mariadb", "--socket=" + os.path.join(RUN, "mysql.sock"),
                               "-u" + fslib.conf_value("mysql", "user"),
                               "-p" + fslib.conf_value("mysql", "password"), "--batch",
                               "--skip-column-names", "-e", query],
                              capture_output=True, text=True, timeout=30)

    def test_app_account_is_least_privilege(self):
        self.assertNotEqual(fslib.conf_value("mysql", "user"), "root")
        self.assertEqual(self.app_sql("SELECT COUNT(*) >= 0 FROM flashsale_order.orders")
                         .stdout.strip(), "1")
        for q in ("CREATE TABLE flashsale_order.hardening_x (i INT)",
                  "DROP TABLE flashsale_order.orders", "SELECT * FROM mysql.user",
                  "CREATE DATABASE hardening_x"):
            self.assertNotEqual(self.app_sql(q).returncode, 0, q)
        # New flashsale_* schemas are covered by the grant.
        fslib.sql("CREATE DATABASE IF NOT EXISTS flashsale_hardening_probe")
        try:
            self.assertEqual(self.app_sql("SHOW TABLES FROM flashsale_hardening_probe")
                             .returncode, 0)
        finally:
            fslib.sql("DROP DATABASE flashsale_hardening_probe")


class RedisNeverEvicts(unittest.TestCase):
    """Item 3: Redis has a memory cap and refuses writes past it rather than evict stock."""

    def test_maxmemory_noeviction(self):
        self.assertEqual(fslib.redis("CONFIG", "GET", "maxmemory-policy").split(),
                         ["maxmemory-policy", "noeviction"])
        cap = int(fslib.redis("CONFIG", "GET", "maxmemory").split()[1])
        self.assertGreater(cap, 0)
        # Every domain's metrics carry the figures an alert needs (used / max).
        text = get("/order/v1/metrics").text
        vals = {}
        for line in text.splitlines():
            if line.startswith(("flashsale_redis_used_memory_bytes",
                                "flashsale_redis_maxmemory_bytes")):
                vals[line.split("{")[0].split()[0]] = float(line.split()[-1])
        self.assertEqual(vals.get("flashsale_redis_maxmemory_bytes"), cap, text[-500:])
        self.assertGreater(vals.get("flashsale_redis_used_memory_bytes", 0), 0, vals)


if __name__ == "__main__":
    unittest.main()
