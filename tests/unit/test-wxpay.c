/* test-wxpay.c - WeChat Pay v3 crypto: signing vectors, verification, AES-GCM, notifications. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "ids.h"
#include "unit.h"
#include "wxpay.h"

/* A fixed RSA-2048 test key (generated for these tests only, never used elsewhere). */
static const char test_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCVz4FFdOs1uQNK\n"
    "Rjh32x/shMFUuZGNuXvtSuFYcAK6/zfiHCGknB1Z2WKp/581Fib1NT2qFdiKxShb\n"
    "dgGJL8BxagQ8+CQ3N344uk71mOElkxb1GNCnzQ5hYus7cXsuvEDxSpb7vOrAHPs3\n"
    "Cu6dLUSkRuzfcowHt/IQ/o8vuDEfW+mJsIeMWdtPuD6GQdHpMOKw/7qna8ftnqpZ\n"
    "P9cvHR50euDHjk6zdd3Sf/HguDIMOCmdIgTOrtVSBRg5Ksrer8nFxWbTwGaUtTrM\n"
    "tfI/PO2/W74UIb5Vhky3qvbKwpTqoE2i+B2zDZEEEj4GVY5+IJpUzPusHnQkzglc\n"
    "0qFpF18xAgMBAAECgf9w3ByDiWjfc8/Ffqir1Axhbc4ff8/S0Y/nXRSMGRtEQpxd\n"
    "N6CIKtQx0RbzUTd0iBMilpXJH26LnL7JWahujb/LsVF9mClEHC4BJLMGN+nmBfw8\n"
    "+odUbLbTxyueneCpBzX+QtRlwLMKoxl76SkSruj8Ss/wAVfmzGRvcH5nIliG08di\n"
    "sjmOCKztspdzvzJSJ+1ToW8hd4UCNXFUN77bJibrS4fUIOas4hI1EC33u+yupdYa\n"
    "91Wls90OQxu2ctoRfLi+auBNxvQO33LGxYjxlpRiui6PHnAb4tj166jNtNFwN1Nb\n"
    "0Qt4Pf6sBp1r8Zx4GIimoRoEWfo1rV4txK9UIEECgYEAzabv1ouPcqsWf1cgSShH\n"
    "YHF15rwzM5lKlqIuxlwoaQ2CjatMs7BU1q7QsqLfUNEfNei9VfhwgMuQa+cgbnmb\n"
    "jD6F5VzY4iZrybAabYOB1bgIioGxW8t7IuY2ljTJqOjGuKiImgyJ69yandngk46X\n"
    "6Vuh2ag6b7It+hnoX56bNvECgYEAuny/5N2NaDomae/hPvFXJfRJNkbnVTpttN83\n"
    "t1ndFFJiA59NjAiAbpMTokTzIVMMKf09iONGzA4pJug6M5SwdG+MB0MSv/eJvb+p\n"
    "CUtb2T+rbxPPiHGbDqg2KApd7CC+JDX/jhf+qQopLZcwUI8c9xLf0DF6ypfubo1K\n"
    "iGwNLEECgYEAhd5GP22HikhOk8P+U0Dx/Zi9+93EorEFebrHIf55m7DcrCW2/z0o\n"
    "bLtNRQt6vNv0Kh5/qUfYzC42q9a/KMrmc0t704s17zi9b4PAIEu7p4htnuO/tRZm\n"
    "6JfdLrfcEaS9PxUOHuFMoolu6JQceVEYGCK637l/mJfvD9/vgNb5CLECgYAV3ueK\n"
    "aclZvegfaHicLyWvV9T2Pp6GylFvcvZP1IQvC/JexmIL2DtnvGwDDd8Nu3WjvwVm\n"
    "dnEpIUgGPhoFTpzbKvHbMCyUwu0uibnDU0k0U1lBr6sZL2ml8GhZjc2yEaz7BjIw\n"
    "cfP10zE9HYwXBpG5EEebXRIvjF30LTHeif2JgQKBgQCZcMau/2EKtlbJBPAavuro\n"
    "S+3yWo9vsoTO+7KoKdvKAqZajcdC4jXnWkP5X033lWDKC8JoH8D4yXzPpleQ53j5\n"
    "qvvqIKVIiifzNk+lOpmf7RWeDZX49y54rOPsE7DbbAeBQxjiXIvQdree6OtjLjyf\n"
    "ZFuuW/o6QrmjernnW926YA==\n"
    "-----END PRIVATE KEY-----\n";

