/* product-read.c - the public catalogue: paged list with keyword search, cached detail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "product.h"
#include "stock.h"

/* Longest keyword, in characters (bytes: 4 each, doubled by escaping). */
#define PRODUCT_KEYWORD_MAX 64

/* The columns of a list entry: a product without its long fields. */
#define PRODUCT_SUMMARY                                                                            \
	"id, title, sub_title AS subTitle, cover, price, market_price AS marketPrice, stock, "     \
	"status, create_time AS createTime"

/* What the public may see: on shelf and not deleted (idx_list, idx_search). */
#define PRODUCT_LIVE "FROM flashsale_product.product WHERE del_state = 0 AND status = 1"

/*
 * Keyword search (see sql/006_product_search.sql): a substring match over the
 * lower-cased title and subtitle, which works for Chinese text where FULLTEXT
 * does not. '!' is the LIKE escape character; % _ ! in the keyword match literally.
 */
#define PRODUCT_MATCH " AND search_text LIKE CONCAT('%', LOWER(?), '%') ESCAPE '!'"

/* A cached detail is stored only if the generation (stock_product_uncache) is unchanged. */
static struct cache_script product_cache_set_script = {
    .src = "local g = redis.call('GET', KEYS[2]) or '' "
	   "if g ~= ARGV[1] then return 0 end "
	   "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
	   "return 1"};

/* Copy kw into out with LIKE's specials escaped; -1 if kw has a control character. */
static int product_like_escape(const char *kw, char *out, size_t len)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)kw; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return -1;
		if (n + 3 > len)
			return -1;
		if (*p == '!' || *p == '%' || *p == '_')
			out[n++] = '!';
		out[n++] = (char)*p;
	}
	out[n] = 0;
	return 0;
}

int product_list(struct app *app, struct http_req *req)
{
	long long page, size;
	const char *keyword;
	char pattern[PRODUCT_KEYWORD_MAX * 8 + 1];
	json_t *rows = NULL, *count = NULL;
	int rc;

	if ((rc = param_int(req, "page", 1, 1, 100000, &page)) ||
	    (rc = param_int(req, "pageSize", 1, 1, 100, &size)) ||
	    (rc = param_str(req, "keyword", 0, 0, PRODUCT_KEYWORD_MAX, &keyword)))
		return rc;
	if (keyword && product_like_escape(keyword, pattern, sizeof pattern) < 0)
		return http_fail(req, E_PARAM, "keyword must not contain control characters");
	long long offset = (page - 1) * size;
	req->cache_control = PRODUCT_CACHE_CONTROL; /* sent only with a 200 */
	if (keyword && *keyword) {
		rc = db_query_row(db_reader(app->db), &count,
				  "SELECT COUNT(*) AS total " PRODUCT_LIVE PRODUCT_MATCH, "s",
				  pattern);
		if (!rc)
			rc = db_query(db_reader(app->db), &rows,
				      "SELECT " PRODUCT_SUMMARY " " PRODUCT_LIVE PRODUCT_MATCH
				      " ORDER BY id DESC LIMIT ? OFFSET ?",
				      "sii", pattern, size, offset);
	} else {
		rc = db_query_row(db_reader(app->db), &count,
				  "SELECT COUNT(*) AS total " PRODUCT_LIVE, "");
		if (!rc)
			rc = db_query(db_reader(app->db), &rows,
				      "SELECT " PRODUCT_SUMMARY " " PRODUCT_LIVE
				      " ORDER BY id DESC LIMIT ? OFFSET ?",
				      "ii", size, offset);
	}
	if (rc) {
		rc = err_from_db(rc);
		goto out;
	}
	req->data =
	    json_pack("{s:O,s:O,s:I,s:I}", "list", rows, "total", json_object_get(count, "total"),
		      "page", (json_int_t)page, "pageSize", (json_int_t)size);
	rc = req->data ? 0 : E_SERVER;
out:
	json_decref(rows);
	json_decref(count);
	return rc;
}

/*
 * Look a product up in Redis. 1: *product is the cached row (or NULL: known to
 * be missing); 0: not cached, gen holds the generation to store under; -1: Redis down.
 */
static int product_cache_get(struct app *app, long long id, json_t **product, char *gen,
			     size_t genlen)
{
	char key[48], genkey[56];
	int rc = 0;

	*product = NULL;
	gen[0] = 0;
	stock_product_cache_key(key, sizeof key, id);
	stock_product_gen_key(genkey, sizeof genkey, id);
	redisReply *r = cache_command(app->cache, "MGET %s %s", key, genkey);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		rc = -1;
		goto out;
	}
	if (r->element[1]->type == REDIS_REPLY_STRING)
		snprintf(gen, genlen, "%s", r->element[1]->str);
	if (r->element[0]->type != REDIS_REPLY_STRING)
		goto out;
	if (r->element[0]->len == 0) {
		rc = 1; /* remembered as missing */
		goto out;
	}
	*product = json_loadb(r->element[0]->str, r->element[0]->len, 0, NULL);
	if (json_is_object(*product)) {
		rc = 1;
	} else {
		json_decref(*product); /* unreadable copy: load it again */
		*product = NULL;
	}
out:
	if (r)
		freeReplyObject(r);
	return rc;
}

/* Store a product row (NULL: missing) unless it changed since gen was read. */
static void product_cache_put(struct app *app, long long id, const json_t *product, const char *gen)
{
	char key[48], genkey[56], ttl[24];
	char *value = product ? json_dumps(product, JSON_COMPACT) : NULL;
	if (product && !value)
		return;
	stock_product_cache_key(key, sizeof key, id);
	stock_product_gen_key(genkey, sizeof genkey, id);
	snprintf(ttl, sizeof ttl, "%ld",
		 product ? app->cfg.product_cache_ttl : app->cfg.product_missing_ttl);
	const char *argv[] = {key, genkey, gen, value ? value : "", ttl};
	redisReply *r = cache_eval(app->cache, &product_cache_set_script, 2, 5, argv);
	if (r && r->type == REDIS_REPLY_ERROR)
		log_warn("product %lld: cache store failed: %s", id, r->str);
	if (r)
		freeReplyObject(r);
	free(value);
}

int product_detail(struct app *app, struct http_req *req)
{
	long long id;
	json_t *product = NULL;
	char gen[32];
	int rc;

	if ((rc = param_int(req, "id", 1, 1, PRODUCT_ID_MAX, &id)))
		return rc;
	req->cache_control = PRODUCT_CACHE_CONTROL; /* with the product or its 300001 */
	int cached = product_cache_get(app, id, &product, gen, sizeof gen);
	if (cached == 0 || cached < 0) {
		/* Not cached, or Redis is down: MariaDB is the source of truth either way. */
		rc = db_query_row(app->db, &product,
				  "SELECT " PRODUCT_COLUMNS " FROM flashsale_product.product "
				  "WHERE id = ? AND del_state = 0",
				  "i", id);
		if (rc)
			return err_from_db(rc);
		if (cached == 0)
			product_cache_put(app, id, product, gen);
	}
	/* Off-shelf products are hidden from the public like deleted ones. */
	json_t *status = json_object_get(product, "status");
	if (!product || json_integer_value(status) != 1) {
		json_decref(product);
		return E_PRODUCT_NOT_FOUND;
	}
	req->data = json_pack("{s:o}", "product", product);
	return req->data ? 0 : E_SERVER;
}
