/* metrics.c - counters and histograms in a shared mapping, rendered as Prometheus text. */
#include "metrics.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dynbuf.h"

#define METRICS_MAGIC    0x46534d31u /* "FSM1" */
#define METRICS_NSTATUS  13
#define METRICS_NCODES   28
#define METRICS_NBUCKETS 12
#define METRICS_MAX_TEXT (4u << 20) /* a scrape larger than this is refused */

static const int metrics_statuses[METRICS_NSTATUS] = {200, 204, 400, 401, 403, 404, 409,
						      413, 429, 500, 502, 503, 0};
static const double metrics_bounds[METRICS_NBUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
							    0.1,   0.25,   0.5,   1,    2.5};
/* API codes tracked per route; index 0 is success (200). */
static const int metrics_codes[METRICS_NCODES] = {
    200,    100001, 100002, 100003, 100004, 100005, 100006, 100007, 100008, 100009,
    100010, 200001, 200002, 300001, 300002, 400001, 400002, 500001, 500002, 500003,
    600001, 600002, 600003, 600004, 600005, 600006, 600007, 0};

/* A named counter or gauge. */
struct metrics_named {
	uint32_t state; /* 0 free, 1 being claimed, 2 ready */
	uint32_t gauge;
	char name[64];
	char labels[96];
	char help[96];
	int64_t value;
};

/* The layout of the mapped file. */
struct metrics_shm {
	uint32_t magic;
	uint32_t nroutes;
	uint64_t requests[METRICS_MAX_ROUTES][METRICS_NSTATUS][METRICS_NCODES];
	uint64_t buckets[METRICS_MAX_ROUTES][METRICS_NBUCKETS];
	uint64_t sum_us[METRICS_MAX_ROUTES];
	struct metrics_named named[METRICS_MAX_NAMED];
};

static struct metrics_shm *M;
static char metrics_program[64];

