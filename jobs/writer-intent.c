/* writer-intent.c - the Kafka transport's intent messages: encoding, partition, duplicates. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "writer.h"

/* Characters of a request id the purchase makes. */
#define RID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

int intent_rid_valid(const char *rid)
{
	size_t n = rid ? strlen(rid) : 0;
	return n > 0 && n <= 64 && strspn(rid, RID_CHARS) == n;
}

int intent_encode(const struct intent *it, char *out, size_t size)
{
	int n = snprintf(out, size,
			 "{\"rid\":\"%s\",\"aid\":%lld,\"uid\":%lld,\"qty\":%lld,"
			 "\"entry\":\"%s\"}",
			 it->rid, it->aid, it->uid, it->qty, it->entry);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* The positive integer member name of o, or 0. */
static long long intent_int(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

int intent_decode(const char *text, size_t len, struct intent *it)
{
	int rc = -1;
	memset(it, 0, sizeof *it);
	if (len > INTENT_MSG_MAX)
		return -1;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	const char *rid = json_string_value(json_object_get(o, "rid"));
	const char *entry = json_string_value(json_object_get(o, "entry"));
	if (!json_is_object(o) || !intent_rid_valid(rid) || !entry ||
	    strlen(entry) >= sizeof it->entry)
		goto out;
	it->aid = intent_int(o, "aid");
	it->uid = intent_int(o, "uid");
	it->qty = intent_int(o, "qty");
	if (!it->aid || !it->uid || !it->qty ||
	    activity_key(it->stream, sizeof it->stream, it->aid, AK_INTENTS, NULL) < 0)
		goto out;
	snprintf(it->rid, sizeof it->rid, "%s", rid);
	snprintf(it->entry, sizeof it->entry, "%s", entry);
	rc = 0;
out:
	json_decref(o);
	if (rc)
		memset(it, 0, sizeof *it);
	return rc;
}

int intent_partition(const char *key, size_t len, int cnt)
{
	unsigned long long id = 0;
	if (cnt <= 0 || len == 0 || len > 19)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (key[i] < '0' || key[i] > '9')
			return 0;
		id = id * 10 + (unsigned)(key[i] - '0');
	}
	return (int)(id % (unsigned)cnt);
}

/* FNV-1a of a request id. */
static size_t intent_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

size_t batch_dedup(struct batch *b)
{
	size_t size = 16, marked = 0;
	while (size < 2 * b->n)
		size *= 2;
	size_t *slot = calloc(size, sizeof *slot); /* index + 1 of the first copy; 0: empty */
	if (!slot)
		return 0; /* copies then meet the unique key: slower, still written once */
	for (size_t i = 0; i < b->n; i++) {
		struct intent *it = &b->v[i];
		if (it->outcome != INTENT_NEW || !it->rid[0])
			continue;
		size_t h = intent_hash(it->rid) & (size - 1);
		while (slot[h] && strcmp(b->v[slot[h] - 1].rid, it->rid))
			h = (h + 1) & (size - 1);
		if (slot[h]) {
			it->outcome = INTENT_SKIP;
			marked++;
		} else {
			slot[h] = i + 1;
		}
	}
	free(slot);
	return marked;
}
