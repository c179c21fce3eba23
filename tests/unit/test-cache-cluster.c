/* test-cache-cluster.c - cache.h on a real Redis Cluster: slots, routing, MOVED, ASK, failover. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache-cluster.h"
#include "cache.h"
#include "unit.h"

static struct fs_config cfg;
static struct cache *cache;

/* A cache on $FLASHSALE_TEST_REDIS_CLUSTER with the slot check on. */
static void setup(void)
{
	unit_config(&cfg,
		    "[redis]\ncluster = %s\ncluster_check_slots = 1\ntimeout_ms = 1000\n"
		    "[breaker]\ncooldown_ms = 200\n",
		    getenv("FLASHSALE_TEST_REDIS_CLUSTER"));
	cache = cache_new(&cfg);
	ck_assert_ptr_nonnull(cache);
	ck_assert_ptr_nonnull(cache_cluster_of(cache));
}

/* Free the cache and config. */
static void teardown(void)
{
	cache_free(cache);
	config_free(&cfg);
}

/* A key unique to this process: fs:cc:PID:name. */
static const char *key(const char *name)
{
	static char buf[4][128];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "fs:cc:%ld:%s", (long)getpid(), name);
	return buf[i];
}

/* A direct connection to node 127.0.0.1:port (no routing); fails the test. */
static redisContext *direct(int port)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	ck_assert_msg(c && !c->err, "cannot connect to %d", port);
	return c;
}

/* Run a command on a direct connection; the reply (fails the test on NULL). */
static redisReply *on(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(r != NULL, "direct command failed: %s", c->errstr);
	return r;
}

/* A live seed port (from the env list). */
static int seed_port(void)
{
	const char *list = getenv("FLASHSALE_TEST_REDIS_CLUSTER");
	for (const char *p = list; p && *p;) {
		int port = atoi(strchr(p, ':') + 1);
		redisContext *c = redisConnect("127.0.0.1", port);
		int ok = c && !c->err;
		if (c)
			redisFree(c);
		if (ok)
			return port;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	ck_abort_msg("no seed answers");
	return -1;
}

/* Who serves slot, per CLUSTER SLOTS asked directly: master port, its first replica, node id. */
static void owner(int slot, int *master, int *replica, char *id)
{
	redisContext *c = direct(seed_port());
	redisReply *r = on(c, "CLUSTER SLOTS");
	*master = -1;
	for (size_t i = 0; i < r->elements; i++) {
		redisReply *e = r->element[i];
		if (slot < e->element[0]->integer || slot > e->element[1]->integer)
			continue;
		*master = (int)e->element[2]->element[1]->integer;
		if (id)
			snprintf(id, 64, "%s", e->element[2]->element[2]->str);
		if (replica)
			*replica = e->elements > 3 ? (int)e->element[3]->element[1]->integer : -1;
	}
	freeReplyObject(r);
	redisFree(c);
	ck_assert_int_gt(*master, 0);
}

/* The ports of the masters (at most 8) per CLUSTER SLOTS; their count. */
static int masters(int *ports)
{
	redisContext *c = direct(seed_port());
	redisReply *r = on(c, "CLUSTER SLOTS");
	int n = 0;
	for (size_t i = 0; i < r->elements; i++) {
		int p = (int)r->element[i]->element[2]->element[1]->integer, seen = 0;
		for (int j = 0; j < n; j++)
			seen |= ports[j] == p;
		if (!seen && n < 8)
			ports[n++] = p;
	}
	freeReplyObject(r);
	redisFree(c);
	return n;
}

/* The node id of the node on port. */
static void node_id(int port, char *id)
{
	redisContext *c = direct(port);
	redisReply *r = on(c, "CLUSTER MYID");
	snprintf(id, 64, "%s", r->str);
	freeReplyObject(r);
	redisFree(c);
}

/* Assert a cache reply is the string want, then free it. */
static void expect_str(redisReply *r, const char *want)
{
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->type == REDIS_REPLY_STRING, "type %d: %s", r->type,
		      r->type == REDIS_REPLY_ERROR ? r->str : "");
	ck_assert_str_eq(r->str, want);
	freeReplyObject(r);
}

