/* test-wxpay-bill.c - WeChat Pay trade bill parsing: format, amounts, summary checks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "wxpay-bill.h"

#define HEAD                                                                                                                             \
	"交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"     \
	"交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"  \
	"充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额," \
	"费率备注\r\n"
#define PAYROW(sn, amt)                                                                            \
	"`2026-11-30 10:00:00,`wxapp,`1900000001,`0,`,`4200000001,`" sn ",`oUser,`NATIVE,"         \
	"`SUCCESS,`OTHERS,`CNY,`" amt ",`0.00,`0,`0,`0.00,`0.00,`,`,`手机, 黑色,`,`0.00000,"   \
	"`0.60%,`" amt ",`0.00,`\r\n"
#define REFROW(sn, rsn, amt, st)                                                                   \
	"`2026-11-30 11:00:00,`wxapp,`1900000001,`0,`,`4200000001,`" sn ",`oUser,`NATIVE,"         \
	"`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5030000001,`" rsn ",`" amt ",`0.00,`ORIGINAL,`" st      \
	",`手机,`,`0.00000,`0.60%,`0.00,`" amt ",`\r\n"
#define SUMHEAD                                                                                                              \
	"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额," \
	"申请退款总金额\r\n"

/* What the callback saw. */
struct seen {
	int n;
	struct wxbill_row rows[8];
};

/* Keep each row. */
static int collect(const struct wxbill_row *r, void *ud)
{
	struct seen *s = ud;
	if (s->n < 8)
		s->rows[s->n] = *r;
	s->n++;
	return 0;
}

START_TEST(fen_amounts)
{
	long long f;
	ck_assert_int_eq(wxbill_fen("12.30", 5, &f), 0);
	ck_assert_int_eq(f, 1230);
	ck_assert_int_eq(wxbill_fen("0.01", 4, &f), 0);
	ck_assert_int_eq(f, 1);
	ck_assert_int_eq(wxbill_fen("7", 1, &f), 0);
	ck_assert_int_eq(f, 700);
	ck_assert_int_eq(wxbill_fen("1.5", 3, &f), 0);
	ck_assert_int_eq(f, 150);
	ck_assert_int_eq(wxbill_fen("0.00000", 7, &f), 0);
	ck_assert_int_eq(f, 0);
	ck_assert_int_eq(wxbill_fen("1.234", 5, &f), -1); /* fractions of a fen */
	ck_assert_int_eq(wxbill_fen("", 0, &f), -1);
	ck_assert_int_eq(wxbill_fen("1e3", 3, &f), -1);
	ck_assert_int_eq(wxbill_fen("abc", 3, &f), -1);
}
END_TEST

/* A bill date is a real date from 1970 on; its day starts at 00:00 in Asia/Shanghai. */
START_TEST(bill_days)
{
	long long start = 0;
	char y[16];
	ck_assert_int_eq(wxbill_day("2026-12-01", &start), 0);
	ck_assert_int_eq(start, 1796083200LL - 8 * 3600); /* 2026-12-01T00:00:00Z - 8 h */
	ck_assert_int_eq(wxbill_day("2024-02-29", &start), 0);
	ck_assert_int_eq(wxbill_day("2026-02-30", &start), -1);
	ck_assert_int_eq(wxbill_day("2026-1-01", &start), -1);
	ck_assert_int_eq(wxbill_day("2026-12-01x", &start), -1);
	ck_assert_int_eq(wxbill_day("1969-12-31", &start), -1);
	wxbill_yesterday(y);
	ck_assert_int_eq(wxbill_day(y, &start), 0);
	long long now = (long long)time(NULL);
	ck_assert_int_le(start, now - 86400);
	ck_assert_int_gt(start, now - 2 * 86400);
}
END_TEST

START_TEST(parse_bill)
{
	static const char bill[] = HEAD PAYROW("PMT0001", "19.99") PAYROW("PMT0002", "1.00")
	    REFROW("PMT0001", "RFD0001", "5.00", "SUCCESS")
		REFROW("PMT0002", "RFD0002", "1.00", "REFUNDCLOSE") SUMHEAD
	    "`4,`20.99,`6.00,`0.00,`0.00000,`20.99,`6.00\r\n";
	struct seen s = {0};
	struct wxbill_summary sum;
	char err[256];
	ck_assert_int_eq(wxbill_parse(bill, strlen(bill), collect, &s, &sum, err, sizeof err), 0);
	ck_assert_int_eq(s.n, 4);
	ck_assert_int_eq(s.rows[0].refund, 0);
	ck_assert_str_eq(s.rows[0].out_trade_no, "PMT0001");
	ck_assert_str_eq(s.rows[0].trade_state, "SUCCESS");
	ck_assert_int_eq(s.rows[0].amount, 1999);
	ck_assert_int_eq(s.rows[2].refund, 1);
	ck_assert_str_eq(s.rows[2].out_refund_no, "RFD0001");
	ck_assert_str_eq(s.rows[2].refund_state, "SUCCESS");
	ck_assert_int_eq(s.rows[2].amount, 500);
	ck_assert_str_eq(s.rows[3].refund_state, "CLOSED");
	ck_assert_int_eq(sum.rows, 4);
	ck_assert_int_eq(sum.total, 2099);
	ck_assert_int_eq(sum.refund_total, 600);
}
END_TEST

START_TEST(parse_rejects)
{
	struct wxbill_summary sum;
	char err[256];
	/* The summary counts a row that is not there (a truncated bill). */
	static const char short_bill[] =
	    HEAD PAYROW("PMT0001", "1.00") SUMHEAD "`2,`1.00,`0.00,`0.00,`0.00000,`1.00,`0.00\r\n";
	ck_assert_int_eq(
	    wxbill_parse(short_bill, strlen(short_bill), NULL, NULL, &sum, err, sizeof err), -1);
	/* No summary at all. */
	static const char no_sum[] = HEAD PAYROW("PMT0001", "1.00");
	ck_assert_int_eq(wxbill_parse(no_sum, strlen(no_sum), NULL, NULL, &sum, err, sizeof err),
			 -1);
	/* A bad amount. */
	static const char bad_amt[] =
	    HEAD PAYROW("PMT0001", "1.0x") SUMHEAD "`1,`1.00,`0.00,`0.00,`0.00000,`1.00,`0.00\r\n";
	ck_assert_int_eq(wxbill_parse(bad_amt, strlen(bad_amt), NULL, NULL, &sum, err, sizeof err),
			 -1);
	/* Not a bill. */
	ck_assert_int_eq(wxbill_parse("<html>", 6, NULL, NULL, &sum, err, sizeof err), -1);
	ck_assert_int_eq(wxbill_parse("", 0, NULL, NULL, &sum, err, sizeof err), -1);
	/* An empty day: header and a zero summary only. */
	static const char empty[] = HEAD SUMHEAD "`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00\r\n";
	ck_assert_int_eq(wxbill_parse(empty, strlen(empty), NULL, NULL, &sum, err, sizeof err), 0);
	ck_assert_int_eq(sum.rows, 0);
}
END_TEST

int main(void)
{
	unit_clear_config_env();
	const TTest *tests[] = {fen_amounts, bill_days, parse_bill, parse_rejects, NULL};
	return unit_status("test-wxpay-bill", unit_run(unit_suite("wxpay-bill", NULL, NULL, tests)),
			   NULL);
}
