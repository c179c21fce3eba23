/* http-parse.h - what the HTTP layer parses from a request, without FastCGI (unit-tested). */
#ifndef FS_HTTP_PARSE_H
#define FS_HTTP_PARSE_H

#include <jansson.h>
#include <stddef.h>

#define HTTP_MAX_QUERY        8192 /* bytes of a query string */
#define HTTP_MAX_QUERY_PARAMS 64

/* Is s a request id we will echo: 8-64 of [A-Za-z0-9._-]? */
int http_request_id_valid(const char *s);

/* Decode %XX and '+' in place (a bad escape stays as it is); returns the new length. */
size_t http_unescape(char *s);

/*
 * Parse a query string ("a=1&b=x%20y"; NULL or "" is empty) into *out, a new object of
 * strings (a later repeat of a name wins). 0, or -1 with why set (too long, too many
 * parameters, a value that is not UTF-8) and *out NULL.
 */
int http_query_parse(const char *query, json_t **out, char *why, size_t whylen);

#endif
