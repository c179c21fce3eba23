/* cache-cluster.c - Redis Cluster client: slots, the slot map, one connection per node, redirects.
 */
#include "cache-cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

#define CLUSTER_MAX_NODES  32
#define CLUSTER_NO_NODE    0xff
#define CLUSTER_MAX_TRIES  32
#define CLUSTER_REFRESH_MS 100 /* at most one map refresh per this, unless the map is empty */
#define SLOT_KEYLESS       -1
#define SLOT_BAD           -2
#define SLOT_EVERY_MASTER  -3

/* One node: its address, its lazily opened connection and its own breaker. */
struct node {
	char host[64];
	int port;
	int master; /* owns slots in the current map */
	redisContext *ctx;
	struct breaker brk;
};

/* The client: known nodes (seeds first), the slot map (node index per slot), counters. */
struct cache_cluster {
	const struct fs_config *cfg;
	struct node nodes[CLUSTER_MAX_NODES];
	int nnodes;
	int have_map, dirty;
	int slots_only; /* test hook: load the map with CLUSTER SLOTS (the pre-7 way) */
	long long refreshed_ms;
	unsigned char map[CACHE_SLOTS];
	struct cache_cluster_stats st;
};

/* Outcome of sending one command to one node. */
enum send_rc { SEND_OK, SEND_NOT_SENT, SEND_CLOSED, SEND_FAILED };

uint16_t cache_crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)((unsigned char)buf[i] << 8);
		for (int b = 0; b < 8; b++)
			crc =
			    (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

int cache_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);
	if (open) {
		size_t rest = len - (size_t)(open + 1 - key);
		const char *close = memchr(open + 1, '}', rest);
		if (close && close > open + 1)
			return cache_crc16(open + 1, (size_t)(close - open - 1)) &
			       (CACHE_SLOTS - 1);
	}
	return cache_crc16(key, len) & (CACHE_SLOTS - 1);
}

/* A cursor over the arguments of a formatted RESP command. */
struct resp_it {
	const char *p, *end;
	long left;
};

/* Read the "*N\r\n" header; N or -1. */
static long resp_begin(struct resp_it *it, const char *cmd, size_t len)
{
	char *e;
	it->p = cmd;
	it->end = cmd + len;
	if (len < 4 || *cmd != '*')
		return -1;
	it->left = strtol(cmd + 1, &e, 10);
	if (e + 2 > it->end || e[0] != '\r' || e[1] != '\n' || it->left < 0)
		return -1;
	it->p = e + 2;
	return it->left;
}

/* The next argument; 0, or -1 at the end or on malformed text. */
static int resp_next(struct resp_it *it, const char **arg, size_t *alen)
{
	char *e;
	if (it->left <= 0 || it->p >= it->end || *it->p != '$')
		return -1;
	long n = strtol(it->p + 1, &e, 10);
	if (n < 0 || e + 2 > it->end || e[0] != '\r' || (size_t)(it->end - (e + 2)) < (size_t)n + 2)
		return -1;
	*arg = e + 2;
	*alen = (size_t)n;
	it->p = e + 2 + n + 2;
	it->left--;
	return 0;
}

/* Does the argument equal word (ASCII, any case)? */
static int arg_is(const char *arg, size_t len, const char *word)
{
	return strlen(word) == len && !strncasecmp(arg, word, len);
}

/* Is the command one without a key (it may run on any node)? */
static int command_keyless(const char *name, size_t len)
{
	static const char *const keyless[] = {
	    "PING",      "INFO",     "CLIENT", "CLUSTER", "ECHO",         "DBSIZE",  "FLUSHALL",
	    "FLUSHDB",   "TIME",     "CONFIG", "WAIT",    "COMMAND",      "ASKING",  "READONLY",
	    "READWRITE", "AUTH",     "SELECT", "HELLO",   "ROLE",         "SLOWLOG", "LATENCY",
	    "DEBUG",     "LASTSAVE", "SAVE",   "BGSAVE",  "BGREWRITEAOF", "KEYS",    "SCAN",
	    "RANDOMKEY", "FUNCTION", "MULTI",  "EXEC",    "DISCARD",      "MEMORY"};
	for (size_t i = 0; i < sizeof keyless / sizeof *keyless; i++)
		if (arg_is(name, len, keyless[i]))
			return 1;
	return 0;
}

