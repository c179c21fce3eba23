"""test_ecosystem - what operators load: every domain's /metrics passes `promtool check metrics`,
and every panel of dist/grafana/flashsale.json returns data from a real Prometheus scraping the
stack after a small sale (purchases, a sell-out, a WeChat payment, a cron job run)."""
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import unittest
import urllib.parse
import urllib.request

import fslib
from fslib import get, post, wait_until

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
DOMAINS = ("usercenter", "product", "seckill", "order", "payment")
DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dist",
                         "grafana", "flashsale.json")

BOUGHT = 'sum(flashsale_http_requests_total{route="/seckill/v1/seckill/do",code="200"})'
SOLD_OUT = 'sum(flashsale_http_requests_total{route="/seckill/v1/seckill/do",code="600004"})'
PAID = 'sum(flashsale_wxpay_notifications_total{status="204"})'


def panel_targets():
    """(panel title, expr) of every query of the dashboard."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    return out


@unittest.skipUnless(PROMTOOL, "promtool is not installed")
class PromtoolCheckMetrics(unittest.TestCase):
    """promtool's lint (base units, _total counters, HELP/TYPE) finds nothing to say."""

    def check(self, text, what):
        cp = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
        self.assertEqual((cp.returncode, cp.stdout + cp.stderr), (0, ""), what)

    def test_every_domain(self):
        for d in DOMAINS:
            r = get("/%s/v1/metrics" % d)
            self.assertEqual(r.status, 200, d)
            self.assertIn("flashsale_dependency_up", r.text, d)
            self.check(r.text, "/%s/v1/metrics" % d)

    def test_jobs_textfile(self):
        cp = fslib.run_job("settle", "--day", "2026-01-03")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(os.path.join(fslib.RUN, "jobs.prom")) as f:
            text = f.read()
        self.assertIn("flashsale_job_last_duration_seconds", text)
        self.check(text, "jobs.prom")

    def test_dependencies_up_and_writer_age_in_seconds(self):
        r = get("/seckill/v1/metrics")
        lines = dict(ln.rsplit(" ", 1) for ln in r.text.splitlines() if ln and ln[0] != "#")
        self.assertEqual(lines['flashsale_dependency_up{program="seckill",dependency="mysql"}'],
                         "1")
        self.assertEqual(lines['flashsale_dependency_up{program="seckill",dependency="redis"}'],
                         "1")
        self.assertGreater(int(lines['flashsale_redis_used_memory_bytes{program="seckill"}']), 0)
        self.assertNotIn("flashsale_orderwriter_oldest_age_ms", r.text)
        float(lines['flashsale_orderwriter_oldest_age_seconds{program="seckill"}'])


class _JobsTextfile(http.server.BaseHTTPRequestHandler):
    """node_exporter's textfile collector in miniature: <run>/jobs.prom at /metrics."""

    def do_GET(self):
        try:
            with open(os.path.join(fslib.RUN, "jobs.prom"), "rb") as f:
                body = f.read()
        except OSError:
            body = b""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@unittest.skipUnless(PROMETHEUS, "prometheus is not installed")
