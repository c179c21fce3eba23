/* cache-pipe.h - one Redis connection a process's threads share, their commands pipelined. */
#ifndef FS_CACHE_PIPE_H
#define FS_CACHE_PIPE_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "config.h"

/*
 * A thread with a command for the pipe queues it; if no thread is on the connection, it
 * becomes the leader: it sends every queued command in one write, reads their replies in
 * order, hands each to its thread and passes the connection to the next queued one. So Redis
 * reads, runs and answers a process's concurrent commands in one pass, with one read and one
 * write, instead of one per thread: with appendfsync always, the same fsync, fewer system calls
 * and wake-ups on the one core Redis has. Only for commands that neither block the
 * connection (WAIT, BLPOP) nor depend on its state (MULTI, WATCH, SELECT).
 */
struct cache_pipe;

/* What a pipe has done (for metrics and tests). */
struct cache_pipe_stats {
	unsigned long commands, batches, reconnects;
};

/* A pipe to cfg's single server ([redis] socket or host); connects lazily. NULL on ENOMEM. */
struct cache_pipe *cache_pipe_new(const struct fs_config *cfg);

/* Close the connection. No thread may be using the pipe. */
void cache_pipe_free(struct cache_pipe *p);

/*
 * Send one formatted command with the other threads' queued ones and wait for its reply (the
 * caller frees it); NULL when Redis is unreachable. Like cache.c's round trip, a link found
 * closed before any reply (a restarted server) is retried once on a new connection, a timeout
 * is not (the command may have run).
 */
redisReply *cache_pipe_roundtrip(struct cache_pipe *p, const char *cmd, size_t len);

/* The counters so far. */
struct cache_pipe_stats cache_pipe_stats(struct cache_pipe *p);

struct cache;

/* The pipe of a shared handle (cache_new_shared), NULL for any other (for tests). */
struct cache_pipe *cache_pipe_of(struct cache *c);

#endif
