/* stock.c - product stock moves as guarded UPDATEs, and the detail cache key. */
#include "stock.h"

#include <stdio.h>

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
	snprintf(out, len, "fs:product:%lld", product_id);
}

void stock_product_uncache(struct cache *c, long long product_id)
{
	char key[48];
	stock_product_cache_key(key, sizeof key, product_id);
	redisReply *r = cache_command(c, "DEL %s", key);
	if (r)
		freeReplyObject(r);
}
