/* errors.c - the table of API.md error codes. */
#include "errors.h"

#include <stddef.h>

#include "db.h"

/* One row of the error table. */
struct err_row {
	int code;
	int status;
	const char *msg;
};

static const struct err_row err_table[] = {
    {FS_OK, 200, "OK"},
    {E_SERVER, 500, "server error"},
    {E_PARAM, 400, "request parameter error"},
    {E_TOKEN, 401, "token missing, invalid, expired or revoked"},
    {E_TOKEN_GEN, 500, "token generation failed"},
    {E_DB_BUSY, 503, "database busy, try again"},
    {E_CONFLICT, 409, "concurrent update lost, try again"},
    {E_RATE_LIMIT, 429, "too many requests, slow down"},
    {E_FORBIDDEN, 403, "forbidden"},
    {E_NOT_FOUND, 404, "not found"},
    {E_TOO_LARGE, 413, "request body too large"},
    {E_VERIFY_CODE, 400, "verification code wrong, expired or used up"},
    {E_CHALLENGE, 403, "anti-bot challenge missing, wrong, expired or already used"},
    {E_MOBILE_TAKEN, 409, "mobile already registered"},
    {E_LOGIN_FAILED, 401, "mobile or password incorrect"},
    {E_WX_BOUND, 409, "this WeChat account is bound to another user"},
    {E_WX_LOGIN, 502, "WeChat login failed"},
    {E_PRODUCT_NOT_FOUND, 404, "product not found"},
    {E_STOCK_SHORT, 409, "insufficient stock"},
    {E_ORDER_NOT_FOUND, 404, "order not found"},
    {E_ORDER_STATE, 409, "order state does not allow this action"},
    {E_REFUND_NOT_ALLOWED, 409,
     "refund not allowed (window passed, amount above what is refundable)"},
    {E_PAYMENT_NOT_FOUND, 404, "payment not found"},
    {E_PAYMENT_DONE, 409, "order already paid or payment closed"},
    {E_PAY_GATEWAY, 502, "payment gateway error"},
    {E_ACTIVITY_NOT_FOUND, 404, "activity not found"},
    {E_ACTIVITY_NOT_STARTED, 409, "activity not started"},
    {E_ACTIVITY_ENDED, 409, "activity ended"},
    {E_SOLD_OUT, 409, "sold out"},
    {E_LIMIT_REACHED, 409, "purchase limit reached"},
    {E_SECKILL_TOKEN, 403, "seckill token invalid or expired"},
    {E_SECKILL_REQUEST_NOT_FOUND, 404, "seckill request not found"},
    {E_NOT_ELIGIBLE, 403, "not eligible for this activity"},
    {E_RESERVATION, 403, "reservation required"},
    {E_COUPON_NOT_FOUND, 404, "coupon or coupon template not found"},
    {E_COUPON_ALL_CLAIMED, 409, "coupons all claimed"},
    {E_COUPON_LIMIT, 409, "coupon claim limit reached"},
    {E_COUPON_UNUSABLE, 409, "coupon not usable here"},
    {E_COUPON_CLOSED, 409, "claims not open"},
};

/* Look a code up in the table; NULL if unknown. */
static const struct err_row *err_find(int code)
{
	for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
		if (err_table[i].code == code)
			return &err_table[i];
	return NULL;
}

int err_http_status(int code)
{
	const struct err_row *r = err_find(code);
	return r ? r->status : 500;
}

const char *err_message(int code)
{
	const struct err_row *r = err_find(code);
	return r ? r->msg : "server error";
}

int err_from_db(int rc)
{
	return rc == DB_DOWN || rc == DB_CACHE_DOWN ? E_DB_BUSY : E_SERVER;
}
