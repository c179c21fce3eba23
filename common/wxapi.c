/* wxapi.c - WeChat server API calls over libcurl and the access token shared through Redis. */
#include "wxapi.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynbuf.h"
#include "log.h"
#include "metrics.h"

#define WXAPI_MAX_RESPONSE (16u << 10) /* WeChat's answers here are a few hundred bytes */
#define WXAPI_LOCK_MS      5000        /* a renewing worker holds the lock at most this long */
#define WXAPI_WAIT_MS      2500        /* others wait this long for its new token */

/* A client (one per thread): its settings, the token cache, a curl handle, a body buffer. */
struct wxapi {
	const struct fs_config *cfg;
	struct cache *cache;
	CURL *curl;
	long status;       /* HTTP status of the last answer, 0 for none */
	struct dynbuf buf; /* the answer body, at most WXAPI_MAX_RESPONSE */
};

/* Escape-free characters only: codes, appids and secrets are plain tokens. */
static int wxapi_plain(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= max &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") == n;
}

/* Empty the answer buffer, wiping what it held (a session_key or a token). */
static void wxapi_buf_clear(struct dynbuf *b)
{
	if (b->s)
		sodium_memzero(b->s, b->len);
	dynbuf_reset(b);
}

struct wxapi *wxapi_new(const struct fs_config *cfg, struct cache *c)
{
	struct wxapi *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	w->cfg = cfg;
	w->cache = c;
	dynbuf_init(&w->buf, WXAPI_MAX_RESPONSE);
	return w;
}

void wxapi_free(struct wxapi *w)
{
	if (!w)
		return;
	if (w->curl)
		curl_easy_cleanup(w->curl);
	wxapi_buf_clear(&w->buf);
	free(w);
}

long wxapi_last_status(const struct wxapi *w)
{
	return w->status;
}

const char *wxapi_strerror(int rc)
{
	switch (rc) {
	case WXAPI_OK: return "ok";
	case WXAPI_REJECTED: return "WeChat refused the request";
	case WXAPI_NOCONFIG: return "WeChat mini-program appid/secret not configured";
	case WXAPI_NOCACHE: return "token cache unreachable";
	default: return "WeChat unreachable";
	}
}

/* Count a call in flashsale_wx_api_calls_total{api,result} (metrics may be off). */
static void wxapi_count(const char *api, int rc)
{
	char labels[96];
	const char *result = rc == WXAPI_OK ? "ok" : rc == WXAPI_REJECTED ? "errcode" : "error";
	snprintf(labels, sizeof labels, "api=\"%s\",result=\"%s\"", api, result);
	int slot = metrics_find("flashsale_wx_api_calls_total", labels);
	if (slot < 0)
		slot = metrics_define("flashsale_wx_api_calls_total", labels,
				      "Calls to WeChat's server API by API and result.", 0);
	if (slot >= 0)
		metrics_add(slot, 1);
}

/* curl write callback: keep up to WXAPI_MAX_RESPONSE bytes, abort past it. */
static size_t wxapi_on_body(char *p, size_t size, size_t n, void *ud)
{
	return dynbuf_add(ud, p, size * n) == 0 ? size * n : 0;
}

/*
 * GET (body NULL) or POST JSON to base+path; *out gets the JSON object answered.
 * WXAPI_OK with errcode 0 (or none), WXAPI_REJECTED with *errcode, else UNREACHABLE.
 */
