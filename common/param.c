/* param.c - typed access to request fields with API.md's 100002 messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Number of UTF-8 characters in s (jansson guarantees valid UTF-8). */
static size_t param_utf8_len(const char *s, size_t bytes)
{
	size_t n = 0;
	for (size_t i = 0; i < bytes; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

int param_has(struct http_req *req, const char *name)
{
	json_t *v = req->params ? json_object_get(req->params, name) : NULL;
	return v && !json_is_null(v);
}

int param_str(struct http_req *req, const char *name, int required, size_t minlen, size_t maxlen,
	      const char **out)
{
	json_t *v = req->params ? json_object_get(req->params, name) : NULL;
	*out = NULL;
	if (!v || json_is_null(v))
		return required ? http_fail(req, E_PARAM, "%s is required", name) : 0;
	if (!json_is_string(v))
		return http_fail(req, E_PARAM, "%s must be a string", name);
	const char *s = json_string_value(v);
	size_t bytes = json_string_length(v);
	if (strlen(s) != bytes)
		return http_fail(req, E_PARAM, "%s must not contain NUL characters", name);
	size_t chars = param_utf8_len(s, bytes);
	if (chars < minlen || chars > maxlen)
		return http_fail(req, E_PARAM, "%s must be %zu to %zu characters long", name,
				 minlen, maxlen);
	*out = s;
	return 0;
}

int param_int(struct http_req *req, const char *name, int required, long long min, long long max,
	      long long *out)
{
	json_t *v = req->params ? json_object_get(req->params, name) : NULL;
	long long n;
	if (!v || json_is_null(v))
		return required ? http_fail(req, E_PARAM, "%s is required", name) : 0;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (req->params_are_query && json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno || end == s || *end)
			return http_fail(req, E_PARAM, "%s must be an integer", name);
	} else {
		return http_fail(req, E_PARAM, "%s must be an integer", name);
	}
	if (n < min || n > max)
		return http_fail(req, E_PARAM, "%s must be between %lld and %lld", name, min, max);
	*out = n;
	return 0;
}
