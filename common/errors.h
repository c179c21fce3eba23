/* errors.h - the error codes of API.md and their HTTP statuses. */
#ifndef FS_ERRORS_H
#define FS_ERRORS_H

/* Every code a response may carry; 0 is success (code 200 on the wire). */
enum fs_err {
	FS_OK = 0,
	E_SERVER = 100001,
	E_PARAM = 100002,
	E_TOKEN = 100003,
	E_TOKEN_GEN = 100004,
	E_DB_BUSY = 100005,
	E_CONFLICT = 100006,
	E_RATE_LIMIT = 100007,
	E_FORBIDDEN = 100008,
	E_NOT_FOUND = 100009,
	E_TOO_LARGE = 100010,
	E_VERIFY_CODE = 100011,
	E_CHALLENGE = 100012,
	E_MOBILE_TAKEN = 200001,
	E_LOGIN_FAILED = 200002,
	E_WX_BOUND = 200003,
	E_WX_LOGIN = 200004,
	E_PRODUCT_NOT_FOUND = 300001,
	E_STOCK_SHORT = 300002,
	E_ORDER_NOT_FOUND = 400001,
	E_ORDER_STATE = 400002,
	E_REFUND_NOT_ALLOWED = 400003,
	E_PAYMENT_NOT_FOUND = 500001,
	E_PAYMENT_DONE = 500002,
	E_PAY_GATEWAY = 500003,
	E_ACTIVITY_NOT_FOUND = 600001,
	E_ACTIVITY_NOT_STARTED = 600002,
	E_ACTIVITY_ENDED = 600003,
	E_SOLD_OUT = 600004,
	E_LIMIT_REACHED = 600005,
	E_SECKILL_TOKEN = 600006,
	E_SECKILL_REQUEST_NOT_FOUND = 600007,
	E_NOT_ELIGIBLE = 600008,
	E_RESERVATION = 600009,
	E_COUPON_NOT_FOUND = 700001,
	E_COUPON_ALL_CLAIMED = 700002,
	E_COUPON_LIMIT = 700003,
	E_COUPON_UNUSABLE = 700004,
	E_COUPON_CLOSED = 700005,
};

/*
 * The API code for a failed database or cache call (enum db_rc): 100005 when the
 * dependency is down or busy (DB_DOWN, DB_CACHE_DOWN), else 100001. The one mapping:
 * handlers write `return err_from_db(rc);`.
 */
int err_from_db(int rc);

/* HTTP status for an error code (500 for an unknown code). */
int err_http_status(int code);

/* Default human-readable message for an error code. */
const char *err_message(int code);

#endif
