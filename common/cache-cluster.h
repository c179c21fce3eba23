/* cache-cluster.h - Redis Cluster routing behind cache.h (internal to cache.c and its tests). */
#ifndef FS_CACHE_CLUSTER_H
#define FS_CACHE_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "breaker.h"
#include "config.h"

#define CACHE_SLOTS 16384

struct cache_cluster;

/* What the cluster client has seen (for tests and metrics). */
struct cache_cluster_stats {
	unsigned long moved, ask, tryagain, refreshes, reconnects;
};

/* CRC16/XMODEM of buf, as the Redis Cluster spec computes slots. */
uint16_t cache_crc16(const char *buf, size_t len);

/* The slot of a key: CRC16 of its hash tag {...} if it has a non-empty one, mod 16384. */
int cache_key_slot(const char *key, size_t len);

/*
 * The slot of a formatted RESP command (as redisFormatCommand writes it): -1 for a
 * keyless command (PING, INFO, SCRIPT...), -2 if the text cannot be parsed.
 */
int cache_command_slot(const char *cmd, size_t len);

/* Connect to host:port (or the Unix socket path when host is NULL) with cfg's timeouts and
 * AUTH, recording the outcome in brk; NULL while brk is open or on failure. */
redisContext *cache_dial(const struct fs_config *cfg, const char *host, int port,
			 struct breaker *brk);

/* Connect to cfg's single server ([redis] socket, else host and port) through brk, as
 * cache_dial; NULL while brk is open or on failure. */
redisContext *cache_dial_server(const struct fs_config *cfg, struct breaker *brk);

/*
 * Did the command fail because the server had closed the link? A restarted server leaves either
 * EOF on read or, on a Unix socket, EPIPE on write; in both cases the command never ran there.
 * Call it right after the failure (it reads errno).
 */
int cache_link_closed(const redisContext *ctx);

/* A client for the seed nodes of cfg->redis_cluster; connects lazily. NULL on bad input. */
struct cache_cluster *cache_cluster_new(const struct fs_config *cfg);

/* Close every node connection. */
void cache_cluster_free(struct cache_cluster *cl);

/* Route one formatted command to its node, following MOVED/ASK; NULL = cluster down. */
redisReply *cache_cluster_roundtrip(struct cache_cluster *cl, const char *cmd, size_t len);

/* Send a keyless command (WAIT) to the node slot maps to now, once, no redirects; NULL = down. */
redisReply *cache_cluster_on_slot(struct cache_cluster *cl, int slot, const char *cmd, size_t len);

/* The counters so far. */
struct cache_cluster_stats cache_cluster_stats(const struct cache_cluster *cl);

struct cache;

/* The cluster client of a cache handle, NULL in single-node mode (for tests). */
struct cache_cluster *cache_cluster_of(struct cache *c);

/* Test hook: point slot at host:port in the map (a stale entry). 0 or -1. */
int cache_cluster_debug_point(struct cache_cluster *cl, int slot, const char *host, int port);

/* Test hook: load the slot map with CLUSTER SLOTS only, as on Redis before 7. */
void cache_cluster_debug_slots_only(struct cache_cluster *cl);

/* Test hook: the port of the node slot maps to now, loading the map if needed; -1 if none. */
int cache_cluster_debug_owner(struct cache_cluster *cl, int slot);

#endif
