/* seckill-revoke.c - a logged-out access token stops buying at once, at no cost to /seckill/do.
 *
 * /seckill/do verifies the access token without a session lookup (ROUTE_JWT). So that a
 * logout still counts there, its jti goes into the revocation set of every live activity
 * ({a:<id>}:revoked, lua/revoke.lua), which the purchase script checks in the same EVAL:
 * no extra round trip, and the key shares the activity's slot. Activities loaded later need
 * a new seckill token, which /seckill/token refuses for a revoked session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "activity.h"
#include "log.h"
#include "lua-scripts.h"
#include "seckill-lib.h"

/* lua/revoke.lua: the jti into one activity's revocation set. */
static struct cache_script revoke_script = {.src = lua_revoke};

int seckill_revoke_jti(struct cache *c, const char *jti, long long exp)
{
	char key[ACTIVITY_KEY_MAX], e[24], now[24];
	int rc = 0;
	redisReply *r = cache_command(c, "SMEMBERS %s", ACTIVITY_LIVE_KEY);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		rc = -1;
		goto out;
	}
	snprintf(e, sizeof e, "%lld", exp);
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	for (size_t i = 0; i < r->elements; i++) {
		char *end;
		if (r->element[i]->type != REDIS_REPLY_STRING)
			continue;
		long long id = strtoll(r->element[i]->str, &end, 10);
		if (*end || id <= 0 || activity_key(key, sizeof key, id, AK_REVOKED, NULL) < 0)
			continue;
		const char *argv[] = {key, jti, e, now};
		redisReply *a = cache_eval(c, &revoke_script, 1, 4, argv);
		if (!a || a->type != REDIS_REPLY_INTEGER) {
			log_warn("activity %lld: logged-out token not revoked there", id);
			rc = -1;
		}
		if (a)
			freeReplyObject(a);
	}
out:
	if (r)
		freeReplyObject(r);
	return rc;
}
