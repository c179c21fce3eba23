/* memo.h - a per-process "sold out" memo: ids remembered for a moment, answered without I/O. */
#ifndef FS_MEMO_H
#define FS_MEMO_H

#define MEMO_SLOTS 64

/* One remembered id and when the memory fades (monotonic ms). */
struct memo_slot {
	long long id;
	long long until_ms;
};

/* A table of remembered ids (zero-initialised: empty), one slot per id modulo MEMO_SLOTS. */
struct memo {
	struct memo_slot v[MEMO_SLOTS];
};

/* Milliseconds of the monotonic clock. */
long long memo_now_ms(void);

/* Is id remembered (and not faded)? */
int memo_hit(const struct memo *m, long long id);

/* Remember id for ms milliseconds. */
void memo_set(struct memo *m, long long id, long ms);

#endif
