-- 001: the usercenter schema: users with a unique mobile and a role.
CREATE DATABASE IF NOT EXISTS flashsale_usercenter CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_usercenter.user (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  mobile      CHAR(11)        NOT NULL,
  password    VARCHAR(255)    NOT NULL COMMENT 'Argon2id hash ($argon2id$...)',
  nickname    VARCHAR(64)     NOT NULL DEFAULT '',
  sex         TINYINT         NOT NULL DEFAULT 0 COMMENT '0 unknown/male, 1 female',
  avatar      VARCHAR(255)    NOT NULL DEFAULT '',
  info        VARCHAR(255)    NOT NULL DEFAULT '',
  role        VARCHAR(16)     NOT NULL DEFAULT 'user' COMMENT 'user | admin',
  openid      VARCHAR(64)     NOT NULL DEFAULT '' COMMENT 'WeChat openid, for JSAPI payments',
  del_state   TINYINT         NOT NULL DEFAULT 0,
  version     BIGINT          NOT NULL DEFAULT 0,
  create_time BIGINT          NOT NULL,
  update_time BIGINT          NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_mobile (mobile)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
