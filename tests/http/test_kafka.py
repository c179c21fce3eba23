"""The payment -> order flow with the whole stack on the Kafka transport (librdkafka's mock
cluster over TCP): the payment program publishes payment.status to Kafka, order-events consumes
it and publishes order.paid to Kafka, notify consumes that and messages the buyer.

Run by tools/run-tests.sh's "kafka" suite, which restarts the stack's payment and order programs
and event daemons with events.transport=kafka; not part of the default discovery (run.py)."""
import json
import os
import unittest
import uuid

import fslib
from fslib import post, redis, register, sql, wait_until
from fslib import sim_call
from test_payment import PaymentBase, user_id

BROKERS = os.environ.get("FLASHSALE_TEST_KAFKA_BROKERS", "")


def stream_entries(topic, needle):
    """Entries of the Redis stream of a topic that mention needle (the Redis transport's)."""
    out = redis("XRANGE", "fs:ev:" + topic, "-", "+")
    return [line for line in out.splitlines() if needle in line]


@unittest.skipUnless(BROKERS, "the stack is not on the Kafka transport (run the kafka suite)")
class PaymentOverKafka(PaymentBase):

    def test_paid_through_kafka_end_to_end(self):
        _, token = register()
        uid = user_id(token)
        openid = "oKafka" + uuid.uuid4().hex[:20]
        sql(f"UPDATE flashsale_usercenter.user SET openid = '{openid}' WHERE id = {int(uid)}")
        osn, psn = self.native(token, uid)
        self.sim_pay(psn)
        self.wait_paid(osn, token)  # the callback verified, applied and published
        self.assertTrue(wait_until(lambda: self.order_row(osn)[0] == "1", timeout=30),
                        "order-events on Kafka did not mark %s paid" % osn)
        r = post("/order/v1/order/detail", {"sn": osn}, token=token)
        self.assertEqual(r.data["order"]["tradeState"], 1, r)
        msgs = wait_until(lambda: [m for m in sim_call("GET", "/simulator/messages").json["messages"]
                                   if osn in json.dumps(m, ensure_ascii=False)], timeout=30)
        self.assertTrue(msgs, "notify on Kafka sent no subscribe message for the order")
        self.assertEqual(msgs[0]["touser"], openid)
        # Neither event went through the Redis streams: Kafka carried them.
        self.assertEqual(stream_entries("payment.status", osn), [])
        self.assertEqual(stream_entries("order.paid", osn), [])

    def test_duplicate_notification_applied_once_over_kafka(self):
        osn, psn = self.native()
        self.sim_pay(psn)
        self.wait_paid(osn)
        self.assertTrue(wait_until(lambda: self.order_row(osn)[0] == "1", timeout=30))
        before = self.order_row(osn)
        r = sim_call("POST", "/simulator/notify", {"out_trade_no": psn})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(wait_until(lambda: any(n.get("status") in (200, 204) for n in
                                               self.sim_trade(psn)["notifications"][1:]),
                                   timeout=15), self.sim_trade(psn))
        self.assertEqual(self.order_row(osn), before)  # version unchanged: applied once
