/* workers.c - count the live workers of a domain from /proc (no shared state to go stale). */
#include "workers.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* readlink(2) of /proc/<pid>/<what> into out (NUL-terminated); 0 or -1. */
static int workers_link(const char *pid, const char *what, char *out, size_t len)
{
	char path[300];
	snprintf(path, sizeof path, "/proc/%s/%s", pid, what);
	ssize_t n = readlink(path, out, len - 1);
	if (n <= 0)
		return -1;
	out[n] = 0;
	return 0;
}

int workers_live(void)
{
	char exe[512], sock[64], e[512], s[64];
	if (workers_link("self", "exe", exe, sizeof exe) < 0 ||
	    workers_link("self", "fd/0", sock, sizeof sock) < 0 || strncmp(sock, "socket:", 7))
		return -1;
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		/* Another user's processes are unreadable and skipped: workers share one user. */
		if (workers_link(de->d_name, "fd/0", s, sizeof s) == 0 && !strcmp(s, sock) &&
		    workers_link(de->d_name, "exe", e, sizeof e) == 0 && !strcmp(e, exe))
			n++;
	}
	closedir(d);
	return n;
}
