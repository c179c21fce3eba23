/*
 * settle.c - flashsale-settle (cron, daily): one settlement row per merchant and
 * UTC day with the count and gross of that day's paid orders. Re-running a day
 * recomputes it in place (unique merchant + day), so the job is idempotent.
 *
 * usage: flashsale-settle [-c CONFIG] [--day YYYY-MM-DD]   (default: yesterday, UTC)
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "log.h"

/* Parse YYYY-MM-DD (UTC) into the day's first second; 0 or -1. */
static int settle_parse_day(const char *s, long long *start)
{
	struct tm tm = {0};
	char check[16], extra;
	if (strlen(s) != 10 ||
	    sscanf(s, "%4d-%2d-%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &extra) != 3)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	struct tm back;
	gmtime_r(&t, &back);
	strftime(check, sizeof check, "%Y-%m-%d", &back);
	if (strcmp(check, s)) /* 2026-02-30 and the like */
		return -1;
	*start = (long long)t;
	return 0;
}

/* Settle the UTC day [start, start + 86400) named day, in one transaction. */
static int settle_day(struct db *db, const char *day, long long start)
{
	int rc;
	if ((rc = db_begin(db)))
		return rc;
	/* Merchants settled before whose orders since went away (refunds) drop to zero. */
	rc = db_exec(db,
		     "UPDATE flashsale_order.settlement SET order_count = 0, gross = 0, "
		     "update_time = UNIX_TIMESTAMP() WHERE day = ?",
		     "s", day);
	if (!rc)
		rc = db_exec(
		    db,
		    "INSERT INTO flashsale_order.settlement (merchant_id, day, order_count, "
		    "gross, create_time, update_time) "
		    "SELECT merchant_id, ?, COUNT(*), SUM(total_price), UNIX_TIMESTAMP(), "
		    "UNIX_TIMESTAMP() FROM flashsale_order.orders "
		    "WHERE trade_state IN (1, 2) AND pay_time >= ? AND pay_time < ? "
		    "GROUP BY merchant_id "
		    "ON DUPLICATE KEY UPDATE order_count = VALUES(order_count), "
		    "gross = VALUES(gross), update_time = UNIX_TIMESTAMP()",
		    "sii", day, start, start + 86400);
	if (rc) {
		db_rollback(db);
		return rc;
	}
	return db_commit(db);
}

/* --day YYYY-MM-DD (default: yesterday, UTC). */
static char settle_day_opt[16];

/* --day DAY. */
static int settle_parse(struct job *j, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--day") && i + 1 < argc)
			snprintf(settle_day_opt, sizeof settle_day_opt, "%s", argv[++i]);
		else
			return -1;
	}
	return 0;
}

/* One run: settle the day. */
static int settle_run(struct job *j)
{
	char *day = settle_day_opt;
	long long start;

	if (!day[0]) {
		time_t y = time(NULL) - 86400;
		struct tm tm;
		gmtime_r(&y, &tm);
		strftime(day, sizeof settle_day_opt, "%Y-%m-%d", &tm);
	}
	if (settle_parse_day(day, &start) < 0) {
		fprintf(stderr, "flashsale-settle: --day must be YYYY-MM-DD, got \"%s\"\n", day);
		return 2;
	}
	int rc = settle_day(j->db, day, start);
	if (rc)
		log_error("settle %s failed: %s", day, db_last_error(j->db));
	else
		log_info("settled %s", day);
	if (!rc)
		printf("settled %s\n", day);
	return rc ? 1 : 0;
}

static const struct job_entry settle_entry = {
    .name = "settle",
    .usage = "[--day YYYY-MM-DD]",
    .needs = JOB_DB | JOB_RECORD,
    .parse = settle_parse,
    .run = settle_run,
};

int main(int argc, char **argv)
{
	return job_main(&settle_entry, argc, argv);
}
