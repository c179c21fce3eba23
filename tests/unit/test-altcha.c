/* test-altcha.c - altcha.h: challenges in the ALTCHA format, checked against altcha-lib's. */
#include <check.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "altcha.h"
#include "unit.h"

#define KEY "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"

/*
 * Made by altcha-lib 2.8.0 (v1: createChallenge with this key, salt and number 31337, then the
 * widget's payload base64(JSON {algorithm, challenge, number, salt, signature})).
 */
#define KAT_CHALLENGE "c8cd6c9b77c9ac7ad1d0ac16050006daeb339065de485d56e906e043b63a0945"
#define KAT_PAYLOAD                                                                                \
	"eyJhbGdvcml0aG0iOiJTSEEtMjU2IiwiY2hhbGxlbmdlIjoiYzhjZDZjOWI3N2M5YWM3YWQxZDBhYzE2MDUwMDA2" \
	"ZGFlYjMzOTA2NWRlNDg1ZDU2ZTkwNmUwNDNiNjNhMDk0NSIsIm51bWJlciI6MzEzMzcsInNhbHQiOiIwMTIzNDU2" \
	"Nzg5YWJjZGVmMDEyMzQ1Njc/ZXhwaXJlcz00MTAyNDQ0ODAwJmE9NyYiLCJzaWduYXR1cmUiOiIxOGYxY2YzNTU0" \
	"ZjQ3OTZiNTM3MDhiZWFjMDBmYjZmNzQxOWJhNzkzYjE0M2QyNjk0NjNlZGE2NmFmNTQzOWZhIn0="

/* base64 of a JSON text, into out. */
static void b64(const char *json, char *out, size_t len)
{
	sodium_bin2base64(out, len, (const unsigned char *)json, strlen(json),
			  sodium_base64_VARIANT_ORIGINAL);
}

/* Brute-force a challenge as a client does; the number or -1. */
static long long solve(json_t *c)
{
	const char *salt = json_string_value(json_object_get(c, "salt"));
	const char *want = json_string_value(json_object_get(c, "challenge"));
	long long max = json_integer_value(json_object_get(c, "maxnumber"));
	for (long long n = 0; n <= max; n++) {
		char msg[256], hex[65];
		unsigned char md[32];
		unsigned int mdlen;
		int len = snprintf(msg, sizeof msg, "%s%lld", salt, n);
		EVP_Digest(msg, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		if (!strcmp(hex, want))
			return n;
	}
	return -1;
}

/* The payload of a solved challenge with the given number. */
static void payload_of(json_t *c, long long number, char *out, size_t len)
{
	json_t *p = json_pack("{s:O,s:O,s:I,s:O,s:O}", "algorithm", json_object_get(c, "algorithm"),
			      "challenge", json_object_get(c, "challenge"), "number",
			      (json_int_t)number, "salt", json_object_get(c, "salt"), "signature",
			      json_object_get(c, "signature"));
	char *s = json_dumps(p, JSON_COMPACT);
	b64(s, out, len);
	free(s);
	json_decref(p);
}

/* The reference implementation's solution verifies; a different key or activity does not. */
START_TEST(test_known_answer)
{
	char hex[65];
	long long exp = 0;
	ck_assert_int_eq(altcha_verify(KEY, KAT_PAYLOAD, 7, 1000, hex, &exp), ALTCHA_OK);
	ck_assert_str_eq(hex, KAT_CHALLENGE);
	ck_assert_int_eq(exp, 4102444800LL);
	ck_assert_int_eq(altcha_verify(KEY "x", KAT_PAYLOAD, 7, 1000, hex, &exp), ALTCHA_WRONG);
	ck_assert_int_eq(altcha_verify(KEY, KAT_PAYLOAD, 8, 1000, hex, &exp),
			 ALTCHA_OTHER_ACTIVITY);
	ck_assert_int_eq(altcha_verify(KEY, KAT_PAYLOAD, 7, 4102444800LL, hex, &exp),
			 ALTCHA_EXPIRED);
}
END_TEST

/* A challenge we make is solvable, verifies once solved, and not with a wrong number. */
START_TEST(test_round_trip)
{
	char hex[65], payload[1024];
	long long exp = 0;
	json_t *c = altcha_challenge_new(KEY, 42, 2000, 5000);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(json_string_value(json_object_get(c, "algorithm")), "SHA-256");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "maxnumber")), 2000);
	ck_assert_ptr_nonnull(
	    strstr(json_string_value(json_object_get(c, "salt")), "?expires=5000&a=42&"));
	long long n = solve(c);
	ck_assert_int_ge(n, 0);
	payload_of(c, n, payload, sizeof payload);
	ck_assert_int_eq(altcha_verify(KEY, payload, 42, 4999, hex, &exp), ALTCHA_OK);
	ck_assert_int_eq(exp, 5000);
	ck_assert_str_eq(hex, json_string_value(json_object_get(c, "challenge")));
	payload_of(c, n + 1, payload, sizeof payload);
	ck_assert_int_eq(altcha_verify(KEY, payload, 42, 4999, hex, &exp), ALTCHA_WRONG);
	json_decref(c);
}
END_TEST