int cache_command_slot(const char *cmd, size_t len)
{
	struct resp_it it;
	const char *name, *a;
	size_t nlen, alen;
	if (resp_begin(&it, cmd, len) < 1 || resp_next(&it, &name, &nlen) < 0)
		return SLOT_BAD;
	if (arg_is(name, nlen, "SCRIPT"))
		return SLOT_EVERY_MASTER;
	if (command_keyless(name, nlen))
		return SLOT_KEYLESS;
	if (arg_is(name, nlen, "XREADGROUP") || arg_is(name, nlen, "XREAD")) {
		while (resp_next(&it, &a, &alen) == 0)
			if (arg_is(a, alen, "STREAMS"))
				return resp_next(&it, &a, &alen) ? SLOT_BAD
								 : cache_key_slot(a, alen);
		return SLOT_BAD;
	}
	if (arg_is(name, nlen, "EVAL") || arg_is(name, nlen, "EVALSHA") ||
	    arg_is(name, nlen, "EVAL_RO") || arg_is(name, nlen, "EVALSHA_RO") ||
	    arg_is(name, nlen, "FCALL")) {
		char nk[16];
		if (resp_next(&it, &a, &alen) || resp_next(&it, &a, &alen) || alen >= sizeof nk)
			return SLOT_BAD;
		memcpy(nk, a, alen);
		nk[alen] = 0;
		if (atoi(nk) <= 0)
			return SLOT_KEYLESS;
		return resp_next(&it, &a, &alen) ? SLOT_BAD : cache_key_slot(a, alen);
	}
	/* Subcommand first, then the key: XGROUP CREATE key ..., XINFO STREAM key, OBJECT ... */
	if (arg_is(name, nlen, "XGROUP") || arg_is(name, nlen, "XINFO") ||
	    arg_is(name, nlen, "OBJECT")) {
		if (resp_next(&it, &a, &alen))
			return SLOT_BAD;
	}
	if (resp_next(&it, &a, &alen))
		return SLOT_KEYLESS; /* a bare word such as XGROUP HELP */
	return cache_key_slot(a, alen);
}

/* The index of host:port among the known nodes, added if new; -1 when the table is full. */
static int node_index(struct cache_cluster *cl, const char *host, int port)
{
	for (int i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i].port == port && !strcmp(cl->nodes[i].host, host))
			return i;
	if (cl->nnodes == CLUSTER_MAX_NODES || strlen(host) >= sizeof cl->nodes[0].host) {
		log_error("redis cluster: no room for node %s:%d", host, port);
		return -1;
	}
	struct node *n = &cl->nodes[cl->nnodes];
	memset(n, 0, sizeof *n);
	snprintf(n->host, sizeof n->host, "%s", host);
	n->port = port;
	n->brk.cooldown_ms = cl->cfg->breaker_cooldown_ms;
	return cl->nnodes++;
}

struct cache_cluster *cache_cluster_new(const struct fs_config *cfg)
{
	struct cache_cluster *cl = calloc(1, sizeof *cl);
	char *list = strdup(cfg->redis_cluster);
	char *save = NULL;
	if (!cl || !list)
		goto fail;
	cl->cfg = cfg;
	memset(cl->map, CLUSTER_NO_NODE, sizeof cl->map);
	for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		char *colon = strrchr(tok, ':');
		int port = colon ? atoi(colon + 1) : 0;
		if (!colon || port <= 0 || port > 65535) {
			log_error("redis cluster: bad node '%s' (want host:port)", tok);
			goto fail;
		}
		*colon = 0;
		if (node_index(cl, tok, port) < 0)
			goto fail;
	}
	if (!cl->nnodes)
		goto fail;
	free(list);
	return cl;
fail:
	free(list);
	free(cl);
	return NULL;
}

/* Drop a node's connection. */
static void node_disconnect(struct node *n)
{
	if (n->ctx)
		redisFree(n->ctx);
	n->ctx = NULL;
}

void cache_cluster_free(struct cache_cluster *cl)
{
	if (!cl)
		return;
	for (int i = 0; i < cl->nnodes; i++)
		node_disconnect(&cl->nodes[i]);
	free(cl);
}

/* Did the node close the link (restarted or killed)? Then the command never ran there. */
static int link_closed(const redisContext *ctx)
{
	return ctx->err == REDIS_ERR_EOF ||
	       (ctx->err == REDIS_ERR_IO && (errno == EPIPE || errno == ECONNRESET));
}

