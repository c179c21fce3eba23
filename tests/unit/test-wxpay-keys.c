/* test-wxpay-keys.c - platform keys by serial: a certificate and two bare public keys at once. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "wxpay.h"

/* The serial the test certificate carries (upper-case hex, as WeChat names it). */
#define CERT_SERIAL "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

static char dir[256];

/* Run a shell command in dir; fail the test if it fails. */
static void sh(const char *cmd)
{
	char line[2048];
	snprintf(line, sizeof line, "cd '%s' && %s >/dev/null 2>&1", dir, cmd);
	ck_assert_msg(system(line) == 0, "failed: %s", cmd);
}

/* Keys made once with openssl: a, b (bare public keys) and a platform certificate. */
static void keys_setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/fs-keys-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("openssl genrsa -out a.key 2048 && openssl rsa -in a.key -pubout -out a.pub");
	sh("openssl genrsa -out b.key 2048 && openssl rsa -in b.key -pubout -out b.pub");
	sh("openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=Tenpay.com Root CA' "
	   "-set_serial 0x" CERT_SERIAL " -keyout c.key -out c.pem");
}

/* Remove the key directory. */
static void keys_teardown(void)
{
	char line[512];
	snprintf(line, sizeof line, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(line), 0);
}

/* A client with the given platform_key/platform_serial/platform_keys; NULL with err if refused. */
static struct wxpay *client(struct fs_config *cfg, const char *one, const char *serial,
			    const char *list, char *err, size_t errlen)
{
	unit_config(
	    cfg,
	    "[wxpay]\napi_base = http://127.0.0.1:1\nmchid = 1900000109\nappid = wxtest\n"
	    "serial_no = MERCHANTSERIAL\nprivate_key = %s/a.key\nplatform_key = %s\n"
	    "platform_serial = %s\nplatform_keys = %s\n"
	    "apiv3_key = 0123456789abcdef0123456789abcdef\nnotify_url = http://127.0.0.1:1/cb\n",
	    dir, one, serial, list);
	return wxpay_new(cfg, err, errlen);
}

/* Verify a notification signed with key file name under serial; the wxpay_notice_rc. */
static int signed_by(struct wxpay *w, const char *name, const char *serial)
{
	char path[512], sig[WXPAY_SIG_MAX], ts[24];
	const char *body = "{\"event_type\":\"REFUND.SUCCESS\"}";
	snprintf(path, sizeof path, "%s/%s", dir, name);
	EVP_PKEY *k = wxpay_key_load(path, 1);
	ck_assert_ptr_nonnull(k);
	long long now = (long long)time(NULL);
	snprintf(ts, sizeof ts, "%lld", now);
	char msg[256];
	int n = snprintf(msg, sizeof msg, "%s\nNONCE123\n%s\n", ts, body);
	ck_assert_int_eq(wxpay_rsa_sign(k, msg, (size_t)n, sig, sizeof sig), 0);
	EVP_PKEY_free(k);
	struct wxpay_notice_hdr h = {ts, "NONCE123", sig, serial};
	return wxpay_notice_verify(w, &h, body, strlen(body), now);
}

/* A certificate (serial from it) and two public keys at once, each under its own serial. */
START_TEST(certificate_and_two_keys)
{
	struct fs_config cfg;
	char list[1024], err[512];
	snprintf(list, sizeof list, "%s/c.pem, PUB_KEY_ID_A=%s/a.pub,PUB_KEY_ID_B=%s/b.pub", dir,
		 dir, dir);
	struct wxpay *w = client(&cfg, "", "", list, err, sizeof err);
	ck_assert_msg(w != NULL, "wxpay_new: %s", err);
	ck_assert_int_eq(signed_by(w, "c.key", CERT_SERIAL), NOTICE_OK);
	ck_assert_int_eq(signed_by(w, "a.key", "PUB_KEY_ID_A"), NOTICE_OK);
	ck_assert_int_eq(signed_by(w, "b.key", "PUB_KEY_ID_B"), NOTICE_OK);
	/* The right key under another serial, or a key that is not trusted: refused. */
	ck_assert_int_eq(signed_by(w, "a.key", "PUB_KEY_ID_B"), NOTICE_BAD_SIGNATURE);
	ck_assert_int_eq(signed_by(w, "b.key", CERT_SERIAL), NOTICE_BAD_SIGNATURE);
	ck_assert_int_eq(signed_by(w, "a.key", "PUB_KEY_ID_C"), NOTICE_UNKNOWN_SERIAL);
	ck_assert_int_eq(signed_by(w, "c.key", "5157f09efdc096de15ebe81a47057a7232f1b8e1"),
			 NOTICE_UNKNOWN_SERIAL);
	wxpay_free(w);
	config_free(&cfg);
}
END_TEST

/* The single platform_key with platform_keys beside it: all of them count. */
START_TEST(single_key_plus_list)
{
	struct fs_config cfg;
	char one[512], list[512], err[512];
	snprintf(one, sizeof one, "%s/a.pub", dir);
	snprintf(list, sizeof list, "%s/c.pem", dir);
	struct wxpay *w = client(&cfg, one, "PUB_KEY_ID_A", list, err, sizeof err);
	ck_assert_msg(w != NULL, "wxpay_new: %s", err);
	ck_assert_int_eq(signed_by(w, "a.key", "PUB_KEY_ID_A"), NOTICE_OK);
	ck_assert_int_eq(signed_by(w, "c.key", CERT_SERIAL), NOTICE_OK);
	ck_assert_int_eq(signed_by(w, "b.key", "PUB_KEY_ID_A"), NOTICE_BAD_SIGNATURE);
	wxpay_free(w);
	config_free(&cfg);
}
END_TEST

/* Entries that cannot be trusted stop the client with a message. */
START_TEST(bad_entries)
{
	struct fs_config cfg;
	char list[1024], err[512];
	/* serial= prefix, file, and an optional second entry (serial=, file) */
	const char *cases[][4] = {
	    {"", "a.pub", NULL, NULL},              /* a bare key needs SERIAL= */
	    {"", "missing.pem", NULL, NULL},        /* no such file */
	    {"PUB_KEY_ID_A=", "a.key", NULL, NULL}, /* a private key is no public key */
	    {"PUB_KEY_ID_A=", "a.pub", "PUB_KEY_ID_A=", "b.pub"}, /* one serial twice */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int n = snprintf(list, sizeof list, "%s%s/%s", cases[i][0], dir, cases[i][1]);
		if (cases[i][2])
			snprintf(list + n, sizeof list - (size_t)n, ",%s%s/%s", cases[i][2], dir,
				 cases[i][3]);
		err[0] = 0;
		struct wxpay *w = client(&cfg, "", "", list, err, sizeof err);
		ck_assert_msg(w == NULL, "accepted: %s", list);
		ck_assert_msg(strstr(err, "platform"), "message: %s", err);
		config_free(&cfg);
	}
	/* No platform key at all. */
	struct wxpay *w = client(&cfg, "", "", "", err, sizeof err);
	ck_assert_ptr_null(w);
	ck_assert_msg(strstr(err, "platform_key"), "message: %s", err);
	config_free(&cfg);
}
END_TEST

int main(void)
{
	unit_clear_config_env();
	Suite *s = suite_create("wxpay-keys");
	TCase *tc = tcase_create("keys");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, certificate_and_two_keys);
	tcase_add_test(tc, single_key_plus_list);
	tcase_add_test(tc, bad_entries);
	suite_add_tcase(s, tc);
	return unit_status("test-wxpay-keys", unit_run(s), NULL);
}
