"""Metrics: a real Prometheus scrapes /<domain>/v1/metrics through the web server and finds the
requests sent, summed across every FastCGI worker of the domain."""
import json
import os
import shutil
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

import fslib

PROMETHEUS = shutil.which("prometheus")
DOMAINS = ("usercenter", "product", "seckill", "order", "payment", "coupon")


@unittest.skipUnless(PROMETHEUS, "prometheus is not installed")
class PrometheusScrape(unittest.TestCase):
    """Prometheus on loopback scraping the stack every second."""

    @classmethod
    def setUpClass(cls):
        u = urllib.parse.urlparse(fslib.BASE_URL)
        cls.prom = fslib.Prometheus(PROMETHEUS, """global:
  scrape_interval: 1s
scrape_configs:
""" + "".join(f"""  - job_name: {d}
    metrics_path: /{d}/v1/metrics
    static_configs:
      - targets: ['{u.hostname}:{u.port}']
""" for d in DOMAINS))
        cls.port = cls.prom.port

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()

    def query(self, expr):
        """Instant query; the first sample's value as int, or None without samples."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success", body)
        res = body["data"]["result"]
        return int(float(res[0]["value"][1])) if res else None

    def scraped_up(self):
        """True once Prometheus has scraped the target successfully."""
        return self.query('up{job="usercenter"}') == 1

    def test_scraped_counters_equal_requests_sent(self):
        self.assertTrue(fslib.wait_until(self.scraped_up, timeout=20, interval=0.5),
                        "Prometheus never scraped /usercenter/v1/metrics")
        expr = ('sum(flashsale_http_requests_total{route="/usercenter/v1/user/detail",'
                'status="401",code="100003"})')
        before = self.query(expr) or 0
        sent = 37
        for _ in range(sent):
            r = fslib.post("/usercenter/v1/user/detail", {})
            self.assertEqual(r.code, 100003)
        # The requests were spread over several workers; the scrape hits one of them.
        got = fslib.wait_until(lambda: (self.query(expr) or 0) - before == sent, timeout=15,
                               interval=0.5)
        self.assertTrue(got, "scraped %s, expected %d more than %d" % (self.query(expr), sent,
                                                                          before))

    def test_every_domain_is_scraped(self):
        for d in DOMAINS:
            self.assertTrue(fslib.wait_until(lambda: self.query('up{job="%s"}' % d) == 1,
                                             timeout=20, interval=0.5),
                            "Prometheus could not scrape /%s/v1/metrics" % d)

    def test_latency_histogram_counts_requests(self):
        self.assertTrue(fslib.wait_until(self.scraped_up, timeout=20, interval=0.5))
        expr = ('sum(flashsale_http_request_duration_seconds_count{'
                'route="/usercenter/v1/healthz"})')
        before = self.query(expr) or 0
        for _ in range(12):
            self.assertEqual(fslib.get("/usercenter/v1/healthz").status, 200)
        self.assertTrue(fslib.wait_until(lambda: (self.query(expr) or 0) - before == 12,
                                         timeout=15, interval=0.5))


class MetricsEndpoint(unittest.TestCase):
    """The text format itself, read directly."""

    def test_text_format_and_types(self):
        r = fslib.get("/usercenter/v1/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"))
        self.assertIn("# TYPE flashsale_http_requests_total counter", r.text)
        self.assertIn("# TYPE flashsale_http_request_duration_seconds histogram", r.text)
        for line in r.text.splitlines():
            if line and not line.startswith("#"):
                name_labels, value = line.rsplit(" ", 1)
                float(value)  # every sample has a numeric value
                self.assertIn('program="usercenter"', name_labels)


class OrderWriterLag(unittest.TestCase):
    """/seckill/v1/metrics reports the order-writer's backlog and the age of its oldest intent."""

    def gauges(self):
        r = fslib.get("/seckill/v1/metrics")
        self.assertEqual(r.status, 200)
        out = {}
        for line in r.text.splitlines():
            if line.startswith("flashsale_orderwriter_"):
                name_labels, value = line.rsplit(" ", 1)
                out[name_labels.split("{", 1)[0]] = float(value)
        return out

    def test_backlog_while_the_writer_is_paused(self):
        import signal
        import test_dashboard as dash
        pidfile = os.path.join(fslib.RUN, "order-writer.pid")
        chosen = os.environ.get("FLASHSALE_DAEMONS")
        if chosen is not None and "order-writer" not in chosen.split():
            self.skipTest("FLASHSALE_DAEMONS leaves out the order-writer")
        # part of every stack otherwise: a missing one fails here
        sup = open(pidfile).read().strip()
        writer = int(subprocess.run(["pgrep", "-P", sup], capture_output=True, text=True,
                                    check=True).stdout.split()[0])
        aid = dash.make_activity(stock=5, limit=5)
        (u,) = dash.users(1)
        os.kill(writer, signal.SIGSTOP)
        try:
            before = self.gauges()["flashsale_orderwriter_backlog"]
            self.assertEqual(dash.buy(u, aid, qty=2).code, 200)
            # the one intent waits, and its age grows past a second while the writer sleeps
            self.assertTrue(fslib.wait_until(
                lambda: self.gauges()["flashsale_orderwriter_oldest_age_seconds"] >= 1.0,
                timeout=10, interval=0.1), self.gauges())
            self.assertEqual(self.gauges()["flashsale_orderwriter_backlog"] - before, 1)
        finally:
            os.kill(writer, signal.SIGCONT)
        self.assertTrue(fslib.wait_until(
            lambda: self.gauges()["flashsale_orderwriter_backlog"] == 0, timeout=30),
            self.gauges())
        self.assertEqual(self.gauges()["flashsale_orderwriter_oldest_age_seconds"], 0)


class JobRuns(unittest.TestCase):
    """Cron jobs record runs and failures in a node_exporter textfile (<metrics.dir>/jobs.prom)."""

    def runs(self, job):
        """(runs, failures, last exit status) of a job in jobs.prom; zeros before any run."""
        path = os.path.join(fslib.RUN, "jobs.prom")
        vals = {}
        if os.path.exists(path):
            for line in open(path):
                if 'job="%s"' % job in line and not line.startswith("#"):
                    vals[line.split("{", 1)[0]] = int(float(line.rsplit(" ", 1)[1]))
        return (vals.get("flashsale_job_runs_total", 0),
                vals.get("flashsale_job_failures_total", 0),
                vals.get("flashsale_job_last_exit_status", 0))

    def run_job(self, job, *args):
        env = dict(os.environ, FLASHSALE_CONF=os.path.join(fslib.VAR, "flashsale.conf"))
        return subprocess.run([os.path.join(fslib.BUILD, "jobs", "flashsale-" + job), *args],
                              env=env, capture_output=True, text=True, timeout=120)

    def test_runs_and_failures_are_counted(self):
        runs, fails, _ = self.runs("settle")
        cp = self.run_job("settle", "--day", "2026-01-02")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(self.runs("settle"), (runs + 1, fails, 0))
        cp = self.run_job("settle", "--day", "not-a-day")  # refused: exit 2
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertEqual(self.runs("settle"), (runs + 2, fails + 1, 2))
