/* test-writer-intent.c - the Kafka transport's intent messages (jobs/writer-intent.c). */
#include "unit.h"

#include "log.h"
#include "../../jobs/writer.h"

/* A well-formed intent. */
static struct intent sample(void)
{
	struct intent it = {.aid = 42, .uid = 7, .qty = 2};
	snprintf(it.rid, sizeof it.rid, "%s", "r-0123456789abcdef_X");
	snprintf(it.entry, sizeof it.entry, "%s", "1733100000000-12");
	return it;
}

START_TEST(test_round_trip)
{
	char buf[INTENT_MSG_MAX];
	struct intent in = sample(), out;
	int n = intent_encode(&in, buf, sizeof buf);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(intent_decode(buf, (size_t)n, &out), 0);
	ck_assert_str_eq(out.rid, in.rid);
	ck_assert_str_eq(out.entry, in.entry);
	ck_assert_int_eq(out.aid, 42);
	ck_assert_int_eq(out.uid, 7);
	ck_assert_int_eq(out.qty, 2);
	ck_assert_str_eq(out.stream, "{a:42}:intents");
	ck_assert_int_eq(out.outcome, INTENT_NEW);
	/* Too small a buffer is refused, not cut. */
	ck_assert_int_eq(intent_encode(&in, buf, (size_t)n), -1);
}
END_TEST

START_TEST(test_malformed_refused)
{
	static const char *const bad[] = {
	    "",
	    "not json",
	    "[1,2]",
	    "{\"rid\":\"r1\",\"aid\":1,\"uid\":1,\"entry\":\"1-1\"}",               /* no qty */
	    "{\"rid\":\"r1\",\"aid\":1,\"uid\":1,\"qty\":0,\"entry\":\"1-1\"}",     /* qty 0 */
	    "{\"rid\":\"r1\",\"aid\":-1,\"uid\":1,\"qty\":1,\"entry\":\"1-1\"}",    /* aid < 0 */
	    "{\"rid\":\"r1\",\"aid\":\"1\",\"uid\":1,\"qty\":1,\"entry\":\"1-1\"}", /* a string */
	    "{\"rid\":\"r 1\",\"aid\":1,\"uid\":1,\"qty\":1,\"entry\":\"1-1\"}",    /* a space */
	    "{\"rid\":\"\",\"aid\":1,\"uid\":1,\"qty\":1,\"entry\":\"1-1\"}",       /* empty rid */
	    "{\"rid\":\"r1\",\"aid\":1,\"uid\":1,\"qty\":1}",                       /* no entry */
	    "{\"rid\":\"r1\",\"rid\":\"r2\",\"aid\":1,\"uid\":1,\"qty\":1,\"entry\":\"1-1\"}",
	};
	struct intent it;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(intent_decode(bad[i], strlen(bad[i]), &it) == -1, "accepted: %s",
			      bad[i]);
		ck_assert_str_eq(it.rid, "");
	}
	char rid[80], doc[256];
	memset(rid, 'a', 65);
	rid[65] = 0; /* one longer than the column */
	snprintf(doc, sizeof doc,
		 "{\"rid\":\"%s\",\"aid\":1,\"uid\":1,\"qty\":1,\"entry\":\"1-1\"}", rid);
	ck_assert_int_eq(intent_decode(doc, strlen(doc), &it), -1);
	rid[64] = 0;
	snprintf(doc, sizeof doc,
		 "{\"rid\":\"%s\",\"aid\":1,\"uid\":1,\"qty\":1,\"entry\":\"1-1\"}", rid);
	ck_assert_int_eq(intent_decode(doc, strlen(doc), &it), 0);
}
END_TEST

START_TEST(test_partition_by_activity)
{
	ck_assert_int_eq(intent_partition("42", 2, 4), 2);
	ck_assert_int_eq(intent_partition("43", 2, 4), 3);
	ck_assert_int_eq(intent_partition("44", 2, 4), 0);
	ck_assert_int_eq(intent_partition("7", 1, 1), 0);
	ck_assert_int_eq(intent_partition("9223372036854775807", 19, 16), 15);
	/* Only the key's bytes count (not NUL-terminated in librdkafka). */
	ck_assert_int_eq(intent_partition("4299", 2, 4), 2);
	ck_assert_int_eq(intent_partition("x1", 2, 4), 0);
	ck_assert_int_eq(intent_partition("", 0, 4), 0);
	ck_assert_int_eq(intent_partition("5", 1, 0), 0);
}
END_TEST

START_TEST(test_dedup_marks_later_copies)
{
	struct batch b;
	batch_init(&b);
	const char *rids[] = {"a", "b", "a", "c", "b", "a", "d"};
	for (size_t i = 0; i < 7; i++) {
		struct intent *it = batch_add(&b);
		ck_assert_ptr_nonnull(it);
		snprintf(it->rid, sizeof it->rid, "%s", rids[i]);
	}
	b.v[3].outcome = INTENT_DONE; /* decided already: neither a first copy nor a copy */
	ck_assert_uint_eq(batch_dedup(&b), 3);
	const int want[] = {INTENT_NEW,  INTENT_NEW,  INTENT_SKIP, INTENT_DONE,
			    INTENT_SKIP, INTENT_SKIP, INTENT_NEW};
	for (size_t i = 0; i < 7; i++)
		ck_assert_int_eq(b.v[i].outcome, want[i]);
	ck_assert_uint_eq(batch_dedup(&b), 0); /* idempotent */
	batch_free(&b);
}
END_TEST

START_TEST(test_dedup_large_batch)
{
	struct batch b;
	batch_init(&b);
	for (size_t i = 0; i < 20000; i++) {
		struct intent *it = batch_add(&b);
		ck_assert_ptr_nonnull(it);
		snprintf(it->rid, sizeof it->rid, "rid-%zu", i % 10000);
	}
	ck_assert_uint_eq(batch_dedup(&b), 10000);
	for (size_t i = 0; i < 20000; i++)
		ck_assert_int_eq(b.v[i].outcome, i < 10000 ? INTENT_NEW : INTENT_SKIP);
	batch_free(&b);
}
END_TEST

int main(void)
{
	unit_clear_config_env();
	log_open("test-writer-intent", "", "error");
	Suite *s = suite_create("writer-intent");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_malformed_refused);
	tcase_add_test(tc, test_partition_by_activity);
	tcase_add_test(tc, test_dedup_marks_later_copies);
	tcase_add_test(tc, test_dedup_large_batch);
	suite_add_tcase(s, tc);
	return unit_status("test-writer-intent", unit_run(s), NULL);
}