/* Send one formatted command to node n (after ASKING when asking) and read the reply. */
static enum send_rc node_send(struct cache_cluster *cl, struct node *n, const char *cmd, size_t len,
			      int asking, redisReply **out)
{
	void *reply = NULL;
	*out = NULL;
	if (!n->ctx) {
		n->ctx = cache_dial(cl->cfg, n->host, n->port, &n->brk);
		if (!n->ctx)
			return SEND_NOT_SENT;
		cl->st.reconnects++;
	}
	if (asking && redisAppendCommand(n->ctx, "ASKING") != REDIS_OK)
		goto io;
	if (redisAppendFormattedCommand(n->ctx, cmd, len) != REDIS_OK)
		goto io;
	if (asking) {
		if (redisGetReply(n->ctx, &reply) != REDIS_OK || !reply)
			goto io;
		freeReplyObject(reply);
		reply = NULL;
	}
	if (redisGetReply(n->ctx, &reply) != REDIS_OK || !reply)
		goto io;
	*out = reply;
	return SEND_OK;
io:;
	int closed = link_closed(n->ctx);
	log_warn("redis %s:%d: %s", n->host, n->port, n->ctx->errstr);
	node_disconnect(n);
	breaker_fail(&n->brk);
	return closed ? SEND_CLOSED : SEND_FAILED;
}

/* Send a C-string command (no arguments) to node n; the reply or NULL. */
static redisReply *node_simple(struct cache_cluster *cl, struct node *n, const char *text)
{
	char *cmd = NULL;
	redisReply *r = NULL;
	int len = redisFormatCommand(&cmd, text);
	if (len < 0)
		return NULL;
	node_send(cl, n, cmd, (size_t)len, 0, &r);
	redisFreeCommand(cmd);
	return r;
}

/* The value of key in a RESP2 flat map (array of key, value, ...); NULL if absent. */
static const redisReply *map_get(const redisReply *m, const char *key)
{
	if (m->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < m->elements; i += 2)
		if (m->element[i]->type == REDIS_REPLY_STRING && !strcmp(m->element[i]->str, key))
			return m->element[i + 1];
	return NULL;
}

/* Is a reply string field equal to want? */
static int field_is(const redisReply *m, const char *key, const char *want)
{
	const redisReply *v = map_get(m, key);
	return v && v->type == REDIS_REPLY_STRING && !strcmp(v->str, want);
}

/* Assign slots lo..hi of map to node host:port; -1 on bad input. */
static int map_assign(struct cache_cluster *cl, unsigned char *map, long long lo, long long hi,
		      const char *host, long long port)
{
	if (lo < 0 || hi >= CACHE_SLOTS || lo > hi || port <= 0 || port > 65535)
		return -1;
	int ni = node_index(cl, host, (int)port);
	if (ni < 0)
		return -1;
	memset(map + lo, ni, (size_t)(hi - lo + 1));
	return 0;
}

/* Fill map from a CLUSTER SHARDS reply (Redis 7): each shard's online master. */
static int map_from_shards(struct cache_cluster *cl, const redisReply *r, unsigned char *map)
{
	if (r->type != REDIS_REPLY_ARRAY)
		return -1;
	for (size_t s = 0; s < r->elements; s++) {
		const redisReply *slots = map_get(r->element[s], "slots");
		const redisReply *nodes = map_get(r->element[s], "nodes");
		const redisReply *pick = NULL;
		if (!slots || !nodes || nodes->type != REDIS_REPLY_ARRAY ||
		    slots->type != REDIS_REPLY_ARRAY)
			return -1;
		for (size_t i = 0; i < nodes->elements; i++) {
			const redisReply *n = nodes->element[i];
			if (!field_is(n, "role", "master"))
				continue;
			if (!pick || field_is(n, "health", "online"))
				pick = n;
		}
		if (!pick || slots->elements == 0)
			continue; /* a shard without slots (or without a master yet) */
		const redisReply *ip = map_get(pick, "ip"), *port = map_get(pick, "port");
		if (!ip || ip->type != REDIS_REPLY_STRING || !port ||
		    port->type != REDIS_REPLY_INTEGER)
			return -1;
		for (size_t i = 0; i + 1 < slots->elements; i += 2)
			if (map_assign(cl, map, slots->element[i]->integer,
				       slots->element[i + 1]->integer, ip->str, port->integer) < 0)
				return -1;
	}
	return 0;
}