/* Its public half. */
static const char test_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlc+BRXTrNbkDSkY4d9sf\n"
    "7ITBVLmRjbl77UrhWHACuv834hwhpJwdWdliqf+fNRYm9TU9qhXYisUoW3YBiS/A\n"
    "cWoEPPgkNzd+OLpO9ZjhJZMW9RjQp80OYWLrO3F7LrxA8UqW+7zqwBz7NwrunS1E\n"
    "pEbs33KMB7fyEP6PL7gxH1vpibCHjFnbT7g+hkHR6TDisP+6p2vH7Z6qWT/XLx0e\n"
    "dHrgx45Os3Xd0n/x4LgyDDgpnSIEzq7VUgUYOSrK3q/JxcVm08BmlLU6zLXyPzzt\n"
    "v1u+FCG+VYZMt6r2ysKU6qBNovgdsw2RBBI+BlWOfiCaVMz7rB50JM4JXNKhaRdf\n"
    "MQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* openssl dgst -sha256 -sign of the v3 document's example request message. */
static const char vector1_msg[] = "GET\n/v3/certificates\n1554208460\n"
				  "593BEC0C930BF1AFEB40B4A08C8FB242\n\n";
static const char vector1_sig[] =
    "g27hNyb/UVKffH+y9EtAslgy/ryRvU86pyEVoWdlw5iVbSryuFjmeP9+CzLlsUS1jhrm3W/"
    "Xh2DilfBZPjY8GrKvNqa1ORbb2WXGtPR0WEVe4ZQGeK7Z9zvyW4XuKx2UMga17dKXRz4DXx8XuBaUHr7UqTybkwKrAH0t2"
    "Is8wX5mbCBNVhrAYOzc69lYNniertV47nClzIX6FbKzR5ldKytapCBc+7wJFAend3afIxWU/"
    "feS15YBb+LSp9i1VXgmg6yzfP3BJ83aBUrcrDcdBGCod+JmkXVOQmq9AiQiVlGkaKFADK9aMHFMo90LL71dhTSj6tnTjl/"
    "O2l6KZaSQXQ==";

/* openssl dgst -sha256 -sign of a POST with a body, as wxpay_authorization must sign it. */
static const char vector2_sig[] =
    "ZIITuUARyCRs/+d78pQ63+wCJ6kfBY3PlXj8tGH2c+ePm1HLKvbN/"
    "ADW7lxYE8PWxE68GNNMhPDSx5Iuy4wEAsuCzYAC45wGf63uvjeWjNc3p1NmFhHuQaGjBGp2lnpP0AEsYnehJ9C/"
    "KnSzAE35Oaov62Atvw44CiAuiPzwzTApHrCHwMz3xcsGleS61jlvlJHKvZHf33W4abkATMtcHM7A8HVN3YwpP1v1SCZFt8"
    "/+PgAKgkE+uzM6Lx2C5EdzrndG04Uz8jxYRs9aYEQ55XIIDQBLx33GxNOVirhtbJ/W5wYjPSnrDHySiqD6k1xyD/fIRO/"
    "9ebd+fCgf8tJ5ow==";

/* Node's crypto AES-256-GCM of a resource, key "0123456789abcdef0123456789abcdef". */
static const char gcm_key[] = "0123456789abcdef0123456789abcdef";
static const char gcm_plain[] = "{\"out_trade_no\":\"PMT123456\",\"amount\":{\"total\":100}}";
static const char gcm_ct[] =
    "Eu6myr+6GaECeJdOZPZ6BX5h9kuIslxvK4gcsPA9o4UZptTeFC/Q1yUO8cwsqbbtrijBrLSTAf5ea8EFVO9ORBSIxA==";

static char key_path[512], pub_path[512];

/* Flip one base64 character to another valid one at position i. */
static void flip_b64(char *s, size_t i)
{
	s[i] = s[i] == 'A' ? 'B' : 'A';
}

