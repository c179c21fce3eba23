/* order-writer.c - flashsale-order-writer: seckill intents (Redis streams) -> orders in MySQL.
 *
 * Each live activity has its own stream {a:N}:intents (its Lua script must XADD in the
 * activity's slot); ACTIVITY_LIVE_KEY lists the activities, and one XREADGROUP reads them all
 * (on a Redis Cluster, where each stream has its own slot, one read per stream). A
 * batch is one MySQL transaction that re-checks every intent against the truth (the
 * activity's sold count with `sold + returned + n <= stock`, the user's quota under row
 * locks), inserts the accepted orders (unique request_id: a replay finds its order and
 * inserts nothing), and commits; then one Lua script per stream marks each request success
 * or failed (units of a failed one going back), XACKs and XDELs the entries. Nothing is
 * acknowledged before MySQL committed, so a writer killed at any point loses nothing: its
 * pending entries are claimed (XAUTOCLAIM) by the next writer and replayed harmlessly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "activity.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "ids.h"
#include "job.h"
#include "log.h"
#include "seckill-lib.h"
#include "writer.h"

/* Milliseconds of the monotonic clock. */
static long long writer_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds unless asked to stop. */
static void writer_sleep(long ms)
{
	while (ms > 0 && !job_stop) {
		long step = ms > 100 ? 100 : ms;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Free the stream list. */
static void writer_streams_free(struct writer *w)
{
	for (size_t i = 0; i < w->nstreams; i++)
		free(w->streams[i]);
	free(w->streams);
	free(w->ids);
	w->streams = NULL;
	w->ids = NULL;
	w->nstreams = 0;
}

/* Is name already in the list? */
static int writer_has_stream(const struct writer *w, const char *name)
{
	for (size_t i = 0; i < w->nstreams; i++)
		if (!strcmp(w->streams[i], name))
			return 1;
	return 0;
}

/* Reload the live streams; make sure each has our consumer group. 0 or -1 (Redis down). */
static int writer_refresh_streams(struct writer *w)
{
	redisReply *r = cache_command(w->cache, "SMEMBERS %s", ACTIVITY_LIVE_KEY);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	char **list = calloc(r->elements + 1, sizeof *list), key[ACTIVITY_KEY_MAX], *end;
	long long *ids = calloc(r->elements + 1, sizeof *ids);
	size_t n = 0;
	for (size_t i = 0; list && ids && i < r->elements; i++) {
		long long id = r->element[i]->type == REDIS_REPLY_STRING
				   ? strtoll(r->element[i]->str, &end, 10)
				   : 0;
		if (id <= 0 || *end || activity_key(key, sizeof key, id, AK_INTENTS, NULL) < 0)
			continue;
		if (!writer_has_stream(w, key)) {
			redisReply *g = cache_command(w->cache, "XGROUP CREATE %s %s 0 MKSTREAM",
						      key, ACTIVITY_GROUP);
			if (g)
				freeReplyObject(g); /* BUSYGROUP: it exists, as expected */
		}
		ids[n] = id;
		list[n++] = strdup(key);
	}
	freeReplyObject(r);
	if (!list || !ids) {
		free(list);
		free(ids);
		return -1;
	}
	writer_streams_free(w);
	w->streams = list;
	w->ids = ids;
	w->nstreams = n;
	return 0;
}

/* The activity of a stream we read, or -1. */
static long long writer_stream_activity(const struct writer *w, const char *stream)
{
	for (size_t i = 0; i < w->nstreams; i++)
		if (!strcmp(w->streams[i], stream))
			return w->ids[i];
	return -1;
}

/* Remove sold-out markers of activities whose units came back (cancelled orders, failures). */
static void writer_sync_markers(struct writer *w)
{
	char path[512], key[64];
	struct stat st;
	const char *dir = w->cfg.seckill_marker_dir;
	if (!dir[0])
		return;
	for (size_t i = 0; i < w->nstreams; i++) {
		long long id = w->ids[i];
		snprintf(path, sizeof path, "%s/%lld", dir, id);
		if (stat(path, &st) < 0)
			continue;
		activity_key(key, sizeof key, id, AK_STOCK, NULL);
		redisReply *r = cache_command(w->cache, "GET %s", key);
		if (r && r->type == REDIS_REPLY_STRING && strtoll(r->str, NULL, 10) > 0) {
			activity_marker_clear(dir, id);
			log_info("activity %lld: units back, sold-out marker removed", id);
		}
		if (r)
			freeReplyObject(r);
	}
}

/* The integer field name of a flat XINFO reply, or -1. */
static long long writer_info_int(redisReply *r, const char *name)
{
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, name))
			return r->element[i + 1]->type == REDIS_REPLY_INTEGER
				   ? r->element[i + 1]->integer
				   : -1;
	return -1;
}