/* Fill map from a CLUSTER SLOTS reply: [start, end, [ip, port, id], replicas...]. */
static int map_from_slots(struct cache_cluster *cl, const redisReply *r, const struct node *asked,
			  unsigned char *map)
{
	if (r->type != REDIS_REPLY_ARRAY)
		return -1;
	for (size_t s = 0; s < r->elements; s++) {
		const redisReply *e = r->element[s];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
			return -1;
		const redisReply *m = e->element[2];
		const char *host = m->element[0]->type == REDIS_REPLY_STRING && m->element[0]->len
				       ? m->element[0]->str
				       : asked->host;
		if (map_assign(cl, map, e->element[0]->integer, e->element[1]->integer, host,
			       m->element[1]->integer) < 0)
			return -1;
	}
	return 0;
}

/* Load the slot map from the first node that answers CLUSTER SHARDS (or SLOTS). 0 or -1. */
static int cluster_refresh(struct cache_cluster *cl)
{
	long long now = breaker_now_ms();
	unsigned char map[CACHE_SLOTS];
	if (cl->have_map && now - cl->refreshed_ms < CLUSTER_REFRESH_MS)
		return -1;
	cl->refreshed_ms = now;
	for (int i = 0; i < cl->nnodes; i++) {
		struct node *n = &cl->nodes[i];
		int ok = -1;
		memset(map, CLUSTER_NO_NODE, sizeof map);
		redisReply *r = cl->slots_only ? NULL : node_simple(cl, n, "CLUSTER SHARDS");
		if (cl->slots_only || (r && r->type == REDIS_REPLY_ERROR)) {
			if (r)
				freeReplyObject(r);
			r = node_simple(cl, n, "CLUSTER SLOTS");
			ok = r ? map_from_slots(cl, r, n, map) : -1;
		} else if (r) {
			ok = map_from_shards(cl, r, map);
		}
		if (r)
			freeReplyObject(r);
		if (ok < 0)
			continue;
		memcpy(cl->map, map, sizeof map);
		for (int j = 0; j < cl->nnodes; j++)
			cl->nodes[j].master = 0;
		for (int s = 0; s < CACHE_SLOTS; s++)
			if (map[s] != CLUSTER_NO_NODE)
				cl->nodes[map[s]].master = 1;
		cl->have_map = 1;
		cl->dirty = 0;
		cl->st.refreshes++;
		return 0;
	}
	log_warn("redis cluster: no node answered CLUSTER SHARDS/SLOTS");
	return -1;
}

/* The node for slot (or any reachable master for a keyless command); -1 if none. */
static int cluster_pick(struct cache_cluster *cl, int slot)
{
	if (slot >= 0)
		return cl->map[slot] == CLUSTER_NO_NODE ? -1 : cl->map[slot];
	for (int i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i].master && (cl->nodes[i].ctx || breaker_allow(&cl->nodes[i].brk)))
			return i;
	return -1;
}

/*
 * Parse "MOVED 3999 127.0.0.1:6381" (or ASK): the node index and slot; -1 on bad text. An
 * empty host (":6381", an unknown endpoint) means the host of the node that answered, from.
 */
static int redirect_target(struct cache_cluster *cl, const char *err, int from, int *slot)
{
	char host[64];
	const char *sp = strchr(err, ' ');
	const char *addr = sp ? strchr(sp + 1, ' ') : NULL;
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	if (!colon || (size_t)(colon - addr - 1) >= sizeof host)
		return -1;
	*slot = atoi(sp + 1);
	if (*slot < 0 || *slot >= CACHE_SLOTS)
		return -1;
	memcpy(host, addr + 1, (size_t)(colon - addr - 1));
	host[colon - addr - 1] = 0;
	if (!host[0])
		snprintf(host, sizeof host, "%s", cl->nodes[from].host);
	return node_index(cl, host, atoi(colon + 1));
}

/* Sleep ms milliseconds. */
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* SCRIPT ...: run on every master; the first master's reply (NULL if any master failed). */
static redisReply *cluster_every_master(struct cache_cluster *cl, const char *cmd, size_t len)
{
	redisReply *first = NULL;
	int failed = 0;
	if (!cl->have_map && cluster_refresh(cl) < 0)
		return NULL;
	for (int i = 0; i < cl->nnodes; i++) {
		redisReply *r = NULL;
		if (!cl->nodes[i].master)
			continue;
		if (node_send(cl, &cl->nodes[i], cmd, len, 0, &r) != SEND_OK) {
			failed = 1;
			cl->dirty = 1;
		} else if (!first) {
			first = r;
		} else {
			freeReplyObject(r);
		}
	}
	if (failed && first) {
		freeReplyObject(first);
		first = NULL;
	}
	return first;
}

