"""fslib - helpers for the HTTP tests: calls through the web server, users, SQL and Redis peeks."""
import http.client
import json
import os
import random
import subprocess
import threading
import time
import urllib.parse

BASE_URL = os.environ.get("FLASHSALE_URL", "http://127.0.0.1:18080")
RUN = os.environ.get("FLASHSALE_TEST_RUN", "")
VAR = os.environ.get("FLASHSALE_TEST_VAR", "")
BUILD = os.environ.get("FLASHSALE_BUILD", "")
SERVER = os.environ.get("FLASHSALE_SERVER", "nginx")


def _port(name, default=0):
    """A test stack port exported by tools/run-tests.sh (FLASHSALE_TEST_PORT_<NAME>)."""
    return int(os.environ.get("FLASHSALE_TEST_PORT_" + name, "0") or 0) or default


# The test stack's ports, computed once by tools/stack-config.sh (stack_ports): nginx, Apache,
# the WeChat Pay simulator and the tracing test's OTLP receiver. Never recompute the offsets.
PORT_WEB = _port("WEB", urllib.parse.urlparse(BASE_URL).port)
PORT_APACHE = _port("APACHE")
PORT_SIM = _port("SIM")
PORT_OTLP = _port("OTLP")


class Resp:
    """One HTTP response: status, headers (lower-case names), text and parsed JSON (or None)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.text = body.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text)
        except ValueError:
            self.json = None

    @property
    def code(self):
        return self.json.get("code") if isinstance(self.json, dict) else None

    @property
    def data(self):
        return self.json.get("data") if isinstance(self.json, dict) else None

    def __repr__(self):
        return f"<{self.status} {self.text[:300]}>"


def call(method, path, body=None, token=None, headers=None, raw=None, query=None, timeout=30,
         source=None):
    """Send one request; body is JSON-encoded unless raw (bytes/str) is given. source: a local
    address to send from (any 127.x.y.z), so a test can act as several clients."""
    u = urllib.parse.urlparse(BASE_URL)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    h = {"Connection": "close"}
    if token:
        h["Authorization"] = "Bearer " + token
    payload = None
    if raw is not None:
        payload = raw.encode() if isinstance(raw, str) else raw
        h["Content-Type"] = "application/json"
    elif body is not None:
        payload = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if headers:
        h.update(headers)
    if query:
        path = path + "?" + urllib.parse.urlencode(query)
    try:
        conn.request(method, path, body=payload, headers=h)
        r = conn.getresponse()
        resp = Resp(r.status, r.getheaders(), r.read())
        record_response(method, path, resp)
        return resp
    finally:
        conn.close()


RESPONSES = os.path.join(os.environ["FLASHSALE_TEST_RESULTS"], "responses.jsonl") \
    if os.environ.get("FLASHSALE_TEST_RESULTS") else None


def _current_test():
    """The id of the unittest test method on the call stack, or '' (for the report)."""
    import sys
    f = sys._getframe(2)
    while f is not None:
        s = f.f_locals.get("self")
        if s is not None and hasattr(s, "_testMethodName") and hasattr(s, "id"):
            return s.id()
        f = f.f_back
    return ""


def record_response(method, path, resp):
    """Append one response to $FLASHSALE_TEST_RESULTS/responses.jsonl: the OpenAPI suite
    (tests/openapi/check-responses.mjs) validates each against doc/openapi.yaml."""
    if not RESPONSES:
        return
    ctype = resp.headers.get("content-type", "")
    line = json.dumps({
        "method": method, "path": path.split("?", 1)[0], "status": resp.status,
        "contentType": ctype, "requestId": resp.headers.get("x-request-id", ""),
        "server": SERVER, "test": _current_test(),
        "body": resp.text if "json" in ctype or not ctype else None,
        "bodyLength": len(resp.text)}, ensure_ascii=False) + "\n"
    with _record_lock:
        with open(RESPONSES, "a", encoding="utf-8") as f:
            f.write(line)


_record_lock = threading.Lock()


def post(path, body=None, token=None, **kw):
    """POST JSON (default {})."""
    return call("POST", path, {} if body is None else body, token=token, **kw)


def get(path, query=None, **kw):
    """GET with query parameters."""
    return call("GET", path, query=query, **kw)


def metric(domain, name, labels=None):
    """The sum of the samples of name in /<domain>/v1/metrics whose labels include labels (a
    dict, e.g. {"result": "SUCCESS"}), or None when there is none."""
    import re
    r = get("/%s/v1/metrics" % domain)
    assert r.status == 200, r
    total = None
    for line in r.text.splitlines():
        m = re.match(r"^%s(\{([^}]*)\})? (\S+)$" % re.escape(name), line)
        if m and all(f'{k}="{v}"' in (m.group(2) or "") for k, v in (labels or {}).items()):
            v = float(m.group(3))
            total = (total or 0) + (int(v) if v.is_integer() else v)
    return total


_lock = threading.Lock()
_seq = [random.randrange(10**6)]


def unique_mobile():
    """A fresh 11-digit mobile starting with 1 (unique within a run and across runs)."""
    with _lock:
        _seq[0] += 1
        n = _seq[0]
    return "1" + ("%04d" % (os.getpid() % 10000)) + ("%06d" % (n % 10**6))


def register(password="secret123", nickname=None, mobile=None, source=None):
    """Register a new user (from address source, if given); returns (mobile, token)."""
    mobile = mobile or unique_mobile()
    body = {"mobile": mobile, "password": password}
    if nickname:
        body["nickname"] = nickname
    r = post("/usercenter/v1/user/register", body, source=source)
    assert r.status == 200 and r.code == 200, r
    return mobile, r.data["accessToken"]


def login(mobile, password="secret123"):
    """Log in; returns the token."""
    r = post("/usercenter/v1/user/login", {"mobile": mobile, "password": password})
    assert r.status == 200 and r.code == 200, r
    return r.data["accessToken"]


def admin_cli(*args):
    """Run flashsale-admin against the test stack; returns CompletedProcess."""
    env = dict(os.environ, FLASHSALE_CONF=os.path.join(VAR, "flashsale.conf"))
    return subprocess.run([os.path.join(BUILD, "jobs", "flashsale-admin"), *args], env=env,
                          capture_output=True, text=True, timeout=30)


def admin_token():
    """A token with the admin role (a new user, granted admin, logged in again)."""
    mobile, _ = register()
    cp = admin_cli("grant-admin", mobile)
    assert cp.returncode == 0, cp.stderr
    return login(mobile)


def sql(query):
    """Run SQL on the test stack's MariaDB; returns rows as lists of strings."""
    out = subprocess.run(["mariadb", "--socket=" + os.path.join(RUN, "mysql.sock"), "-uroot",
                          "--batch", "--skip-column-names", "-e", query],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def product_stock(pid):
    """A product's stock as MariaDB holds it (the truth)."""
    return int(sql("SELECT stock FROM flashsale_product.product WHERE id = %d" % int(pid))[0][0])


def redis(*args):
    """Run a Redis command on the test stack; returns stdout stripped."""
    return subprocess.run(["redis-cli", "-s", os.path.join(RUN, "redis.sock"), *args],
                          capture_output=True, text=True, timeout=30, check=True).stdout.strip()


def wait_until(pred, timeout=10.0, interval=0.05):
    """Poll pred() until truthy or timeout; returns its last value."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > end:
            return v
        time.sleep(interval)


def create_product(token, **fields):
    """Create a product as admin (defaults: on shelf, price 9900 fen, stock 100); returns its id."""
    body = {"title": "test product %d" % random.randrange(10**9), "price": 9900, "stock": 100,
            "status": 1}
    body.update(fields)
    r = post("/product/v1/admin/product/create", body, token=token)
    assert r.status == 200 and r.code == 200, r
    return r.data["id"]


# --- payment: the stack's WeChat Pay simulator and its keys ----------------------------------

def conf_value(section, key):
    """A value of the test stack's flashsale.conf (None if absent)."""
    cur = None
    with open(os.path.join(VAR, "flashsale.conf")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                cur = line[1:-1]
            elif cur == section and "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                if k.strip() == key:
                    return v.strip()
    return None


def sim_call(method, path, body=None, raw=None, headers=None, timeout=30):
    """Call the stack's WeChat Pay simulator (wxpay.api_base) directly."""
    u = urllib.parse.urlparse(conf_value("wxpay", "api_base"))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    h = {"Connection": "close"}
    payload = None
    if raw is not None:
        payload = raw.encode() if isinstance(raw, str) else raw
    elif body is not None:
        payload = json.dumps(body).encode()
    if payload is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    try:
        conn.request(method, path, body=payload, headers=h)
        r = conn.getresponse()
        return Resp(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def secret_path(name):
    """Path of a file in the test stack's secrets directory (wxpay keys)."""
    return os.path.join(VAR, "secrets", name)


def rsa_sign(key_path, message):
    """Base64 SHA256withRSA signature of message (str) with a PEM key, by openssl."""
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path],
                         input=message.encode(), capture_output=True, timeout=30,
                         check=True).stdout
    import base64
    return base64.b64encode(sig).decode()


def rsa_verify(pub_path, message, sig_b64):
    """Does sig_b64 verify over message with the PEM public key (openssl dgst -verify)?"""
    import base64
    import tempfile
    with tempfile.NamedTemporaryFile() as f:
        f.write(base64.b64decode(sig_b64))
        f.flush()
        cp = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub_path, "-signature",
                             f.name], input=message.encode(), capture_output=True, timeout=30)
    return cp.returncode == 0 and b"Verified OK" in cp.stdout


