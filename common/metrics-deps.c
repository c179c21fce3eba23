/* metrics-deps.c - dependency gauges set at scrape time: MySQL and Redis up, Redis memory. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "db.h"
#include "metrics.h"

/* The value of "name:" in an INFO reply, or -1. */
static long long metrics_info_field(const char *info, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = info; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, name, n) && p[n] == ':')
			return strtoll(p + n + 1, NULL, 10);
	}
	return -1;
}

void metrics_dependencies(struct db *db, struct cache *cache)
{
	const char *help = "1 if the dependency answered at the last scrape, else 0.";
	int mysql = metrics_define("flashsale_dependency_up", "dependency=\"mysql\"", help, 1);
	int redis = metrics_define("flashsale_dependency_up", "dependency=\"redis\"", help, 1);
	if (mysql < 0 || redis < 0)
		return;
	metrics_set(mysql, db && db_ping(db) == DB_OK);
	redisReply *r = cache ? cache_command(cache, "INFO memory") : NULL;
	metrics_set(redis, r && r->type == REDIS_REPLY_STRING);
	if (r && r->type == REDIS_REPLY_STRING) {
		long long used = metrics_info_field(r->str, "used_memory");
		long long max = metrics_info_field(r->str, "maxmemory");
		if (used >= 0)
			metrics_set(metrics_define("flashsale_redis_memory_used_bytes", NULL,
						   "Redis used_memory at the last scrape.", 1),
				    used);
		if (max >= 0)
			metrics_set(metrics_define("flashsale_redis_memory_max_bytes", NULL,
						   "Redis maxmemory (0: no limit).", 1),
				    max);
	}
	if (r)
		freeReplyObject(r);
}
