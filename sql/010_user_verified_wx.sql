-- 010: usercenter: verified mobiles (SMS or WeChat phone) and the WeChat openid binding.
-- openid becomes NULL when unbound, so a unique key can hold one account per openid.
-- An account made by WeChat login has no mobile (NULL) until wxPhone verifies one, and no
-- password ('' never verifies).
ALTER TABLE flashsale_usercenter.user
  MODIFY COLUMN mobile CHAR(11) NULL DEFAULT NULL,
  MODIFY COLUMN openid VARCHAR(64) NULL DEFAULT NULL COMMENT 'WeChat openid (mini-program), unique; NULL when unbound',
  ADD COLUMN IF NOT EXISTS mobile_verified TINYINT NOT NULL DEFAULT 0 COMMENT '1 once an SMS code or WeChat phone proved the mobile',
  ADD COLUMN IF NOT EXISTS mobile_verify_time BIGINT NOT NULL DEFAULT 0 COMMENT 'when it was verified (Unix seconds), 0 never',
  ADD COLUMN IF NOT EXISTS wx_bind_time BIGINT NOT NULL DEFAULT 0 COMMENT 'when the openid was bound';

UPDATE flashsale_usercenter.user SET openid = NULL WHERE openid = '';

ALTER TABLE flashsale_usercenter.user ADD UNIQUE KEY IF NOT EXISTS uk_openid (openid);
