/*
 * writer-kafka.c - the order-writer on writer.transport kafka: one member of the consumer group
 * writer.kafka_group on writer.kafka_topic (filled by the relay, writer-relay.c).
 *
 * A batch is what one poll round returns (at most seckill.writer_batch messages), built into
 * the same struct batch as the Redis loop's and written by the same batch_write (MySQL's unique
 * request_id makes a replay find its order). Copies the relay produced twice are dropped
 * (batch_dedup; intents whose request record no longer reads queued were finished before).
 * Then batch_finish in its record-gated form (finish.lua with no consumer group: the relay
 * acknowledged the entries already), and only then the offsets are committed. A writer killed
 * anywhere before that commit leaves its partitions to the group's other members, which replay
 * from the last commit: the orders exist, the records still queued are finished once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "job.h"
#include "kafka.h"
#include "log.h"
#include "writer.h"

/* Milliseconds of the monotonic clock. */
static long long wk_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds unless asked to stop. */
static void wk_sleep(long ms)
{
	for (long long end = wk_now_ms() + ms; !job_stop && wk_now_ms() < end;) {
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Up to max messages: the first poll waits 200 ms, the rest take what is fetched already. */
static size_t wk_poll(rd_kafka_t *rk, rd_kafka_message_t **msgs, size_t max)
{
	size_t n = 0;
	while (n < max && !job_stop) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, n ? 0 : 200);
		if (!m)
			break;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("kafka: consume: %s", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			if (!n)
				break;
			continue;
		}
		msgs[n++] = m;
	}
	return n;
}

/* The messages as intents; an undecodable one is logged and left out (committed past). */
static int wk_parse(rd_kafka_message_t **msgs, size_t n, struct batch *b)
{
	struct intent one;
	for (size_t i = 0; i < n; i++) {
		if (intent_decode(msgs[i]->payload ? msgs[i]->payload : "", msgs[i]->len, &one) <
		    0) {
			log_error("kafka: %s [%d] @%lld is not an intent; skipped",
				  rd_kafka_topic_name(msgs[i]->rkt), (int)msgs[i]->partition,
				  (long long)msgs[i]->offset);
			continue;
		}
		struct intent *it = batch_add(b);
		if (!it)
			return -1;
		*it = one;
	}
	return 0;
}

/*
 * Intents whose request record reads anything but "<uid> queued" were finished by an earlier
 * delivery (a copy, or a replay after the offsets' commit was lost): INTENT_SKIP, so a copy of
 * a request that failed can never become an order later. One MGET per run of one activity
 * (its request keys share the hash tag). 0, or -1 (Redis down: the batch waits).
 */
static int wk_precheck(struct writer *w, struct batch *b)
{
	size_t from = 0;
	while (from < b->n) {
		size_t to = from;
		while (to < b->n && b->v[to].aid == b->v[from].aid)
			to++;
		size_t n = to - from;
		const char **argv = malloc((n + 1) * sizeof *argv);
		char(*keys)[ACTIVITY_KEY_MAX] = malloc(n * sizeof *keys);
		int rc = -1;
		if (argv)
			argv[0] = "MGET";
		for (size_t i = 0; argv && keys && i < n; i++) {
			activity_key(keys[i], sizeof keys[i], b->v[from].aid, AK_REQ,
				     b->v[from + i].rid);
			argv[i + 1] = keys[i];
		}
		redisReply *r =
		    argv && keys ? cache_commandv(w->cache, (int)n + 1, argv, NULL) : NULL;
		if (r && r->type == REDIS_REPLY_ARRAY && r->elements == n) {
			for (size_t i = 0; i < n; i++) {
				struct intent *it = &b->v[from + i];
				char want[48];
				snprintf(want, sizeof want, "%lld queued", it->uid);
				/* No record (past seckill.request_ttl): written all the same,
				 * the order's unique key still keeps it to one. */
				if (it->outcome == INTENT_NEW &&
				    r->element[i]->type == REDIS_REPLY_STRING &&
				    strcmp(r->element[i]->str, want))
					it->outcome = INTENT_SKIP;
			}
			rc = 0;
		}
		if (r)
			freeReplyObject(r);
		free(argv);
		free(keys);
		if (rc < 0)
			return -1;
		from = to;
	}
	return 0;
}

/* writer.test_stall_ms: hold the batch after its MySQL commit (a test kills us here). */
static void wk_stall(const struct writer *w, const struct batch *b)
{
	if (w->cfg.writer_test_stall_ms <= 0)
		return;
	log_warn("kafka writer: holding a batch of %zu intents (%lld orders inserted) after the "
		 "MySQL commit for %ld ms (writer.test_stall_ms)",
		 b->n, b->accepted, w->cfg.writer_test_stall_ms);
	wk_sleep(w->cfg.writer_test_stall_ms);
}

