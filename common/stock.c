/* stock.c - product stock moves as guarded UPDATEs, and the detail cache keys. */
#include "stock.h"

#include <stdio.h>

#include "log.h"

int stock_product_take(struct db *db, long long product_id, long long n)
{
	if (n <= 0)
		return STOCK_SHORT;
	int rc = db_exec(
	    db,
	    "UPDATE flashsale_product.product SET stock = stock - ?, version = version + 1, "
	    "update_time = UNIX_TIMESTAMP() WHERE id = ? AND del_state = 0 AND stock >= ?",
	    "iii", n, product_id, n);
	if (rc)
		return rc;
	return db_affected_rows(db) == 1 ? DB_OK : STOCK_SHORT;
}

int stock_product_return(struct db *db, long long product_id, long long n)
{
	if (n <= 0)
		return DB_OK;
	int rc = db_exec(
	    db,
	    "UPDATE flashsale_product.product SET stock = stock + ?, version = version + 1, "
	    "update_time = UNIX_TIMESTAMP() WHERE id = ?",
	    "ii", n, product_id);
	if (rc)
		return rc;
	return db_affected_rows(db) == 1 ? DB_OK : DB_ERR;
}

void stock_product_cache_key(char *out, size_t len, long long product_id)
{
	snprintf(out, len, "fs:product:{%lld}", product_id);
}

void stock_product_gen_key(char *out, size_t len, long long product_id)
{
	snprintf(out, len, "fs:product:{%lld}:gen", product_id);
}

/* Drop the copy and bump the generation in one step; the generation outlives any reader. */
static struct cache_script stock_uncache_script = {.src = "redis.call('DEL', KEYS[1]) "
							  "local g = redis.call('INCR', KEYS[2]) "
							  "redis.call('EXPIRE', KEYS[2], 86400) "
							  "return g"};

int stock_product_uncache(struct cache *c, long long product_id)
{
	char key[48], gen[56];
	stock_product_cache_key(key, sizeof key, product_id);
	stock_product_gen_key(gen, sizeof gen, product_id);
	const char *argv[] = {key, gen};
	redisReply *r = cache_eval(c, &stock_uncache_script, 2, 2, argv);
	int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
	if (r)
		freeReplyObject(r);
	if (rc)
		log_warn("product %lld: cached detail not dropped (Redis unreachable)", product_id);
	return rc;
}