/* Run a command through the cache and expect a non-error reply. */
static void ok(redisReply *r)
{
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->type != REDIS_REPLY_ERROR, "error: %s", r->str);
	freeReplyObject(r);
}

/* CRC16/XMODEM and slots agree with the spec's vectors; hash tags group keys. */
START_TEST(test_crc16_and_slots)
{
	ck_assert_uint_eq(cache_crc16("123456789", 9), 0x31C3);
	ck_assert_int_eq(cache_key_slot("foo", 3), 12182);
	ck_assert_int_eq(cache_key_slot("{a:7}:stock", 11), cache_key_slot("{a:7}:info", 10));
	ck_assert_int_eq(cache_key_slot("{a:7}:stock", 11), cache_key_slot("a:7", 3));
	ck_assert_int_eq(cache_key_slot("{user1000}.following", 20), cache_key_slot("user1000", 8));
	ck_assert_int_eq(cache_key_slot("foo{}{bar}", 10), cache_crc16("foo{}{bar}", 10) & 16383);
	ck_assert_int_eq(cache_key_slot("foo{{bar}}zap", 13), cache_key_slot("{bar", 4));
	/* The key of a formatted command. */
	char *cmd;
	int len = redisFormatCommand(&cmd, "EVALSHA abc 2 %s %s x", "{u:1}:a", "{u:1}:b");
	ck_assert_int_eq(cache_command_slot(cmd, (size_t)len), cache_key_slot("u:1", 3));
	redisFreeCommand(cmd);
	len = redisFormatCommand(&cmd, "EVAL return 0 0");
	ck_assert_int_eq(cache_command_slot(cmd, (size_t)len), -1);
	redisFreeCommand(cmd);
	len = redisFormatCommand(&cmd, "XREADGROUP GROUP g c COUNT 5 BLOCK 10 STREAMS s1 >");
	ck_assert_int_eq(cache_command_slot(cmd, (size_t)len), cache_key_slot("s1", 2));
	redisFreeCommand(cmd);
	len = redisFormatCommand(&cmd, "XGROUP CREATE st g 0 MKSTREAM");
	ck_assert_int_eq(cache_command_slot(cmd, (size_t)len), cache_key_slot("st", 2));
	redisFreeCommand(cmd);
	len = redisFormatCommand(&cmd, "PING");
	ck_assert_int_eq(cache_command_slot(cmd, (size_t)len), -1);
	redisFreeCommand(cmd);
	ck_assert_int_eq(cache_command_slot("garbage", 7), -2);
}
END_TEST

/* Our slot of a key is the server's CLUSTER KEYSLOT. */
START_TEST(test_keyslot_matches_server)
{
	const char *keys[] = {"fs:sess:abc", "{fs:act:12}:stock", "x", "fs:rl:login:1.2.3.4"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		redisReply *r = cache_command(cache, "CLUSTER KEYSLOT %s", keys[i]);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
		ck_assert_int_eq(r->integer, cache_key_slot(keys[i], strlen(keys[i])));
		freeReplyObject(r);
	}
	ck_assert_int_eq(cache_ping(cache), 0);
}
END_TEST

/* Each key lands on the master owning its slot; 60 keys spread over all 3 masters. */
START_TEST(test_routing_spreads)
{
	int ports[8], seen[8] = {0};
	int n = masters(ports);
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < 60; i++) {
		char name[16], val[16];
		snprintf(name, sizeof name, "k%d", i);
		snprintf(val, sizeof val, "v%d", i);
		const char *k = key(name);
		ok(cache_command(cache, "SET %s %s EX 60", k, val));
		int m;
		owner(cache_key_slot(k, strlen(k)), &m, NULL, NULL);
		redisContext *d = direct(m);
		redisReply *r = on(d, "GET %s", k);
		ck_assert_int_eq(r->type, REDIS_REPLY_STRING); /* a non-owner would answer MOVED */
		ck_assert_str_eq(r->str, val);
		freeReplyObject(r);
		redisFree(d);
		for (int j = 0; j < n; j++)
			seen[j] += ports[j] == m;
		expect_str(cache_command(cache, "GET %s", k), val);
		ok(cache_command(cache, "DEL %s", k));
	}
	for (int j = 0; j < n; j++)
		ck_assert_msg(seen[j] > 0, "no key on master %d", ports[j]);
}
END_TEST

