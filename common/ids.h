/* ids.h - serial numbers for orders and payments (prefix + UTC time + random), random ids. */
#ifndef FS_IDS_H
#define FS_IDS_H

#include <stddef.h>
#include <stdint.h>

#define ID_SN_MAX 40

/*
 * Write prefix + YYYYMMDDHHMMSS + 6 digits of microseconds + 6 random digits
 * into out (len >= ID_SN_MAX). Sortable by time; unique in practice, and the
 * tables keep a unique key on it. 0, or -1 if prefix is too long.
 */
int id_sn_new(char *out, size_t len, const char *prefix);

/* 32 lowercase hex characters of randomness (request ids, nonces). */
void id_hex32(char out[33]);

/* n bytes from this thread's CSPRNG (ChaCha20 keyed from the OS once per thread). */
void id_random(void *out, size_t n);

/* A uniform integer in [0, upper) from id_random (0 when upper < 2). */
uint32_t id_uniform(uint32_t upper);

#endif
