"""test_tsan.py - a sale against the threaded seckill program built with ThreadSanitizer
(tests/tsan/run.sh swaps it in): many purchases in flight on every thread, the sold-out memo
answering, results and the admin dashboard read meanwhile. run.sh then fails on any race report.
"""
import concurrent.futures
import unittest

from test_seckill import (OK, admin, assert_invariants, buy, crowd_buy, get, make_activity,
                          result, sk_token, users)


class ThreadedSale(unittest.TestCase):
    """200 users x 3 requests, 64 at a time, stock 60, limit 2, with reads in between."""

    def test_sale_on_threads(self):
        aid, _ = make_activity(stock=60, limit=2)
        toks = users(200)
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            pairs = list(ex.map(lambda u: (u, sk_token(u, aid)), toks))
        adm = admin()
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            dash = [ex.submit(get, "/seckill/v1/admin/dashboard", query={"id": aid},
                              token=adm) for _ in range(8)]
            rs = crowd_buy(aid, pairs, 3, workers=64)
            for d in dash:
                self.assertEqual(d.result().code, OK)
        queued = [(u, r) for u, r in rs if r.code == OK]
        codes = {r.code for _, r in rs}
        self.assertEqual(codes - {OK, 600004, 600005}, set(), codes)
        self.assertEqual(len(queued), 60)
        self.assertEqual(assert_invariants(self, aid, 60, 2, queued), 60)
        # Sold out now: without the URL's activityId the program (its memo) answers.
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            late = list(ex.map(lambda ut: buy(ut[0], aid, ut[1], url=False), pairs[:100]))
        self.assertEqual({r.code for r in late}, {600004})
        for u, r in queued[:10]:
            self.assertEqual(result(u, r.data["requestId"]).data["status"], "success")


if __name__ == "__main__":
    unittest.main()
