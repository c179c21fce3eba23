"""test_content_type - a POST body that is not JSON by its Content-Type is refused with HTTP 415
and the JSON envelope (code 100002) before anything parses it (issue 10, item 12b)."""
import http.client
import json
import unittest
import urllib.parse

from fslib import BASE_URL, Resp, call, record_response, register

LOGIN = "/usercenter/v1/user/login"


def raw_post(path, body, content_type=None, token=None):
    """POST bytes with exactly the given Content-Type (None: no such header at all)."""
    u = urllib.parse.urlparse(BASE_URL)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = {"Connection": "close"}
    if content_type is not None:
        h["Content-Type"] = content_type
    if token:
        h["Authorization"] = "Bearer " + token
    try:
        conn.request("POST", path, body=body, headers=h)
        r = conn.getresponse()
        resp = Resp(r.status, r.getheaders(), r.read())
        record_response("POST", path, resp)  # checked against doc/openapi.yaml too
        return resp.status, resp.headers.get("content-type"), resp.text
    finally:
        conn.close()


class TestContentType(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.mobile, cls.token = register()
        cls.body = json.dumps({"mobile": cls.mobile, "password": "secret123"}).encode()

    def test_non_json_types_get_415_with_the_envelope(self):
        for ct in ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
                   "multipart/form-data; boundary=x", "application/jsonx", "json", None]:
            with self.subTest(content_type=ct):
                status, rtype, text = raw_post(LOGIN, self.body, ct)
                self.assertEqual(status, 415, text)
                self.assertTrue(rtype.startswith("application/json"), rtype)
                doc = json.loads(text)
                self.assertEqual(doc["code"], 100002, doc)
                self.assertIn("Content-Type", doc["msg"])

    def test_json_types_are_accepted(self):
        for ct in ["application/json", "application/json; charset=utf-8", "Application/JSON",
                   "application/vnd.api+json"]:
            with self.subTest(content_type=ct):
                status, _, text = raw_post(LOGIN, self.body, ct)
                self.assertEqual(status, 200, text)
                self.assertEqual(json.loads(text)["code"], 200)

    def test_empty_body_needs_no_type(self):
        # A route that takes {} may be called with no body and no Content-Type.
        status, _, text = raw_post("/usercenter/v1/user/detail", b"", None, token=self.token)
        self.assertEqual(status, 200, text)

    def test_wechat_callbacks_keep_their_own_checks(self):
        # The callback reads the raw body itself (signature first): no 415 there.
        r = call("POST", "/payment/v1/thirdPayment/thirdPaymentWxPayCallback", raw="{}",
                 headers={"Content-Type": "text/plain"})
        self.assertNotEqual(r.status, 415, r)
        self.assertEqual(r.status, 400, r)


if __name__ == "__main__":
    unittest.main()
