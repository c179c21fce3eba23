/* dynbuf.c - the growable byte buffer with a maximum (see dynbuf.h). */
#include "dynbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dynbuf_init(struct dynbuf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

void dynbuf_reset(struct dynbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->alloc = 0;
	b->failed = 0;
}

void dynbuf_free(struct dynbuf *b)
{
	dynbuf_reset(b);
}

/* Fail the buffer: free the content, remember the failure. */
static int dynbuf_fail(struct dynbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->alloc = 0;
	b->failed = 1;
	return -1;
}

/* Make room for n more bytes and the NUL. 0 or -1 (buffer failed). */
static int dynbuf_room(struct dynbuf *b, size_t n)
{
	if (b->failed || n > b->max || b->len > b->max - n)
		return dynbuf_fail(b);
	if (b->len + n + 1 <= b->alloc)
		return 0;
	size_t a = b->alloc ? b->alloc : 64;
	while (a < b->len + n + 1)
		a = a > b->max / 2 ? b->max + 1 : a * 2;
	char *p = realloc(b->s, a);
	if (!p)
		return dynbuf_fail(b);
	b->s = p;
	b->alloc = a;
	return 0;
}

int dynbuf_add(struct dynbuf *b, const void *p, size_t n)
{
	if (dynbuf_room(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = 0;
	return 0;
}

int dynbuf_addstr(struct dynbuf *b, const char *s)
{
	return dynbuf_add(b, s, strlen(s));
}

void *dynbuf_grow(struct dynbuf *b, size_t n)
{
	if (dynbuf_room(b, n) < 0)
		return NULL;
	char *at = b->s + b->len;
	memset(at, 0, n + 1);
	b->len += n;
	return at;
}

int dynbuf_printf(struct dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || dynbuf_room(b, (size_t)n) < 0)
		return n < 0 ? dynbuf_fail(b) : -1;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *dynbuf_ptr(const struct dynbuf *b)
{
	return b->s ? b->s : "";
}

size_t dynbuf_len(const struct dynbuf *b)
{
	return b->len;
}

char *dynbuf_take(struct dynbuf *b)
{
	char *s = b->failed ? NULL : b->s;
	if (b->failed)
		free(b->s);
	b->s = NULL;
	b->len = b->alloc = 0;
	b->failed = 0;
	return s;
}
