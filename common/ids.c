/* ids.c - serial numbers and random hex ids from libsodium's CSPRNG. */
#include "ids.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

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
		 (unsigned)randombytes_uniform(1000000));
	return 0;
}

void id_hex32(char out[33])
{
	unsigned char rnd[16];
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(out, 33, rnd, sizeof rnd);
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
