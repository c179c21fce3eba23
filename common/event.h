/* event.h - domain events (payment.status, order.paid, order.closed) over Redis Streams or Kafka.
 */
#ifndef FS_EVENT_H
#define FS_EVENT_H

#include <jansson.h>
#include <signal.h>

#include "cache.h"
#include "config.h"

struct event_bus;

/* A bus on the transport the config names (events.transport: redis, the default, or kafka). */
struct event_bus *event_bus_new(const struct fs_config *cfg, struct cache *cache);

/* Flush what is in flight and free the bus. */
void event_bus_free(struct event_bus *bus);

/*
 * Publish payload (not stolen) on topic, keyed (e.g. by order sn). Returns 0
 * once the transport acknowledged it (XADD answered; Kafka delivery report
 * received), -1 otherwise: the caller retries or fails the request.
 */
int event_publish(struct event_bus *bus, const char *topic, const char *key, json_t *payload);

/* A consumer callback: 0 when processed (then acknowledged/committed), -1 to see it again. */
typedef int (*event_handler_fn)(void *ctx, const char *topic, const char *key, json_t *payload);

/*
 * Consume topic in consumer group `group` until *stop is set, calling fn for
 * each event; at-least-once: handlers must be idempotent. 0 on a clean stop.
 */
int event_consume(struct event_bus *bus, const char *group, const char *topic, event_handler_fn fn,
		  void *ctx, volatile sig_atomic_t *stop);

/*
 * Dead letters (redis transport): an event its handler refused events.max_deliveries times is
 * copied to the stream fs:ev:<topic>:dead (fields key, payload, entry, group, deliveries) and
 * acknowledged; EVENT_DEAD_SET lists the topics that have such a stream.
 */
#define EVENT_DEAD_SET  "fs:ev:dead"
#define EVENT_DEAD_NAME 96 /* longest topic with a dead-letter stream, and its NUL */

/* The dead-letter stream of a topic. 0, or -1 if out is too small. */
int event_dead_key(char *out, size_t len, const char *topic);

#endif
