/* passwd.h - password hashing with Argon2id (libsodium crypto_pwhash_str). */
#ifndef FS_PASSWD_H
#define FS_PASSWD_H

#include <sodium.h>
#include <stddef.h>

#define PASSWD_HASH_MAX crypto_pwhash_STRBYTES

/* Hash pw into out (PASSWD_HASH_MAX bytes) with the given cost. 0 or -1. */
int passwd_hash(const char *pw, long opslimit, long memlimit_kib, char out[PASSWD_HASH_MAX]);

/* 1 if pw matches hash, 0 otherwise. */
int passwd_verify(const char *hash, const char *pw);

#endif