/* Forget consumers of restarted writers once they hold nothing and sat idle for an hour. */
static void writer_forget_consumers(struct writer *w, const char *stream)
{
	redisReply *r = cache_command(w->cache, "XINFO CONSUMERS %s %s", stream, ACTIVITY_GROUP);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		redisReply *c = r->element[i];
		if (c->type != REDIS_REPLY_ARRAY || c->elements < 2 ||
		    c->element[1]->type != REDIS_REPLY_STRING)
			continue;
		const char *name = c->element[1]->str; /* "name" comes first */
		if (strcmp(name, w->consumer) && writer_info_int(c, "pending") == 0 &&
		    writer_info_int(c, "idle") > 3600000) {
			redisReply *d = cache_command(w->cache, "XGROUP DELCONSUMER %s %s %s",
						      stream, ACTIVITY_GROUP, name);
			if (d)
				freeReplyObject(d);
		}
	}
	if (r)
		freeReplyObject(r);
}

/* Claim entries other (crashed) writers left unacknowledged for too long. */
static void writer_claim(struct writer *w)
{
	char idle[24], count[24];
	snprintf(idle, sizeof idle, "%ld", w->cfg.seckill_claim_idle_ms);
	snprintf(count, sizeof count, "%ld", w->cfg.seckill_writer_batch);
	for (size_t i = 0; i < w->nstreams; i++) {
		const char *argv[] = {"XAUTOCLAIM", w->streams[i], ACTIVITY_GROUP,
				      w->consumer,  idle,          "0-0",
				      "COUNT",      count,         "JUSTID"};
		redisReply *r = cache_commandv(w->cache, 9, argv, NULL);
		if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
		    r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements > 0) {
			log_info("claimed %zu pending intents of %s", r->element[1]->elements,
				 w->streams[i]);
			w->pending = 1;
		}
		if (r)
			freeReplyObject(r);
		writer_forget_consumers(w, w->streams[i]);
	}
}

/*
 * XREADGROUP over streams [first, first + n): own pending entries (id 0) or new ones (>),
 * blocking block_ms when block_ms > 0.
 */
static redisReply *writer_read_range(struct writer *w, size_t first, size_t n, int pending,
				     long block_ms)
{
	size_t argc = 0, cap = 10 + 2 * n;
	const char **argv = malloc(cap * sizeof *argv);
	char count[24], block[24];
	if (!argv)
		return NULL;
	snprintf(count, sizeof count, "%ld", w->cfg.seckill_writer_batch);
	snprintf(block, sizeof block, "%ld", block_ms);
	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = ACTIVITY_GROUP;
	argv[argc++] = w->consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = count;
	if (!pending && block_ms > 0) {
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	for (size_t i = first; i < first + n; i++)
		argv[argc++] = w->streams[i];
	for (size_t i = first; i < first + n; i++)
		argv[argc++] = pending ? "0" : ">";
	redisReply *r = cache_commandv(w->cache, (int)argc, argv, NULL);
	free(argv);
	return r;
}

/* The number of entries in an XREADGROUP reply. */
static size_t writer_reply_entries(const redisReply *r)
{
	size_t n = 0;
	for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
		const redisReply *st = r->element[s];
		if (st->type == REDIS_REPLY_ARRAY && st->elements == 2 &&
		    st->element[1]->type == REDIS_REPLY_ARRAY)
			n += st->element[1]->elements;
	}
	return n;
}

/* The stream the cluster pass reads first next time (round robin over the live set). */
static size_t writer_next_stream;

/* The longest BLOCK of the cluster pass on one stream while all were empty, ms. */
#define WRITER_CLUSTER_BLOCK_MS 100

/*
 * Redis Cluster: each activity's stream has its own slot, so one XREADGROUP cannot span
 * them (CROSSSLOT). A non-blocking COUNT read per stream, round robin; the first reply with
 * entries is the batch. When every stream was empty, a short BLOCK on the next one; NULL (back
 * off) when none had entries and one was unreachable.
 */
