/* stream-group.h - the writers' pattern over Redis streams: a set names the live streams, one
 * consumer group reads them all with one XREADGROUP, crashed consumers' entries are claimed.
 * Used by the coupon-writer; the order-writer's refresh/claim/read are the same three steps. */
#ifndef FS_STREAM_GROUP_H
#define FS_STREAM_GROUP_H

#include <stddef.h>

#include "cache.h"

#define SG_MAX_STREAMS 256

/* One consumer of a group over the streams listed in a set. */
struct stream_group {
	struct cache *cache;
	const char *set_key; /* SMEMBERS names the streams */
	const char *prefix;  /* only members starting with this are read, e.g. "{c:" */
	const char *group;
	char consumer[96]; /* host-pid */
	char *streams[SG_MAX_STREAMS];
	size_t nstreams;
	int pending; /* read our own unacknowledged entries (id 0) before new ones */
	long block_ms;
};

/* Set up a consumer named after the host and pid (no I/O). */
void sg_init(struct stream_group *g, struct cache *c, const char *set_key, const char *prefix,
	     const char *group, long block_ms);

/* Reload the stream list, creating the group on each (MKSTREAM). 0 or -1 (Redis down). */
int sg_refresh(struct stream_group *g);

/* Take over entries other consumers left unacknowledged for idle_ms (XAUTOCLAIM). */
void sg_autoclaim(struct stream_group *g, long idle_ms, long count);

/*
 * XREADGROUP of up to count entries per stream: our pending ones when g->pending, else new
 * ones (blocking block_ms). The reply (caller frees), or NULL when Redis is down or answered
 * an error (NOGROUP after a restart: the list is dropped and rebuilt on the next refresh).
 */
redisReply *sg_read(struct stream_group *g, long count);

/* Free the stream list. */
void sg_free(struct stream_group *g);

#endif
