/* job.c - start-up shared by the jobs: config, log, lazy connections, signals. */
#include "job.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

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