static redisReply *writer_read_cluster(struct writer *w, int pending)
{
	size_t n = w->nstreams;
	int down = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = (writer_next_stream + k) % n;
		redisReply *r = writer_read_range(w, i, 1, pending, 0);
		if (!r) {
			down = 1; /* its slot is failing over: read the others first */
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR || writer_reply_entries(r) > 0) {
			writer_next_stream = i + 1;
			return r;
		}
		freeReplyObject(r);
	}
	if (down)
		return NULL;
	long block = w->block_ms < WRITER_CLUSTER_BLOCK_MS ? w->block_ms : WRITER_CLUSTER_BLOCK_MS;
	size_t i = writer_next_stream++ % n;
	return writer_read_range(w, i, 1, pending, pending ? 0 : block);
}

/* Read a batch: one XREADGROUP over every live stream, or per stream on a cluster. */
static redisReply *writer_read(struct writer *w, int pending)
{
	if (cache_is_cluster(w->cache))
		return writer_read_cluster(w, pending);
	return writer_read_range(w, 0, w->nstreams, pending, w->block_ms);
}

/* The positive integer s, or 0. */
static long long writer_int(const char *s)
{
	char *end;
	long long v = s && *s ? strtoll(s, &end, 10) : 0;
	return v > 0 && !*end ? v : 0;
}

/* Turn an XREADGROUP reply into intents (malformed ones become dead letters). -1 on OOM. */
static int writer_parse(struct writer *w, struct batch *b, redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY)
		return 0;
	for (size_t s = 0; s < r->elements; s++) {
		redisReply *st = r->element[s];
		if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
		    st->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		const char *stream = st->element[0]->str;
		redisReply *entries = st->element[1];
		for (size_t e = 0; e < entries->elements; e++) {
			redisReply *en = entries->element[e];
			if (en->type != REDIS_REPLY_ARRAY || en->elements != 2)
				continue;
			struct intent *it = batch_add(b);
			if (!it)
				return -1;
			snprintf(it->stream, sizeof it->stream, "%s", stream);
			snprintf(it->entry, sizeof it->entry, "%s", en->element[0]->str);
			it->aid = writer_stream_activity(w, stream);
			redisReply *f = en->element[1];
			const char *rid = cache_field(f, "rid", NULL);
			const char *uid = cache_field(f, "uid", NULL);
			const char *qty = cache_field(f, "qty", NULL);
			if (intent_rid_valid(rid))
				snprintf(it->rid, sizeof it->rid, "%s", rid);
			it->uid = writer_int(uid);
			it->qty = writer_int(qty);
			if (f->type != REDIS_REPLY_ARRAY) {
				it->outcome = INTENT_SKIP; /* deleted meanwhile: nothing to do */
			} else if (it->aid < 0) {
				it->outcome = INTENT_SKIP; /* not a stream we read */
			} else if (!it->rid[0] || !it->uid || !it->qty) {
				/* Malformed: a dead letter; the units it names go back. */
				it->outcome = INTENT_DEAD;
				it->reason = REASON_MALFORMED;
			}
		}
	}
	return 0;
}

/* Read, write and finish one batch. 1 if it did work, 0 if idle, -1 on a failure. */
static int writer_pass(struct writer *w)
{
	struct batch b;
	int rc = 0, linger = 0;

	if (w->nstreams == 0) {
		writer_sleep(w->block_ms);
		return 0;
	}
	redisReply *r = writer_read(w, w->pending);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		/* NOGROUP after a Redis restart lost a group: recreate on the next refresh. */
		log_warn("XREADGROUP: %s", r->str);
		freeReplyObject(r);
		writer_streams_free(w);
		return -1;
	}
	batch_init(&b);
	b.fresh = !w->pending;
	if (writer_parse(w, &b, r) < 0) {
		rc = -1;
		goto out;
	}
	if (b.n == 0) {
		w->pending = 0;
		goto out;
	}
	rc = w->relay ? relay_send(w, &b) : batch_write(w, &b);
	if (rc == 0)
		rc = batch_finish(w, &b);
	if (rc < 0) {
		w->pending = 1; /* the entries stay ours: read them again with id 0 */
		goto out;
	}
	w->orders += b.accepted;
	rc = 1;
	linger = b.n < (size_t)w->cfg.seckill_writer_batch;
