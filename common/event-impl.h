/* event-impl.h - what event.c shares with its transports (event-redis.c, event-kafka.c). */
#ifndef FS_EVENT_IMPL_H
#define FS_EVENT_IMPL_H

#include <librdkafka/rdkafka.h>

#include "event.h"

/* Longest topic or consumer group name accepted. */
#define EVENT_NAME_MAX 96

/* A bus: the transport, its connections, and who we are as a consumer. */
struct event_bus {
	const struct fs_config *cfg;
	struct cache *cache;  /* redis transport (not owned) */
	int kafka;            /* 1: kafka transport */
	rd_kafka_t *producer; /* kafka: created on the first publish */
	char consumer[128];   /* consumer name within a group (host name) */
};

/* Milliseconds of a monotonic clock. */
long long event_now_ms(void);

/* Sleep ms milliseconds unless *stop is set meanwhile (checked every 50 ms). */
void event_sleep(long ms, volatile sig_atomic_t *stop);

/* Decode an event's text; a new object, or NULL (logged) if it is not a JSON object. */
json_t *event_decode(const char *topic, const char *text, size_t len);

/* XADD to the topic's stream; 0 once Redis answered with the entry id. */
int event_redis_publish(struct event_bus *bus, const char *topic, const char *key,
			const char *text);

/* XREADGROUP loop of event_consume for the redis transport. */
int event_redis_consume(struct event_bus *bus, const char *group, const char *topic,
			event_handler_fn fn, void *ctx, volatile sig_atomic_t *stop);

/* Produce and wait for the delivery report; 0 once delivered. */
int event_kafka_publish(struct event_bus *bus, const char *topic, const char *key,
			const char *text);

/* Consumer-group loop of event_consume for the kafka transport. */
int event_kafka_consume(struct event_bus *bus, const char *group, const char *topic,
			event_handler_fn fn, void *ctx, volatile sig_atomic_t *stop);

/* Flush and destroy the kafka producer, if any. */
void event_kafka_close(struct event_bus *bus);

#endif
