/* ceiling-fcgi.c - the benchmark's FastCGI ceiling: a minimal libfcgi program that runs the
 * purchase Lua script (lua/purchase.lua, embedded by tools/lua2c.sh) once per request and answers,
 * with no JSON parsing, no JWT and no token checks. bench/run.sh builds it and runs it under
 * spawn-fcgi/multiwatch like the real program, so /seckill/do is measured against it.
 *
 * usage: ceiling-fcgi REDIS_SOCKET ACTIVITY_ID
 */
#include <fcgiapp.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/lua-scripts.h"

/* Drain the request body (the real program reads it too). */
static void ceiling_read_body(FCGX_Request *rq)
{
	char buf[4096];
	while (FCGX_GetStr(buf, sizeof buf, rq->in) > 0)
		;
}

/* Run the script for a random user and request id; the answer's code. */
static long long ceiling_purchase(redisContext *rc, long long aid, unsigned *seed)
{
	char info[64], stock[64], users[64], intents[64], req[128], rl[96], stats[64], rev[64];
	char uid[24], now[24], sid[24], rid[64];
	long long user = 1 + rand_r(seed) % 1000000;

	snprintf(info, sizeof info, "{a:%lld}:info", aid);
	snprintf(stock, sizeof stock, "{a:%lld}:stock", aid);
	snprintf(users, sizeof users, "{a:%lld}:users", aid);
	snprintf(intents, sizeof intents, "{a:%lld}:intents", aid);
	snprintf(rid, sizeof rid, "%lld-%08x%08x%08x%08x", aid, rand_r(seed), rand_r(seed),
		 rand_r(seed), rand_r(seed));
	snprintf(req, sizeof req, "{a:%lld}:req:%s", aid, rid);
	snprintf(rl, sizeof rl, "{a:%lld}:rl:%lld", aid, user);
	snprintf(stats, sizeof stats, "{a:%lld}:stats", aid);
	snprintf(rev, sizeof rev, "{a:%lld}:revoked", aid);
	snprintf(uid, sizeof uid, "%lld", user);
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	snprintf(sid, sizeof sid, "%lld", aid);
	/* The same keys as the program, the dashboard's stats hash included: the same work. */
	const char *argv[] = {"EVAL",
			      lua_purchase,
			      "8",
			      info,
			      stock,
			      users,
			      intents,
			      req,
			      rl,
			      rev,
			      stats,
			      uid,
			      "1",
			      now,
			      rid,
			      sid,
			      "600",
			      "1000000",
			      "0123456789abcdef0123456789abcdef"};
	/* EVAL each time would re-send the source: use the SHA after the first call. */
	static char sha[41];
	redisReply *r;
	if (sha[0]) {
		argv[0] = "EVALSHA";
		argv[1] = sha;
	}
	r = redisCommandArgv(rc, (int)(sizeof argv / sizeof argv[0]), argv, NULL);
	if (!r)
		return -100;
	if (!sha[0]) {
		redisReply *s = redisCommand(rc, "SCRIPT LOAD %s", lua_purchase);
		if (s && s->type == REDIS_REPLY_STRING)
			snprintf(sha, sizeof sha, "%s", s->str);
		if (s)
			freeReplyObject(s);
	}
	long long code =
	    r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->integer : -99;
	freeReplyObject(r);
	return code;
}

int main(int argc, char **argv)
{
	FCGX_Request rq;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	if (argc != 3) {
		fprintf(stderr, "usage: ceiling-fcgi REDIS_SOCKET ACTIVITY_ID\n");
		return 2;
	}
	long long aid = strtoll(argv[2], NULL, 10);
	redisContext *rc = redisConnectUnix(argv[1]);
	if (!rc || rc->err) {
		fprintf(stderr, "ceiling-fcgi: cannot connect to %s\n", argv[1]);
		return 1;
	}
	FCGX_Init();
	FCGX_InitRequest(&rq, 0, 0);
	while (FCGX_Accept_r(&rq) >= 0) {
		char body[160];
		ceiling_read_body(&rq);
		long long code = ceiling_purchase(rc, aid, &seed);
		int n = code == 0
			    ? snprintf(body, sizeof body,
				       "{\"code\":200,\"msg\":\"OK\",\"data\":{\"requestId\":"
				       "\"x\",\"status\":\"queued\"}}")
			    : snprintf(body, sizeof body, "{\"code\":%lld,\"msg\":\"no\"}", code);
		char head[160];
		int h = snprintf(head, sizeof head,
				 "Status: %s\r\nContent-Type: application/json\r\n"
				 "Content-Length: %d\r\n\r\n",
				 code == 0 ? "200 OK" : "409 Conflict", n);
		FCGX_PutStr(head, h, rq.out);
		FCGX_PutStr(body, n, rq.out);
		FCGX_Finish_r(&rq);
	}
	redisFree(rc);
	return 0;
}
