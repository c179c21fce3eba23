-- 005: payments: one row per WeChat Pay attempt of an order (sn = out_trade_no at WeChat).
CREATE DATABASE IF NOT EXISTS flashsale_payment CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_payment.payment (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  sn             VARCHAR(40)     NOT NULL COMMENT 'PMT + time + random (ids.h); out_trade_no at WeChat',
  order_sn       VARCHAR(40)     NOT NULL,
  user_id        BIGINT UNSIGNED NOT NULL,
  service_type   VARCHAR(16)     NOT NULL DEFAULT 'order',
  trade_type     VARCHAR(16)     NOT NULL COMMENT 'JSAPI | NATIVE',
  pay_total      BIGINT          NOT NULL COMMENT 'fen',
  pay_status     TINYINT         NOT NULL DEFAULT 0 COMMENT '-1 failed/closed, 0 waiting, 1 paid, 2 refunded',
  trade_state    VARCHAR(32)     NOT NULL DEFAULT '' COMMENT 'last state WeChat reported',
  prepay         VARCHAR(255)    NOT NULL DEFAULT '' COMMENT 'prepay_id (JSAPI) or code_url (NATIVE)',
  transaction_id VARCHAR(64)     NOT NULL DEFAULT '' COMMENT 'WeChat transaction id once paid',
  pay_time       BIGINT          NOT NULL DEFAULT 0,
  pay_deadline   BIGINT          NOT NULL COMMENT 'time_expire given to WeChat',
  version        BIGINT          NOT NULL DEFAULT 0 COMMENT 'optimistic lock',
  create_time    BIGINT          NOT NULL,
  update_time    BIGINT          NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_sn (sn),
  KEY idx_order (order_sn, id),
  KEY idx_status_create (pay_status, create_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
