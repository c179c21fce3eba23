/* http-parse.c - request id check, query string unescape and parse (see http-parse.h). */
#include "http-parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int http_request_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 8 && n <= 64 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

size_t http_unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '+') {
			*w++ = ' ';
		} else if (*r == '%' && r[1] && r[2] && strchr("0123456789abcdefABCDEF", r[1]) &&
			   strchr("0123456789abcdefABCDEF", r[2])) {
			char hex[3] = {r[1], r[2], 0};
			*w++ = (char)strtol(hex, NULL, 16);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
	return (size_t)(w - s);
}

int http_query_parse(const char *query, json_t **out, char *why, size_t whylen)
{
	char *copy = NULL, *save = NULL;
	int n = 0, rc = -1;

	*out = json_object();
	if (!*out) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (!query || !*query)
		return 0;
	if (strlen(query) > HTTP_MAX_QUERY) {
		snprintf(why, whylen, "query string too long");
		goto out;
	}
	if (!(copy = strdup(query))) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		if (++n > HTTP_MAX_QUERY_PARAMS) {
			snprintf(why, whylen, "too many query parameters");
			goto out;
		}
		char *eq = strchr(kv, '=');
		char *val = eq ? eq + 1 : kv + strlen(kv);
		if (eq)
			*eq = 0;
		http_unescape(kv);
		size_t vlen = http_unescape(val);
		json_t *js = json_stringn(val, vlen); /* NULL for invalid UTF-8 */
		if (!js) {
			snprintf(why, whylen, "%.64s: not valid UTF-8", kv);
			goto out;
		}
		if (json_object_set_new(*out, kv, js) < 0) {
			snprintf(why, whylen, "%.64s: not a valid name", kv);
			goto out;
		}
	}
	rc = 0;
out:
	free(copy);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}