/* Commit, per partition, the offset after the batch's last message. */
static void wk_commit(rd_kafka_t *rk, rd_kafka_message_t **msgs, size_t n)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++) {
		const char *t = rd_kafka_topic_name(msgs[i]->rkt);
		rd_kafka_topic_partition_t *p =
		    rd_kafka_topic_partition_list_find(l, t, msgs[i]->partition);
		if (!p)
			p = rd_kafka_topic_partition_list_add(l, t, msgs[i]->partition);
		if (msgs[i]->offset + 1 > p->offset)
			p->offset = msgs[i]->offset + 1;
	}
	rd_kafka_resp_err_t e = rd_kafka_commit(rk, l, 0);
	if (e)
		log_warn("kafka: commit of %zu intents: %s (they are replayed harmlessly)", n,
			 rd_kafka_err2str(e));
	rd_kafka_topic_partition_list_destroy(l);
}

/* Write and finish one batch until done or asked to stop. 0 when done, -1 when stopping. */
static int wk_batch(struct writer *w, rd_kafka_message_t **msgs, size_t n)
{
	struct batch b;
	long backoff = 0;
	int rc = -1;
	batch_init(&b);
	if (wk_parse(msgs, n, &b) < 0)
		goto out;
	size_t copies = batch_dedup(&b);
	if (copies)
		log_info("kafka writer: %zu copies of intents in one batch dropped", copies);
	while (!job_stop) {
		if (wk_precheck(w, &b) == 0 && batch_write(w, &b) == 0) {
			wk_stall(w, &b);
			if (batch_finish(w, &b) == 0) {
				w->orders += b.accepted;
				rc = 0;
				break;
			}
		}
		backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 200;
		wk_sleep(backoff); /* the batch stays in hand: no commit, nothing lost */
	}
out:
	batch_free(&b);
	return rc;
}

/* Log the partitions of a rebalance, then take or give them up (eager or cooperative). */
static void wk_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	char list[256] = "";
	size_t len = 0;
	int assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
	int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	(void)opaque;
	for (int i = 0; i < parts->cnt && len < sizeof list - 12; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "",
					(int)parts->elems[i].partition);
	log_info("kafka writer: partitions %s: %s", assign ? "assigned" : "revoked",
		 parts->cnt ? list : "none");
	if (coop) {
		rd_kafka_error_t *e = assign ? rd_kafka_incremental_assign(rk, parts)
					     : rd_kafka_incremental_unassign(rk, parts);
		if (e) {
			log_warn("kafka: incremental assign: %s", rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
		}
	} else {
		rd_kafka_assign(rk, assign ? parts : NULL);
	}
}

int writer_kafka_run(struct writer *w)
{
	size_t max = (size_t)w->cfg.seckill_writer_batch;
	rd_kafka_message_t **msgs = calloc(max, sizeof *msgs);
	rd_kafka_conf_t *conf = msgs ? kafka_conf_new(&w->cfg) : NULL;
	if (conf)
		rd_kafka_conf_set_rebalance_cb(conf, wk_rebalance);
	rd_kafka_t *rk =
	    conf ? kafka_consumer_new(conf, w->cfg.writer_kafka_group, w->cfg.writer_kafka_topic,
				      w->cfg.writer_kafka_session_ms)
		 : NULL;
	if (!rk) {
		free(msgs);
		return 1;
	}
	w->gate_on_record = 1;
	log_info("order-writer %s consuming %s as group %s (kafka)", w->consumer,
		 w->cfg.writer_kafka_topic, w->cfg.writer_kafka_group);
	while (!job_stop) {
		size_t n = wk_poll(rk, msgs, max);
		int rc = n ? wk_batch(w, msgs, n) : 0;
		if (n && rc == 0)
			wk_commit(rk, msgs, n);
		for (size_t i = 0; i < n; i++)
			rd_kafka_message_destroy(msgs[i]);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	free(msgs);
	log_info("order-writer %s stopping: %lld orders written", w->consumer, w->orders);
	return 0;
}

int writer_kafka_lag(const struct fs_config *cfg)
{
	long long lag;
	if (kafka_group_lag(cfg, cfg->writer_kafka_group, cfg->writer_kafka_topic, stdout, &lag) <
	    0)
		return 1;
	printf("lag %lld\n", lag);
	return 0;
}