/* cache_wait goes to the key's master: after a write there, its one replica acknowledges it. */
START_TEST(test_wait_on_key_node)
{
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof name, "w%d", i);
		const char *k = key(name);
		ok(cache_command(cache, "SET %s 1 EX 60", k));
		ck_assert_int_eq(cache_wait(cache, k, 1, 2000), 1);
		ok(cache_command(cache, "DEL %s", k));
	}
	ck_assert_int_eq(cache_is_cluster(cache), 1);
}
END_TEST

/* A stale map entry: the wrong node answers MOVED, the client follows and fixes the entry. */
START_TEST(test_moved_stale_map)
{
	struct cache_cluster *cl = cache_cluster_of(cache);
	const char *k = key("moved");
	int slot = cache_key_slot(k, strlen(k)), m, ports[8];
	ok(cache_command(cache, "SET %s here EX 60", k));
	owner(slot, &m, NULL, NULL);
	int n = masters(ports), other = ports[0] == m ? ports[1] : ports[0];
	ck_assert_int_ge(n, 2);
	ck_assert_int_eq(cache_cluster_debug_point(cl, slot, "127.0.0.1", other), 0);
	ck_assert_int_eq(cache_cluster_debug_owner(cl, slot), other);
	unsigned long moved = cache_cluster_stats(cl).moved;
	expect_str(cache_command(cache, "GET %s", k), "here");
	ck_assert_uint_eq(cache_cluster_stats(cl).moved, moved + 1);
	ck_assert_int_eq(cache_cluster_debug_owner(cl, slot), m);
	expect_str(cache_command(cache, "GET %s", k), "here");
	ck_assert_uint_eq(cache_cluster_stats(cl).moved, moved + 1); /* fixed: no second MOVED */
	ok(cache_command(cache, "DEL %s", k));
}
END_TEST

/* Set slot's owner to node id on every master (ends a migration). */
static void setslot_node(const int *ports, int n, int first, int slot, const char *id)
{
	redisContext *d = direct(first);
	redisReply *r = on(d, "CLUSTER SETSLOT %d NODE %s", slot, id);
	ck_assert_msg(r->type == REDIS_REPLY_STATUS, "SETSLOT NODE: %s", r->str);
	freeReplyObject(r);
	redisFree(d);
	for (int i = 0; i < n; i++) {
		if (ports[i] == first)
			continue;
		d = direct(ports[i]);
		r = on(d, "CLUSTER SETSLOT %d NODE %s", slot, id);
		ck_assert_msg(r->type == REDIS_REPLY_STATUS, "SETSLOT NODE: %s", r->str);
		freeReplyObject(r);
		redisFree(d);
	}
}

/* The number of keys node port holds in slot. */
static long long keys_in_slot(int port, int slot)
{
	redisContext *d = direct(port);
	redisReply *r = on(d, "CLUSTER COUNTKEYSINSLOT %d", slot);
	long long n = r->integer;
	freeReplyObject(r);
	redisFree(d);
	return n;
}

/*
 * A slot migrating from A to B: a new key goes to B through ASK (ASKING first); once the
 * slot is B's (SETSLOT NODE), the client's map is stale and MOVED takes it to B. Then back.
 */
