/* passwd.c - Argon2id hashes in the self-describing $argon2id$ string form. */
#include "passwd.h"

#include <string.h>

int passwd_hash(const char *pw, long opslimit, long memlimit_kib, char out[PASSWD_HASH_MAX])
{
	if (sodium_init() < 0)
		return -1;
	if (crypto_pwhash_str_alg(out, pw, strlen(pw), (unsigned long long)opslimit,
				  (size_t)memlimit_kib * 1024, crypto_pwhash_ALG_ARGON2ID13))
		return -1;
	return 0;
}

int passwd_verify(const char *hash, const char *pw)
{
	if (sodium_init() < 0 || !hash || !pw)
		return 0;
	return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}
