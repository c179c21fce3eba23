-- 008: money both ways. Refunds (one row per out_refund_no) and the order columns that
-- refunds and coupons share: the discount, what the user pays, what was refunded so far.
ALTER TABLE flashsale_order.orders
  ADD COLUMN IF NOT EXISTS coupon_id BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'coupon locked to or used by this order; 0 none',
  ADD COLUMN IF NOT EXISTS discount  BIGINT NOT NULL DEFAULT 0 COMMENT 'fen taken off by the coupon',
  ADD COLUMN IF NOT EXISTS pay_total BIGINT AS (total_price - discount) PERSISTENT COMMENT 'fen the user pays',
  ADD COLUMN IF NOT EXISTS refunded  BIGINT NOT NULL DEFAULT 0 COMMENT 'fen refunded so far (SUCCESS refunds)';

-- A refund: PROCESSING until WeChat reports SUCCESS, CLOSED or ABNORMAL (notification or query).
-- requested = 0 while WeChat has not accepted the request (gateway down): it is retried with the
-- same sn, which WeChat treats idempotently.
CREATE TABLE IF NOT EXISTS flashsale_payment.refund (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  sn           VARCHAR(40)     NOT NULL COMMENT 'RFD + time + random (ids.h); out_refund_no at WeChat',
  payment_sn   VARCHAR(40)     NOT NULL COMMENT 'the payment refunded (out_trade_no)',
  order_sn     VARCHAR(40)     NOT NULL,
  user_id      BIGINT UNSIGNED NOT NULL,
  amount       BIGINT          NOT NULL COMMENT 'fen refunded by this request',
  total        BIGINT          NOT NULL COMMENT 'fen the payment took (amount.total at WeChat)',
  reason       VARCHAR(80)     NOT NULL DEFAULT '',
  source       VARCHAR(16)     NOT NULL COMMENT 'user | admin | late_payment',
  status       VARCHAR(16)     NOT NULL DEFAULT 'PROCESSING' COMMENT 'PROCESSING | SUCCESS | CLOSED | ABNORMAL',
  requested    TINYINT         NOT NULL DEFAULT 0 COMMENT '1 once WeChat accepted the request',
  refund_id    VARCHAR(64)     NOT NULL DEFAULT '' COMMENT 'WeChat refund_id',
  attempts     INT             NOT NULL DEFAULT 0,
  success_time BIGINT          NOT NULL DEFAULT 0,
  create_time  BIGINT          NOT NULL,
  update_time  BIGINT          NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_sn (sn),
  KEY idx_order (order_sn, id),
  KEY idx_payment (payment_sn),
  KEY idx_status (status, update_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
