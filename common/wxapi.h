/*
 * wxapi.h - WeChat's server API for the mini-program ([wx] in flashsale.conf):
 * code2session (wx.login codes), getuserphonenumber, and the access token every
 * program and job shares through Redis, renewed before it expires and when WeChat
 * says it is no longer valid (errcode 40001/42001). Calls have short timeouts and
 * size-limited answers; a session_key never leaves this module, nor is it logged.
 */
#ifndef FS_WXAPI_H
#define FS_WXAPI_H

#include <jansson.h>
#include <stddef.h>

#include "cache.h"
#include "config.h"

#define WXAPI_OPENID_MAX 64
#define WXAPI_TOKEN_MAX  512

/* How a call went. */
enum wxapi_rc {
	WXAPI_OK = 0,
	WXAPI_REJECTED = 1,     /* WeChat answered a non-zero errcode (see *errcode) */
	WXAPI_UNREACHABLE = -1, /* no answer, a bad status, an oversized or unparsable body */
	WXAPI_NOCONFIG = -2,    /* [wx] appid/secret are not set */
	WXAPI_NOCACHE = -3,     /* Redis (the token cache) is unreachable */
};

struct wxapi;

/* A client for cfg's [wx] settings, caching the token in c (which must outlive it). */
struct wxapi *wxapi_new(const struct fs_config *cfg, struct cache *c);

/* Free a client. */
void wxapi_free(struct wxapi *w);

/* code2session: the openid (and unionid, may be "") of a wx.login code. */
int wxapi_code2session(struct wxapi *w, const char *code, char *openid, size_t openid_len,
		       char *unionid, size_t unionid_len, long *errcode);

/* getuserphonenumber: the purePhoneNumber of a getPhoneNumber code (mainland numbers). */
int wxapi_phone_number(struct wxapi *w, const char *code, char *phone, size_t phone_len,
		       char *country, size_t country_len, long *errcode);

/*
 * The shared access token into out. force: the cached one was refused (40001/42001):
 * renew it unless another worker already did. One worker renews at a time (SET NX lock).
 */
int wxapi_access_token(struct wxapi *w, int force, char *out, size_t len);

/*
 * POST body to path?access_token=TOKEN (a path on [wx] api_base such as
 * "/cgi-bin/message/subscribe/send", or a whole http(s) URL); an
 * answer of 40001/42001 renews the token and tries once more. *reply (may be NULL) gets
 * the parsed answer on WXAPI_OK and WXAPI_REJECTED.
 */
int wxapi_post(struct wxapi *w, const char *api, const char *path, const char *body, json_t **reply,
	       long *errcode);

/* The HTTP status of the last answer (0: none came), for messages. */
long wxapi_last_status(const struct wxapi *w);

/* Short text for a result (for logs and messages). */
const char *wxapi_strerror(int rc);

#endif
