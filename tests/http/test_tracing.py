"""Tracing: one request's spans reach an OTLP/HTTP receiver, sharing the client's trace id, the
root span parented on the client's span and the MySQL/Redis spans on the root."""
import http.server
import json
import os
import secrets
import threading
import unittest
import urllib.parse

import fslib


def otlp_url():
    """The receiver address the test stack's exporter posts to (trace.otlp_url)."""
    conf = os.path.join(fslib.VAR, "flashsale.conf")
    section = None
    with open(conf) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "trace" and line.startswith("otlp_url"):
                return line.split("=", 1)[1].strip()
    return ""


class Receiver(http.server.BaseHTTPRequestHandler):
    """Collects posted OTLP JSON span batches."""
    spans = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        doc = json.loads(body)
        with Receiver.lock:
            for rs in doc["resourceSpans"]:
                service = rs["resource"]["attributes"][0]["value"]["stringValue"]
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        Receiver.spans.append(dict(s, service=service))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *a):
        pass


@unittest.skipUnless(otlp_url(), "the stack has no trace.otlp_url (not a test stack)")
class Tracing(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        u = urllib.parse.urlparse(otlp_url())
        cls.server = http.server.ThreadingHTTPServer((u.hostname, u.port), Receiver)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def spans_of(self, trace_id):
        with Receiver.lock:
            return [s for s in Receiver.spans if s["traceId"] == trace_id]

    def test_request_spans_share_trace_and_parents(self):
        mobile, _ = fslib.register()
        trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
        r = fslib.post("/usercenter/v1/user/login", {"mobile": mobile, "password": "secret123"},
                       headers={"traceparent": "00-%s-%s-01" % (trace_id, parent)})
        self.assertEqual(r.code, 200, r)
        ok = fslib.wait_until(lambda: any(s["kind"] == 2 for s in self.spans_of(trace_id))
                              and any(s["kind"] == 3 for s in self.spans_of(trace_id)),
                              timeout=10)
        spans = self.spans_of(trace_id)
        self.assertTrue(ok, "no root and child spans for trace %s: %r" % (trace_id, spans))
        roots = [s for s in spans if s["kind"] == 2]
        self.assertEqual(len(roots), 1, roots)
        root = roots[0]
        self.assertEqual(root["parentSpanId"], parent)
        self.assertEqual(root["name"], "/usercenter/v1/user/login")
        self.assertEqual(root["service"], "usercenter")
        children = [s for s in spans if s["kind"] == 3]
        systems = {a["value"]["stringValue"] for s in children for a in s["attributes"]
                   if a["key"] == "db.system"}
        self.assertEqual(systems, {"mysql", "redis"})
        for c in children:
            self.assertEqual(c["parentSpanId"], root["spanId"])
            self.assertGreaterEqual(int(c["startTimeUnixNano"]), int(root["startTimeUnixNano"]))
            self.assertLessEqual(int(c["endTimeUnixNano"]), int(root["endTimeUnixNano"]))

    def test_request_without_traceparent_starts_a_new_trace(self):
        before = len(Receiver.spans)
        r = fslib.get("/usercenter/v1/healthz", headers={"X-Request-Id": "trace-test-0001"})
        self.assertEqual(r.status, 200)
        ok = fslib.wait_until(
            lambda: any(s["kind"] == 2 and s["name"] == "/usercenter/v1/healthz"
                        and "parentSpanId" not in s for s in Receiver.spans[before:]), timeout=10)
        self.assertTrue(ok)


class RequestIdAcrossLogs(unittest.TestCase):
    """One request can be followed from nginx's access log to the program's JSON log by its id."""

    @unittest.skipIf(fslib.SERVER != "nginx", "reads nginx's access log")
    def test_request_id_in_nginx_and_program_logs(self):
        rid = "follow-" + secrets.token_hex(8)
        r = fslib.post("/usercenter/v1/user/detail", {}, headers={"X-Request-Id": rid})
        self.assertEqual(r.headers.get("x-request-id"), rid)
        logdir = os.path.join(fslib.VAR, "log")

        def found():
            with open(os.path.join(logdir, "nginx-access.log")) as f:
                in_nginx = [l for l in f if "rid=" + rid in l]
            with open(os.path.join(logdir, "usercenter.log")) as f:
                in_prog = [json.loads(l) for l in f if rid in l]
            return in_nginx, in_prog

        ok = fslib.wait_until(lambda: all(found()), timeout=5)
        in_nginx, in_prog = found()
        self.assertTrue(ok, "request id %s not in both logs" % rid)
        self.assertIn("/usercenter/v1/user/detail", in_nginx[0])
        line = in_prog[-1]
        self.assertEqual(line["requestId"], rid)
        self.assertEqual(line["route"], "/usercenter/v1/user/detail")
        self.assertEqual(line["status"], 401)
        for key in ("time", "level", "program", "pid", "latencyMs"):
            self.assertIn(key, line)
