/* ids.c - serial numbers and random ids from a per-thread ChaCha20 stream keyed by libsodium. */
#include "ids.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/*
 * A thread's generator: the ChaCha20 keystream under a 256-bit key from the OS CSPRNG, a block
 * of 512 bytes at a time (what arc4random does). libsodium's randombytes_buf costs one
 * getrandom system call per id; the hot path makes two or three ids per request. A fork gives
 * the child's thread a fresh key (ids_atfork_child), so parent and child never share a stream.
 */
static __thread struct {
	unsigned char key[crypto_stream_chacha20_KEYBYTES];
	unsigned char buf[512];
	uint64_t block;
	size_t left;
	int keyed;
} rng;

static pthread_once_t ids_once = PTHREAD_ONCE_INIT;

/* After fork: the child's (only) thread draws a new key on its next id. */
static void ids_atfork_child(void)
{
	sodium_memzero(&rng, sizeof rng);
}

/* Register the fork handler once per process. */
static void ids_init(void)
{
	pthread_atfork(NULL, NULL, ids_atfork_child);
}

void id_random(void *out, size_t n)
{
	unsigned char *p = out;
	pthread_once(&ids_once, ids_init);
	while (n > 0) {
		if (rng.left == 0) {
			unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
			if (!rng.keyed) {
				randombytes_buf(rng.key, sizeof rng.key);
				rng.block = 0;
				rng.keyed = 1;
			}
			memcpy(nonce, &rng.block, sizeof rng.block);
			rng.block++;
			crypto_stream_chacha20(rng.buf, sizeof rng.buf, nonce, rng.key);
			rng.left = sizeof rng.buf;
		}
		size_t k = n < rng.left ? n : rng.left;
		unsigned char *src = rng.buf + sizeof rng.buf - rng.left;
		memcpy(p, src, k);
		sodium_memzero(src, k); /* a byte handed out is never kept */
		rng.left -= k;
		p += k;
		n -= k;
	}
}

uint32_t id_uniform(uint32_t upper)
{
	uint32_t v, min;
	if (upper < 2)
		return 0;
	min = (uint32_t)(-upper % upper); /* 2^32 mod upper: reject below it, no modulo bias */
	do
		id_random(&v, sizeof v);
	while (v < min);
	return v % upper;
}

int id_sn_new(char *out, size_t len, const char *prefix)
{
	struct timeval tv;
	struct tm tm;
	char ts[16];

	if (strlen(prefix) > 8 || len < ID_SN_MAX)
		return -1;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y%m%d%H%M%S", &tm);
	snprintf(out, len, "%s%s%06ld%06u", prefix, ts, (long)tv.tv_usec,
		 (unsigned)id_uniform(1000000));
	return 0;
}

void id_hex32(char out[33])
{
	unsigned char rnd[16];
	id_random(rnd, sizeof rnd);
	sodium_bin2hex(out, 33, rnd, sizeof rnd);
}

void id_request_new(char *out, long long owner, const char *hex)
{
	snprintf(out, ID_REQUEST_MAX, "%lld-%s", owner, hex);
}

long long id_request_owner(const char *rid)
{
	size_t digits = strspn(rid, "0123456789");
	if (digits == 0 || digits > 18 || rid[digits] != '-')
		return -1;
	const char *hex = rid + digits + 1;
	if (strlen(hex) != 32 || strspn(hex, "0123456789abcdef") != 32)
		return -1;
	return strtoll(rid, NULL, 10);
}
