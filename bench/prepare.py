#!/usr/bin/env python3
"""prepare.py - benchmark data on a running stack: users with access and seckill tokens, a big
activity (stock lasts), a sold-out one, a product for the catalogue read. Prints JSON ids.

usage: prepare.py USERS TOKENS_FILE   (env as for tests/http: FLASHSALE_URL, FLASHSALE_TEST_VAR,
FLASHSALE_TEST_RUN, FLASHSALE_BUILD)
"""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "http"))
import fslib  # noqa: E402


POW_DIFFICULTY = 1000  # the server's cost does not depend on it; solving them here does


def solve(args):
    """One solved challenge (signed with the stack's key, as /seckill/challenge signs them)."""
    key, aid, expires, i = args
    salt = "%024x?expires=%d&a=%d&" % (i, expires, aid)
    number = int.from_bytes(hashlib.sha256(salt.encode()).digest()[:4], "big") % POW_DIFFICULTY
    ch = hashlib.sha256((salt + str(number)).encode()).hexdigest()
    for n in range(POW_DIFFICULTY + 1):  # brute force, as a client must
        if hashlib.sha256((salt + str(n)).encode()).hexdigest() == ch:
            break
    sig = hmac.new(key, ch.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(json.dumps({"algorithm": "SHA-256", "challenge": ch, "number": n,
                                        "salt": salt, "signature": sig}).encode()).decode()


def pow_tokens(out, users, aid, count):
    """The /seckill/token bench's input: "jwt payload" lines (one solved challenge each)."""
    key = fslib.conf_value("seckill", "pow_secret").encode()
    expires = int(time.time()) + 7200
    with multiprocessing.Pool(os.cpu_count() or 2) as pool:
        payloads = pool.map(solve, [(key, aid, expires, i) for i in range(count)], 500)
    with open(out + ".pow", "w") as f:
        for i, p in enumerate(payloads):
            f.write("%s %s\n" % (users[i % len(users)], p))
    with open(out + ".plain", "w") as f:
        for u in users:
            f.write("%s -\n" % u)


def main():
    nusers, out = int(sys.argv[1]), sys.argv[2]
    adm = fslib.admin_token()
    r = fslib.post("/product/v1/admin/product/create",
                   {"title": "Bench phone", "price": 100000, "stock": 1100000, "status": 1},
                   token=adm)
    assert r.code == 200, r
    pid = r.data["id"]
    now = int(time.time())
    ids = {"product": pid}
    for name, stock, limit, pow in (("big", 1000000, 1000000, 0), ("soldout", 1, 1, 0),
                                    ("pow", 1000, 1, POW_DIFFICULTY)):
        r = fslib.post("/seckill/v1/admin/activity/create",
                       {"productId": pid, "seckillPrice": 100, "stock": stock,
                        "perUserLimit": limit, "startTime": now - 1, "endTime": now + 7200,
                        "powDifficulty": pow},
                       token=adm)
        assert r.code == 200, r
        ids[name] = r.data["id"]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        users = [t for _, t in ex.map(lambda _: fslib.register(), range(nusers))]

    def tokens(u):
        r = fslib.post("/seckill/v1/seckill/token", {"activityId": ids["big"]}, token=u)
        assert r.code == 200, r
        return u, r.data["token"]

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        pairs = list(ex.map(tokens, users))
    with open(out, "w") as f:
        for u, t in pairs:
            f.write("%s %s\n" % (u, t))
    # Sell the one unit of the sold-out activity so its marker exists.
    u = users[0]
    r = fslib.post("/seckill/v1/seckill/token", {"activityId": ids["soldout"]}, token=u)
    r = fslib.post("/seckill/v1/seckill/do", {"activityId": ids["soldout"],
                                             "token": r.data["token"]}, token=u)
    assert r.code == 200, r
    soldout_tokens = out + ".soldout"
    with open(soldout_tokens, "w") as f:
        for u, _ in pairs:
            r = fslib.post("/seckill/v1/seckill/token", {"activityId": ids["soldout"]}, token=u)
            f.write("%s %s\n" % (u, r.data["token"]))
            if f.tell() > 200 * 300:
                break
    pow_tokens(out, [u for u, _ in pairs], ids["pow"],
               int(os.environ.get("FLASHSALE_BENCH_POW_SOLUTIONS", "40000")))
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
