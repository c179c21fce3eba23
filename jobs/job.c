/* job.c - job_main: the one prologue and epilogue of every job (see job.h). */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "signals.h"

#define JOB_MAX_ARGS 64

volatile sig_atomic_t job_stop;

/* SIGTERM/SIGINT of a daemon. */
static void job_on_term(int sig)
{
	(void)sig;
	job_stop = 1;
}

/* Take -c CONFIG out of argv: *conf gets it, args the rest (args[0] the program). */
static int job_args(int argc, char **argv, const char **conf, char **args)
{
	int n = 0;
	*conf = NULL;
	for (int i = 0; i < argc && n < JOB_MAX_ARGS - 1; i++) {
		if (i > 0 && !strcmp(argv[i], "-c") && i + 1 < argc)
			*conf = argv[++i];
		else
			args[n++] = argv[i];
	}
	args[n] = NULL;
	return n;
}

/* Config, log, connections and signals as j->needs says. 0, or -1 (reason on stderr). */
static int job_prologue(struct job *j, const char *conf)
{
	char err[512];
	if (config_load(&j->cfg, conf, err, sizeof err) < 0) {
		fprintf(stderr, "flashsale-%s: %s\n", j->name, err);
		return -1;
	}
	if (log_open(j->name, j->cfg.log_file, j->cfg.log_level) < 0) {
		fprintf(stderr, "flashsale-%s: cannot open log %s\n", j->name, j->cfg.log_file);
		return -1;
	}
	return 0;
}

/* The connections j->needs asks for. 0, or -1 (reason on stderr). */
static int job_connect(struct job *j)
{
	if (j->needs & (JOB_BUS | JOB_LOCK))
		j->needs |= JOB_CACHE;
	if ((j->needs & JOB_DB) && !(j->db = db_new(&j->cfg)))
		goto fail;
	if ((j->needs & JOB_CACHE) && !(j->cache = cache_new(&j->cfg)))
		goto fail;
	if ((j->needs & JOB_BUS) && !(j->bus = event_bus_new(&j->cfg, j->cache))) {
		fprintf(stderr, "flashsale-%s: cannot create the event bus (see the log)\n",
			j->name);
		return -1;
	}
	signals_install(j->needs & JOB_DAEMON ? job_on_term : NULL, NULL);
	return 0;
fail:
	fprintf(stderr, "flashsale-%s: out of memory\n", j->name);
	return -1;
}

int job_open(struct job *j, const char *name, int argc, char **argv, int want_bus)
{
	const char *conf;
	char *args[JOB_MAX_ARGS];
	memset(j, 0, sizeof *j);
	j->name = name;
	j->needs = JOB_DB | JOB_CACHE | JOB_DAEMON | (want_bus ? JOB_BUS : 0);
	job_args(argc, argv, &conf, args);
	if (job_prologue(j, conf) < 0 || job_connect(j) < 0) {
		job_close(j);
		return -1;
	}
	return 0;
}

void job_close(struct job *j)
{
	event_bus_free(j->bus);
	cache_free(j->cache);
	db_free(j->db);
	config_free(&j->cfg);
	memset(j, 0, sizeof *j);
}

/* Write the jobs' counters as a node_exporter textfile, atomically (temp file, rename). */
static void job_write_textfile(const char *dir)
{
	char path[512], tmp[540];
	char *text = metrics_render(NULL, 0);
	if (!text)
		return;
	snprintf(path, sizeof path, "%s/jobs.prom", dir);
	snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (f) {
		int ok = fputs(text, f) >= 0;
		ok = fclose(f) == 0 && ok;
		if (!ok || rename(tmp, path) < 0)
			unlink(tmp);
	}
	free(text);
}

/*
 * Record a cron run for monitoring: the counters flashsale_job_runs_total /
 * _failures_total{job="name"} (failure: a non-zero exit) and the last run's time,
 * duration and status live in <metrics.dir>/jobs.metrics and are written out as a
 * node_exporter textfile, <metrics.dir>/jobs.prom. Uses the config already loaded.
 */
static void job_record(const struct job *j, int rc, long long ms)
{
	char labels[96];
	if (!j->cfg.metrics_dir || !j->cfg.metrics_dir[0] ||
	    metrics_open(j->cfg.metrics_dir, "jobs", 0) < 0)
		return;
	snprintf(labels, sizeof labels, "job=\"%s\"", j->name);
	metrics_add(metrics_define("flashsale_job_runs_total", labels, "Runs of a job.", 0), 1);
	metrics_add(metrics_define("flashsale_job_failures_total", labels,
				   "Runs of a job that exited non-zero.", 0),
		    rc != 0);
	metrics_set(metrics_define("flashsale_job_last_run_timestamp_seconds", labels,
				   "When the job last finished (Unix seconds).", 1),
		    (long long)time(NULL));
	metrics_set(metrics_define("flashsale_job_last_duration_seconds", labels,
				   "How long the last run took, s.", METRICS_GAUGE_MILLI),
		    ms);
	metrics_set(metrics_define("flashsale_job_last_exit_status", labels,
				   "Exit status of the last run (0 ok).", 1),
		    rc);
	job_write_textfile(j->cfg.metrics_dir);
	metrics_close();
}

/* Take the job's lock, waiting up to j->lock_wait_ms. 1 taken, 0 held elsewhere, -1 down. */
static int job_lock(struct job *j, struct lock *lk, long lock_ms)
{
	int got;
	for (long waited = 0;; waited += 100) {
		got = lock_acquire(j->cache, lk, j->name, lock_ms);
		if (got != 0 || waited >= j->lock_wait_ms)
			break;
		usleep(100000);
	}
	if (got <= 0)
		fprintf(stderr, "flashsale-%s: %s\n", j->name,
			got == 0 ? "another run holds the lock" : "Redis unavailable");
	return got;
}

/* Milliseconds since t0 (monotonic). */
static long long job_elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int job_main(const struct job_entry *e, int argc, char **argv)
{
	static struct job j;
	struct lock lk = {0};
	struct timespec t0;
	const char *conf;
	char *args[JOB_MAX_ARGS];
	int rc = 1, got = 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&j, 0, sizeof j);
	j.name = e->name;
	j.needs = e->needs;
	int n = job_args(argc, argv, &conf, args);
	if (job_prologue(&j, conf) < 0)
		goto out;
	if (e->parse ? e->parse(&j, n, args) < 0 : n > 1) {
		fprintf(stderr, "usage: flashsale-%s [-c CONFIG]%s%s\n", e->name,
			e->usage ? " " : "", e->usage ? e->usage : "");
		rc = 2;
		goto record;
	}
	if (job_connect(&j) < 0)
		goto record;
	if ((j.needs & JOB_LOCK) && (got = job_lock(&j, &lk, e->lock_ms)) <= 0) {
		rc = got == 0 ? 0 : 1;
		goto record;
	}
	rc = e->run(&j);
	if (j.needs & JOB_LOCK)
		lock_release(j.cache, &lk);
record:
	if (j.needs & JOB_RECORD)
		job_record(&j, rc, job_elapsed_ms(&t0));
out:
	job_close(&j);
	return rc;
}

int job_parse_query_wait(struct job *j, int argc, char **argv, long *query_after)
{
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--query-after") && k + 1 < argc)
			*query_after = strtol(argv[++k], NULL, 10);
		else if (!strcmp(argv[k], "--wait") && k + 1 < argc)
			j->lock_wait_ms = strtol(argv[++k], NULL, 10) * 1000;
		else
			return -1;
	}
	return 0;
}
