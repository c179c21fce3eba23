-- 002: the product schema: the catalogue, with price in fen and stock in units.
CREATE DATABASE IF NOT EXISTS flashsale_product CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_product.product (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  merchant_id  BIGINT UNSIGNED NOT NULL DEFAULT 1 COMMENT 'owner, for settlement',
  title        VARCHAR(128)    NOT NULL,
  sub_title    VARCHAR(255)    NOT NULL DEFAULT '',
  cover        VARCHAR(255)    NOT NULL DEFAULT '',
  banner       VARCHAR(1024)   NOT NULL DEFAULT '',
  info         TEXT            NOT NULL,
  price        BIGINT          NOT NULL COMMENT 'fen',
  market_price BIGINT          NOT NULL DEFAULT 0 COMMENT 'fen',
  stock        INT             NOT NULL DEFAULT 0 COMMENT 'units on sale (activities hold their own)',
  status       TINYINT         NOT NULL DEFAULT 0 COMMENT '0 off shelf, 1 on shelf',
  del_state    TINYINT         NOT NULL DEFAULT 0 COMMENT '1 soft-deleted',
  version      BIGINT          NOT NULL DEFAULT 0,
  create_time  BIGINT          NOT NULL,
  update_time  BIGINT          NOT NULL,
  PRIMARY KEY (id),
  KEY idx_list (del_state, status, id),
  CONSTRAINT chk_stock CHECK (stock >= 0),
  CONSTRAINT chk_price CHECK (price >= 0 AND market_price >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
