/* breaker.h - a circuit breaker: stop calling a dead dependency for a short while. */
#ifndef FS_BREAKER_H
#define FS_BREAKER_H

/* Open after a failure, for cooldown_ms; then one caller may try again. */
struct breaker {
	long cooldown_ms;
	long long open_until_ms;
	unsigned long failures; /* consecutive */
};

/* Monotonic milliseconds. */
long long breaker_now_ms(void);

/* 1 if a caller may try the dependency now, 0 if the breaker is open. */
int breaker_allow(const struct breaker *b);

/* Record a failed attempt: opens the breaker for cooldown_ms. */
void breaker_fail(struct breaker *b);

/* Record a success: closes the breaker. */
void breaker_ok(struct breaker *b);

#endif