class GrafanaDashboard(unittest.TestCase):
    """Prometheus scrapes the stack as dist/prometheus/prometheus.example.yml says (jobs
    flashsale-<domain>, the jobs' textfile with honor_labels); a sale runs; every panel's query
    then returns data."""

    @classmethod
    def setUpClass(cls):
        cls.textfile = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JobsTextfile)
        threading.Thread(target=cls.textfile.serve_forever, daemon=True).start()
        u = urllib.parse.urlparse(fslib.BASE_URL)
        conf = "global:\n  scrape_interval: 1s\nscrape_configs:\n" + "".join(
            f"  - job_name: flashsale-{d}\n    metrics_path: /{d}/v1/metrics\n"
            f"    static_configs: [{{targets: ['{u.hostname}:{u.port}']}}]\n" for d in DOMAINS)
        conf += ("  - job_name: flashsale-jobs\n    honor_labels: true\n"
                 "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                 % cls.textfile.server_address[1])
        try:
            cls.prom = fslib.Prometheus(PROMETHEUS, conf, prefix="fs-grafana-")
        except Exception:
            cls.textfile.shutdown()
            raise
        cls.port = cls.prom.port
        try:
            cls._sale()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()
        cls.textfile.shutdown()

    @classmethod
    def _sale(cls):
        """Purchases up to a sell-out and one more, the orders written, a paid order, a job."""
        import test_dashboard as dash
        import test_payment as pay
        # Let Prometheus scrape the counters once before they move, so rates have a start.
        wait_until(lambda: cls.query('up{job="flashsale-seckill"}')[1], timeout=20, interval=0.5)
        wait_until(lambda: cls.query('up{job="flashsale-payment"}')[1], timeout=20, interval=0.5)
        cls.before = {e: cls.value(e) for e in (BOUGHT, SOLD_OUT, PAID)}
        aid = dash.make_activity(stock=3, limit=1)
        users = dash.users(4)
        answers = [dash.buy(u, aid).code for u in users]
        assert answers.count(200) == 3 and 600004 in answers, answers
        assert wait_until(lambda: dash.one(aid)["writer"]["intents"] == 0, timeout=30)
        token = users[0]
        pid = fslib.create_product(dash.admin(), price=1999, stock=5)
        osn = post("/order/v1/order/create", {"productId": pid, "quantity": 1},
                   token=token).data["orderSn"]
        r = post(pay.PAY, {"orderSn": osn, "serviceType": "order", "tradeType": "NATIVE"},
                 token=token)
        assert r.status == 200, r
        psn = fslib.sql("SELECT sn FROM flashsale_payment.payment WHERE order_sn = '%s'" % osn)
        r = fslib.sim_call("POST", "/simulator/pay", {"out_trade_no": psn[0][0]})
        assert r.status == 200, r
        assert wait_until(lambda: post(pay.DETAIL, {"orderSn": osn}, token=token).data
                          .get("payStatus") == 1, timeout=20)
        cp = fslib.run_job("settle", "--day", "2026-01-04")
        assert cp.returncode == 0, cp.stderr

    @classmethod
    def value(cls, expr):
        """The sum of an instant query's samples (0 without any)."""
        res = cls.query(expr)[1]
        return sum(float(s["value"][1]) for s in res) if res else 0

    @classmethod
    def query(cls, expr):
        """Instant query: (status, result list)."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            cls.port, urllib.parse.urlencode({"query": expr}))
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            return "error: " + e.read().decode(), []
        return body["status"], body["data"]["result"]

    def test_every_panel_returns_data(self):
        targets = panel_targets()
        self.assertGreaterEqual(len(targets), 20)
        empty, checked = [], 0
        deadline = time.time() + 60
        for title, expr in targets:
            # Poll: the last scrape may predate the sale's final counters by a second or two.
            got = wait_until(lambda: self.query(expr)[1], timeout=max(1, deadline - time.time()),
                             interval=0.5)
            checked += 1
            if not got:
                empty.append("%s: %s" % (title, expr))
        self.assertEqual(empty, [], "panels without data")
        self.assertGreaterEqual(checked, 15)

    def test_sale_is_visible_in_the_panels(self):
        """Not just any data: the sale's purchases and sell-out and the payment are there."""
        def value(expr):
            res = self.query(expr)[1]
            return sum(float(s["value"][1]) for s in res) if res else 0
        # Counters that appear with the sale have no earlier sample for increase() to start
        # from: compare the scraped totals with those before the sale.
        for expr, n in ((BOUGHT, 3), (SOLD_OUT, 1), (PAID, 1)):
            self.assertTrue(wait_until(lambda: self.value(expr) - self.before[expr] >= n,
                                       timeout=20, interval=0.5),
                            (expr, self.before[expr], self.value(expr)))
        self.assertTrue(wait_until(lambda: value(
            'max by (job) (flashsale_job_last_run_timestamp_seconds{job="settle"})')
            >= time.time() - 300, timeout=20, interval=0.5))
