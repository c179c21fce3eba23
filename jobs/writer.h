/* writer.h - the order-writer's state and its batches (order-writer.c, writer-batch.c). */
#ifndef FS_WRITER_H
#define FS_WRITER_H

#include <stddef.h>

#include "cache.h"
#include "config.h"
#include "db.h"
#include "dynbuf.h"
#include "ids.h"

/* What became of one intent. */
enum intent_outcome {
	INTENT_NEW = 0,       /* not decided yet */
	INTENT_DONE,          /* its order exists already (a replay): success with that sn */
	INTENT_ACCEPT,        /* order inserted in this batch */
	INTENT_REJECT_RETURN, /* failed; its units go back to the remaining stock */
	INTENT_REJECT_KEEP,   /* failed; the units do not exist in MySQL, only the user's go */
	INTENT_SKIP,          /* acknowledged, nothing else */
	INTENT_DEAD, /* malformed, or unwritable alone: to the dead-letter stream, units back */
};

/* One order intent read from a stream. */
struct intent {
	char stream[64];
	char entry[48]; /* stream entry id */
	char rid[72];   /* request id */
	long long aid, uid, qty;
	int outcome;
	char sn[ID_SN_MAX];
	int reason; /* enum seckill_reason (activity.h) of a rejection */
};

/* The intents of one XREADGROUP, in stream order. */
struct batch {
	struct intent *v; /* into buf */
	size_t n;
	struct dynbuf buf;
	long long accepted;
	/* 1: first delivery of every entry (XREADGROUP >), so no order of theirs can exist and
	 * the replay check is skipped; a duplicate request id then redoes the batch with it. */
	int fresh;
};

/* Process state of one writer. */
struct writer {
	struct fs_config cfg;
	struct db *db;
	struct cache *cache;
	char consumer[96];
	char **streams; /* live activities' intent streams */
	long long *ids; /* their activities (streams[i] is the intents key of ids[i]) */
	size_t nstreams;
	char fail_head[112]; /* the first entry of the batch that failed last */
	long fail_count;     /* how often in a row it failed (MySQL up) */
	int pending;         /* read our own unacknowledged entries (id 0) before new ones */
	long block_ms;
	long long orders;
	int relay;          /* --relay (writer.transport kafka): the Redis loop produces to Kafka */
	int gate_on_record; /* kafka writer: finish gates on the request record, not on XACK */
};

/* An empty batch. */
void batch_init(struct batch *b);

/* A new zeroed intent at the end of the batch, or NULL when out of memory. */
struct intent *batch_add(struct batch *b);

/* Free what the batch owns. */
void batch_free(struct batch *b);

/*
 * Decide every intent and insert the orders in one MySQL transaction. 0, or -1 (rolled back:
 * read the batch again). After seckill.writer_attempts failures of the same batch with MySQL
 * up, its intents are written one by one and those that fail alone become INTENT_DEAD.
 */
int batch_write(struct writer *w, struct batch *b);

/*
 * Per stream, one Lua script (lua/finish.lua): failed requests' records, returned units, dead
 * letters, XACK + XDEL (a success's record stays queued: result.c finds its order). 0 or -1.
 */
int batch_finish(struct writer *w, struct batch *b);

/* The longest intent message of the Kafka transport. */
#define INTENT_MSG_MAX 512

/*
 * Is rid a request id the purchase makes: 1 to 64 of [A-Za-z0-9_-], like the column? The only
 * kind an intent carries (both transports check), so JSON built from it needs no escaping.
 */
int intent_rid_valid(const char *rid);

/*
 * An intent as a Kafka message value (JSON: rid, aid, uid, qty, entry) into out. Its length,
 * or -1 when out is too small.
 */
int intent_encode(const struct intent *it, char *out, size_t size);

/*
 * Fill it (zeroed first) from a message value: 0, or -1 when the value is not a well-formed
 * intent (bad JSON, a request id the purchase cannot make, a missing or non-positive number).
 * it->stream is the activity's intents stream, as the Redis transport has it.
 */
int intent_decode(const char *text, size_t len, struct intent *it);

/* The partition of an intent keyed by its activity id (decimal): id mod cnt, 0 if unparsable. */
int intent_partition(const char *key, size_t len, int cnt);

/*
 * Mark every later copy of a request id already in the batch INTENT_SKIP (a relay that died
 * between produce and XACK produced it twice). The copies marked.
 */
size_t batch_dedup(struct batch *b);

/* The relay's write step: produce the batch's new intents to Kafka and wait for every delivery
 * report; then they are INTENT_SKIP (batch_finish acknowledges them). 0 or -1 (read again). */
int relay_send(struct writer *w, struct batch *b);

/* Flush and destroy the relay's producer. */
void relay_close(void);

/*
 * Measure the writers' group lag on writer.kafka_topic (kafka_lag_query, one client kept) and
 * publish it as ACTIVITY_KAFKA_LAG_KEY for the seckill program's dashboard and metrics. 0, or -1
 * when the cluster or Redis did not answer (the key then expires: the lag reads unknown).
 */
int relay_publish_lag(struct writer *w);

/* The writer on Kafka: consume writer.kafka_topic in writer.kafka_group until job_stop. */
int writer_kafka_run(struct writer *w);

/* Print the group's committed offset, high watermark and lag per partition (--lag). 0 or 1. */
int writer_kafka_lag(const struct fs_config *cfg);

#endif
