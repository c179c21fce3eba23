/* product.h - handlers and shared helpers of the product program (fcgi/product). */
#ifndef FS_PRODUCT_H
#define FS_PRODUCT_H

#include "http.h"

/* Largest id, price (fen) and stock the API accepts. */
#define PRODUCT_ID_MAX    9007199254740991LL /* 2^53 - 1: exact in JavaScript */
#define PRODUCT_PRICE_MAX 100000000000LL     /* 1 billion yuan */
#define PRODUCT_STOCK_MAX 1000000000LL       /* fits the INT column */

/* The columns of a product as API.md names them (detail and admin answers). */
#define PRODUCT_COLUMNS                                                                            \
	"id, title, sub_title AS subTitle, cover, banner, info, price, "                           \
	"market_price AS marketPrice, stock, status, create_time AS createTime"

/* product-read.c: the public catalogue */
int product_list(struct app *app, struct http_req *req);
int product_detail(struct app *app, struct http_req *req);

/* product-admin.c: create, update, soft delete (admin only) */
int product_create(struct app *app, struct http_req *req);
int product_update(struct app *app, struct http_req *req);
int product_delete(struct app *app, struct http_req *req);

#endif
