-- 004: orders, shared by the order domain (normal orders) and the seckill order-writer.
CREATE DATABASE IF NOT EXISTS flashsale_order CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_order.orders (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  sn             VARCHAR(40)     NOT NULL COMMENT 'ORD + time + random (ids.h)',
  request_id     VARCHAR(64)     NULL COMMENT 'seckill request id; NULL for normal orders',
  user_id        BIGINT UNSIGNED NOT NULL,
  product_id     BIGINT UNSIGNED NOT NULL,
  activity_id    BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT '0 for normal orders',
  order_type     TINYINT         NOT NULL DEFAULT 0 COMMENT '0 normal, 1 seckill',
  merchant_id    BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'for settlement',
  title          VARCHAR(128)    NOT NULL DEFAULT '',
  cover          VARCHAR(255)    NOT NULL DEFAULT '',
  quantity       INT             NOT NULL,
  unit_price     BIGINT          NOT NULL COMMENT 'fen',
  total_price    BIGINT          NOT NULL COMMENT 'fen',
  trade_state    TINYINT         NOT NULL DEFAULT 0 COMMENT '-1 cancelled, 0 waiting, 1 paid, 2 completed, 3 refunded',
  remark         VARCHAR(255)    NOT NULL DEFAULT '',
  pay_deadline   BIGINT          NOT NULL,
  pay_time       BIGINT          NOT NULL DEFAULT 0,
  pay_type       VARCHAR(16)     NOT NULL DEFAULT '',
  cancel_reason  VARCHAR(32)     NOT NULL DEFAULT '' COMMENT 'user | timeout',
  version        BIGINT          NOT NULL DEFAULT 0,
  create_time    BIGINT          NOT NULL,
  update_time    BIGINT          NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_sn (sn),
  UNIQUE KEY uk_request (request_id),
  KEY idx_user (user_id, id),
  KEY idx_state_deadline (trade_state, pay_deadline),
  KEY idx_activity (activity_id),
  KEY idx_paid (trade_state, pay_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
