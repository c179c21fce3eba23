#!/usr/bin/env python3
"""coupon-prepare.py - a flash coupon template for the bench's claim row: open now, a total and
a per-user limit that never bind during the run. Prints its id.

usage: coupon-prepare.py   (env as for tests/http: FLASHSALE_URL, FLASHSALE_TEST_VAR, ...)
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "http"))
import fslib  # noqa: E402


def main():
    adm = fslib.admin_token()
    r = fslib.post("/coupon/v1/admin/template/create",
                   {"title": "Bench ¥5 off", "kind": "amount", "amount": 500, "minSpend": 0,
                    "total": 10000000, "perUserLimit": 1000, "validDays": 1, "flash": True,
                    "startTime": int(time.time()) - 1}, token=adm)
    assert r.code == 200, r
    print(r.data["id"])


if __name__ == "__main__":
    main()
