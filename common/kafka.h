/*
 * kafka.h - librdkafka clients configured from [events] (brokers, timeouts): shared by the
 * event bus (event-kafka.c) and the order-writer's Kafka transport (jobs/writer-kafka.c,
 * jobs/writer-relay.c), so both speak to the cluster the same way.
 */
#ifndef FS_KAFKA_H
#define FS_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "config.h"

/* Set one property; -1 (logged) if librdkafka rejects it. */
int kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value);

/* A configuration with events.kafka_brokers, client.id and our log callback, or NULL. */
rd_kafka_conf_t *kafka_conf_new(const struct fs_config *cfg);

/* A client of type made from conf, which it takes (destroyed on failure, logged with what). */
rd_kafka_t *kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what);

/* Producer settings on conf: idempotent, acks=all, message.timeout.ms = events.kafka_timeout_ms.
 * 0 or -1. */
int kafka_conf_producer(rd_kafka_conf_t *conf, const struct fs_config *cfg);

/*
 * A consumer of group subscribed to topic (no auto-commit, earliest when the group has no
 * offset, session_ms before a dead member's partitions move on); takes conf. NULL (logged).
 */
rd_kafka_t *kafka_consumer_new(rd_kafka_conf_t *conf, const char *group, const char *topic,
			       long session_ms);

/* Partitions kafka_lag_query reports one by one (a topic may have more: they count in total). */
#define KAFKA_LAG_PARTITIONS 256

/* A consumer group's lag on a topic: the sum, and per partition id below n. */
struct kafka_lag {
	long long total;
	long long part[KAFKA_LAG_PARTITIONS];
	int n;     /* the highest partition id reported, plus one */
	int count; /* the topic's partitions (more than n when over KAFKA_LAG_PARTITIONS) */
};

/* A client to ask group's lag with (a consumer of it that never subscribes), or NULL (logged). */
rd_kafka_t *kafka_lag_client(const struct fs_config *cfg, const char *group);

/*
 * The lag of rk's group on topic: per partition the high watermark less the committed offset
 * (the low watermark when nothing was committed), into *lag; one line per partition to out
 * unless NULL; each answer awaited at most timeout_ms. 0, or -1 (logged) when the cluster did
 * not answer.
 */
int kafka_lag_query(rd_kafka_t *rk, const char *topic, int timeout_ms, FILE *out,
		    struct kafka_lag *lag);

/* kafka_lag_query's total with a client made for the question (10 s per answer). 0 or -1. */
int kafka_group_lag(const struct fs_config *cfg, const char *group, const char *topic, FILE *out,
		    long long *total);

#endif
