/*
 * writer-relay.c - the outbox relay of writer.transport kafka (flashsale-order-writer --relay).
 *
 * The purchase script must keep its XADD (stock taken <=> intent enqueued, in one Redis script;
 * Kafka cannot be part of it), so the relay runs the order-writer's Redis loop (live streams,
 * XREADGROUP, XAUTOCLAIM of a dead relay's entries, dead letters for malformed ones) and where
 * the writer would write MySQL it produces the intents to writer.kafka_topic instead: the
 * idempotent producer (acks=all), keyed and partitioned by activity id, and only after every
 * delivery report the entries are XACKed and XDELed (finish.lua, kind x). A relay killed between
 * the produce and the XACK produces them again on restart: the writers find such copies (in one
 * batch: batch_dedup; later: the request record no longer queued, and the order's unique key).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "activity.h"
#include "dynbuf.h"
#include "kafka.h"
#include "log.h"
#include "writer.h"

/* The producer and the delivery reports of the batch in flight (one relay per process). */
static struct {
	rd_kafka_t *p;
	long gen;     /* the batch in flight; a late report of an older one is ignored */
	long pending; /* its reports still to come */
	long failed;
	rd_kafka_resp_err_t err;
	long long relayed;
	rd_kafka_t *lag; /* relay_publish_lag's client of the writers' group */
} relay;

/* What relay_publish_lag waits for each of the cluster's answers (the relay's loop waits too). */
#define RELAY_LAG_TIMEOUT_MS 2000

/* Delivery report: count the batch's outcome (runs inside rd_kafka_poll on our thread). */
static void relay_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if ((long)(intptr_t)m->_private != relay.gen)
		return;
	relay.pending--;
	if (m->err) {
		relay.failed++;
		relay.err = m->err;
	}
}

/* Partitioner: the activity id of the key mod the partition count (intent_partition). */
static int32_t relay_partition(const rd_kafka_topic_t *t, const void *key, size_t len, int32_t cnt,
			       void *topic_opaque, void *msg_opaque)
{
	(void)t;
	(void)topic_opaque;
	(void)msg_opaque;
	return intent_partition(key, len, cnt);
}

/* The producer, created on first use; NULL (logged) if librdkafka refused. */
static rd_kafka_t *relay_producer(const struct fs_config *cfg)
{
	if (relay.p)
		return relay.p;
	rd_kafka_conf_t *conf = kafka_conf_new(cfg);
	if (!conf)
		return NULL;
	if (kafka_conf_producer(conf, cfg) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	/* The default topic conf holds the topic-level settings made above (acks): amend it. */
	rd_kafka_topic_conf_t *tconf = rd_kafka_conf_get_default_topic_conf(conf);
	if (!tconf) {
		tconf = rd_kafka_topic_conf_new();
		rd_kafka_conf_set_default_topic_conf(conf, tconf);
	}
	rd_kafka_topic_conf_set_partitioner_cb(tconf, relay_partition);
	rd_kafka_conf_set_dr_msg_cb(conf, relay_dr);
	relay.p = kafka_new(RD_KAFKA_PRODUCER, conf, "relay producer");
	return relay.p;
}

void relay_close(void)
{
	if (relay.lag) {
		rd_kafka_destroy(relay.lag);
		relay.lag = NULL;
	}
	if (!relay.p)
		return;
	rd_kafka_flush(relay.p, 5000);
	rd_kafka_destroy(relay.p);
	relay.p = NULL;
	log_info("relay stopping: %lld intents relayed", relay.relayed);
}

/* Milliseconds of the monotonic clock. */
static long long relay_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* writer.test_stall_ms: hold the delivered batch before its XACK (a test kills us here). */
static void relay_stall(const struct writer *w, size_t n)
{
	long ms = w->cfg.writer_test_stall_ms;
	if (ms <= 0)
		return;
	log_warn("relay: holding %zu delivered intents before the XACK for %ld ms "
		 "(writer.test_stall_ms)",
		 n, ms);
	for (long long end = relay_now_ms() + ms; !job_stop && relay_now_ms() < end;) {
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int relay_send(struct writer *w, struct batch *b)
{
	char value[INTENT_MSG_MAX], key[24];
	rd_kafka_t *p = relay_producer(&w->cfg);
	size_t sent = 0;
	if (!p)
		return -1;
	relay.gen++;
	relay.pending = relay.failed = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct intent *it = &b->v[i];
		if (it->outcome != INTENT_NEW)
			continue; /* dead letters and skips stay with batch_finish */
		int n = intent_encode(it, value, sizeof value);
		if (n < 0) {
			it->outcome = INTENT_DEAD; /* cannot happen with ids the purchase makes */
			it->reason = REASON_MALFORMED;
			continue;
		}
		snprintf(key, sizeof key, "%lld", it->aid);
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    p, RD_KAFKA_V_TOPIC(w->cfg.writer_kafka_topic),
		    RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(value, (size_t)n),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE((void *)(intptr_t)relay.gen), RD_KAFKA_V_END);
		if (e) {
			log_warn("kafka: relay produce: %s", rd_kafka_err2str(e));
			relay.failed++;
			break;
		}
		relay.pending++;
		sent++;
	}
	/* message.timeout.ms bounds every report; the margin covers the last poll. */
	long long deadline = relay_now_ms() + w->cfg.events_kafka_timeout_ms + 2000;
	while (relay.pending > 0 && relay_now_ms() < deadline)
		rd_kafka_poll(p, 20);
	if (relay.pending > 0 || relay.failed > 0) {
		log_warn("relay: %zu intents not all delivered (%ld missing, %ld failed: %s); "
			 "they are produced again",
			 sent, relay.pending, relay.failed, rd_kafka_err2str(relay.err));
		if (rd_kafka_fatal_error(p, NULL, 0)) {
			rd_kafka_destroy(
			    p); /* an idempotent producer in a fatal state is replaced */
			relay.p = NULL;
		}
		return -1;
	}
	relay_stall(w, sent);
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].outcome == INTENT_NEW)
			b->v[i].outcome = INTENT_SKIP; /* delivered: batch_finish XACKs and XDELs */
	relay.relayed += (long long)sent;
	return 0;
}

int relay_publish_lag(struct writer *w)
{
	static struct kafka_lag lag; /* one relay per process */
	struct dynbuf b;
	struct timespec ts;
	if (!relay.lag && !(relay.lag = kafka_lag_client(&w->cfg, w->cfg.writer_kafka_group)))
		return -1;
	if (kafka_lag_query(relay.lag, w->cfg.writer_kafka_topic, RELAY_LAG_TIMEOUT_MS, NULL,
			    &lag) < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	dynbuf_init(&b, 64 + 21 * KAFKA_LAG_PARTITIONS);
	dynbuf_printf(&b, "{\"lag\":%lld,\"at\":%lld,\"partitions\":[", lag.total,
		      (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	/* Per partition only when they all fit (the dashboard maps activity id mod their count). */
	for (int i = 0; lag.count <= KAFKA_LAG_PARTITIONS && i < lag.n; i++)
		dynbuf_printf(&b, "%s%lld", i ? "," : "", lag.part[i]);
	dynbuf_addstr(&b, "]}");
	char *v = dynbuf_take(&b);
	redisReply *r = v ? cache_command(w->cache, "SET %s %s PX %d", ACTIVITY_KAFKA_LAG_KEY, v,
					  ACTIVITY_KAFKA_LAG_TTL_MS)
			  : NULL;
	int rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
	if (r)
		freeReplyObject(r);
	free(v);
	return rc;
}
