/* seckill.h - handlers of the seckill program (fcgi/seckill): activities and the purchase path. */
#ifndef FS_SECKILL_PROGRAM_H
#define FS_SECKILL_PROGRAM_H

#include "http.h"

/* activity-read.c: public reads */
int seckill_activity_list(struct app *app, struct http_req *req);
int seckill_activity_detail(struct app *app, struct http_req *req);

/* activity-admin.c: admin create and cancel */
int seckill_activity_create(struct app *app, struct http_req *req);
int seckill_activity_cancel(struct app *app, struct http_req *req);

/* token.c: seckill tokens */
int seckill_token(struct app *app, struct http_req *req);

/* purchase.c: the hot path, and the start-up checks it needs */
int seckill_do(struct app *app, struct http_req *req);
int seckill_purchase_init(struct app *app);

/* result.c: a request's outcome */
int seckill_result(struct app *app, struct http_req *req);

/* Map a db_rc (or activity_rc) failure to an API code. */
int seckill_db_err(int rc);

#endif
