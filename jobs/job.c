/* job.c - start-up shared by the jobs: config, log, lazy connections, signals. */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

volatile sig_atomic_t job_stop;

/* SIGTERM/SIGINT. */
static void job_on_term(int sig)
{
	(void)sig;
	job_stop = 1;
}

int job_open(struct job *j, const char *name, int argc, char **argv, int want_bus)
{
	char err[512];
	const char *conf = NULL;
	struct sigaction sa;

	memset(j, 0, sizeof *j);
	j->name = name;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conf = argv[++i];
	if (config_load(&j->cfg, conf, err, sizeof err) < 0) {
		fprintf(stderr, "flashsale-%s: %s\n", name, err);
		return -1;
	}
	if (log_open(name, j->cfg.log_file, j->cfg.log_level) < 0) {
		fprintf(stderr, "flashsale-%s: cannot open log %s\n", name, j->cfg.log_file);
		goto fail;
	}
	j->db = db_new(&j->cfg);
	j->cache = cache_new(&j->cfg);
	if (!j->db || !j->cache)
		goto fail;
	if (want_bus && !(j->bus = event_bus_new(&j->cfg, j->cache))) {
		fprintf(stderr, "flashsale-%s: cannot create the event bus (see the log)\n", name);
		goto fail;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = job_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
fail:
	job_close(j);
	return -1;
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

int job_run_recorded(const char *name, int (*fn)(int argc, char **argv), int argc, char **argv)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = fn(argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	struct fs_config cfg;
	char err[512], labels[96];
	const char *conf = NULL;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conf = argv[++i];
	if (config_load(&cfg, conf, err, sizeof err) < 0)
		return rc;
	if (cfg.metrics_dir[0] && metrics_open(cfg.metrics_dir, "jobs", 0) == 0) {
		snprintf(labels, sizeof labels, "job=\"%s\"", name);
		metrics_add(metrics_define("flashsale_job_runs_total", labels, "Runs of a job.", 0),
			    1);
		metrics_add(metrics_define("flashsale_job_failures_total", labels,
					   "Runs of a job that exited non-zero.", 0),
			    rc != 0);
		metrics_set(metrics_define("flashsale_job_last_run_timestamp_seconds", labels,
					   "When the job last finished (Unix seconds).", 1),
			    (long long)time(NULL));
		metrics_set(metrics_define("flashsale_job_last_duration_seconds", labels,
					   "How long the last run took, s.", METRICS_GAUGE_MILLI),
			    (long long)((t1.tv_sec - t0.tv_sec) * 1000 +
					(t1.tv_nsec - t0.tv_nsec) / 1000000));
		metrics_set(metrics_define("flashsale_job_last_exit_status", labels,
					   "Exit status of the last run (0 ok).", 1),
			    rc);
		job_write_textfile(cfg.metrics_dir);
		metrics_close();
	}
	config_free(&cfg);
	return rc;
}
