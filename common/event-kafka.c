/*
 * event-kafka.c - events over Kafka (librdkafka): an idempotent producer
 * (acks=all) whose publish returns only after the delivery report, and a
 * consumer group without auto-commit that commits each message after its
 * handler succeeded and seeks back to it when the handler asks to retry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event-impl.h"
#include "kafka.h"
#include "log.h"

/* Longest message key kept (order and payment serial numbers are ~40). */
#define EVENT_KEY_MAX 256

/* The outcome of one produced message, filled by the delivery report callback. */
struct event_dr {
	int done;
	int abandoned; /* the publisher gave up waiting: the callback frees it */
	rd_kafka_resp_err_t err;
};

/* Delivery report callback (runs inside rd_kafka_poll/flush on our thread). */
static void event_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	struct event_dr *dr = m->_private;
	if (!dr)
		return;
	if (dr->abandoned) {
		free(dr);
		return;
	}
	dr->err = m->err;
	dr->done = 1;
}

int kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char err[256];
	if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
		log_error("kafka: %s: %s", name, err);
		return -1;
	}
	return 0;
}

/* Log librdkafka's own warnings and errors through our log. */
static void event_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4)
		log_printf(level <= 3 ? LOG_ERROR : LOG_WARN, "kafka %s: %s", fac, buf);
}

rd_kafka_conf_t *kafka_conf_new(const struct fs_config *cfg)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (kafka_set(conf, "bootstrap.servers", cfg->events_kafka_brokers) < 0 ||
	    kafka_set(conf, "client.id", "flashsale") < 0 ||
	    kafka_set(conf, "allow.auto.create.topics", "true") < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, event_kafka_log);
	return conf;
}

