/* product-admin.c - admin-only catalogue changes: create, update, soft delete. */
#include <string.h>

#include "product.h"
#include "stock.h"

/* The writable fields of a product as a request gave them (NULL or -1: absent). */
struct product_fields {
	const char *title, *sub_title, *cover, *banner, *info;
	long long price, market_price, stock, status;
};

/* Does s hold a control character (info may hold newlines and tabs)? */
static int product_has_control(const char *s, int allow_lines)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (allow_lines && (*p == '\n' || *p == '\r' || *p == '\t'))
			continue;
		if (*p < 0x20 || *p == 0x7f)
			return 1;
	}
	return 0;
}

/* Is [s, s+n) an image address: "/path", "http://..." or "https://...", nothing to escape? */
static int product_url_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	int local = s[0] == '/' && (n == 1 || s[1] != '/');
	int remote = (n > 8 && !strncmp(s, "https://", 8)) || (n > 7 && !strncmp(s, "http://", 7));
	if (!local && !remote)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || strchr("\"'<>\\`", s[i]))
			return 0;
	return 1;
}

/* Check an optional image field: one address, or (list) addresses separated by commas. */
static int product_image_param(struct http_req *req, const char *name, size_t maxlen, int list,
			       const char **out)
{
	int rc = param_str(req, name, 0, 0, maxlen, out);
	if (rc || !*out || !**out)
		return rc;
	const char *p = *out;
	for (;;) {
		const char *comma = list ? strchr(p, ',') : NULL;
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (!product_url_ok(p, n))
			return http_fail(req, E_PARAM,
					 "%s must be %s starting with /, http:// or https://", name,
					 list ? "image addresses separated by commas, each"
					      : "an image address");
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* Read and check the fields; creating requires title, price, stock and status. */
static int product_fields_parse(struct http_req *req, int creating, struct product_fields *f)
{
	int rc;
	f->price = f->market_price = f->stock = f->status = -1;
	if ((rc = param_str(req, "title", creating, 1, 128, &f->title)) ||
	    (rc = param_str(req, "subTitle", 0, 0, 255, &f->sub_title)) ||
	    (rc = product_image_param(req, "cover", 255, 0, &f->cover)) ||
	    (rc = product_image_param(req, "banner", 1024, 1, &f->banner)) ||
	    (rc = param_str(req, "info", 0, 0, 10000, &f->info)) ||
	    (rc = param_int(req, "price", creating, 0, PRODUCT_PRICE_MAX, &f->price)) ||
	    (rc = param_int(req, "marketPrice", 0, 0, PRODUCT_PRICE_MAX, &f->market_price)) ||
	    (rc = param_int(req, "stock", creating, 0, PRODUCT_STOCK_MAX, &f->stock)) ||
	    (rc = param_int(req, "status", creating, 0, 1, &f->status)))
		return rc;
	if (f->title && (product_has_control(f->title, 0) || !f->title[strspn(f->title, " ")]))
		return http_fail(req, E_PARAM,
				 "title must be visible text without control characters");
	if (f->sub_title && product_has_control(f->sub_title, 0))
		return http_fail(req, E_PARAM, "subTitle must not contain control characters");
	if (f->info && product_has_control(f->info, 1))
		return http_fail(req, E_PARAM, "info must not contain control characters");
	return 0;
}

/* Load a live product (any status) for an admin answer: {product: ...}. */
static int product_answer(struct app *app, struct http_req *req, long long id)
{
	json_t *row;
	int rc = db_query_row(app->db, &row,
			      "SELECT " PRODUCT_COLUMNS " FROM flashsale_product.product "
			      "WHERE id = ? AND del_state = 0",
			      "i", id);
	if (rc)
		return err_from_db(rc);
	if (!row)
		return E_PRODUCT_NOT_FOUND;
	req->data = json_pack("{s:o}", "product", row);
	return req->data ? 0 : E_SERVER;
}

int product_create(struct app *app, struct http_req *req)
{
	struct product_fields f;
	int rc = product_fields_parse(req, 1, &f);
	if (rc)
		return rc;
	rc =
	    db_exec(app->db,
		    "INSERT INTO flashsale_product.product (title, sub_title, cover, banner, info, "
		    "price, market_price, stock, status, create_time, update_time) "
		    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())",
		    "sssssiiii", f.title, f.sub_title ? f.sub_title : "", f.cover ? f.cover : "",
		    f.banner ? f.banner : "", f.info ? f.info : "", f.price,
		    f.market_price < 0 ? 0 : f.market_price, f.stock, f.status);
	if (rc)
		return err_from_db(rc);
	long long id = db_insert_id(app->db);
	/* A detail request for this id may have been remembered as missing. */
	stock_product_uncache(app->cache, id);
	req->data = json_pack("{s:I}", "id", (json_int_t)id);
	return req->data ? 0 : E_SERVER;
}

int product_update(struct app *app, struct http_req *req)
{
	struct product_fields f;
	long long id;
	int rc;

	if ((rc = param_int(req, "id", 1, 1, PRODUCT_ID_MAX, &id)) ||
	    (rc = product_fields_parse(req, 0, &f)))
		return rc;
	if (!f.title && !f.sub_title && !f.cover && !f.banner && !f.info && f.price < 0 &&
	    f.market_price < 0 && f.stock < 0 && f.status < 0)
		return http_fail(req, E_PARAM, "give at least one field to change");
	/* Integers travel as (given?, value) pairs so every parameter stays typed. */
	rc = db_exec(app->db,
		     "UPDATE flashsale_product.product SET title = COALESCE(?, title), "
		     "sub_title = COALESCE(?, sub_title), cover = COALESCE(?, cover), "
		     "banner = COALESCE(?, banner), info = COALESCE(?, info), "
		     "price = IF(?, ?, price), market_price = IF(?, ?, market_price), "
		     "stock = IF(?, ?, stock), status = IF(?, ?, status), "
		     "version = version + 1, update_time = UNIX_TIMESTAMP() "
		     "WHERE id = ? AND del_state = 0",
		     "sssssiiiiiiiii", f.title, f.sub_title, f.cover, f.banner, f.info,
		     (long long)(f.price >= 0), f.price, (long long)(f.market_price >= 0),
		     f.market_price, (long long)(f.stock >= 0), f.stock, (long long)(f.status >= 0),
		     f.status, id);
	if (rc)
		return err_from_db(rc);
	if (db_affected_rows(app->db) != 1)
		return E_PRODUCT_NOT_FOUND;
	stock_product_uncache(app->cache, id);
	return product_answer(app, req, id);
}

int product_delete(struct app *app, struct http_req *req)
{
	long long id;
	int rc = param_int(req, "id", 1, 1, PRODUCT_ID_MAX, &id);
	if (rc)
		return rc;
	rc = db_exec(app->db,
		     "UPDATE flashsale_product.product SET del_state = 1, version = version + 1, "
		     "update_time = UNIX_TIMESTAMP() WHERE id = ? AND del_state = 0",
		     "i", id);
	if (rc)
		return err_from_db(rc);
	if (db_affected_rows(app->db) != 1)
		return E_PRODUCT_NOT_FOUND;
	stock_product_uncache(app->cache, id);
	return 0;
}
