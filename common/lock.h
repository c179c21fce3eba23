/* lock.h - a distributed lock in Redis: SET NX PX with a random token, compare-and-delete. */
#ifndef FS_LOCK_H
#define FS_LOCK_H

#include "cache.h"

/* A held (or wanted) lock: its key and the token that proves ownership. */
struct lock {
	char key[128];
	char token[33];
	int held;
};

/*
 * Try once to take lock "fs:lock:<name>" for ttl_ms milliseconds (it expires by
 * itself if the holder dies). 1 taken, 0 held by someone else, -1 Redis down.
 */
int lock_acquire(struct cache *c, struct lock *l, const char *name, long ttl_ms);

/* Release it if it is still ours (compare-and-delete in one script). 0, or -1. */
int lock_release(struct cache *c, struct lock *l);

#endif
