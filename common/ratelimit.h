/* ratelimit.h - fixed-window counters in Redis (per key, window, limit). */
#ifndef FS_RATELIMIT_H
#define FS_RATELIMIT_H

#include "cache.h"

/* What a rate-limit call decided. */
enum rl_result { RL_ALLOW = 1, RL_DENY = 0, RL_ERROR = -1 };

/*
 * Count one hit on key (window seconds, limit hits). RL_DENY once the count
 * passes limit; *retry_after gets the seconds left in the window.
 */
int ratelimit_hit(struct cache *c, const char *key, long limit, long window, long *retry_after);

/* Like ratelimit_hit without counting: RL_DENY if the key is already at limit. */
int ratelimit_check(struct cache *c, const char *key, long limit, long *retry_after);

/* Forget the key (e.g. failures after a successful login). */
int ratelimit_reset(struct cache *c, const char *key);

#endif