/* A client whose merchant key and platform key are both the test key. */
static struct wxpay *test_client(struct fs_config *cfg)
{
	char err[512];
	unit_config(cfg,
		    "[wxpay]\napi_base = http://127.0.0.1:1\nmchid = 1900000109\nappid = wxtest\n"
		    "serial_no = MERCHANTSERIAL\nprivate_key = %s\nplatform_key = %s\n"
		    "platform_serial = PUB_KEY_ID_TEST\napiv3_key = %s\n"
		    "notify_url = http://127.0.0.1:1/cb\nnotify_skew = 300\n",
		    key_path, pub_path, gcm_key);
	struct wxpay *w = wxpay_new(cfg, err, sizeof err);
	ck_assert_msg(w != NULL, "wxpay_new: %s", err);
	return w;
}

START_TEST(sign_vector)
{
	EVP_PKEY *k = wxpay_key_parse(test_key_pem, 1);
	char sig[WXPAY_SIG_MAX];
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(wxpay_rsa_sign(k, vector1_msg, strlen(vector1_msg), sig, sizeof sig), 0);
	ck_assert_str_eq(sig, vector1_sig);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(verify_and_tamper)
{
	EVP_PKEY *pub = wxpay_key_parse(test_pub_pem, 0);
	char msg[sizeof vector1_msg], sig[sizeof vector1_sig];
	ck_assert_ptr_nonnull(pub);
	ck_assert_int_eq(wxpay_rsa_verify(pub, vector1_msg, strlen(vector1_msg), vector1_sig), 1);
	memcpy(msg, vector1_msg, sizeof msg);
	msg[5] ^= 1;
	ck_assert_int_eq(wxpay_rsa_verify(pub, msg, strlen(msg), vector1_sig), 0);
	memcpy(sig, vector1_sig, sizeof sig);
	flip_b64(sig, 40);
	ck_assert_int_eq(wxpay_rsa_verify(pub, vector1_msg, strlen(vector1_msg), sig), 0);
	ck_assert_int_eq(wxpay_rsa_verify(pub, vector1_msg, strlen(vector1_msg), "not base64!"), 0);
	ck_assert_int_eq(wxpay_rsa_verify(pub, vector1_msg, strlen(vector1_msg), ""), 0);
	ck_assert_int_eq(wxpay_rsa_verify(pub, vector1_msg, strlen(vector1_msg), NULL), 0);
	/* A public key where a private one is wanted (and the reverse) does not load. */
	ck_assert_ptr_null(wxpay_key_parse(test_pub_pem, 1));
	ck_assert_ptr_null(wxpay_key_parse("garbage", 0));
	EVP_PKEY_free(pub);
}
END_TEST

START_TEST(authorization_header)
{
	struct fs_config cfg;
	struct wxpay *w = test_client(&cfg);
	char auth[WXPAY_AUTH_MAX], want[WXPAY_AUTH_MAX];
	ck_assert_int_eq(wxpay_authorization(w, "POST", "/v3/pay/transactions/native", "{\"a\":1}",
					     1700000000, "NONCE0123456789", auth, sizeof auth),
			 0);
	snprintf(want, sizeof want,
		 "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\",nonce_str=\"NONCE0123456789\","
		 "signature=\"%s\",timestamp=\"1700000000\",serial_no=\"MERCHANTSERIAL\"",
		 vector2_sig);
	ck_assert_str_eq(auth, want);
	ck_assert_int_eq(wxpay_authorization(w, "POST", "/x", "{}", 1, "N", auth, 16), -1);
	wxpay_free(w);
	config_free(&cfg);
}
END_TEST

START_TEST(gcm_vector_and_round_trip)
{
	char *plain = NULL, *ct = NULL;
	size_t len = 0;
	ck_assert_int_eq(
	    wxpay_aead_decrypt(gcm_key, "abcdefghijkl", "transaction", gcm_ct, &plain, &len), 0);
	ck_assert_uint_eq(len, strlen(gcm_plain));
	ck_assert_str_eq(plain, gcm_plain);
	free(plain);

	ck_assert_int_eq(wxpay_aead_encrypt(gcm_key, "zyxwvutsrqpo", "certificate", "hello, 世界",
					    strlen("hello, 世界"), &ct),
			 0);
	ck_assert_int_eq(
	    wxpay_aead_decrypt(gcm_key, "zyxwvutsrqpo", "certificate", ct, &plain, &len), 0);
	ck_assert_str_eq(plain, "hello, 世界");
	free(plain);
	free(ct);
}
END_TEST

START_TEST(gcm_tamper)
{
	char *plain = (char *)1, ct[sizeof gcm_ct];
	size_t len;
	memcpy(ct, gcm_ct, sizeof ct);
	flip_b64(ct, 10);
	ck_assert_int_eq(
	    wxpay_aead_decrypt(gcm_key, "abcdefghijkl", "transaction", ct, &plain, &len), -1);
	ck_assert_ptr_null(plain);
	/* Wrong associated data, nonce, key; truncated tag; bad key length. */
	ck_assert_int_eq(
	    wxpay_aead_decrypt(gcm_key, "abcdefghijkl", "certificate", gcm_ct, &plain, &len), -1);
	ck_assert_int_eq(
	    wxpay_aead_decrypt(gcm_key, "abcdefghijkm", "transaction", gcm_ct, &plain, &len), -1);
	ck_assert_int_eq(wxpay_aead_decrypt("0123456789abcdef0123456789abcdeX", "abcdefghijkl",
					    "transaction", gcm_ct, &plain, &len),
			 -1);
	ck_assert_int_eq(
	    wxpay_aead_decrypt(gcm_key, "abcdefghijkl", "transaction", "AAAA", &plain, &len), -1);
	ck_assert_int_eq(
	    wxpay_aead_decrypt("short", "abcdefghijkl", "transaction", gcm_ct, &plain, &len), -1);
}
END_TEST

/* A signed notification header set over body at time ts (platform key = test key). */
static void sign_notice(const char *ts, const char *nonce, const char *body, char *sig)
{
	char msg[4096];
	EVP_PKEY *k = wxpay_key_parse(test_key_pem, 1);
	int n = snprintf(msg, sizeof msg, "%s\n%s\n%s\n", ts, nonce, body);
	ck_assert_int_eq(wxpay_rsa_sign(k, msg, (size_t)n, sig, WXPAY_SIG_MAX), 0);
	EVP_PKEY_free(k);
}

START_TEST(notice_verify)
{
	struct fs_config cfg;
	struct wxpay *w = test_client(&cfg);
	const char *body = "{\"id\":\"EV-1\"}";
	char sig[WXPAY_SIG_MAX], ts[24];
	long long now = 1700000000;
	snprintf(ts, sizeof ts, "%lld", now - 10);
	sign_notice(ts, "NONCE1", body, sig);
	struct wxpay_notice_hdr h = {ts, "NONCE1", sig, "PUB_KEY_ID_TEST"};
	ck_assert_int_eq(wxpay_notice_verify(w, &h, body, strlen(body), now), NOTICE_OK);
	/* The body changed by one byte. */
	ck_assert_int_eq(wxpay_notice_verify(w, &h, "{\"id\":\"EV-2\"}", strlen(body), now),
			 NOTICE_BAD_SIGNATURE);
	/* Another nonce than signed. */
	struct wxpay_notice_hdr h2 = {ts, "NONCE2", sig, "PUB_KEY_ID_TEST"};
	ck_assert_int_eq(wxpay_notice_verify(w, &h2, body, strlen(body), now),
			 NOTICE_BAD_SIGNATURE);
	/* Too old, too far ahead. */
	ck_assert_int_eq(wxpay_notice_verify(w, &h, body, strlen(body), now + 400), NOTICE_STALE);
	ck_assert_int_eq(wxpay_notice_verify(w, &h, body, strlen(body), now - 400), NOTICE_STALE);
	/* Unknown serial, missing header, non-numeric timestamp. */
	struct wxpay_notice_hdr h3 = {ts, "NONCE1", sig, "PUB_KEY_ID_OTHER"};
	ck_assert_int_eq(wxpay_notice_verify(w, &h3, body, strlen(body), now),
			 NOTICE_UNKNOWN_SERIAL);
	struct wxpay_notice_hdr h4 = {ts, NULL, sig, "PUB_KEY_ID_TEST"};
	ck_assert_int_eq(wxpay_notice_verify(w, &h4, body, strlen(body), now), NOTICE_BAD_HEADERS);
	struct wxpay_notice_hdr h5 = {"12x", "NONCE1", sig, "PUB_KEY_ID_TEST"};
	ck_assert_int_eq(wxpay_notice_verify(w, &h5, body, strlen(body), now), NOTICE_BAD_HEADERS);
	wxpay_free(w);
	config_free(&cfg);
}
END_TEST

START_TEST(notice_decrypt)
{
	struct fs_config cfg;
	struct wxpay *w = test_client(&cfg);
	struct wxpay_txn x;
	char body[2048], bad[2048];
	json_t *txn = NULL;
	snprintf(
	    body, sizeof body,
	    "{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource\":{"
	    "\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"%s\",\"nonce\":\"abcdefghijkl\","
	    "\"associated_data\":\"transaction\"}}",
	    gcm_ct);
	ck_assert_int_eq(wxpay_notice_decrypt(w, body, strlen(body), &txn), NOTICE_OK);
	ck_assert_str_eq(json_string_value(json_object_get(txn, "out_trade_no")), "PMT123456");
	/* Incomplete transaction: no mchid, appid or trade_state. */
	ck_assert_int_eq(wxpay_txn_parse(txn, &x), -1);
	json_decref(txn);

	memcpy(bad, body, sizeof bad);
	flip_b64(strstr(bad, "ciphertext") + 20, 0);
	ck_assert_int_eq(wxpay_notice_decrypt(w, bad, strlen(bad), &txn), NOTICE_DECRYPT);
	ck_assert_ptr_null(txn);
	ck_assert_int_eq(wxpay_notice_decrypt(w, "{}", 2, &txn), NOTICE_BAD_BODY);
	ck_assert_int_eq(wxpay_notice_decrypt(w, "not json", 8, &txn), NOTICE_BAD_BODY);
	wxpay_free(w);
	config_free(&cfg);
}
END_TEST

START_TEST(txn_and_time)
{
	struct wxpay_txn x;
	char out[32];
	ck_assert_int_eq(wxpay_time_parse("2018-06-08T10:34:56+08:00"), 1528425296);
	ck_assert_int_eq(wxpay_time_parse("2018-06-08T02:34:56Z"), 1528425296);
	ck_assert_int_eq(wxpay_time_parse("2018-06-08 10:34:56"), -1);
	ck_assert_int_eq(wxpay_time_parse("2018-13-08T10:34:56+08:00"), -1);
	wxpay_time_format(1528425296, out);
	ck_assert_str_eq(out, "2018-06-08T10:34:56+08:00");

	json_t *t =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:i}}", "mchid", "1900000109", "appid", "wxtest",
		      "out_trade_no", "PMT1", "transaction_id", "4200001", "trade_state", "SUCCESS",
		      "success_time", "2018-06-08T10:34:56+08:00", "amount", "total", 1999);
	ck_assert_int_eq(wxpay_txn_parse(t, &x), 0);
	ck_assert_int_eq(x.total, 1999);
	ck_assert_int_eq(x.success_time, 1528425296);
	ck_assert_str_eq(x.transaction_id, "4200001");
	/* SUCCESS without a transaction id is not a payment. */
	json_object_del(t, "transaction_id");
	ck_assert_int_eq(wxpay_txn_parse(t, &x), -1);
	json_object_set_new(t, "transaction_id", json_string("4200001"));
	json_object_set_new(t, "amount", json_pack("{s:s}", "total", "1999"));
	ck_assert_int_eq(wxpay_txn_parse(t, &x), -1);
	json_decref(t);
}
END_TEST