int metrics_open(const char *dir, const char *program, size_t nroutes)
{
	char path[512];
	int fd, rc = -1;

	if (!dir || !*dir || nroutes > METRICS_MAX_ROUTES)
		return -1;
	snprintf(metrics_program, sizeof metrics_program, "%s", program);
	snprintf(path, sizeof path, "%s/%s.metrics", dir, program);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	/* The first worker sizes and stamps the file; the lock keeps others out meanwhile. */
	if (flock(fd, LOCK_EX) < 0)
		goto out;
	struct stat st;
	if (fstat(fd, &st) < 0)
		goto unlock;
	if ((size_t)st.st_size != sizeof(struct metrics_shm) &&
	    ftruncate(fd, sizeof(struct metrics_shm)) < 0)
		goto unlock;
	void *p = mmap(NULL, sizeof(struct metrics_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto unlock;
	M = p;
	if (M->magic != METRICS_MAGIC || M->nroutes != nroutes) {
		memset(M, 0, sizeof *M);
		M->nroutes = (uint32_t)nroutes;
		M->magic = METRICS_MAGIC;
	}
	rc = 0;
unlock:
	flock(fd, LOCK_UN);
out:
	close(fd);
	return rc;
}

void metrics_close(void)
{
	if (M)
		munmap(M, sizeof *M);
	M = NULL;
}

/* Index of a value in a table, or the last slot ("other"). */
static size_t metrics_index(const int *table, size_t n, int v)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (table[i] == v)
			return i;
	return n - 1;
}

void metrics_request(size_t ri, int status, int code, double seconds)
{
	if (!M || ri >= M->nroutes)
		return;
	size_t si = metrics_index(metrics_statuses, METRICS_NSTATUS, status);
	size_t ci = metrics_index(metrics_codes, METRICS_NCODES, code);
	__atomic_fetch_add(&M->requests[ri][si][ci], 1, __ATOMIC_RELAXED);
	size_t b = 0;
	while (b < METRICS_NBUCKETS - 1 && seconds > metrics_bounds[b])
		b++;
	__atomic_fetch_add(&M->buckets[ri][b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&M->sum_us[ri], (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
}

int metrics_define(const char *name, const char *labels, const char *help, int gauge)
{
	if (!M)
		return -1;
	labels = labels ? labels : "";
	for (int i = 0; i < METRICS_MAX_NAMED; i++) {
		struct metrics_named *e = &M->named[i];
		uint32_t free_state = 0;
		if (__atomic_compare_exchange_n(&e->state, &free_state, 1, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			snprintf(e->name, sizeof e->name, "%s", name);
			snprintf(e->labels, sizeof e->labels, "%s", labels);
			snprintf(e->help, sizeof e->help, "%s", help ? help : name);
			e->gauge = (uint32_t)gauge;
			__atomic_store_n(&e->state, 2, __ATOMIC_RELEASE);
			return i;
		}
		while (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) == 1)
			usleep(100);
		if (!strcmp(e->name, name) && !strcmp(e->labels, labels))
			return i;
	}
	return -1;
}

void metrics_add(int slot, long long n)
{
	if (M && slot >= 0 && slot < METRICS_MAX_NAMED)
		__atomic_fetch_add(&M->named[slot].value, n, __ATOMIC_RELAXED);
}

void metrics_set(int slot, long long v)
{
	if (M && slot >= 0 && slot < METRICS_MAX_NAMED)
		__atomic_store_n(&M->named[slot].value, v, __ATOMIC_RELAXED);
}

int metrics_find(const char *name, const char *labels)
{
	if (!M)
		return -1;
	labels = labels ? labels : "";
	for (int i = 0; i < METRICS_MAX_NAMED; i++) {
		struct metrics_named *e = &M->named[i];
		uint32_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		if (st == 0)
			return -1; /* slots are claimed in order: no match past the first free one
				    */
		if (st == 2 && !strcmp(e->name, name) && !strcmp(e->labels, labels))
			return i;
	}
	return -1;
}

long long metrics_get(int slot)
{
	if (!M || slot < 0 || slot >= METRICS_MAX_NAMED)
		return 0;
	return (long long)__atomic_load_n(&M->named[slot].value, __ATOMIC_RELAXED);
}

int metrics_free_slots(void)
{
	int n = 0;
	for (int i = 0; M && i < METRICS_MAX_NAMED; i++)
		if (__atomic_load_n(&M->named[i].state, __ATOMIC_ACQUIRE) == 0)
			n++;
	return n;
}

/* qsort order of named slots: by name, then slot. */
static int metrics_cmp_name(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int c = strcmp(M->named[x].name, M->named[y].name);
	return c ? c : x - y;
}

char *metrics_render(const char *const *route_paths, size_t nroutes)
{
	struct dynbuf b;
	const char *prog = metrics_program;
	if (!M)
		return NULL;
	/* Appends after a failure fail too: the text is checked once, at the end. */
	dynbuf_init(&b, METRICS_MAX_TEXT);
	dynbuf_printf(&b, "# HELP flashsale_http_requests_total Requests by route, HTTP status and "
			  "API code, all workers.\n# TYPE flashsale_http_requests_total counter\n");
	for (size_t r = 0; r < nroutes && r < M->nroutes; r++)
		for (size_t s = 0; s < METRICS_NSTATUS; s++)
			for (size_t c = 0; c < METRICS_NCODES; c++) {
				uint64_t v =
				    __atomic_load_n(&M->requests[r][s][c], __ATOMIC_RELAXED);
				if (v)
					dynbuf_printf(
					    &b,
					    "flashsale_http_requests_total{program=\"%s\","
					    "route=\"%s\",status=\"%d\",code=\"%d\"} %llu\n",
					    prog, route_paths[r], metrics_statuses[s],
					    metrics_codes[c], (unsigned long long)v);
			}
	dynbuf_printf(&b, "# HELP flashsale_http_request_duration_seconds Time to answer, by "
			  "route.\n# TYPE flashsale_http_request_duration_seconds histogram\n");
	for (size_t r = 0; r < nroutes && r < M->nroutes; r++) {
		uint64_t cum = 0;
		for (size_t k = 0; k < METRICS_NBUCKETS; k++)
			cum += __atomic_load_n(&M->buckets[r][k], __ATOMIC_RELAXED);
		if (!cum)
			continue;
		cum = 0;
		for (size_t k = 0; k < METRICS_NBUCKETS; k++) {
			cum += __atomic_load_n(&M->buckets[r][k], __ATOMIC_RELAXED);
			char le[24];
			if (k < METRICS_NBUCKETS - 1)
				snprintf(le, sizeof le, "%g", metrics_bounds[k]);
			else
				snprintf(le, sizeof le, "+Inf");
			dynbuf_printf(
			    &b,
			    "flashsale_http_request_duration_seconds_bucket{program=\"%s\","
			    "route=\"%s\",le=\"%s\"} %llu\n",
			    prog, route_paths[r], le, (unsigned long long)cum);
		}
		dynbuf_printf(
		    &b,
		    "flashsale_http_request_duration_seconds_sum{program=\"%s\",route=\"%s\"} "
		    "%.6f\nflashsale_http_request_duration_seconds_count{program=\"%s\","
		    "route=\"%s\"} %llu\n",
		    prog, route_paths[r], (double)M->sum_us[r] / 1e6, prog, route_paths[r],
		    (unsigned long long)cum);
	}
	/* Samples of one metric must be contiguous: render named slots sorted by name. */
	int order[METRICS_MAX_NAMED], n = 0;
	for (int i = 0; i < METRICS_MAX_NAMED; i++)
		if (__atomic_load_n(&M->named[i].state, __ATOMIC_ACQUIRE) == 2)
			order[n++] = i;
	qsort(order, (size_t)n, sizeof order[0], metrics_cmp_name);
	const char *last = "";
	for (int k = 0; k < n; k++) {
		struct metrics_named *e = &M->named[order[k]];
		if (strcmp(last, e->name))
			dynbuf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", e->name, e->help, e->name,
				      e->gauge ? "gauge" : "counter");
		last = e->name;
		long long v = (long long)__atomic_load_n(&e->value, __ATOMIC_RELAXED);
		if (e->gauge == METRICS_GAUGE_MILLI)
			dynbuf_printf(&b, "%s{program=\"%s\"%s%s} %.3f\n", e->name, prog,
				      e->labels[0] ? "," : "", e->labels, (double)v / 1000.0);
		else
			dynbuf_printf(&b, "%s{program=\"%s\"%s%s} %lld\n", e->name, prog,
				      e->labels[0] ? "," : "", e->labels, v);
	}
	return dynbuf_take(&b);
}
