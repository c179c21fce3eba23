/* metrics.h - Prometheus metrics shared by every worker of a program through one mapped file. */
#ifndef FS_METRICS_H
#define FS_METRICS_H

#include <stddef.h>

#define METRICS_MAX_ROUTES 64
#define METRICS_MAX_NAMED  96

/*
 * Map (creating if needed) <dir>/<program>.metrics. Every worker of a domain
 * maps the same file, so one scrape of any worker reports the whole domain;
 * updates are lock-free atomic adds. 0, or -1 (metrics then stay off).
 */
int metrics_open(const char *dir, const char *program, size_t nroutes);

/* Unmap. */
void metrics_close(void);

/* Count one request of route index ri: HTTP status, API code (200 success, 0 other), seconds. */
void metrics_request(size_t ri, int status, int code, double seconds);

/* metrics_define's gauge argument: a gauge whose slot holds thousandths (ms of a _seconds gauge).
 */
#define METRICS_GAUGE_MILLI 2

/*
 * A named counter (gauge 0) or gauge (1, or METRICS_GAUGE_MILLI: rendered
 * divided by 1000, so a _seconds gauge can be set in ms) with an optional
 * label set such as `reason="soldout"`; the same name and labels give the
 * same slot in every worker. Returns the slot, or -1 when metrics are off or
 * the table is full.
 */
int metrics_define(const char *name, const char *labels, const char *help, int gauge);

struct db;
struct cache;
/* Set flashsale_dependency_up{dependency=mysql|redis} from a ping of each (scrape time). */
void metrics_dependencies(struct db *db, struct cache *cache);

/* Add n to a counter slot (ignored for -1). */
void metrics_add(int slot, long long n);

/* Set a gauge slot (ignored for -1). */
void metrics_set(int slot, long long v);

/* The slot of an existing name and label set (never claims one), or -1. */
int metrics_find(const char *name, const char *labels);

/* The current value of a slot (0 for -1 or when metrics are off). */
long long metrics_get(int slot);

/* Named slots still free (0 when metrics are off). */
int metrics_free_slots(void);

/* Render everything in Prometheus text format; route_paths names the route indexes. */
char *metrics_render(const char *const *route_paths, size_t nroutes);

#endif
