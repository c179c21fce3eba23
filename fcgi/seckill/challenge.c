/* challenge.c - /seckill/challenge: proof-of-work challenges, and their check at token time. */
#include <string.h>
#include <time.h>

#include "altcha.h"
#include "guard.h"
#include "log.h"
#include "seckill.h"

/* Is the challenge key usable? Logged once per process when it is not. */
static int challenge_key_ok(struct app *app)
{
	static int warned; /* shared by the program's threads: changed atomically */
	const char *k = app->cfg.seckill_pow_secret;
	if (k && strlen(k) >= 32)
		return 1;
	if (__atomic_fetch_add(&warned, 1, __ATOMIC_RELAXED) == 0)
		log_error("seckill.pow_secret is shorter than 32 characters: activities with a "
			  "challenge cannot issue tokens");
	return 0;
}

/* Map a guard_rc failure to an API code. */
int seckill_guard_err(int rc)
{
	if (rc == GUARD_NOT_FOUND)
		return E_ACTIVITY_NOT_FOUND;
	return rc == GUARD_DOWN ? E_DB_BUSY : E_SERVER;
}

int seckill_challenge(struct app *app, struct http_req *req)
{
	struct guard_rules rules;
	long long id;
	int rc = param_int(req, "activityId", 1, 1, (long long)1 << 53, &id);
	if (rc)
		return rc;
	rc = guard_rules_get(app->db, app->cache, id, &rules);
	if (rc != GUARD_OK)
		return seckill_guard_err(rc);
	json_t *challenge = json_null();
	if (rules.pow > 0) {
		if (!challenge_key_ok(app))
			return E_SERVER;
		long long expires = (long long)time(NULL) + app->cfg.seckill_pow_ttl;
		challenge =
		    altcha_challenge_new(app->cfg.seckill_pow_secret, id, rules.pow, expires);
		if (!challenge)
			return E_SERVER;
	}
	req->data = json_pack("{s:o}", "challenge", challenge);
	return req->data ? 0 : E_SERVER;
}

int seckill_challenge_check(struct app *app, struct http_req *req, long long aid,
			    const struct guard_rules *rules, long long now)
{
	char hex[ALTCHA_CHALLENGE_HEX + 1];
	long long expires = 0;
	const char *payload = NULL;

	if (rules->pow <= 0)
		return 0;
	if (!challenge_key_ok(app))
		return E_SERVER;
	json_t *v = req->params ? json_object_get(req->params, "altcha") : NULL;
	if (!v || json_is_null(v))
		return http_fail(req, E_CHALLENGE, "this activity requires a solved challenge");
	if (!json_is_string(v))
		return http_fail(req, E_CHALLENGE, "altcha must be the widget's payload string");
	payload = json_string_value(v);
	enum altcha_rc vrc =
	    altcha_verify(app->cfg.seckill_pow_secret, payload, aid, now, hex, &expires);
	if (vrc != ALTCHA_OK)
		return http_fail(req, E_CHALLENGE, "%s", altcha_reason(vrc));
	int first = guard_challenge_use(app->cache, aid, hex, expires);
	if (first < 0)
		return E_DB_BUSY;
	if (!first)
		return http_fail(req, E_CHALLENGE, "challenge already used");
	return 0;
}
