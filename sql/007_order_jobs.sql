-- 007: what the order-side jobs record: user notifications (jobs/notify) and daily
-- settlement per merchant (jobs/settle).
CREATE TABLE IF NOT EXISTS flashsale_order.notification (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  order_sn      VARCHAR(40)     NOT NULL,
  kind          VARCHAR(32)     NOT NULL DEFAULT 'order.paid' COMMENT 'the event that caused it',
  user_id       BIGINT UNSIGNED NOT NULL,
  touser        VARCHAR(64)     NOT NULL DEFAULT '' COMMENT 'WeChat openid it went to',
  status        TINYINT         NOT NULL DEFAULT 0 COMMENT '0 pending, 1 sent, 2 failed (gave up), 3 skipped (no openid)',
  attempts      INT             NOT NULL DEFAULT 0,
  next_try_ms   BIGINT          NOT NULL DEFAULT 0 COMMENT 'Unix ms of the next attempt (also a lease)',
  last_error    VARCHAR(255)    NOT NULL DEFAULT '',
  msgid         VARCHAR(64)     NOT NULL DEFAULT '' COMMENT 'WeChat msgid once sent',
  sent_time     BIGINT          NOT NULL DEFAULT 0,
  create_time   BIGINT          NOT NULL,
  update_time   BIGINT          NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_order_kind (order_sn, kind),
  KEY idx_due (status, next_try_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_order.settlement (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  merchant_id   BIGINT UNSIGNED NOT NULL,
  day           DATE            NOT NULL COMMENT 'UTC day of pay_time',
  order_count   INT             NOT NULL,
  gross         BIGINT          NOT NULL COMMENT 'fen: sum of total_price of paid orders',
  create_time   BIGINT          NOT NULL,
  update_time   BIGINT          NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_merchant_day (merchant_id, day),
  KEY idx_day (day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
