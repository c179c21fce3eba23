-- 070: coupons. Templates (amount off with a minimum spend, or percent off with a cap), the
-- coupons users hold, per-user claim counts (the guard of perUserLimit) and redeem codes.
CREATE DATABASE IF NOT EXISTS flashsale_coupon CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_coupon.template (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  title          VARCHAR(64)     NOT NULL,
  kind           TINYINT         NOT NULL COMMENT '1 amount off (满减), 2 percent off (折扣)',
  amount         BIGINT          NOT NULL DEFAULT 0 COMMENT 'fen off (kind 1)',
  percent        INT             NOT NULL DEFAULT 0 COMMENT 'percent off, 1-99 (kind 2)',
  max_discount   BIGINT          NOT NULL DEFAULT 0 COMMENT 'cap of a percent coupon, fen; 0 none',
  min_spend      BIGINT          NOT NULL DEFAULT 0 COMMENT 'order total needed, fen',
  total          INT             NOT NULL COMMENT 'coupons this template may issue',
  issued         INT             NOT NULL DEFAULT 0,
  per_user_limit INT             NOT NULL,
  valid_from     BIGINT          NOT NULL DEFAULT 0 COMMENT 'fixed window (valid_days 0)',
  valid_to       BIGINT          NOT NULL DEFAULT 0,
  valid_days     INT             NOT NULL DEFAULT 0 COMMENT 'else valid this many days after the claim',
  product_ids    VARCHAR(1024)   NOT NULL DEFAULT '' COMMENT 'comma list of products; empty: any',
  flash          TINYINT         NOT NULL DEFAULT 0 COMMENT '1: claimed through Redis (flash grab)',
  start_time     BIGINT          NOT NULL DEFAULT 0 COMMENT 'claims open (flash templates)',
  status         TINYINT         NOT NULL DEFAULT 0 COMMENT '0 live, 1 stopped',
  create_time    BIGINT          NOT NULL,
  update_time    BIGINT          NOT NULL,
  PRIMARY KEY (id),
  KEY idx_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_coupon.coupon (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  template_id  BIGINT UNSIGNED NOT NULL,
  user_id      BIGINT UNSIGNED NOT NULL,
  status       TINYINT         NOT NULL DEFAULT 0 COMMENT '0 unused, 1 locked to an order, 2 used',
  order_sn     VARCHAR(40)     NOT NULL DEFAULT '' COMMENT 'the order it is locked to or paid',
  valid_from   BIGINT          NOT NULL,
  valid_to     BIGINT          NOT NULL,
  source       VARCHAR(8)      NOT NULL DEFAULT 'claim' COMMENT 'claim | flash | code',
  request_id   VARCHAR(64)     NULL COMMENT 'flash claim request id (the writer is idempotent on it)',
  claim_time   BIGINT          NOT NULL,
  use_time     BIGINT          NOT NULL DEFAULT 0,
  update_time  BIGINT          NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_request (request_id),
  KEY idx_user (user_id, status, id),
  KEY idx_order (order_sn),
  KEY idx_template (template_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Coupons of a template a user was issued: the row lock and guard of perUserLimit.
CREATE TABLE IF NOT EXISTS flashsale_coupon.claim_count (
  template_id  BIGINT UNSIGNED NOT NULL,
  user_id      BIGINT UNSIGNED NOT NULL,
  n            INT             NOT NULL DEFAULT 0,
  PRIMARY KEY (template_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One-time redeem codes: only the SHA-256 of the 128-bit code is kept.
CREATE TABLE IF NOT EXISTS flashsale_coupon.code (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  template_id  BIGINT UNSIGNED NOT NULL,
  code_hash    CHAR(64)        NOT NULL COMMENT 'hex SHA-256 of the code',
  status       TINYINT         NOT NULL DEFAULT 0 COMMENT '0 unused, 1 redeemed',
  user_id      BIGINT UNSIGNED NOT NULL DEFAULT 0,
  coupon_id    BIGINT UNSIGNED NOT NULL DEFAULT 0,
  create_time  BIGINT          NOT NULL,
  redeem_time  BIGINT          NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY uk_hash (code_hash),
  KEY idx_template (template_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
