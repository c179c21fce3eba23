/* memo.c - the per-process sold-out memo (the seckill engine's idea as a reusable table). */
#include "memo.h"

#include <time.h>

long long memo_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int memo_hit(const struct memo *m, long long id)
{
	const struct memo_slot *s = &m->v[(unsigned long long)id % MEMO_SLOTS];
	return s->id == id && s->until_ms > memo_now_ms();
}

void memo_set(struct memo *m, long long id, long ms)
{
	struct memo_slot *s = &m->v[(unsigned long long)id % MEMO_SLOTS];
	s->id = id;
	s->until_ms = memo_now_ms() + ms;
}