def aes_gcm_encrypt(key, nonce, aad, plaintext):
    """AEAD_AES_256_GCM as WeChat Pay v3 (base64 of ciphertext||tag), by node's crypto."""
    js = ("const c=require('crypto');const a=JSON.parse(require('fs').readFileSync(0,'utf8'));"
          "const x=c.createCipheriv('aes-256-gcm',Buffer.from(a.k),Buffer.from(a.n));"
          "x.setAAD(Buffer.from(a.d));process.stdout.write(Buffer.concat([x.update(a.p,'utf8'),"
          "x.final(),x.getAuthTag()]).toString('base64'))")
    return subprocess.run(["node", "-e", js], input=json.dumps(
        {"k": key, "n": nonce, "d": aad, "p": plaintext}).encode(), capture_output=True,
        timeout=30, check=True).stdout.decode()


def run_job(name, *args, timeout=120, env=None):
    """Run a job binary of the build against the test stack (env: extra variables, e.g.
    FLASHSALE_WXPAY_API_BASE); returns CompletedProcess."""
    env = dict(os.environ, FLASHSALE_CONF=os.path.join(VAR, "flashsale.conf"), **(env or {}))
    return subprocess.run([os.path.join(BUILD, "jobs", "flashsale-" + name), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def require_daemon(test, name):
    """Fail unless the stack's daemon `name` runs; skip only when the stack was explicitly
    configured without it (FLASHSALE_DAEMONS set and not naming it)."""
    configured = os.environ.get("FLASHSALE_DAEMONS")
    if configured is not None and name not in configured.split():
        test.skipTest(f"{name} not configured in FLASHSALE_DAEMONS")
    pidfile = os.path.join(RUN, name + ".pid")
    test.assertTrue(os.path.exists(pidfile), f"{name} is not running ({pidfile} missing)")
    with open(pidfile) as f:
        pid = int(f.read().strip() or 0)
    try:
        os.kill(pid, 0)
    except OSError:
        test.fail(f"{name} (pid {pid}) is not running")


def domain_workers(domain):
    """Pids of the test stack's FastCGI workers of a domain (its binary, this stack's config)."""
    exe = os.path.realpath(os.path.join(BUILD, "fcgi", domain, "flashsale-" + domain))
    conf = ("FLASHSALE_CONF=" + os.path.join(VAR, "flashsale.conf")).encode()
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if not os.readlink("/proc/%s/exe" % p).startswith(exe):
                continue
            with open("/proc/%s/environ" % p, "rb") as f:
                if conf in f.read().split(b"\0"):
                    pids.append(int(p))
        except OSError:
            pass
    return pids


# --- usercenter: calls from other loopback addresses, WeChat login codes, the SMS outbox -----

def call_from(addr, method, path, body=None, token=None, timeout=30):
    """Like call() with a JSON body ({} if None), the connection's source address bound to addr
    (e.g. 127.0.0.7)."""
    return call(method, path, {} if body is None else body, token=token, timeout=timeout,
                source=addr)


def random_loopback():
    """A random loopback address other than 127.0.0.1 (fresh per-address counters)."""
    return "127.%d.%d.%d" % (random.randrange(1, 255), random.randrange(0, 256),
                             random.randrange(1, 255))


def wx_code(openid=None, phone=None):
    """A wx.login code (or, with phone, a getPhoneNumber code) from the simulator: (code, openid)."""
    body = {}
    if openid:
        body["openid"] = openid
    if phone:
        body["phone"] = phone
    r = sim_call("POST", "/simulator/wx/login", body)
    assert r.status == 200, r
    return r.json["code"], r.json["openid"]


def wx_controls(**body):
    """POST /simulator/wx/controls; returns the answer ({issued, valid})."""
    r = sim_call("POST", "/simulator/wx/controls", body)
    assert r.status == 200, r
    return r.json


def sms_outbox(mobile):
    """The simulated SMS gateway's messages to mobile, newest first."""
    r = sim_call("GET", "/simulator/sms?mobile=" + mobile)
    assert r.status == 200, r
    return r.json["list"]


def _fcgi_record(rtype, content, rid=1):
    """One FastCGI record (version 1, no padding)."""
    import struct
    return struct.pack(">BBHHBx", 1, rtype, rid, len(content), 0) + content


def _fcgi_pairs(params):
    """FastCGI name-value pairs."""
    import struct
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def fcgi_call(sock_path, method, uri, body=b"", params=None, timeout=30):
    """One request straight to a FastCGI program's socket (no web server); returns a Resp."""
    import socket
    import struct
    env = {"REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": "",
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
           "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"}
    env.update(params or {})
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(_fcgi_record(1, struct.pack(">HB5x", 1, 0)) +
                  _fcgi_record(4, _fcgi_pairs(env)) + _fcgi_record(4, b"") +
                  (_fcgi_record(5, body) if body else b"") + _fcgi_record(5, b""))
        buf, out = b"", b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, plen = struct.unpack(">BBHHBx", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                if rtype == 6:
                    out += buf[8:8 + clen]
                buf = buf[8 + clen + plen:]
                if rtype == 3:
                    buf = None
                    break
            if buf is None:
                break
    finally:
        s.close()
    head, _, payload = out.partition(b"\r\n\r\n")
    headers = [tuple(x.strip() for x in line.split(":", 1))
               for line in head.decode("latin-1").split("\r\n") if ":" in line]
    status = int(dict(headers).get("Status", "200").split()[0])
    return Resp(status, headers, payload)


# --- metrics: a Prometheus of a test's own ------------------------------------------------------

def free_port():
    """A free TCP port on 127.0.0.1."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A Prometheus (binary) on a free loopback port scraping as conf (prometheus.yml text)
    says, in a temporary directory of its own; started (ready) or RuntimeError. stop() it."""

    def __init__(self, binary, conf, prefix="fs-prom-"):
        import tempfile
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        with open(os.path.join(self.tmp, "prometheus.yml"), "w") as f:
            f.write(conf)
        self.log = open(os.path.join(self.tmp, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + os.path.join(self.tmp, "prometheus.yml"),
             "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(self.ready, timeout=30, interval=0.2):
            self.stop()
            raise RuntimeError("prometheus did not start; see " + self.log.name)

    def ready(self):
        """Does Prometheus answer /-/ready?"""
        import urllib.request
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port,
                                        timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        """Stop the process and remove its directory."""
        import shutil
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
