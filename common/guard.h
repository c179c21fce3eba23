/* guard.h - an activity's anti-scalper rules and the Redis state they are checked against. */
#ifndef FS_GUARD_H
#define FS_GUARD_H

#include <stddef.h>

#include "cache.h"
#include "db.h"

/*
 * Redis keys (activity 7; all but the blocklist under the activity's hash tag):
 *   {a:7}:rules          hash start, pow, res, age, addr, verified (immutable after creation)
 *   {a:7}:reserved       set of user ids that reserved, plus "0" once loaded from MySQL
 *   {a:7}:addr:<address> set of user ids given a token from that client address
 *   {a:7}:pow:<hex>      a solved challenge, until its expiry (single use)
 *   {bl}:blocklist       hash "user:<id>" | "mobile:<m>" | "address:<a>" -> reason, plus
 *                        "_loaded" once built from MySQL
 */

/* Outcomes of the guard functions (beyond 0 and 1 answers). */
enum guard_rc {
	GUARD_OK = 0,
	GUARD_NOT_FOUND = 2, /* no such activity */
	GUARD_DOWN = -1,     /* Redis or MySQL unreachable */
	GUARD_ERR = -2,      /* anything else (logged) */
};

/* The rules of one activity. */
struct guard_rules {
	long long start;    /* startTime */
	long long keep;     /* Unix time its Redis state may go (a week after the end) */
	long long pow;      /* ALTCHA maxnumber; 0 no challenge */
	long long min_age;  /* seconds an account must exist before start */
	long long addr_cap; /* accounts given tokens per client address; 0 off */
	int reservation;    /* tokens only for users who reserved */
	int verified;       /* tokens only for accounts with a verified mobile */
};

/* The rules of activity aid, from Redis, loaded from MySQL on a miss. GUARD_OK or an error. */
int guard_rules_get(struct db *db, struct cache *c, long long aid, struct guard_rules *out);

/* Did uid reserve activity aid? 1 yes, 0 no, or an error; the set is loaded on a miss. */
int guard_reserved(struct db *db, struct cache *c, const struct guard_rules *rules, long long aid,
		   long long uid);

/* Put the reservations of activity aid into Redis, kept until keep (preheat, and on a miss). */
int guard_reservations_load(struct db *db, struct cache *c, long long aid, long long keep);

/* Add one reservation to Redis after its MySQL commit. 0 or -1 (the next load repairs it). */
int guard_reservation_add(struct cache *c, long long aid, long long uid);

/*
 * Is the user, the mobile or the address on the blocklist? 1 (which one in what, e.g.
 * "address"), 0, or an error. The Redis copy is rebuilt from MySQL when it is missing.
 */
int guard_blocked(struct db *db, struct cache *c, long long uid, const char *mobile,
		  const char *addr, char *what, size_t len);

/* Rebuild the Redis blocklist from MySQL (swapped in whole). GUARD_OK or an error. */
int guard_blocklist_load(struct db *db, struct cache *c);

/* The Redis field of a blocklist entry ("user:7"). 0, or -1 if out is too small. */
int guard_blocklist_field(char *out, size_t len, const char *kind, const char *value);

/* Set (reason non-NULL) or delete one entry in the Redis copy. 0 or -1. */
int guard_blocklist_cache(struct cache *c, const char *field, const char *reason);

/*
 * Count uid against the cap of accounts per address for activity aid: 1 counted (or
 * counted before), 0 the address has cap other accounts already, or GUARD_DOWN.
 */
int guard_address_take(struct cache *c, const struct guard_rules *r, long long aid,
		       const char *addr, long long uid);

/* Mark a solved challenge as used: 1 first use, 0 used before, or GUARD_DOWN. */
int guard_challenge_use(struct cache *c, long long aid, const char *challenge, long long expires);

#endif
