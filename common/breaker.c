/* breaker.c - circuit breaker over a monotonic clock. */
#include "breaker.h"

#include <time.h>

long long breaker_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int breaker_allow(const struct breaker *b)
{
	return breaker_now_ms() >= b->open_until_ms;
}

void breaker_fail(struct breaker *b)
{
	b->failures++;
	b->open_until_ms = breaker_now_ms() + b->cooldown_ms;
}

void breaker_ok(struct breaker *b)
{
	b->failures = 0;
	b->open_until_ms = 0;
}
