-- 030: daily reconciliation of WeChat Pay's trade bill with the local payments and refunds
-- (jobs/bill-reconcile). One row per Asia/Shanghai day reconciled, one per difference found;
-- re-running a day replaces both in one transaction.
CREATE TABLE IF NOT EXISTS flashsale_payment.reconcile_day (
  bill_date        DATE         NOT NULL COMMENT 'Asia/Shanghai day of the bill',
  status           VARCHAR(16)  NOT NULL COMMENT 'reconciled | differences',
  local_pay_count  INT          NOT NULL DEFAULT 0,
  local_pay_amount BIGINT       NOT NULL DEFAULT 0 COMMENT 'fen',
  local_ref_count  INT          NOT NULL DEFAULT 0,
  local_ref_amount BIGINT       NOT NULL DEFAULT 0 COMMENT 'fen',
  wx_pay_count     INT          NOT NULL DEFAULT 0,
  wx_pay_amount    BIGINT       NOT NULL DEFAULT 0 COMMENT 'fen',
  wx_ref_count     INT          NOT NULL DEFAULT 0,
  wx_ref_amount    BIGINT       NOT NULL DEFAULT 0 COMMENT 'fen',
  diff_count       INT          NOT NULL DEFAULT 0,
  bill_sha1        CHAR(40)     NOT NULL DEFAULT '' COMMENT 'hash_value of the bill (empty: no bill, no trades)',
  run_seq          BIGINT       NOT NULL DEFAULT 0 COMMENT 'increases with every run: the latest run has the largest',
  create_time      BIGINT       NOT NULL,
  update_time      BIGINT       NOT NULL,
  PRIMARY KEY (bill_date),
  KEY idx_run (run_seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS flashsale_payment.reconcile_diff (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  bill_date     DATE            NOT NULL,
  kind          VARCHAR(16)     NOT NULL COMMENT 'only_wechat | only_local | amount | state',
  out_trade_no  VARCHAR(64)     NOT NULL DEFAULT '',
  out_refund_no VARCHAR(64)     NOT NULL DEFAULT '' COMMENT 'set for a refund difference',
  local_amount  BIGINT          NULL COMMENT 'fen; NULL when there is no local row',
  local_state   VARCHAR(32)     NULL,
  wx_amount     BIGINT          NULL COMMENT 'fen; NULL when the bill has no row',
  wx_state      VARCHAR(32)     NULL,
  resolution    VARCHAR(32)     NOT NULL DEFAULT '' COMMENT 'only_wechat: applied | not_found | failed',
  create_time   BIGINT          NOT NULL,
  PRIMARY KEY (id),
  KEY idx_day (bill_date, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The settle job marks each settled day with the state of that day's reconciliation.
ALTER TABLE flashsale_order.settlement
  ADD COLUMN IF NOT EXISTS reconcile_status VARCHAR(16) NOT NULL DEFAULT 'pending' COMMENT 'pending | reconciled | differences (flashsale_payment.reconcile_day)';