static int wxapi_http(struct wxapi *w, const char *api, const char *path, const char *body,
		      json_t **out, long *errcode)
{
	struct dynbuf *b = &w->buf;
	char url[2048];
	long status = 0;
	int rc = WXAPI_UNREACHABLE;

	*out = NULL;
	*errcode = 0;
	w->status = 0;
	wxapi_buf_clear(b);
	/* A path on the API base, or a whole URL (e.g. jobs.notify_url). */
	int whole = !strncmp(path, "http://", 7) || !strncmp(path, "https://", 8);
	if ((size_t)snprintf(url, sizeof url, "%s%s", whole ? "" : w->cfg->wx_api_base, path) >=
	    sizeof url)
		goto done;
	if (!w->curl && !(w->curl = curl_easy_init()))
		goto done;
	CURL *c = w->curl;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, w->cfg->wx_timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 w->cfg->wx_timeout_ms < 1000 ? w->cfg->wx_timeout_ms : 1000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wxapi_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (cc != CURLE_OK) {
		/* The URL carries the secret or the token: log the API's name only. */
		log_warn("wxapi %s: %s%s", api, curl_easy_strerror(cc),
			 b->failed ? " (answer too large)" : "");
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	w->status = status;
	json_t *v = status == 200 ? json_loadb(dynbuf_ptr(b), dynbuf_len(b), 0, NULL) : NULL;
	if (!json_is_object(v)) {
		log_warn("wxapi %s: HTTP %ld, no JSON object", api, status);
		json_decref(v);
		goto done;
	}
	json_t *ec = json_object_get(v, "errcode");
	*errcode = json_is_integer(ec) ? (long)json_integer_value(ec) : 0;
	*out = v;
	rc = *errcode ? WXAPI_REJECTED : WXAPI_OK;
	if (rc == WXAPI_REJECTED)
		log_warn("wxapi %s: errcode %ld", api, *errcode);
done:
	wxapi_buf_clear(b);
	wxapi_count(api, rc);
	return rc;
}

/* The Redis keys of the cached token and of the renewal lock. */
static void wxapi_keys(struct wxapi *w, char *tok, char *lock, size_t len)
{
	snprintf(tok, len, "fs:wx:token:%.64s", w->cfg->wx_appid);
	snprintf(lock, len, "fs:wx:token:lock:%.64s", w->cfg->wx_appid);
}

/* GET the cached token into out: 1 found, 0 none, -1 Redis down. */
static int wxapi_cached(struct wxapi *w, const char *key, char *out, size_t len)
{
	redisReply *r = cache_command(w->cache, "GET %s", key);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	int found = r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < len;
	if (found)
		memcpy(out, r->str, r->len + 1);
	freeReplyObject(r);
	return found;
}

/* Ask WeChat for the token (stable_token: every caller gets the same while it is valid). */
static int wxapi_fetch_token(struct wxapi *w, int force, char *out, size_t len, long *ttl)
{
	long errcode = 0;
	json_t *v = NULL;
	json_t *req =
	    json_pack("{s:s,s:s,s:s,s:b}", "grant_type", "client_credential", "appid",
		      w->cfg->wx_appid, "secret", w->cfg->wx_secret, "force_refresh", force);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return WXAPI_UNREACHABLE;
	int rc = wxapi_http(w, "stable_token", "/cgi-bin/stable_token", body, &v, &errcode);
	sodium_memzero(body, strlen(body));
	free(body);
	if (rc == WXAPI_OK) {
		const char *t = json_string_value(json_object_get(v, "access_token"));
		json_int_t exp = json_integer_value(json_object_get(v, "expires_in"));
		if (!t || !*t || strlen(t) >= len || exp <= 0) {
			rc = WXAPI_UNREACHABLE;
		} else {
			snprintf(out, len, "%s", t);
			*ttl = (long)exp;
		}
	}
	json_decref(v);
	return rc;
}

/*
 * The token into out. refused: a token WeChat refused (NULL: none); a cached token
 * other than it is good, the refused one is renewed. One worker renews at a time.
 */
static int wxapi_token(struct wxapi *w, const char *refused, char *out, size_t len)
{
	char tkey[96], lkey[96], stale[WXAPI_TOKEN_MAX] = "", owner[33];
	unsigned char rnd[16];
	int rc, force = refused != NULL;

	if (!wxapi_plain(w->cfg->wx_appid, 64) || !w->cfg->wx_secret[0])
		return WXAPI_NOCONFIG;
	wxapi_keys(w, tkey, lkey, sizeof tkey);
	int found = wxapi_cached(w, tkey, out, len);
	if (found < 0)
		return WXAPI_NOCACHE;
	/* Another worker may have renewed the refused token already. */
	if (found && (!force || strcmp(out, refused)))
		return WXAPI_OK;
	if (force)
		snprintf(stale, sizeof stale, "%s", refused);
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(owner, sizeof owner, rnd, sizeof rnd);
	redisReply *r = cache_command(w->cache, "SET %s %s NX PX %d", lkey, owner, WXAPI_LOCK_MS);
	int locked = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	if (!r)
		return WXAPI_NOCACHE;
	if (!locked) {
		/* Another worker is renewing: wait for a token other than the refused one. */
		for (int waited = 0; waited < WXAPI_WAIT_MS; waited += 50) {
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
			if (wxapi_cached(w, tkey, out, len) == 1 && strcmp(out, stale))
				return WXAPI_OK;
		}
		return WXAPI_UNREACHABLE;
	}
	/* Holding the lock: someone may have renewed between our GET and SET NX. */
	if (wxapi_cached(w, tkey, out, len) == 1 && (!force || strcmp(out, stale))) {
		rc = WXAPI_OK;
		goto unlock;
	}
	long ttl = 0;
	rc = wxapi_fetch_token(w, force, out, len, &ttl);
	if (rc == WXAPI_OK) {
		/* Expire our copy token_margin early, so it is renewed before WeChat expires it. */
		long keep = ttl > w->cfg->wx_token_margin + 60 ? ttl - w->cfg->wx_token_margin
							       : (ttl > 1 ? ttl / 2 : 1);
		r = cache_command(w->cache, "SET %s %s EX %ld", tkey, out, keep);
		if (r)
			freeReplyObject(r);
		log_info("wxapi: access token renewed (valid %ld s, cached %ld s)", ttl, keep);
	}
unlock : {
	static struct cache_script unlock = {.src =
						 "if redis.call('GET', KEYS[1]) == ARGV[1] then "
						 "return redis.call('DEL', KEYS[1]) end return 0"};
	const char *argv[] = {lkey, owner};
	r = cache_eval(w->cache, &unlock, 1, 2, argv);
	if (r)
		freeReplyObject(r);
}
	return rc;
}

int wxapi_access_token(struct wxapi *w, int force, char *out, size_t len)
{
	char cur[WXAPI_TOKEN_MAX] = "";
	if (!force)
		return wxapi_token(w, NULL, out, len);
	/* Forced: renew whatever is cached now. */
	char tkey[96], lkey[96];
	wxapi_keys(w, tkey, lkey, sizeof tkey);
	if (wxapi_cached(w, tkey, cur, sizeof cur) < 0)
		return WXAPI_NOCACHE;
	return wxapi_token(w, cur, out, len);
}

/* Is this errcode WeChat's "access token invalid or expired"? */
static int wxapi_token_refused(long errcode)
{
	return errcode == 40001 || errcode == 42001 || errcode == 40014;
}

int wxapi_post(struct wxapi *w, const char *api, const char *path, const char *body, json_t **reply,
	       long *errcode)
{
	char token[WXAPI_TOKEN_MAX], refused[WXAPI_TOKEN_MAX], full[1024];
	json_t *v = NULL;
	int rc = WXAPI_UNREACHABLE;

	*errcode = 0;
	if (reply)
		*reply = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt)
			snprintf(refused, sizeof refused, "%s", token);
		rc = wxapi_token(w, attempt ? refused : NULL, token, sizeof token);
		if (rc != WXAPI_OK)
			break;
		if ((size_t)snprintf(full, sizeof full, "%s%caccess_token=%s", path,
				     strchr(path, '?') ? '&' : '?', token) >= sizeof full) {
			rc = WXAPI_UNREACHABLE;
			break;
		}
		json_decref(v);
		rc = wxapi_http(w, api, full, body, &v, errcode);
		if (rc != WXAPI_REJECTED || !wxapi_token_refused(*errcode))
			break;
	}
	sodium_memzero(token, sizeof token);
	sodium_memzero(refused, sizeof refused);
	sodium_memzero(full, sizeof full);
	if (reply && (rc == WXAPI_OK || rc == WXAPI_REJECTED))
		*reply = v;
	else
		json_decref(v);
	return rc;
}

