/* ceiling-fcgi.c - the benchmark's FastCGI ceilings (DESIGN.md): a minimal libfcgi program that
 * either answers a fixed body ("fixed") or runs a 4-command Lua script (GET, SADD, DECR, XADD)
 * per request ("lua4") on the Redis it is given (the bench gives it a non-persistent one), with
 * THREADS threads per process, each with its own Redis connection, accepting with
 * FCGX_Accept_r like the real program. No JSON, no JWT, no token checks. bench/run.sh builds
 * it and runs it under spawn-fcgi/multiwatch with as many processes as the stack runs.
 *
 * usage: ceiling-fcgi fixed|lua4 THREADS [REDIS_SOCKET ACTIVITY_ID]
 */
#include <fcgiapp.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* GET, SADD, DECR, XADD: the least a purchase must do. */
static const char lua4[] = "local left = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
			   "if left <= 0 then return {-4, 0} end\n"
			   "redis.call('SADD', KEYS[2], ARGV[1])\n"
			   "left = redis.call('DECR', KEYS[1])\n"
			   "redis.call('XADD', KEYS[3], '*', 'rid', ARGV[2], 'uid', ARGV[1])\n"
			   "return {0, left}\n";

static int use_lua;
static const char *redis_path;
static long long activity;
static char sha[41];

/* Drain the request body (the real program reads it too). */
static void ceiling_read_body(FCGX_Request *rq)
{
	char buf[4096];
	while (FCGX_GetStr(buf, sizeof buf, rq->in) > 0)
		;
}

/* Run the script for a random user and request id; the answer's code. */
static long long ceiling_purchase(redisContext *rc, unsigned *seed)
{
	char stock[64], users[64], intents[64], uid[24], rid[64];
	snprintf(stock, sizeof stock, "{a:%lld}:stock", activity);
	snprintf(users, sizeof users, "{a:%lld}:users", activity);
	snprintf(intents, sizeof intents, "{a:%lld}:intents", activity);
	snprintf(uid, sizeof uid, "%d", 1 + rand_r(seed) % 1000000);
	snprintf(rid, sizeof rid, "%lld-%08x%08x%08x%08x", activity, rand_r(seed), rand_r(seed),
		 rand_r(seed), rand_r(seed));
	const char *argv[] = {"EVALSHA", sha, "3", stock, users, intents, uid, rid};
	redisReply *r = redisCommandArgv(rc, 8, argv, NULL);
	if (!r)
		return -100;
	long long code =
	    r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->integer : -99;
	freeReplyObject(r);
	return code;
}

/* One thread: its own request and Redis connection, accepting until the socket closes. */
static void *ceiling_thread(void *arg)
{
	FCGX_Request rq;
	unsigned seed = (unsigned)getpid() ^ (unsigned)(size_t)arg ^ (unsigned)time(NULL);
	redisContext *rc = NULL;
	if (use_lua) {
		rc = redisConnectUnix(redis_path);
		if (!rc || rc->err) {
			fprintf(stderr, "ceiling-fcgi: cannot connect to %s\n", redis_path);
			exit(1);
		}
	}
	FCGX_InitRequest(&rq, 0, 0);
	while (FCGX_Accept_r(&rq) >= 0) {
		char body[160], head[160];
		ceiling_read_body(&rq);
		long long code = use_lua ? ceiling_purchase(rc, &seed) : 0;
		int n = code == 0
			    ? snprintf(body, sizeof body,
				       "{\"code\":200,\"msg\":\"OK\",\"data\":{\"requestId\":"
				       "\"x\",\"status\":\"queued\"}}")
			    : snprintf(body, sizeof body, "{\"code\":%lld,\"msg\":\"no\"}", code);
		int h = snprintf(head, sizeof head,
				 "Status: %s\r\nContent-Type: application/json\r\n"
				 "Content-Length: %d\r\n\r\n",
				 code == 0 ? "200 OK" : "409 Conflict", n);
		FCGX_PutStr(head, h, rq.out);
		FCGX_PutStr(body, n, rq.out);
		FCGX_Finish_r(&rq);
	}
	if (rc)
		redisFree(rc);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "fixed") && strcmp(argv[1], "lua4")) ||
	    (!strcmp(argv[1], "lua4") && argc != 5)) {
		fprintf(stderr,
			"usage: ceiling-fcgi fixed|lua4 THREADS [REDIS_SOCKET ACTIVITY_ID]\n");
		return 2;
	}
	int threads = atoi(argv[2]);
	if (threads < 1 || threads > 256)
		threads = 1;
	use_lua = !strcmp(argv[1], "lua4");
	if (use_lua) {
		redis_path = argv[3];
		activity = strtoll(argv[4], NULL, 10);
		redisContext *rc = redisConnectUnix(redis_path);
		redisReply *s = rc && !rc->err ? redisCommand(rc, "SCRIPT LOAD %s", lua4) : NULL;
		if (!s || s->type != REDIS_REPLY_STRING) {
			fprintf(stderr, "ceiling-fcgi: cannot load the script into %s\n",
				redis_path);
			return 1;
		}
		snprintf(sha, sizeof sha, "%s", s->str);
		freeReplyObject(s);
		redisFree(rc);
	}
	FCGX_Init();
	/* libfcgi catches USR1 (multiwatch's stop signal) and TERM to finish gracefully, which
	 * only the thread that takes the signal would see: the ceiling simply ends. */
	signal(SIGUSR1, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	pthread_t tid[256];
	for (int i = 1; i < threads; i++)
		pthread_create(&tid[i], NULL, ceiling_thread, (void *)(size_t)i);
	ceiling_thread(NULL);
	for (int i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	return 0;
}
