-- 003: the seckill schema: flash-sale activities and each user's units per activity.
--
-- Units of an activity: stock = sold + remaining + returned, where sold counts units in
-- live orders (an order cancelled later gives its units back: sold drops), returned counts
-- units given back to the product (unsold units when the activity is cancelled or ends, and
-- units of orders cancelled after that). remaining = stock - sold - returned.
CREATE DATABASE IF NOT EXISTS flashsale_seckill CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_seckill.activity (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  product_id     BIGINT UNSIGNED NOT NULL,
  merchant_id    BIGINT UNSIGNED NOT NULL DEFAULT 1 COMMENT 'copied from the product',
  title          VARCHAR(128)    NOT NULL COMMENT 'copied from the product',
  cover          VARCHAR(255)    NOT NULL DEFAULT '' COMMENT 'copied from the product',
  price          BIGINT          NOT NULL COMMENT 'original price, fen',
  seckill_price  BIGINT          NOT NULL COMMENT 'fen',
  stock          INT             NOT NULL COMMENT 'units moved out of the product',
  sold           INT             NOT NULL DEFAULT 0 COMMENT 'units in live orders',
  returned       INT             NOT NULL DEFAULT 0 COMMENT 'units given back to the product',
  per_user_limit INT             NOT NULL,
  start_time     BIGINT          NOT NULL,
  end_time       BIGINT          NOT NULL,
  status         TINYINT         NOT NULL DEFAULT 0 COMMENT '0 live, 1 cancelled, 2 ended (unsold units returned)',
  version        BIGINT          NOT NULL DEFAULT 0,
  create_time    BIGINT          NOT NULL,
  update_time    BIGINT          NOT NULL,
  PRIMARY KEY (id),
  KEY idx_window (status, start_time),
  KEY idx_end (status, end_time),
  CONSTRAINT chk_units CHECK (stock > 0 AND sold >= 0 AND returned >= 0 AND sold + returned <= stock),
  CONSTRAINT chk_limit CHECK (per_user_limit >= 1),
  CONSTRAINT chk_window CHECK (end_time > start_time),
  CONSTRAINT chk_prices CHECK (price >= 0 AND seckill_price >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Units each user holds in live orders of an activity: the per-user limit's source of truth.
CREATE TABLE IF NOT EXISTS flashsale_seckill.user_quota (
  activity_id BIGINT UNSIGNED NOT NULL,
  user_id     BIGINT UNSIGNED NOT NULL,
  units       INT             NOT NULL DEFAULT 0,
  PRIMARY KEY (activity_id, user_id),
  CONSTRAINT chk_quota CHECK (units >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