/* Insert a waiting payment of 500 fen with a new sn into the test MySQL. */
static void insert_payment(struct db *db, char *sn)
{
	char order_sn[ID_SN_MAX];
	ck_assert_int_eq(id_sn_new(sn, ID_SN_MAX, "PMT"), 0);
	ck_assert_int_eq(id_sn_new(order_sn, sizeof order_sn, "UNT"), 0);
	ck_assert_int_eq(db_exec(db,
				 "INSERT INTO flashsale_payment.payment (sn, order_sn, user_id, "
				 "trade_type, pay_total, pay_status, pay_deadline, create_time, "
				 "update_time) VALUES (?, ?, 1, 'NATIVE', 500, 0, 0, 0, 0)",
				 "ss", sn, order_sn),
			 DB_OK);
}

/* pay_status and version of a payment row. */
static void payment_state(struct db *db, const char *sn, long long *status, long long *version)
{
	json_t *row;
	ck_assert_int_eq(db_query_row(db, &row,
				      "SELECT pay_status, version FROM flashsale_payment.payment "
				      "WHERE sn = ?",
				      "s", sn),
			 DB_OK);
	ck_assert_ptr_nonnull(row);
	*status = json_integer_value(json_object_get(row, "pay_status"));
	*version = json_integer_value(json_object_get(row, "version"));
	json_decref(row);
}

