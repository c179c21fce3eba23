/*
 * dynbuf.h - one growable byte buffer, in the manner of curl's dynbuf: the
 * maximum is set at init, every append is checked against it, and a failed
 * append frees the buffer, so the caller checks the result of each call (or of
 * the last one: every append after a failure fails too, until dynbuf_reset).
 */
#ifndef FS_DYNBUF_H
#define FS_DYNBUF_H

#include <stddef.h>

/* A buffer of at most max bytes (the terminating NUL not counted). */
struct dynbuf {
	char *s;
	size_t len, alloc, max;
	int failed; /* an append failed: the content is gone */
};

/* An empty buffer that may grow to max bytes. Allocates nothing. */
void dynbuf_init(struct dynbuf *b, size_t max);

/* Append n bytes (kept NUL-terminated). 0, or -1 (over max or out of memory: buffer freed). */
int dynbuf_add(struct dynbuf *b, const void *p, size_t n);

/* Append a C string. 0 or -1 as dynbuf_add. */
int dynbuf_addstr(struct dynbuf *b, const char *s);

/* Append printf-style text. 0 or -1 as dynbuf_add. */
int dynbuf_printf(struct dynbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append n zero bytes and return where they start, or NULL (as dynbuf_add fails). */
void *dynbuf_grow(struct dynbuf *b, size_t n);

/* The content ("" when empty) and its length. */
const char *dynbuf_ptr(const struct dynbuf *b);
size_t dynbuf_len(const struct dynbuf *b);

/* Hand the content to the caller (free() it; NULL if empty or failed); the buffer is reset. */
char *dynbuf_take(struct dynbuf *b);

/* Empty the buffer, keeping max; frees the memory. */
void dynbuf_reset(struct dynbuf *b);

/* Same as dynbuf_reset: for the cleanup label. */
void dynbuf_free(struct dynbuf *b);

#endif