int wxapi_code2session(struct wxapi *w, const char *code, char *openid, size_t openid_len,
		       char *unionid, size_t unionid_len, long *errcode)
{
	char path[1024];
	json_t *v = NULL;

	*errcode = 0;
	if (!wxapi_plain(w->cfg->wx_appid, 64) || !w->cfg->wx_secret[0])
		return WXAPI_NOCONFIG;
	if (!wxapi_plain(code, 128)) {
		*errcode = 40029; /* what WeChat answers for a malformed code */
		return WXAPI_REJECTED;
	}
	if ((size_t)snprintf(path, sizeof path,
			     "/sns/jscode2session?appid=%s&secret=%s&js_code=%s"
			     "&grant_type=authorization_code",
			     w->cfg->wx_appid, w->cfg->wx_secret, code) >= sizeof path)
		return WXAPI_NOCONFIG;
	int rc = wxapi_http(w, "jscode2session", path, NULL, &v, errcode);
	sodium_memzero(path, sizeof path);
	if (rc == WXAPI_OK) {
		/* session_key is deliberately not read: nothing here needs it. */
		const char *o = json_string_value(json_object_get(v, "openid"));
		const char *u = json_string_value(json_object_get(v, "unionid"));
		if (!o || !*o || strlen(o) >= openid_len || strlen(o) > WXAPI_OPENID_MAX) {
			rc = WXAPI_UNREACHABLE;
		} else {
			snprintf(openid, openid_len, "%s", o);
			snprintf(unionid, unionid_len, "%s", u && strlen(u) < unionid_len ? u : "");
		}
	}
	json_t *sk = json_object_get(v, "session_key");
	if (json_is_string(sk))
		sodium_memzero((void *)json_string_value(sk), strlen(json_string_value(sk)));
	json_decref(v);
	return rc;
}

int wxapi_phone_number(struct wxapi *w, const char *code, char *phone, size_t phone_len,
		       char *country, size_t country_len, long *errcode)
{
	json_t *v = NULL;
	*errcode = 0;
	if (!wxapi_plain(code, 128)) {
		*errcode = 40029;
		return WXAPI_REJECTED;
	}
	json_t *req = json_pack("{s:s}", "code", code);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return WXAPI_UNREACHABLE;
	int rc = wxapi_post(w, "getuserphonenumber", "/wxa/business/getuserphonenumber", body, &v,
			    errcode);
	free(body);
	if (rc == WXAPI_OK) {
		json_t *info = json_object_get(v, "phone_info");
		const char *p = json_string_value(json_object_get(info, "purePhoneNumber"));
		const char *cc = json_string_value(json_object_get(info, "countryCode"));
		if (!p || !*p || strlen(p) >= phone_len) {
			rc = WXAPI_UNREACHABLE;
		} else {
			snprintf(phone, phone_len, "%s", p);
			snprintf(country, country_len, "%s",
				 cc && strlen(cc) < country_len ? cc : "");
		}
	}
	json_decref(v);
	return rc;
}
