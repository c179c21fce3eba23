/*
 * event-redis.c - events over Redis Streams: one stream per topic (fs:ev:<topic>),
 * XADD with approximate MAXLEN trimming, consumer groups with XREADGROUP/XACK,
 * XAUTOCLAIM of entries a crashed consumer left pending, and a dead-letter stream per topic
 * for entries a handler keeps refusing (events.max_deliveries).
 */
#include <stdio.h>
#include <string.h>

#include "event-impl.h"
#include "log.h"

/* Entries read per XREADGROUP / XAUTOCLAIM call. */
#define EVENT_REDIS_BATCH "32"

/* Longest pause after repeated failures. */
#define EVENT_BACKOFF_MAX_MS 5000

/* The stream of a topic. */
static void event_stream_key(char *out, size_t len, const char *topic)
{
	snprintf(out, len, "fs:ev:%s", topic);
}

int event_redis_publish(struct event_bus *bus, const char *topic, const char *key, const char *text)
{
	char skey[EVENT_NAME_MAX + 16], maxlen[24];
	event_stream_key(skey, sizeof skey, topic);
	snprintf(maxlen, sizeof maxlen, "%ld", bus->cfg->events_stream_maxlen);
	const char *argv[] = {"XADD", skey,  "MAXLEN", "~",       maxlen,
			      "*",    "key", key,      "payload", text};
	redisReply *r = cache_commandv(bus->cache, 10, argv, NULL);
	int ok = r && r->type == REDIS_REPLY_STRING;
	if (!ok)
		log_warn("event: XADD %s failed: %s", skey,
			 r && r->type == REDIS_REPLY_ERROR ? r->str : "redis unreachable");
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/* XGROUP CREATE ... 0 MKSTREAM: the group sees the stream from its start. 0 or -1. */
static int event_group_create(struct event_bus *bus, const char *skey, const char *group)
{
	redisReply *r = cache_command(bus->cache, "XGROUP CREATE %s %s 0 MKSTREAM", skey, group);
	int ok = r && (r->type == REDIS_REPLY_STATUS ||
		       (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "BUSYGROUP", 9)));
	if (r && !ok)
		log_error("event: XGROUP CREATE %s %s: %s", skey, group,
			  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/*
 * Take over entries other consumers left pending longer than events.claim_idle_ms
 * (a crashed consumer's): they join our pending list, which we read next.
 * The number claimed, or -1.
 */
static int event_claim(struct event_bus *bus, const char *skey, const char *group)
{
	char idle[24], cursor[64] = "0-0";
	int claimed = 0;
	snprintf(idle, sizeof idle, "%ld", bus->cfg->events_claim_idle_ms);
	for (int round = 0; round < 100; round++) {
		const char *argv[] = {"XAUTOCLAIM", skey,   group,   bus->consumer,
				      idle,         cursor, "COUNT", EVENT_REDIS_BATCH,
				      "JUSTID"};
		redisReply *r = cache_commandv(bus->cache, 9, argv, NULL);
		if (!r)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			log_error("event: XAUTOCLAIM %s: %s", skey,
				  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			freeReplyObject(r);
			return -1;
		}
		if (r->element[1]->type == REDIS_REPLY_ARRAY)
			claimed += (int)r->element[1]->elements;
		snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
		freeReplyObject(r);
		if (!strcmp(cursor, "0-0"))
			break;
	}
	if (claimed)
		log_info("event: claimed %d stale pending entries of %s", claimed, skey);
	return claimed;
}

/* XACK one entry; 0 or -1. */
static int event_ack(struct event_bus *bus, const char *skey, const char *group, const char *id)
{
	redisReply *r = cache_command(bus->cache, "XACK %s %s %s", skey, group, id);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/*
 * Handle one [id, fields] entry. 0 when it may be acknowledged (processed, or
 * undecodable / trimmed away: retrying cannot help), -1 when the handler wants it again.
 */
static int event_entry(const char *topic, const redisReply *e, event_handler_fn fn, void *ctx)
{
	const redisReply *fields = e->elements > 1 ? e->element[1] : NULL;
	size_t plen = 0;
	const char *payload = cache_field(fields, "payload", &plen);
	const char *key = cache_field(fields, "key", NULL);

	if (!payload) {
		log_warn("event: %s entry %s has no payload (trimmed?); acknowledged", topic,
			 e->element[0]->str);
		return 0;
	}
	json_t *v = event_decode(topic, payload, plen);
	if (!v)
		return 0;
	int rc = fn(ctx, topic, key ? key : "", v);
	json_decref(v);
	return rc == 0 ? 0 : -1;
}

int event_dead_key(char *out, size_t len, const char *topic)
{
	int n = snprintf(out, len, "fs:ev:%s:dead", topic);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* How often entry id was delivered to the group (XPENDING), or -1. */
static long long event_deliveries(struct event_bus *bus, const char *skey, const char *group,
				  const char *id)
{
	redisReply *r = cache_command(bus->cache, "XPENDING %s %s %s %s 1", skey, group, id, id);
	long long n = -1;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 4 &&
	    r->element[0]->element[3]->type == REDIS_REPLY_INTEGER)
		n = r->element[0]->element[3]->integer;
	if (r)
		freeReplyObject(r);
	return n;
}

/*
 * A handler refused entry e again: once it was delivered events.max_deliveries times, copy
 * it to the topic's dead-letter stream and acknowledge it, so the events behind it flow.
 * Copy first, then XACK: a crash in between leaves a second copy, never a lost event.
 * 1 moved, 0 not yet (see it again), -1 Redis failed.
 */
static int event_dead_letter(struct event_bus *bus, const char *skey, const char *group,
			     const char *topic, const redisReply *e)
{
	const char *id = e->element[0]->str;
	long long n = event_deliveries(bus, skey, group, id);
	char dkey[EVENT_NAME_MAX + 16], count[24];
	if (n < 0)
		return -1;
	if (n < bus->cfg->events_max_deliveries || event_dead_key(dkey, sizeof dkey, topic) < 0)
		return 0;
	const redisReply *fields = e->elements > 1 ? e->element[1] : NULL;
	size_t plen = 0;
	const char *payload = cache_field(fields, "payload", &plen);
	const char *key = cache_field(fields, "key", NULL);
	snprintf(count, sizeof count, "%lld", n);
	const char *argv[] = {"XADD",  dkey,  "MAXLEN",       "~",       "10000",
			      "*",     "key", key ? key : "", "payload", payload ? payload : "",
			      "entry", id,    "group",        group,     "deliveries",
			      count};
	size_t lens[16];
	for (int i = 0; i < 16; i++)
		lens[i] = strlen(argv[i]);
	if (payload)
		lens[9] = plen;
	redisReply *r = cache_commandv(bus->cache, 16, argv, lens);
	int ok = r && r->type == REDIS_REPLY_STRING;
	if (r)
		freeReplyObject(r);
	if (ok) {
		r = cache_command(bus->cache, "SADD %s %s", EVENT_DEAD_SET, topic);
		if (r)
			freeReplyObject(r);
	}
	if (!ok || event_ack(bus, skey, group, id) < 0)
		return -1;
	log_error("event: %s entry %s refused %lld times; moved to %s", topic, id, n, dkey);
	return 1;
}

/*
 * Process the entries of one XREADGROUP reply in order, acknowledging each the
 * handler accepted. The number of entries, or -1 if one must be seen again.
 */
static int event_batch(struct event_bus *bus, const char *skey, const char *group,
		       const char *topic, const redisReply *r, event_handler_fn fn, void *ctx,
		       volatile sig_atomic_t *stop)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		return 0; /* nil: BLOCK timed out */
	const redisReply *stream = r->element[0];
	if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2 ||
	    stream->element[1]->type != REDIS_REPLY_ARRAY)
		return 0;
	const redisReply *entries = stream->element[1];
	for (size_t i = 0; i < entries->elements && !*stop; i++) {
		const redisReply *e = entries->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		if (event_entry(topic, e, fn, ctx) < 0) {
			if (event_dead_letter(bus, skey, group, topic, e) <= 0)
				return -1;
			continue;
		}
		if (event_ack(bus, skey, group, e->element[0]->str) < 0)
			return -1; /* stays pending: seen again, handlers are idempotent */
	}
	return (int)entries->elements;
}

/* Where a consumer loop is: its stream, group and whether it reads its own pending list. */
struct event_reader {
	const char *group, *topic;
	char skey[EVENT_NAME_MAX + 16];
	char block[24];
	int have_group;
	int pending; /* read "0" (our pending entries) rather than ">" (new ones) */
	long long last_claim;
};

/* One read-and-handle pass of the consumer loop: 0, or -1 to back off and retry. */
static int event_redis_pass(struct event_bus *bus, struct event_reader *rd, event_handler_fn fn,
			    void *ctx, volatile sig_atomic_t *stop)
{
	if (!rd->have_group) {
		if (event_group_create(bus, rd->skey, rd->group) < 0)
			return -1;
		rd->have_group = 1;
		rd->last_claim = 0;
	}
	long long now = event_now_ms();
	if (!rd->last_claim || now - rd->last_claim >= bus->cfg->events_claim_idle_ms / 2) {
		if (event_claim(bus, rd->skey, rd->group) < 0)
			return -1;
		rd->last_claim = now;
		rd->pending = 1;
	}
	const char *argv[11];
	int argc = 0;
	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = rd->group;
	argv[argc++] = bus->consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = EVENT_REDIS_BATCH;
	if (!rd->pending) {
		argv[argc++] = "BLOCK";
		argv[argc++] = rd->block;
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = rd->skey;
	argv[argc++] = rd->pending ? "0" : ">";
	redisReply *r = cache_commandv(bus->cache, argc, argv, NULL);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		/* NOGROUP: the stream or group was deleted; create it again. */
		log_warn("event: XREADGROUP %s: %s", rd->skey, r->str);
		rd->have_group = 0;
		freeReplyObject(r);
		return -1;
	}
	int n = event_batch(bus, rd->skey, rd->group, rd->topic, r, fn, ctx, stop);
	freeReplyObject(r);
	if (n < 0)
		return -1;
	if (rd->pending && n == 0)
		rd->pending = 0; /* our pending list is drained: on to new entries */
	return 0;
}

int event_redis_consume(struct event_bus *bus, const char *group, const char *topic,
			event_handler_fn fn, void *ctx, volatile sig_atomic_t *stop)
{
	struct event_reader rd = {.group = group, .topic = topic, .pending = 1};
	long backoff = 100;
	long block_ms = bus->cfg->redis_timeout_ms / 2;

	/* BLOCK must end well before the client's read timeout. */
	if (block_ms > 2000)
		block_ms = 2000;
	if (block_ms < 5)
		block_ms = 5;
	snprintf(rd.block, sizeof rd.block, "%ld", block_ms);
	event_stream_key(rd.skey, sizeof rd.skey, topic);
	log_info("event: consuming %s as %s/%s (redis)", rd.skey, group, bus->consumer);

	while (!*stop) {
		if (event_redis_pass(bus, &rd, fn, ctx, stop) == 0) {
			backoff = 100;
			continue;
		}
		/* Redis down, or a handler asked to see an entry again: our pending list next. */
		rd.pending = 1;
		event_sleep(backoff, stop);
		backoff = backoff * 2 > EVENT_BACKOFF_MAX_MS ? EVENT_BACKOFF_MAX_MS : backoff * 2;
	}
	log_info("event: consumer of %s stopped", rd.skey);
	return 0;
}
