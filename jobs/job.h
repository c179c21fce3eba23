/*
 * job.h - what every job shares, in the manner of tmux's cmd_entry: a job is one
 * `struct job_entry` (name, usage, what it needs, lock time, run function) and
 * `main` is `return job_main(&entry, argc, argv);`. job_main does the prologue once:
 * -c parsing, config, log, MySQL / Redis / event bus as needed, signals, the Redis
 * lock, and for cron jobs the record of the run. See HACKING.md, "A job".
 */
#ifndef FS_JOB_H
#define FS_JOB_H

#include <signal.h>

#include "cache.h"
#include "config.h"
#include "db.h"
#include "event.h"

/* What job_main opens (and does) around the run function. */
enum job_needs {
	JOB_DB = 1 << 0,    /* j->db: MySQL, connecting lazily */
	JOB_CACHE = 1 << 1, /* j->cache: Redis, connecting lazily */
	JOB_BUS = 1 << 2,   /* j->bus: the event bus (implies JOB_CACHE) */
	JOB_LOCK = 1 << 3, /* hold fs:lock:<name> for lock_ms; held elsewhere: exit 0 (JOB_CACHE) */
	JOB_RECORD = 1 << 4, /* a cron job: count the run in <metrics.dir>/jobs.prom */
	JOB_DAEMON = 1 << 5, /* SIGTERM/SIGINT set job_stop (the run loops until then), not kill */
};

/* What a job holds for its lifetime. */
struct job {
	const char *name;
	unsigned needs; /* the entry's, which its parse function may change (e.g. drop JOB_BUS) */
	long lock_wait_ms; /* JOB_LOCK: how long to wait for the lock (parse may set it) */
	struct fs_config cfg;
	struct db *db;         /* NULL unless JOB_DB */
	struct cache *cache;   /* NULL unless JOB_CACHE */
	struct event_bus *bus; /* NULL unless JOB_BUS */
};

/* One job: the whole of its start-up, declared. */
struct job_entry {
	const char *name;  /* flashsale-<name>; also its log name and its lock's name */
	const char *usage; /* its own options, shown after "[-c CONFIG]"; NULL: none */
	unsigned needs;    /* enum job_needs */
	long lock_ms;      /* JOB_LOCK: the lock's time to live (it outlasts a crashed run) */
	/* Its own options (argv without -c CONFIG), after the config is loaded: 0, or -1 for
	 * the usage line (exit 2). NULL: the job takes none. */
	int (*parse)(struct job *j, int argc, char **argv);
	int (*run)(struct job *j); /* the exit status */
};

/* Set by SIGTERM/SIGINT in a JOB_DAEMON: finish the current step and leave. */
extern volatile sig_atomic_t job_stop;

/* Run the job e: prologue, e->run, epilogue. Returns the exit status for main. */
int job_main(const struct job_entry *e, int argc, char **argv);

/*
 * The options of the jobs that ask WeChat about what is pending (order-timeout, refund-query):
 * --query-after SECONDS into *query_after, --wait SECONDS into j->lock_wait_ms (wait that long
 * for a run in progress elsewhere rather than skip this one). 0, or -1 for the usage line.
 */
int job_parse_query_wait(struct job *j, int argc, char **argv, long *query_after);

/*
 * The prologue alone, for jobs not yet converted to a job_entry: load the config
 * (-c PATH, else the default), open the log as name, connect lazily, the event bus if
 * want_bus, signals as a daemon. 0, or -1 with the reason on stderr.
 */
int job_open(struct job *j, const char *name, int argc, char **argv, int want_bus);

/* Free what job_open (or job_main) made. */
void job_close(struct job *j);

#endif
