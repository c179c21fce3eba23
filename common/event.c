/* event.c - the event bus: pick the transport, validate names, encode payloads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event-impl.h"
#include "log.h"

/* Largest encoded payload published (events are small facts, not documents). */
#define EVENT_PAYLOAD_MAX 65536

long long event_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void event_sleep(long ms, volatile sig_atomic_t *stop)
{
	while (ms > 0 && !(stop && *stop)) {
		long step = ms < 50 ? ms : 50;
		struct timespec ts = {0, step * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !(stop && *stop))
			;
		ms -= step;
	}
}

json_t *event_decode(const char *topic, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v || !json_is_object(v)) {
		log_json(LOG_ERROR, "event: payload is not a JSON object; dropped",
			 json_pack("{s:s, s:s}", "topic", topic, "error",
				   v ? "not an object" : jerr.text));
		json_decref(v);
		return NULL;
	}
	return v;
}

/* Topic and group names: letters, digits, '.', '_', '-' (valid for Redis keys and Kafka). */
static int event_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > EVENT_NAME_MAX)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

struct event_bus *event_bus_new(const struct fs_config *cfg, struct cache *cache)
{
	int kafka = !strcmp(cfg->events_transport, "kafka");
	if (!kafka && strcmp(cfg->events_transport, "redis")) {
		log_error("events.transport must be redis or kafka, got \"%s\"",
			  cfg->events_transport);
		return NULL;
	}
	if (kafka && !cfg->events_kafka_brokers[0]) {
		log_error("events.transport is kafka but events.kafka_brokers is empty");
		return NULL;
	}
	if (!kafka && !cache) {
		log_error("events: the redis transport needs a Redis handle");
		return NULL;
	}
	struct event_bus *bus = calloc(1, sizeof *bus);
	if (!bus)
		return NULL;
	bus->cfg = cfg;
	bus->cache = cache;
	bus->kafka = kafka;
	if (gethostname(bus->consumer, sizeof bus->consumer - 1) < 0 || !bus->consumer[0])
		strcpy(bus->consumer, "consumer");
	return bus;
}

void event_bus_free(struct event_bus *bus)
{
	if (!bus)
		return;
	event_kafka_close(bus);
	free(bus);
}

int event_publish(struct event_bus *bus, const char *topic, const char *key, json_t *payload)
{
	int rc = -1;
	char *text = NULL;

	if (!bus || !event_name_ok(topic) || !json_is_object(payload)) {
		log_error("event_publish: bad topic or payload");
		goto out;
	}
	text = json_dumps(payload, JSON_COMPACT);
	if (!text || strlen(text) > EVENT_PAYLOAD_MAX) {
		log_error("event_publish: payload too large or not encodable (%s)", topic);
		goto out;
	}
	if (!key)
		key = "";
	rc = bus->kafka ? event_kafka_publish(bus, topic, key, text)
			: event_redis_publish(bus, topic, key, text);
out:
	free(text);
	return rc;
}

int event_consume(struct event_bus *bus, const char *group, const char *topic, event_handler_fn fn,
		  void *ctx, volatile sig_atomic_t *stop)
{
	if (!bus || !fn || !stop || !event_name_ok(group) || !event_name_ok(topic)) {
		log_error("event_consume: bad group or topic");
		return -1;
	}
	return bus->kafka ? event_kafka_consume(bus, group, topic, fn, ctx, stop)
			  : event_redis_consume(bus, group, topic, fn, ctx, stop);
}