/*
 * payment_apply against the test stack's MySQL and Redis: applied once, a failed publish is
 * reported (the callback then answers 500) and a re-delivery publishes again.
 */
START_TEST(apply_once_and_republish)
{
	struct fs_config cfg;
	char sn[ID_SN_MAX], sn2[ID_SN_MAX];
	long long st, ver;
	unit_config(&cfg, "[mysql]\nsocket = %s\nuser = root\n[redis]\nsocket = %s\n",
		    unit_env("FLASHSALE_TEST_MYSQL_SOCKET"),
		    unit_env("FLASHSALE_TEST_REDIS_SOCKET"));
	struct db *db = db_new(&cfg);
	struct cache *c = cache_new(&cfg);
	struct event_bus *bus = event_bus_new(&cfg, c);
	ck_assert_ptr_nonnull(bus);
	insert_payment(db, sn);
	struct wxpay_txn x = {.mchid = "1900000109",
			      .appid = "wxtest",
			      .transaction_id = "4200000000000000000000000001",
			      .trade_state = "SUCCESS",
			      .total = 499,
			      .success_time = 1700000000};
	snprintf(x.out_trade_no, sizeof x.out_trade_no, "%s", sn);

	ck_assert_int_eq(payment_apply(db, bus, &x), PAY_MISMATCH);
	payment_state(db, sn, &st, &ver);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(ver, 0);

	x.total = 500;
	ck_assert_int_eq(payment_apply(db, NULL, &x), PAY_PUBLISH); /* recorded, not published */
	payment_state(db, sn, &st, &ver);
	ck_assert_int_eq(st, 1);
	ck_assert_int_eq(ver, 1);
	ck_assert_int_eq(payment_apply(db, bus, &x),
			 PAY_ALREADY); /* published now, not re-applied */
	payment_state(db, sn, &st, &ver);
	ck_assert_int_eq(ver, 1);

	snprintf(x.out_trade_no, sizeof x.out_trade_no, "PMT0000000000000000000000");
	ck_assert_int_eq(payment_apply(db, bus, &x), PAY_NOT_FOUND);

	/* Closed by WeChat, then paid after all (close raced the payer): still recorded. */
	insert_payment(db, sn2);
	snprintf(x.out_trade_no, sizeof x.out_trade_no, "%s", sn2);
	snprintf(x.trade_state, sizeof x.trade_state, "CLOSED");
	ck_assert_int_eq(payment_apply(db, bus, &x), PAY_IGNORED);
	payment_state(db, sn2, &st, &ver);
	ck_assert_int_eq(st, -1);
	snprintf(x.trade_state, sizeof x.trade_state, "SUCCESS");
	ck_assert_int_eq(payment_apply(db, bus, &x), PAY_APPLIED);
	payment_state(db, sn2, &st, &ver);
	ck_assert_int_eq(st, 1);

	event_bus_free(bus);
	cache_free(c);
	db_free(db);
	config_free(&cfg);
}
END_TEST