START_TEST(test_ask_then_moved)
{
	struct cache_cluster *cl = cache_cluster_of(cache);
	const char *k = key("ask");
	int slot = cache_key_slot(k, strlen(k)), a, ports[8];
	char aid[64], bid[64];
	owner(slot, &a, NULL, aid);
	int n = masters(ports), b = ports[0] == a ? ports[1] : ports[0];
	node_id(b, bid);
	ok(cache_command(cache, "SET %s warm EX 60", key("ask-warm")));
	ck_assert_int_eq(cache_cluster_debug_owner(cl, slot), a);
	ck_assert_int_eq(keys_in_slot(a, slot), 0);

	redisContext *db = direct(b), *da = direct(a);
	redisReply *r = on(db, "CLUSTER SETSLOT %d IMPORTING %s", slot, aid);
	ck_assert_msg(r->type == REDIS_REPLY_STATUS, "IMPORTING: %s", r->str);
	freeReplyObject(r);
	r = on(da, "CLUSTER SETSLOT %d MIGRATING %s", slot, bid);
	ck_assert_msg(r->type == REDIS_REPLY_STATUS, "MIGRATING: %s", r->str);
	freeReplyObject(r);
	redisFree(db);
	redisFree(da);

	unsigned long ask = cache_cluster_stats(cl).ask, moved = cache_cluster_stats(cl).moved;
	ok(cache_command(cache, "SET %s migrated EX 60", k));
	ck_assert_uint_eq(cache_cluster_stats(cl).ask, ask + 1);
	ck_assert_int_eq(keys_in_slot(b, slot), 1);
	ck_assert_int_eq(keys_in_slot(a, slot), 0);
	ck_assert_int_eq(cache_cluster_debug_owner(cl, slot), a); /* ASK does not change the map */

	setslot_node(ports, n, b, slot, bid);
	expect_str(cache_command(cache, "GET %s", k), "migrated");
	ck_assert_uint_eq(cache_cluster_stats(cl).moved, moved + 1);
	ck_assert_int_eq(cache_cluster_debug_owner(cl, slot), b);

	ok(cache_command(cache, "DEL %s", k));
	setslot_node(ports, n, a, slot, aid);
	ck_assert_int_eq(cache_ping(cache), 0);
	r = cache_command(cache, "GET %s", k);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	ck_assert_int_eq(cache_cluster_debug_owner(cl, slot), a);
}
END_TEST

/* The CLUSTER SLOTS fallback (Redis < 7) gives the same routing as CLUSTER SHARDS. */
START_TEST(test_slots_fallback)
{
	struct cache *old = cache_new(&cfg);
	struct cache_cluster *cl = cache_cluster_of(old);
	cache_cluster_debug_slots_only(cl);
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof name, "sl%d", i);
		const char *k = key(name);
		int m, slot = cache_key_slot(k, strlen(k));
		owner(slot, &m, NULL, NULL);
		ck_assert_int_eq(cache_cluster_debug_owner(cl, slot), m);
		ok(cache_command(old, "SET %s x EX 60", k));
		expect_str(cache_command(old, "GET %s", k), "x");
		ok(cache_command(old, "DEL %s", k));
	}
	ck_assert_uint_eq(cache_cluster_stats(cl).refreshes, 1);
	ck_assert_uint_eq(cache_cluster_stats(cl).moved, 0);
	cache_free(old);
}
END_TEST

/*
 * A multi-key command on a slot being migrated, one key moved and one not: the node answers
 * TRYAGAIN; the client retries with a pause and gives up (NULL) within about redis.timeout_ms.
 * Once the migration is cancelled (SETSLOT STABLE) the same command works.
 */
