/* seckill.h - handlers of the seckill program (fcgi/seckill): activities and the purchase path. */
#ifndef FS_SECKILL_PROGRAM_H
#define FS_SECKILL_PROGRAM_H

#include "http.h"

/* activity-read.c: public reads */
int seckill_activity_list(struct app *app, struct http_req *req);
int seckill_activity_detail(struct app *app, struct http_req *req);

/* activity-admin.c: admin create and cancel */
int seckill_activity_create(struct app *app, struct http_req *req);
int seckill_activity_cancel(struct app *app, struct http_req *req);

/* token.c: seckill tokens */
int seckill_token(struct app *app, struct http_req *req);

struct guard_rules;

/* challenge.c: proof-of-work challenges (ALTCHA format) and their single-use check */
int seckill_challenge(struct app *app, struct http_req *req);
int seckill_challenge_check(struct app *app, struct http_req *req, long long aid,
			    const struct guard_rules *rules, long long now);
int seckill_guard_err(int rc);

/* eligibility.c: the rules checked before a token is issued, and reservations */
int seckill_eligible(struct app *app, struct http_req *req, long long aid,
		     const struct guard_rules *rules);
int seckill_activity_reserve(struct app *app, struct http_req *req);

/* blocklist.c: admin blocklist of users, mobiles and addresses */
int seckill_blocklist_add(struct app *app, struct http_req *req);
int seckill_blocklist_remove(struct app *app, struct http_req *req);
int seckill_blocklist_list(struct app *app, struct http_req *req);

/* The seckill program's state (app->domain). */
struct seckill_app {
	/* The purchase script's handle, shared by the threads and pipelined ([redis] pipeline);
	 * NULL: each thread's own app->cache. */
	struct cache *purchase;
};

/* purchase.c: the hot path, and the start-up checks it needs */
int seckill_do(struct app *app, struct http_req *req);
int seckill_purchase_init(struct app *app);

/* result.c: a request's outcome */
int seckill_result(struct app *app, struct http_req *req);

/* outcomes.c: answers of /seckill/do counted in the shared metrics */
enum seckill_outcome {
	SECKILL_QUEUED,
	SECKILL_SOLDOUT,      /* decided in Redis */
	SECKILL_SOLDOUT_MEMO, /* decided by the per-process sold-out memo, before Redis */
	SECKILL_LIMIT,
	SECKILL_NOT_STARTED,
	SECKILL_ENDED,
	SECKILL_RATE_LIMITED,
	SECKILL_TOKEN_INVALID,
	SECKILL_AUTH_INVALID,
	SECKILL_BAD_REQUEST,
	SECKILL_NOT_FOUND,
	SECKILL_BUSY,
	SECKILL_ERROR,
	SECKILL_OUTCOMES
};
void seckill_outcomes_init(void);

/* writer-lag.c: the order-writer's backlog, pending and oldest age as gauges (per scrape). */
int seckill_writer_lag_refresh(struct app *app);

/* The writers' Kafka lag as the intent relay last published it (ACTIVITY_KAFKA_LAG_KEY). */
struct seckill_kafka_lag {
	long long lag;      /* messages of the topic the writers' group has not committed */
	long long age_ms;   /* since the relay measured it */
	json_t *partitions; /* each partition's lag (partition = activity id mod their count) */
};
/* 1 with *k filled (json_decref k->partitions), 0 when none is published (writer.transport
 * redis, or no relay running), -1 when Redis is down or the value is not the relay's. */
int seckill_kafka_lag(struct app *app, struct seckill_kafka_lag *k);
const char *seckill_outcome_name(int outcome);
void seckill_outcome_count(int rc, long long activity_id, int memo);
long long seckill_outcome_total(int outcome);
long long seckill_memo_soldout(long long activity_id, int *complete);

/* deadletters.c: dead-letter gauges (per scrape) and GET /seckill/v1/admin/deadletters */
int seckill_deadletter_refresh(struct app *app);
int seckill_deadletters(struct app *app, struct http_req *req);

/* activity-dashboard.c: the operators' live view */
int seckill_dashboard(struct app *app, struct http_req *req);

#endif