/* A salt changed to push the expiry or the activity breaks the challenge hash. */
START_TEST(test_forged_salt)
{
	char payload[1024], json[512];
	long long exp;
	char hex[65];
	snprintf(json, sizeof json,
		 "{\"algorithm\":\"SHA-256\",\"challenge\":\"%s\",\"number\":31337,\"salt\":"
		 "\"0123456789abcdef01234567?expires=4102444800&a=8&\",\"signature\":"
		 "\"18f1cf3554f4796b53708beac00fb6f7419ba793b143d269463eda66af5439fa\"}",
		 KAT_CHALLENGE);
	b64(json, payload, sizeof payload);
	ck_assert_int_eq(altcha_verify(KEY, payload, 8, 1000, hex, &exp), ALTCHA_WRONG);
}
END_TEST

/* Malformed payloads are refused as such. */
START_TEST(test_malformed)
{
	char payload[2048], hex[65];
	long long exp;
	const char *jsons[] = {
	    "[]",
	    "{}",
	    "{\"algorithm\":\"SHA-1\",\"challenge\":\"" KAT_CHALLENGE "\",\"number\":1,\"salt\":"
	    "\"x\",\"signature\":\"" KAT_CHALLENGE "\"}",
	    "{\"algorithm\":\"SHA-256\",\"challenge\":\"" KAT_CHALLENGE "\",\"number\":-1,"
	    "\"salt\":\"x\",\"signature\":\"" KAT_CHALLENGE "\"}",
	    "{\"algorithm\":\"SHA-256\",\"challenge\":\"ABC\",\"number\":1,\"salt\":\"x\","
	    "\"signature\":\"" KAT_CHALLENGE "\"}",
	    "{\"algorithm\":\"SHA-256\",\"challenge\":\"" KAT_CHALLENGE "\",\"number\":\"1\","
	    "\"salt\":\"x\",\"signature\":\"" KAT_CHALLENGE "\"}",
	};
	for (size_t i = 0; i < sizeof jsons / sizeof jsons[0]; i++) {
		b64(jsons[i], payload, sizeof payload);
		ck_assert_int_eq(altcha_verify(KEY, payload, 7, 10, hex, &exp), ALTCHA_MALFORMED);
	}
	ck_assert_int_eq(altcha_verify(KEY, "not base64!", 7, 10, hex, &exp), ALTCHA_MALFORMED);
	ck_assert_int_eq(altcha_verify(KEY, NULL, 7, 10, hex, &exp), ALTCHA_MALFORMED);
	memset(payload, 'A', 1500);
	payload[1500] = 0;
	ck_assert_int_eq(altcha_verify(KEY, payload, 7, 10, hex, &exp), ALTCHA_MALFORMED);
}
END_TEST

/* The suite. */
static Suite *altcha_suite(void)
{
	Suite *s = suite_create("altcha");
	TCase *tc = tcase_create("altcha");
	tcase_add_test(tc, test_known_answer);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_forged_salt);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_status("test-altcha", unit_run(altcha_suite()), NULL);
}
