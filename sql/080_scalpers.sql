-- 080: against scalpers. An activity's eligibility rules, reservations, and a blocklist.
ALTER TABLE flashsale_seckill.activity
  ADD COLUMN IF NOT EXISTS require_reservation     TINYINT NOT NULL DEFAULT 0 COMMENT 'tokens only for users who reserved before start_time',
  ADD COLUMN IF NOT EXISTS reserved                INT     NOT NULL DEFAULT 0 COMMENT 'reservations made',
  ADD COLUMN IF NOT EXISTS pow_difficulty          INT     NOT NULL DEFAULT 0 COMMENT 'ALTCHA maxnumber; 0 no challenge',
  ADD COLUMN IF NOT EXISTS min_account_age         BIGINT  NOT NULL DEFAULT 0 COMMENT 'seconds an account must exist before start_time',
  ADD COLUMN IF NOT EXISTS max_accounts_per_address INT    NOT NULL DEFAULT 0 COMMENT 'tokens per client address; 0 off',
  ADD COLUMN IF NOT EXISTS require_verified_mobile TINYINT NOT NULL DEFAULT 0 COMMENT 'tokens only for accounts with a verified mobile';

-- Verified mobiles (the same columns as 010_user_verified_wx.sql; IF NOT EXISTS keeps either order).
ALTER TABLE flashsale_usercenter.user
  ADD COLUMN IF NOT EXISTS mobile_verified TINYINT NOT NULL DEFAULT 0 COMMENT '1 once an SMS code or WeChat phone proved the mobile',
  ADD COLUMN IF NOT EXISTS mobile_verify_time BIGINT NOT NULL DEFAULT 0 COMMENT 'when it was verified (Unix seconds), 0 never';

CREATE TABLE IF NOT EXISTS flashsale_seckill.reservation (
  activity_id BIGINT UNSIGNED NOT NULL,
  user_id     BIGINT UNSIGNED NOT NULL,
  create_time BIGINT          NOT NULL,
  PRIMARY KEY (activity_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Users, mobiles and client addresses refused a seckill token (mirrored in Redis fs:blocklist).
CREATE TABLE IF NOT EXISTS flashsale_seckill.blocklist (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  kind        VARCHAR(8)      NOT NULL COMMENT 'user | mobile | address',
  value       VARCHAR(64)     NOT NULL,
  reason      VARCHAR(128)    NOT NULL DEFAULT '',
  create_time BIGINT          NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_entry (kind, value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