out:
	batch_free(&b);
	freeReplyObject(r);
	/* A short batch: what arrives meanwhile goes into the next one (writer_linger_ms). */
	if (linger)
		writer_sleep(w->cfg.seckill_writer_linger_ms);
	return rc;
}

/* Take the job's config and connections; name the consumer. */
static void writer_open(struct writer *w, const struct job *j)
{
	char host[64] = "localhost";
	w->cfg = j->cfg; /* a shallow copy: job_main frees the original */
	w->db = j->db;
	w->cache = j->cache;
	gethostname(host, sizeof host - 1);
	snprintf(w->consumer, sizeof w->consumer, "%s-%ld", host, (long)getpid());
	/* The socket timeout must outlast a blocking read. */
	w->block_ms = w->cfg.redis_timeout_ms / 2 < 1000 ? w->cfg.redis_timeout_ms / 2 : 1000;
}

/* What the options make of the process: --relay (writer.transport kafka's relay), --lag (the
 * Kafka group's lag, printed once). */
enum writer_role { ROLE_WRITER, ROLE_RELAY, ROLE_LAG };

/* This process's enum writer_role; -1 after an unknown option. */
static int writer_role;

/* Parse the order-writer's options; the relay and the lag need writer.transport kafka. */
static int order_writer_parse(struct job *j, int argc, char **argv)
{
	if (argc > 2) /* argv[0] is the program */
		return -1;
	if (argc == 2)
		writer_role = !strcmp(argv[1], "--relay") ? ROLE_RELAY
			      : !strcmp(argv[1], "--lag") ? ROLE_LAG
							  : -1;
	if (writer_role < 0)
		return -1;
	if (writer_role != ROLE_WRITER && strcmp(j->cfg.writer_transport, "kafka")) {
		fprintf(stderr, "order-writer: %s needs writer.transport = kafka\n", argv[1]);
		return -1;
	}
	if (strcmp(j->cfg.writer_transport, "redis") && strcmp(j->cfg.writer_transport, "kafka")) {
		fprintf(stderr, "order-writer: writer.transport must be redis or kafka\n");
		return -1;
	}
	if (writer_role == ROLE_LAG)
		j->needs = 0;
	return 0;
}

/* Read, decide, write and finish batches until job_stop. */
static int order_writer_run(struct job *j)
{
	static struct writer w;
	long backoff = 0;
	long long refresh_at = 0, claim_at = 0, marker_at = 0, lag_at = 0;

	if (writer_role == ROLE_LAG)
		return writer_kafka_lag(&j->cfg);
	writer_open(&w, j);
	if (!strcmp(w.cfg.writer_transport, "kafka") && writer_role == ROLE_WRITER)
		return writer_kafka_run(&w); /* writer-kafka.c; the relay runs the loop below */
	w.relay = writer_role == ROLE_RELAY;
	log_info("%s %s ready", w.relay ? "intent relay" : "order-writer", w.consumer);
	while (!job_stop) {
		long long now = writer_now_ms();
		if (now >= refresh_at || w.streams == NULL) {
			if (writer_refresh_streams(&w) == 0)
				refresh_at = now + 1000;
		}
		if (now >= claim_at) {
			writer_claim(&w);
			claim_at = now + w.cfg.seckill_claim_idle_ms / 2;
		}
		if (now >= marker_at) {
			writer_sync_markers(&w);
			marker_at = now + 500;
		}
		/* The relay publishes the writers' Kafka lag (seckill's dashboard and metrics). */
		if (w.relay && now >= lag_at)
			lag_at = now + (relay_publish_lag(&w) == 0 ? 1000 : 5000);
		int rc = writer_pass(&w);
		if (rc < 0) {
			backoff = backoff ? backoff * 2 : 200;
			if (backoff > 5000)
				backoff = 5000;
			writer_sleep(backoff);
		} else {
			backoff = 0;
		}
	}
	if (w.relay)
		relay_close();
	else
		log_info("order-writer %s stopping: %lld orders written", w.consumer, w.orders);
	writer_streams_free(&w);
	return 0;
}

static const struct job_entry order_writer_entry = {
    .name = "order-writer",
    .usage = "[--relay | --lag]",
    .needs = JOB_DB | JOB_CACHE | JOB_DAEMON,
    .parse = order_writer_parse,
    .run = order_writer_run,
};

int main(int argc, char **argv)
{
	return job_main(&order_writer_entry, argc, argv);
}
