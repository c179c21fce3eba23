/* job.h - start-up shared by the jobs (order-events, notify, settle, trace-exporter, ...). */
#ifndef FS_JOB_H
#define FS_JOB_H

#include <signal.h>

#include "cache.h"
#include "config.h"
#include "db.h"
#include "event.h"

/* What a job holds for its lifetime. */
struct job {
	const char *name;
	struct fs_config cfg;
	struct db *db;
	struct cache *cache;
	struct event_bus *bus; /* NULL unless asked for */
};

/* Set by SIGTERM/SIGINT: finish the current event and leave. */
extern volatile sig_atomic_t job_stop;

/*
 * Load the config (-c PATH, else the default), open the log as name, connect
 * lazily to MySQL and Redis, create the event bus if want_bus, and install the
 * signal handlers. 0, or -1 with the reason on stderr.
 */
int job_open(struct job *j, const char *name, int argc, char **argv, int want_bus);

/* Free what job_open made. */
void job_close(struct job *j);

/*
 * Run a cron job's main and record the run for monitoring: the counters
 * flashsale_job_runs_total / _failures_total{job="name"} (failure: a non-zero
 * exit) and the last run's time and duration live in <metrics.dir>/jobs.metrics
 * and are written out as a node_exporter textfile, <metrics.dir>/jobs.prom.
 * Returns fn's exit status.
 */
int job_run_recorded(const char *name, int (*fn)(int argc, char **argv), int argc, char **argv);

#endif