/*
 * Route by slot. MOVED updates the map entry and retries at once; ASK sends ASKING and the
 * command to the named node once. A node that cannot be reached, TRYAGAIN and CLUSTERDOWN
 * retry with a growing pause after a map refresh (a replica may be taking over), all within
 * redis.timeout_ms; past that the cluster counts as down (NULL). A timeout or other I/O error
 * after the command left is not retried: it may have run.
 */
redisReply *cache_cluster_roundtrip(struct cache_cluster *cl, const char *cmd, size_t len)
{
	int slot = cache_command_slot(cmd, len), ask = -1;
	long pause = 10;
	long long deadline = breaker_now_ms() + cl->cfg->redis_timeout_ms;
	if (slot == SLOT_BAD) {
		log_error("redis cluster: cannot find the key of a command");
		return NULL;
	}
	if (slot == SLOT_EVERY_MASTER)
		return cluster_every_master(cl, cmd, len);
	for (int tries = 0; tries < CLUSTER_MAX_TRIES; tries++) {
		redisReply *r = NULL;
		if (!cl->have_map || cl->dirty)
			cluster_refresh(cl);
		int ni = ask >= 0 ? ask : cluster_pick(cl, slot);
		if (ni >= 0) {
			enum send_rc rc = node_send(cl, &cl->nodes[ni], cmd, len, ask >= 0, &r);
			ask = -1;
			if (rc == SEND_FAILED) {
				cl->dirty = 1;
				return NULL;
			}
			if (rc != SEND_OK) {
				cl->dirty = 1;
			} else if (r->type != REDIS_REPLY_ERROR) {
				return r;
			} else if (!strncmp(r->str, "MOVED ", 6)) {
				int s, to = redirect_target(cl, r->str, ni, &s);
				if (to < 0)
					return r;
				cl->map[s] = (unsigned char)to;
				cl->nodes[to].master = 1;
				cl->st.moved++;
				freeReplyObject(r);
				continue;
			} else if (!strncmp(r->str, "ASK ", 4)) {
				int s;
				ask = redirect_target(cl, r->str, ni, &s);
				if (ask < 0)
					return r;
				cl->st.ask++;
				freeReplyObject(r);
				continue;
			} else if (!strncmp(r->str, "TRYAGAIN", 8) ||
				   !strncmp(r->str, "CLUSTERDOWN", 11)) {
				cl->st.tryagain++;
				cl->dirty = r->str[0] == 'C';
				freeReplyObject(r);
			} else {
				return r;
			}
		}
		if (breaker_now_ms() + pause >= deadline)
			break;
		sleep_ms(pause);
		pause = pause * 2 > 200 ? 200 : pause * 2;
	}
	log_warn("redis cluster: slot %d unavailable", slot);
	return NULL;
}

redisReply *cache_cluster_on_slot(struct cache_cluster *cl, int slot, const char *cmd, size_t len)
{
	redisReply *r = NULL;
	if (slot < 0 || slot >= CACHE_SLOTS || (!cl->have_map && cluster_refresh(cl) < 0))
		return NULL;
	int ni = cluster_pick(cl, slot);
	if (ni < 0 || node_send(cl, &cl->nodes[ni], cmd, len, 0, &r) != SEND_OK) {
		cl->dirty = 1;
		return NULL;
	}
	return r;
}

struct cache_cluster_stats cache_cluster_stats(const struct cache_cluster *cl)
{
	return cl->st;
}

int cache_cluster_debug_point(struct cache_cluster *cl, int slot, const char *host, int port)
{
	if (!cl->have_map && cluster_refresh(cl) < 0)
		return -1;
	int ni = node_index(cl, host, port);
	if (ni < 0 || slot < 0 || slot >= CACHE_SLOTS)
		return -1;
	cl->map[slot] = (unsigned char)ni;
	return 0;
}

void cache_cluster_debug_slots_only(struct cache_cluster *cl)
{
	cl->slots_only = 1;
}

int cache_cluster_debug_owner(struct cache_cluster *cl, int slot)
{
	if (!cl->have_map && cluster_refresh(cl) < 0)
		return -1;
	int ni = cluster_pick(cl, slot);
	return ni < 0 ? -1 : cl->nodes[ni].port;
}
