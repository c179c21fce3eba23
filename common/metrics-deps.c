/* metrics-deps.c - flashsale_dependency_up{dependency="mysql"|"redis"}, set at scrape time. */
#include "cache.h"
#include "db.h"
#include "metrics.h"

void metrics_dependencies(struct db *db, struct cache *cache)
{
	const char *help = "1 if the dependency answered at the last scrape, else 0.";
	int mysql = metrics_define("flashsale_dependency_up", "dependency=\"mysql\"", help, 1);
	int redis = metrics_define("flashsale_dependency_up", "dependency=\"redis\"", help, 1);
	metrics_set(mysql, db && db_ping(db) == DB_OK);
	metrics_set(redis, cache && cache_ping(cache) == 0);
}