rd_kafka_t *kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what)
{
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
	if (!rk) {
		log_error("kafka: %s: %s", what, err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

int kafka_conf_producer(rd_kafka_conf_t *conf, const struct fs_config *cfg)
{
	char timeout[24];
	snprintf(timeout, sizeof timeout, "%ld", cfg->events_kafka_timeout_ms);
	if (kafka_set(conf, "enable.idempotence", "true") < 0 ||
	    kafka_set(conf, "acks", "all") < 0 ||
	    kafka_set(conf, "message.timeout.ms", timeout) < 0 ||
	    kafka_set(conf, "linger.ms", "1") < 0)
		return -1;
	return 0;
}

/* The producer, created on first use. */
static rd_kafka_t *event_kafka_producer(struct event_bus *bus)
{
	if (bus->producer)
		return bus->producer;
	rd_kafka_conf_t *conf = kafka_conf_new(bus->cfg);
	if (!conf)
		return NULL;
	if (kafka_conf_producer(conf, bus->cfg) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, event_kafka_dr);
	bus->producer = kafka_new(RD_KAFKA_PRODUCER, conf, "producer");
	return bus->producer;
}

void event_kafka_close(struct event_bus *bus)
{
	if (!bus->producer)
		return;
	if (rd_kafka_flush(bus->producer, (int)bus->cfg->events_kafka_timeout_ms))
		log_warn("kafka: %d messages still in flight at close",
			 rd_kafka_outq_len(bus->producer));
	rd_kafka_destroy(bus->producer);
	bus->producer = NULL;
}

int event_kafka_publish(struct event_bus *bus, const char *topic, const char *key, const char *text)
{
	rd_kafka_t *p = event_kafka_producer(bus);
	if (!p)
		return -1;
	struct event_dr *dr = calloc(1, sizeof *dr);
	if (!dr)
		return -1;
	rd_kafka_resp_err_t err = rd_kafka_producev(
	    p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
	    RD_KAFKA_V_VALUE((void *)text, strlen(text)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_OPAQUE(dr), RD_KAFKA_V_END);
	if (err) {
		log_warn("kafka: produce to %s: %s", topic, rd_kafka_err2str(err));
		free(dr);
		return -1;
	}
	/* message.timeout.ms bounds the report; the margin covers the last poll. */
	long long deadline = event_now_ms() + bus->cfg->events_kafka_timeout_ms + 2000;
	while (!dr->done && event_now_ms() < deadline)
		rd_kafka_poll(p, 50);
	if (!dr->done) {
		log_error("kafka: no delivery report for %s within the timeout", topic);
		dr->abandoned = 1;
		return -1;
	}
	err = dr->err;
	free(dr);
	if (err) {
		log_warn("kafka: delivery to %s failed: %s", topic, rd_kafka_err2str(err));
		if (rd_kafka_fatal_error(p, NULL, 0)) {
			/* An idempotent producer in a fatal state must be replaced. */
			event_kafka_close(bus);
		}
		return -1;
	}
	return 0;
}

rd_kafka_t *kafka_consumer_new(rd_kafka_conf_t *conf, const char *group, const char *topic,
			       long session_ms)
{
	char session[24], beat[24];
	snprintf(session, sizeof session, "%ld", session_ms);
	snprintf(beat, sizeof beat, "%ld", session_ms / 6 < 100 ? 100 : session_ms / 6);
	if (kafka_set(conf, "group.id", group) < 0 ||
	    kafka_set(conf, "enable.auto.commit", "false") < 0 ||
	    kafka_set(conf, "auto.offset.reset", "earliest") < 0 ||
	    kafka_set(conf, "session.timeout.ms", session) < 0 ||
	    kafka_set(conf, "heartbeat.interval.ms", beat) < 0 ||
	    kafka_set(conf, "topic.metadata.refresh.interval.ms", "5000") < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = kafka_new(RD_KAFKA_CONSUMER, conf, "consumer");
	if (!rk)
		return NULL;
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (e) {
		log_error("kafka: subscribe %s: %s", topic, rd_kafka_err2str(e));
		rd_kafka_destroy(rk);
		return NULL;
	}
	return rk;
}

/* A consumer of group subscribed to topic, or NULL (logged). */
static rd_kafka_t *event_kafka_consumer(struct event_bus *bus, const char *group, const char *topic)
{
	rd_kafka_conf_t *conf = kafka_conf_new(bus->cfg);
	/* A dead member's partitions move on after 6 s (not the 45 s default). */
	return conf ? kafka_consumer_new(conf, group, topic, 6000) : NULL;
}

/* Rewind the message's partition to it so the next poll delivers it again. */
static void event_kafka_rewind(rd_kafka_t *rk, const rd_kafka_message_t *m)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
	    m->offset;
	rd_kafka_error_t *e = rd_kafka_seek_partitions(rk, l, 5000);
	if (e) {
		log_warn("kafka: seek back: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* Handle one message: 0 when committed (or undecodable), -1 when it must be seen again. */
static int event_kafka_message(rd_kafka_t *rk, const rd_kafka_message_t *m, const char *topic,
			       event_handler_fn fn, void *ctx)
{
	char key[EVENT_KEY_MAX + 1] = "";
	if (m->key) {
		size_t n = m->key_len < EVENT_KEY_MAX ? m->key_len : EVENT_KEY_MAX;
		memcpy(key, m->key, n);
		key[n] = '\0';
	}
	json_t *v = event_decode(topic, m->payload ? m->payload : "", m->len);
	if (v) {
		int rc = fn(ctx, topic, key, v);
		json_decref(v);
		if (rc != 0)
			return -1;
	}
	rd_kafka_resp_err_t e = rd_kafka_commit_message(rk, m, 0);
	if (e)
		log_warn("kafka: commit %s [%d] @%lld: %s (it will be seen again)", topic,
			 (int)m->partition, (long long)m->offset, rd_kafka_err2str(e));
	return 0;
}

int event_kafka_consume(struct event_bus *bus, const char *group, const char *topic,
			event_handler_fn fn, void *ctx, volatile sig_atomic_t *stop)
{
	long backoff = 100;
	rd_kafka_t *rk = event_kafka_consumer(bus, group, topic);
	if (!rk)
		return -1;
	log_info("event: consuming %s as group %s (kafka)", topic, group);
	while (!*stop) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("kafka: consume %s: %s", topic,
					 rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		if (event_kafka_message(rk, m, topic, fn, ctx) < 0) {
			event_kafka_rewind(rk, m);
			rd_kafka_message_destroy(m);
			event_sleep(backoff, stop);
			backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
			continue;
		}
		backoff = 100;
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	log_info("event: consumer of %s stopped", topic);
	return 0;
}

rd_kafka_t *kafka_lag_client(const struct fs_config *cfg, const char *group)
{
	rd_kafka_conf_t *conf = kafka_conf_new(cfg);
	if (!conf || kafka_set(conf, "group.id", group) < 0) {
		if (conf)
			rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return kafka_new(RD_KAFKA_CONSUMER, conf, "lag client");
}

int kafka_lag_query(rd_kafka_t *rk, const char *topic, int timeout_ms, FILE *out,
		    struct kafka_lag *lag)
{
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_partition_list_t *l = NULL;
	int rc = -1;
	memset(lag, 0, sizeof *lag);
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	if (!t) {
		log_error("kafka: topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
		return -1;
	}
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		log_error("kafka: metadata of %s: %s", topic,
			  rd_kafka_err2str(e ? e : md->topics[0].err));
		goto out;
	}
	l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (int i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id);
	if ((e = rd_kafka_committed(rk, l, timeout_ms))) {
		log_error("kafka: committed offsets: %s", rd_kafka_err2str(e));
		goto out;
	}
	lag->count = l->cnt;
	for (int i = 0; i < l->cnt; i++) {
		int64_t lo = 0, hi = 0;
		int32_t p = l->elems[i].partition;
		if ((e = rd_kafka_query_watermark_offsets(rk, l->elems[i].topic, p, &lo, &hi,
							  timeout_ms))) {
			log_error("kafka: watermarks: %s", rd_kafka_err2str(e));
			goto out;
		}
		long long done = l->elems[i].offset >= 0 ? l->elems[i].offset : lo;
		if (out)
			fprintf(out, "partition %d committed %lld high %lld lag %lld\n", (int)p,
				(long long)l->elems[i].offset, (long long)hi, (long long)hi - done);
		lag->total += hi - done;
		if (p >= 0 && p < KAFKA_LAG_PARTITIONS) {
			lag->part[p] = hi - done;
			if (p >= lag->n)
				lag->n = p + 1;
		}
	}
	rc = 0;
out:
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	return rc;
}

int kafka_group_lag(const struct fs_config *cfg, const char *group, const char *topic, FILE *out,
		    long long *total)
{
	struct kafka_lag lag;
	rd_kafka_t *rk = kafka_lag_client(cfg, group);
	if (!rk)
		return -1;
	int rc = kafka_lag_query(rk, topic, 10000, out, &lag);
	rd_kafka_destroy(rk);
	if (rc == 0)
		*total = lag.total;
	return rc;
}
