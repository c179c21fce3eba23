#!/usr/bin/env python3
"""cluster-prepare.py - the cluster rows' data, on a bench stack already moved onto the Redis
Cluster (sessions, tokens and the sale all on it): users registered there, a hot activity and
activities whose hash tags land on every master (CLUSTER KEYSLOT, the slot map of CLUSTER
NODES), each user's seckill tokens. Prints JSON: {"hot": id, "spread": [ids], "master": {id:
"host:port"}}.

usage: cluster-prepare.py USERS TOKENS_FILE   (env as for bench/prepare.py, and
FLASHSALE_REDIS_CLUSTER: the seeds). Writes TOKENS_FILE.cluster-hot ("jwt token" lines) and
TOKENS_FILE.cluster-spread ("jwt token activityId": every user over every spread activity).
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "http"))
import fslib  # noqa: E402

SEEDS = [s for s in os.environ.get("FLASHSALE_REDIS_CLUSTER", "").split(",") if s]
PER_MASTER = 2  # spread activities per master
STOCK = 1000000  # never runs out in the bench's runs; the per-user limit never binds either


def node(addr, *args):
    """One command on one node (no redirects): stdout stripped."""
    host, port = addr.rsplit(":", 1)
    return subprocess.run(["redis-cli", "-h", host, "-p", port, *args], capture_output=True,
                          text=True, timeout=10, check=True).stdout.strip()


def slot_map():
    """[(lo, hi, "host:port")] of the masters, as the first seed sees them."""
    res = []
    for line in node(SEEDS[0], "CLUSTER", "NODES").splitlines():
        f = line.split()
        if "master" not in f[2] or len(f) < 9:
            continue
        addr = f[1].split("@")[0]
        for r in f[8:]:
            if not r.startswith("["):
                lo, _, hi = r.partition("-")
                res.append((int(lo), int(hi or lo), addr))
    return res


def master_of(aid, slots):
    """The master owning activity aid's keys (the slot of its hash tag {a:ID})."""
    slot = int(node(SEEDS[0], "CLUSTER", "KEYSLOT", "{a:%d}:stock" % aid))
    return next(a for lo, hi, a in slots if lo <= slot <= hi)


def token(user, aid):
    """A seckill token; retried for 10 s (a slot's first touch, a node still warming up)."""
    end = time.time() + 10
    while True:
        r = fslib.post("/seckill/v1/seckill/token", {"activityId": aid}, token=user)
        if r.code == 200 or time.time() > end:
            assert r.code == 200, r
            return r.data["token"]
        time.sleep(0.2)


def main():
    nusers, out = int(sys.argv[1]), sys.argv[2]
    assert len(SEEDS) >= 3, "FLASHSALE_REDIS_CLUSTER names the cluster's nodes"
    slots = slot_map()
    masters = sorted({a for _, _, a in slots})
    adm = fslib.admin_token()
    r = fslib.post("/product/v1/admin/product/create",
                   {"title": "Bench cluster phone", "price": 100000, "stock": 100 * STOCK,
                    "status": 1}, token=adm)
    assert r.code == 200, r
    pid = r.data["id"]
    now = int(time.time())

    def activity():
        r = fslib.post("/seckill/v1/admin/activity/create",
                       {"productId": pid, "seckillPrice": 100, "stock": STOCK,
                        "perUserLimit": STOCK, "startTime": now - 1, "endTime": now + 7200},
                       token=adm)
        assert r.code == 200, r
        return r.data["id"]

    hot = activity()
    where = {hot: master_of(hot, slots)}
    spread, per = [], {a: 0 for a in masters}
    for _ in range(60):  # ids are consecutive: every master gets its share within a few
        if all(n >= PER_MASTER for n in per.values()):
            break
        aid = activity()
        m = master_of(aid, slots)
        if per[m] < PER_MASTER:
            per[m] += 1
            spread.append(aid)
            where[aid] = m
    assert all(n >= PER_MASTER for n in per.values()), ("activities not on every master", per)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        users = [t for _, t in ex.map(lambda _: fslib.register(), range(nusers))]
        hot_toks = list(ex.map(lambda u: token(u, hot), users))
        spread_toks = list(ex.map(lambda u: [token(u, a) for a in spread], users))
    with open(out + ".cluster-hot", "w") as f:
        for u, t in zip(users, hot_toks):
            f.write("%s %s\n" % (u, t))
    with open(out + ".cluster-spread", "w") as f:
        for u, ts in zip(users, spread_toks):
            for a, t in zip(spread, ts):
                f.write("%s %s %d\n" % (u, t, a))
    print(json.dumps({"hot": hot, "spread": spread, "master": where}))


if __name__ == "__main__":
    main()
