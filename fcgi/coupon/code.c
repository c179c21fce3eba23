/* code.c - redeem codes: an admin batch of 128-bit random codes (only their SHA-256 is stored),
 * and redeeming one (rate-limited per user and per address: codes are what bots guess). */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupon-fcgi.h"
#include "log.h"
#include "ratelimit.h"

#define CODE_BYTES 16
#define CODE_HEX   (2 * CODE_BYTES)

/* The hex SHA-256 of a code (already lower case). */
static void code_hash(const char *code, char out[2 * crypto_hash_sha256_BYTES + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)code, strlen(code));
	sodium_bin2hex(out, 2 * crypto_hash_sha256_BYTES + 1, h, sizeof h);
}

int coupon_code_batch(struct app *app, struct http_req *req)
{
	long long tid, count;
	json_t *row = NULL, *codes = NULL, *hashes = NULL;
	char *doc = NULL;
	int rc;

	if ((rc = param_int(req, "templateId", 1, 1, (long long)1 << 53, &tid)) ||
	    (rc = param_int(req, "count", 1, 1, COUPON_BATCH_MAX, &count)))
		return rc;
	if ((rc = db_query_row(app->db, &row,
			       "SELECT id FROM flashsale_coupon.template WHERE id = ?", "i", tid)))
		return coupon_code_of(req, rc, NULL);
	if (!row)
		return E_COUPON_NOT_FOUND;
	json_decref(row);
	codes = json_array();
	hashes = json_array();
	for (long long i = 0; codes && hashes && i < count; i++) {
		unsigned char rnd[CODE_BYTES];
		char code[CODE_HEX + 1], hash[2 * crypto_hash_sha256_BYTES + 1];
		randombytes_buf(rnd, sizeof rnd);
		sodium_bin2hex(code, sizeof code, rnd, sizeof rnd);
		code_hash(code, hash);
		json_array_append_new(codes, json_string(code));
		json_array_append_new(hashes, json_string(hash));
	}
	if (!codes || !hashes || !(doc = json_dumps(hashes, JSON_COMPACT))) {
		rc = E_SERVER;
		goto out;
	}
	/* One statement for the whole batch: the hashes as rows of a JSON document. */
	rc = db_exec(app->db,
		     "INSERT INTO flashsale_coupon.code (template_id, code_hash, create_time) "
		     "SELECT ?, j.h, UNIX_TIMESTAMP() FROM JSON_TABLE(?, '$[*]' COLUMNS "
		     "(h CHAR(64) PATH '$')) AS j",
		     "is", tid, doc);
	if (rc) {
		rc = coupon_code_of(req, rc, NULL);
		goto out;
	}
	log_json(
	    LOG_INFO, "redeem codes made",
	    json_pack("{s:I, s:I}", "templateId", (json_int_t)tid, "count", (json_int_t)count));
	req->data = json_pack("{s:O}", "codes", codes);
	rc = req->data ? 0 : E_SERVER;
out:
	free(doc);
	json_decref(codes);
	json_decref(hashes);
	return rc;
}

/* Count one attempt per user and per address; 0 or E_RATE_LIMIT / E_DB_BUSY. */
static int redeem_limits(struct app *app, struct http_req *req)
{
	char ukey[64], akey[96];
	long retry = 0;
	snprintf(ukey, sizeof ukey, "fs:rl:redeem:u:%lld", req->claims.user_id);
	snprintf(akey, sizeof akey, "fs:rl:redeem:a:%.64s",
		 req->remote_addr ? req->remote_addr : "-");
	int rc = ratelimit_hit(app->cache, ukey, app->cfg.coupon_redeem_per_user, 60, &retry);
	if (rc == RL_ALLOW)
		rc = ratelimit_hit(app->cache, akey, app->cfg.coupon_redeem_per_addr, 60, &retry);
	if (rc == RL_ERROR)
		return E_DB_BUSY;
	if (rc == RL_DENY) {
		req->retry_after = retry > 0 ? retry : 1;
		return http_fail(req, E_RATE_LIMIT, "too many redeem attempts, retry in %ld s",
				 req->retry_after);
	}
	return 0;
}

/* In a transaction: the unused code row locked, a coupon granted, the code spent. */
static int redeem_tx(struct app *app, struct http_req *req, const char *hash, long long *cid)
{
	json_t *row = NULL;
	int rc = db_query_row(app->db, &row,
			      "SELECT id, template_id, status FROM flashsale_coupon.code "
			      "WHERE code_hash = ? FOR UPDATE",
			      "s", hash);
	if (rc)
		return coupon_code_of(req, rc, NULL);
	if (!row)
		return http_fail(req, E_COUPON_NOT_FOUND, "no such code");
	long long id = json_integer_value(json_object_get(row, "id"));
	long long tid = json_integer_value(json_object_get(row, "template_id"));
	long long status = json_integer_value(json_object_get(row, "status"));
	json_decref(row);
	if (status != 0)
		return http_fail(req, E_COUPON_UNUSABLE, "code already used");
	rc = coupon_grant(app->db, tid, req->claims.user_id, "code", NULL, 1, cid);
	if (rc)
		return coupon_code_of(req, rc, rc == COUPON_CLOSED ? "template stopped" : NULL);
	rc = db_exec(app->db,
		     "UPDATE flashsale_coupon.code SET status = 1, user_id = ?, coupon_id = ?, "
		     "redeem_time = UNIX_TIMESTAMP() WHERE id = ? AND status = 0",
		     "iii", req->claims.user_id, *cid, id);
	if (rc)
		return coupon_code_of(req, rc, NULL);
	return db_affected_rows(app->db) == 1
		   ? 0
		   : http_fail(req, E_COUPON_UNUSABLE, "code already used");
}

int coupon_redeem(struct app *app, struct http_req *req)
{
	const char *in;
	char code[CODE_HEX + 1], hash[2 * crypto_hash_sha256_BYTES + 1];
	long long cid = 0;
	int rc;

	if ((rc = param_str(req, "code", 1, 1, 64, &in)) || (rc = redeem_limits(app, req)))
		return rc;
	if (strlen(in) != CODE_HEX || strspn(in, "0123456789abcdefABCDEF") != CODE_HEX)
		return http_fail(req, E_PARAM, "code malformed: 32 hexadecimal characters");
	for (int i = 0; i <= CODE_HEX; i++)
		code[i] = (char)tolower((unsigned char)in[i]);
	code_hash(code, hash);
	if ((rc = db_begin(app->db)))
		return coupon_code_of(req, rc, NULL);
	if ((rc = redeem_tx(app, req, hash, &cid))) {
		db_rollback(app->db);
		return rc;
	}
	if ((rc = db_commit(app->db)))
		return coupon_code_of(req, rc, NULL);
	req->data = json_pack("{s:I}", "couponId", (json_int_t)cid);
	return 0;
}
