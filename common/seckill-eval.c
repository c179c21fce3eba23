/* seckill-eval.c - EVALSHA with any number of arguments (batches of the order-writer). */
#include "seckill-lib.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fill s->sha from its source text (as cache.c does). */
static void seckill_script_sha(struct cache_script *s)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	if (s->sha[0])
		return;
	SHA1((const unsigned char *)s->src, strlen(s->src), md);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
}

redisReply *seckill_eval(struct cache *c, struct cache_script *s, int nkeys, int argc,
			 const char **argv)
{
	char nk[16];
	redisReply *r = NULL;
	const char **args = malloc(((size_t)argc + 3) * sizeof *args);

	if (!args)
		return NULL;
	seckill_script_sha(s);
	snprintf(nk, sizeof nk, "%d", nkeys);
	args[0] = "EVALSHA";
	args[1] = s->sha;
	args[2] = nk;
	memcpy(args + 3, argv, (size_t)argc * sizeof *argv);
	r = cache_commandv(c, argc + 3, args, NULL);
	if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
		freeReplyObject(r);
		args[0] = "EVAL";
		args[1] = s->src;
		r = cache_commandv(c, argc + 3, args, NULL);
	}
	free(args);
	return r;
}
