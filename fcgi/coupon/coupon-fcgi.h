/* coupon-fcgi.h - handlers of the coupon program (fcgi/coupon): templates, claims, codes. */
#ifndef FS_COUPON_PROGRAM_H
#define FS_COUPON_PROGRAM_H

#include "coupon.h" /* common/ */
#include "http.h"

/* Largest batch of redeem codes. */
#define COUPON_BATCH_MAX 10000

/* template-admin.c: admin create and stop; Redis state of a flash template */
int coupon_template_create(struct app *app, struct http_req *req);
int coupon_template_stop(struct app *app, struct http_req *req);
int coupon_flash_load(struct app *app, long long template_id);

/* template-read.c: claimable templates; "1,2,3" (product_ids) as the array [1,2,3] */
int coupon_template_list(struct app *app, struct http_req *req);
json_t *coupon_product_list(const char *s);

/* claim.c: claims (at once, or through Redis for flash templates) and their outcome */
int coupon_claim(struct app *app, struct http_req *req);
int coupon_result(struct app *app, struct http_req *req);
int coupon_claim_init(struct app *app);

/* mine.c: the caller's coupons */
int coupon_mine(struct app *app, struct http_req *req);

/* code.c: redeem code batches and redeeming */
int coupon_code_batch(struct app *app, struct http_req *req);
int coupon_redeem(struct app *app, struct http_req *req);

/* main.c: an API code for a db_rc or coupon_rc (msg: why, may be NULL). */
int coupon_code_of(struct http_req *req, int rc, const char *why);

#endif
