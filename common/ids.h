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

/*
 * The owner id of a request id "<id>-<32 lowercase hex>" (an activity's purchase, a coupon
 * template's flash claim: the id names the Redis slot its record is in), or -1 if rid is not one.
 */
long long id_request_owner(const char *rid);

/* Write the request id "<owner>-<hex>" (hex: 32 lowercase hex characters) into out, which holds
 * ID_REQUEST_MAX bytes: the form id_request_owner reads back. */
#define ID_REQUEST_MAX 64
void id_request_new(char *out, long long owner, const char *hex);

/* n bytes from this thread's CSPRNG (ChaCha20 keyed from the OS once per thread). */
void id_random(void *out, size_t n);

/* A uniform integer in [0, upper) from id_random (0 when upper < 2). */
uint32_t id_uniform(uint32_t upper);

#endif
