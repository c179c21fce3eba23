#!/usr/bin/env python3
"""prepare.py - benchmark data on a running stack: users with access and seckill tokens, a big
activity (stock lasts), a sold-out one, a product for the catalogue read. Prints JSON ids.

usage: prepare.py USERS TOKENS_FILE   (env as for tests/http: FLASHSALE_URL, FLASHSALE_TEST_VAR,
FLASHSALE_TEST_RUN, FLASHSALE_BUILD)
"""
import concurrent.futures
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "http"))
import fslib  # noqa: E402


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
    for name, stock, limit in (("big", 1000000, 1000000), ("soldout", 1, 1)):
        r = fslib.post("/seckill/v1/admin/activity/create",
                       {"productId": pid, "seckillPrice": 100, "stock": stock,
                        "perUserLimit": limit, "startTime": now - 1, "endTime": now + 7200},
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
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