START_TEST(test_tryagain_bounded)
{
	struct cache_cluster *cl = cache_cluster_of(cache);
	char k1[96], k2[96], aid[64], bid[64];
	snprintf(k1, sizeof k1, "{fs:cc:%ld:try}:1", (long)getpid());
	snprintf(k2, sizeof k2, "{fs:cc:%ld:try}:2", (long)getpid());
	int slot = cache_key_slot(k1, strlen(k1)), a, ports[8];
	owner(slot, &a, NULL, aid);
	masters(ports);
	int b = ports[0] == a ? ports[1] : ports[0];
	node_id(b, bid);
	ok(cache_command(cache, "SET %s one EX 60", k1));
	redisContext *db = direct(b), *da = direct(a);
	freeReplyObject(on(db, "CLUSTER SETSLOT %d IMPORTING %s", slot, aid));
	freeReplyObject(on(da, "CLUSTER SETSLOT %d MIGRATING %s", slot, bid));

	unsigned long tries = cache_cluster_stats(cl).tryagain;
	long long t0 = unit_now_ms();
	redisReply *r = cache_command(cache, "MGET %s %s", k1, k2);
	long long took = unit_now_ms() - t0;
	ck_assert_msg(r == NULL, "MGET during rehashing answered type %d", r ? r->type : -1);
	ck_assert_uint_gt(cache_cluster_stats(cl).tryagain, tries + 1);
	ck_assert_msg(took >= 500 && took <= 2500, "gave up after %lld ms", took);

	freeReplyObject(on(da, "CLUSTER SETSLOT %d STABLE", slot));
	freeReplyObject(on(db, "CLUSTER SETSLOT %d STABLE", slot));
	redisFree(da);
	redisFree(db);
	r = cache_command(cache, "MGET %s %s", k1, k2);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_str_eq(r->element[0]->str, "one");
	ck_assert_int_eq(r->element[1]->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	ok(cache_command(cache, "DEL %s", k1));
}
END_TEST

/* A script over keys of one slot runs; one over two slots is refused and does not run. */
START_TEST(test_script_slot_check)
{
	static struct cache_script s = {
	    .src = "-- fs cluster test\nredis.call('SET', KEYS[1], ARGV[1], 'EX', 60)\n"
		   "redis.call('SET', KEYS[2], ARGV[1], 'EX', 60)\nreturn redis.call('GET', "
		   "KEYS[2])\n"};
	char k1[96], k2[96];
	snprintf(k1, sizeof k1, "{fs:cc:%ld}:a", (long)getpid());
	snprintf(k2, sizeof k2, "{fs:cc:%ld}:b", (long)getpid());
	const char *argv[] = {k1, k2, "same"};
	expect_str(cache_eval(cache, &s, 2, 3, argv), "same");
	expect_str(cache_command(cache, "GET %s", k1), "same");

	const char *a = key("span-a"), *b = key("span-b");
	ck_assert_int_ne(cache_key_slot(a, strlen(a)), cache_key_slot(b, strlen(b)));
	const char *bad[] = {a, b, "x"};
	redisReply *r = cache_eval(cache, &s, 2, 3, bad);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_ptr_nonnull(strstr(r->str, "slot"));
	freeReplyObject(r);
	r = cache_command(cache, "EXISTS %s", a);
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	ok(cache_command(cache, "DEL %s %s", k1, k2));
}
END_TEST

/* After SCRIPT FLUSH (sent to every master) EVALSHA falls back to EVAL on each node. */
START_TEST(test_noscript_per_node)
{
	static struct cache_script s = {.src = "-- fs cluster nos\nreturn KEYS[1]\n"};
	int ports[8], hit[8] = {0}, n = masters(ports), i = 0, covered = 0;
	ok(cache_command(cache, "SCRIPT FLUSH"));
	while (covered < n && i < 200) {
		char name[16];
		snprintf(name, sizeof name, "nos%d", i++);
		const char *k = key(name);
		const char *argv[] = {k};
		expect_str(cache_eval(cache, &s, 1, 1, argv), k);
		int m;
		owner(cache_key_slot(k, strlen(k)), &m, NULL, NULL);
		for (int j = 0; j < n; j++)
			if (ports[j] == m && !hit[j]++)
				covered++;
	}
	ck_assert_int_eq(covered, n);
	for (int j = 0; j < n; j++) {
		redisContext *d = direct(ports[j]);
		redisReply *r = on(d, "SCRIPT EXISTS %s", s.sha);
		ck_assert_int_eq(r->element[0]->integer, 1); /* loaded there by the EVAL fallback */
		freeReplyObject(r);
		redisFree(d);
	}
}
END_TEST

/* The value of INFO field name (e.g. process_id) on node port. */
static long long info_field(int port, const char *name)
{
	redisContext *d = direct(port);
	redisReply *r = on(d, "INFO server");
	const char *p = strstr(r->str, name);
	ck_assert_ptr_nonnull(p);
	long long v = atoll(p + strlen(name) + 1);
	freeReplyObject(r);
	redisFree(d);
	return v;
}

/*
 * kill -9 the master of a slot: until its replica is promoted and the map reloaded, the
 * client answers NULL (down) or the right value, never anything else; then it works again.
 */
START_TEST(test_failover)
{
	struct cache_cluster *cl = cache_cluster_of(cache);
	const char *k = key("failover");
	int slot = cache_key_slot(k, strlen(k)), m, rep;
	ok(cache_command(cache, "SET %s before", k));
	long long until = unit_now_ms() + 10000;
	do {
		owner(slot, &m, &rep, NULL);
		if (rep < 0)
			unit_sleep_ms(100);
	} while (rep < 0 && unit_now_ms() < until);
	ck_assert_msg(rep > 0, "the master of slot %d has no replica", slot);
	/* Let the replica have the value (replication is asynchronous). */
	int copied = 0;
	while (!copied && unit_now_ms() < until) {
		redisContext *d = direct(rep);
		freeReplyObject(on(d, "READONLY"));
		redisReply *r = on(d, "GET %s", k);
		copied = r->type == REDIS_REPLY_STRING && !strcmp(r->str, "before");
		freeReplyObject(r);
		redisFree(d);
		if (!copied)
			unit_sleep_ms(50);
	}
	ck_assert_msg(copied, "the replica never got the key");
	expect_str(cache_command(cache, "GET %s", k), "before");
	unsigned long refreshes = cache_cluster_stats(cl).refreshes;

	pid_t pid = (pid_t)info_field(m, "process_id");
	ck_assert_int_gt(pid, 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	long long t0 = unit_now_ms(), back = -1;
	int downs = 0;
	while (unit_now_ms() < t0 + 40000) {
		redisReply *r = cache_command(cache, "GET %s", k);
		if (!r) {
			downs++;
			unit_sleep_ms(100);
			continue;
		}
		ck_assert_msg(r->type == REDIS_REPLY_STRING && !strcmp(r->str, "before"),
			      "wrong answer during failover: type %d %s", r->type,
			      r->type == REDIS_REPLY_ERROR ? r->str : "");
		freeReplyObject(r);
		if (cache_cluster_debug_owner(cl, slot) != m) {
			back = unit_now_ms() - t0;
			break;
		}
		unit_sleep_ms(50);
	}
	ck_assert_msg(back >= 0, "the slot did not come back within 40 s");
	printf("failover: slot %d back after %lld ms (%d down answers), now on %d\n", slot, back,
	       downs, cache_cluster_debug_owner(cl, slot));
	ck_assert_int_gt(downs, 0); /* the old master was really gone for a while */
	ck_assert_uint_gt(cache_cluster_stats(cl).refreshes, refreshes);
	ck_assert_int_eq(cache_cluster_debug_owner(cl, slot), rep);
	ok(cache_command(cache, "SET %s after", k));
	expect_str(cache_command(cache, "GET %s", k), "after");
	ok(cache_command(cache, "DEL %s", k));
}
END_TEST

/* The suite: the failover case last, as it leaves the cluster with a dead node. */
static Suite *cluster_suite(void)
{
	Suite *s = suite_create("cache-cluster");
	TCase *tc = tcase_create("cluster");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_crc16_and_slots);
	tcase_add_test(tc, test_keyslot_matches_server);
	tcase_add_test(tc, test_routing_spreads);
	tcase_add_test(tc, test_moved_stale_map);
	tcase_add_test(tc, test_ask_then_moved);
	tcase_add_test(tc, test_slots_fallback);
	tcase_add_test(tc, test_tryagain_bounded);
	tcase_add_test(tc, test_script_slot_check);
	tcase_add_test(tc, test_noscript_per_node);
	tcase_add_test(tc, test_wait_on_key_node);
	tcase_add_test(tc, test_failover);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unit_require("test-cache-cluster", "FLASHSALE_TEST_REDIS_CLUSTER");
	char seeds[1024];
	snprintf(seeds, sizeof seeds, "%s", getenv("FLASHSALE_TEST_REDIS_CLUSTER"));
	unit_clear_config_env();
	setenv("FLASHSALE_TEST_REDIS_CLUSTER", seeds, 1);
	signal(SIGPIPE, SIG_IGN);
	return unit_status("test-cache-cluster", unit_run(cluster_suite()), NULL);
}
