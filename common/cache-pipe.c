/* cache-pipe.c - one Redis connection for a process's threads: a leader sends what is queued. */
#include "cache-pipe.h"

#include <pthread.h>
#include <stdlib.h>

#include "breaker.h"
#include "cache-cluster.h"
#include "log.h"

/* A thread's command while it waits: queued, then in a leader's batch, then answered. */
struct pipe_wait {
	const char *cmd;
	size_t len;
	redisReply *reply;
	int done;
	pthread_cond_t cv;
	struct pipe_wait *next;
};

struct cache_pipe {
	pthread_mutex_t mu;
	const struct fs_config *cfg;
	struct pipe_wait *head, **tail; /* queued, not yet taken by a leader */
	int leading;                    /* a thread is on the connection */
	/* The leader's alone (the mutex hands them from one leader to the next). */
	redisContext *ctx;
	struct breaker brk;
	struct cache_pipe_stats st;
};

struct cache_pipe *cache_pipe_new(const struct fs_config *cfg)
{
	struct cache_pipe *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	p->cfg = cfg;
	p->tail = &p->head;
	p->brk.cooldown_ms = cfg->breaker_cooldown_ms;
	return p;
}

void cache_pipe_free(struct cache_pipe *p)
{
	if (!p)
		return;
	if (p->ctx)
		redisFree(p->ctx);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Drop the leader's connection. */
static void pipe_disconnect(struct cache_pipe *p)
{
	if (p->ctx)
		redisFree(p->ctx);
	p->ctx = NULL;
}

/*
 * Send batch and read its replies in order. 0 when every command has its reply; -1 when no
 * connection could be made (cache_dial kept the breaker); -2 when the link failed, with *closed
 * set when it was found closed before any reply (cache_link_closed): then nothing ran.
 */
static int pipe_send(struct cache_pipe *p, struct pipe_wait *batch, int *closed,
		     unsigned long *dials)
{
	size_t answered = 0;
	*closed = 0;
	if (!p->ctx) {
		p->ctx = cache_dial_server(p->cfg, &p->brk);
		if (!p->ctx)
			return -1;
		(*dials)++;
	}
	for (struct pipe_wait *w = batch; w; w = w->next)
		if (redisAppendFormattedCommand(p->ctx, w->cmd, w->len) != REDIS_OK)
			goto fail;
	for (struct pipe_wait *w = batch; w; w = w->next) {
		void *reply = NULL;
		if (redisGetReply(p->ctx, &reply) != REDIS_OK || !reply)
			goto fail;
		w->reply = reply;
		answered++;
	}
	return 0;
fail:
	*closed = answered == 0 && cache_link_closed(p->ctx);
	log_warn("redis pipe: %s", p->ctx->errstr);
	pipe_disconnect(p);
	return -2;
}

/*
 * The leader's work on batch: send it, once more on a fresh link if the old one was found
 * closed. The unanswered commands keep a NULL reply (Redis unreachable). The connections made.
 */
static unsigned long pipe_lead(struct cache_pipe *p, struct pipe_wait *batch)
{
	unsigned long dials = 0;
	int closed, rc = pipe_send(p, batch, &closed, &dials);
	if (rc == -2 && closed)
		rc = pipe_send(p, batch, &closed, &dials);
	if (rc == -2)
		breaker_fail(&p->brk);
	return dials;
}

redisReply *cache_pipe_roundtrip(struct cache_pipe *p, const char *cmd, size_t len)
{
	struct pipe_wait self = {.cmd = cmd, .len = len};
	pthread_cond_init(&self.cv, NULL);
	pthread_mutex_lock(&p->mu);
	*p->tail = &self;
	p->tail = &self.next;
	while (!self.done) {
		if (p->leading) {
			pthread_cond_wait(&self.cv, &p->mu);
			continue;
		}
		/* Lead: take everything queued (self among it) off the queue. */
		struct pipe_wait *batch = p->head;
		p->head = NULL;
		p->tail = &p->head;
		p->leading = 1;
		pthread_mutex_unlock(&p->mu);
		unsigned long dials = pipe_lead(p, batch);
		pthread_mutex_lock(&p->mu);
		p->leading = 0;
		p->st.batches++;
		p->st.reconnects += dials;
		for (struct pipe_wait *w = batch, *next; w; w = next) {
			next = w->next;
			p->st.commands++;
			w->done = 1;
			if (w != &self)
				pthread_cond_signal(&w->cv);
		}
		/* The next queued thread leads (it may find a newcomer leading: it waits again). */
		if (p->head)
			pthread_cond_signal(&p->head->cv);
	}
	pthread_mutex_unlock(&p->mu);
	pthread_cond_destroy(&self.cv);
	return self.reply;
}

struct cache_pipe_stats cache_pipe_stats(struct cache_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	struct cache_pipe_stats st = p->st;
	pthread_mutex_unlock(&p->mu);
	return st;
}
