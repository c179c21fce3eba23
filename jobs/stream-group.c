/* stream-group.c - one consumer of a group over the streams a set lists (see stream-group.h). */
#include "stream-group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void sg_init(struct stream_group *g, struct cache *c, const char *set_key, const char *prefix,
	     const char *group, long block_ms)
{
	char host[64] = "localhost";
	memset(g, 0, sizeof *g);
	g->cache = c;
	g->set_key = set_key;
	g->prefix = prefix;
	g->group = group;
	g->block_ms = block_ms;
	gethostname(host, sizeof host - 1);
	snprintf(g->consumer, sizeof g->consumer, "%s-%ld", host, (long)getpid());
}

void sg_free(struct stream_group *g)
{
	for (size_t i = 0; i < g->nstreams; i++)
		free(g->streams[i]);
	g->nstreams = 0;
}

int sg_refresh(struct stream_group *g)
{
	redisReply *r = cache_command(g->cache, "SMEMBERS %s", g->set_key);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	sg_free(g);
	for (size_t i = 0; i < r->elements && g->nstreams < SG_MAX_STREAMS; i++) {
		const char *name = r->element[i]->str;
		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    strncmp(name, g->prefix, strlen(g->prefix)) || strlen(name) > 60)
			continue;
		redisReply *c =
		    cache_command(g->cache, "XGROUP CREATE %s %s 0 MKSTREAM", name, g->group);
		if (c)
			freeReplyObject(c); /* BUSYGROUP: it exists, as expected */
		if ((g->streams[g->nstreams] = strdup(name)))
			g->nstreams++;
	}
	freeReplyObject(r);
	return 0;
}

void sg_autoclaim(struct stream_group *g, long idle_ms, long count)
{
	char idle[24], n[24];
	snprintf(idle, sizeof idle, "%ld", idle_ms);
	snprintf(n, sizeof n, "%ld", count);
	for (size_t i = 0; i < g->nstreams; i++) {
		const char *argv[] = {"XAUTOCLAIM", g->streams[i], g->group, g->consumer, idle,
				      "0-0",        "COUNT",       n,        "JUSTID"};
		redisReply *r = cache_commandv(g->cache, 9, argv, NULL);
		if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
		    r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements > 0) {
			log_info("claimed %zu pending entries of %s", r->element[1]->elements,
				 g->streams[i]);
			g->pending = 1;
		}
		if (r)
			freeReplyObject(r);
	}
}

redisReply *sg_read(struct stream_group *g, long count)
{
	const char *argv[10 + 2 * SG_MAX_STREAMS];
	char n[24], block[24];
	int argc = 0;
	snprintf(n, sizeof n, "%ld", count);
	snprintf(block, sizeof block, "%ld", g->block_ms);
	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = g->group;
	argv[argc++] = g->consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = n;
	if (!g->pending) {
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	for (size_t i = 0; i < g->nstreams; i++)
		argv[argc++] = g->streams[i];
	for (size_t i = 0; i < g->nstreams; i++)
		argv[argc++] = g->pending ? "0" : ">";
	redisReply *r = cache_commandv(g->cache, argc, argv, NULL);
	if (r && r->type == REDIS_REPLY_ERROR) {
		log_warn("XREADGROUP: %s", r->str);
		freeReplyObject(r);
		sg_free(g);
		return NULL;
	}
	return r;
}
