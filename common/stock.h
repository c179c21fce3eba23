/* stock.h - the one way other domains move product stock (conditional updates). */
#ifndef FS_STOCK_H
#define FS_STOCK_H

#include "cache.h"
#include "db.h"

/* Outcome of a stock move beyond enum db_rc. */
#define STOCK_SHORT 1

/*
 * Take n units of a live product's stock (`stock >= n` guard), in the caller's
 * transaction if one is open. DB_OK, STOCK_SHORT (nothing changed: too few
 * units, or no such product), or a db_rc error.
 */
int stock_product_take(struct db *db, long long product_id, long long n);

/* Give n units back to a product (deleted products too: the units existed). */
int stock_product_return(struct db *db, long long product_id, long long n);

/*
 * Drop the cached product detail after its stock or fields changed (after commit).
 * It also bumps the product's cache generation, so a reader that loaded the row
 * before this change cannot store its stale copy afterwards (see fcgi/product).
 * -1 if Redis is unreachable: the old copy then lives until its TTL ends.
 */
int stock_product_uncache(struct cache *c, long long product_id);

/* The Redis key of a product's cached detail: fs:product:{id} (hash-tagged). */
void stock_product_cache_key(char *out, size_t len, long long product_id);

/* The Redis key of a product's cache generation: fs:product:{id}:gen. */
void stock_product_gen_key(char *out, size_t len, long long product_id);

#endif