/* Write the test key pair to temp files for wxpay_new. */
static void keys_setup(void)
{
	ck_assert_int_eq(unit_write_temp(test_key_pem, key_path, sizeof key_path), 0);
	ck_assert_int_eq(unit_write_temp(test_pub_pem, pub_path, sizeof pub_path), 0);
}

/* Remove the temp key files. */
static void keys_teardown(void)
{
	unlink(key_path);
	unlink(pub_path);
}

int main(void)
{
	unit_clear_config_env();
	Suite *s = suite_create("wxpay");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, sign_vector);
	tcase_add_test(tc, verify_and_tamper);
	tcase_add_test(tc, authorization_header);
	tcase_add_test(tc, gcm_vector_and_round_trip);
	tcase_add_test(tc, gcm_tamper);
	tcase_add_test(tc, notice_verify);
	tcase_add_test(tc, notice_decrypt);
	tcase_add_test(tc, txn_and_time);
	suite_add_tcase(s, tc);
	const char *skipped = NULL;
	if (unit_env("FLASHSALE_TEST_MYSQL_SOCKET") && unit_env("FLASHSALE_TEST_REDIS_SOCKET")) {
		TCase *db = tcase_create("apply");
		tcase_add_test(db, apply_once_and_republish);
		suite_add_tcase(s, db);
	} else {
		skipped = "payment_apply needs FLASHSALE_TEST_MYSQL_SOCKET and _REDIS_SOCKET";
	}
	return unit_status("test-wxpay", unit_run(s), skipped);
}
