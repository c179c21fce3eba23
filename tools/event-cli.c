/*
 * event-cli.c - publish or consume domain events on the configured transport
 * (tests and operators): `event-cli publish TOPIC KEY JSON`,
 * `event-cli consume GROUP TOPIC COUNT [SECONDS]` (one JSON line per event).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "event.h"
#include "log.h"

static volatile sig_atomic_t cli_stop;

/* What the consume command counts and prints. */
struct cli_consume {
	long want, seen;
};

/* SIGTERM/SIGINT/SIGALRM: leave the consume loop. */
static void cli_on_signal(int sig)
{
	(void)sig;
	cli_stop = 1;
}

/* Print one event as {"topic","key","payload"} and stop after the wanted count. */
static int cli_print(void *ctx, const char *topic, const char *key, json_t *payload)
{
	struct cli_consume *c = ctx;
	json_t *line = json_pack("{s:s, s:s, s:O}", "topic", topic, "key", key, "payload", payload);
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	if (text)
		printf("%s\n", text);
	fflush(stdout);
	free(text);
	json_decref(line);
	if (++c->seen >= c->want)
		cli_stop = 1;
	return 0;
}

/* Print usage; exit status 2. */
static int cli_usage(void)
{
	fprintf(stderr, "usage: event-cli [-c CONFIG] publish TOPIC KEY JSON\n"
			"       event-cli [-c CONFIG] consume GROUP TOPIC COUNT [SECONDS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct fs_config cfg;
	char err[512];
	const char *conf = NULL;
	int i = 1, rc = 1;
	struct cache *cache = NULL;
	struct event_bus *bus = NULL;
	json_t *payload = NULL;

	if (argc > 2 && !strcmp(argv[1], "-c")) {
		conf = argv[2];
		i = 3;
	}
	if (argc - i < 4)
		return cli_usage();
	if (config_load(&cfg, conf, err, sizeof err) < 0) {
		fprintf(stderr, "event-cli: %s\n", err);
		return 1;
	}
	log_open("event-cli", "", cfg.log_level);
	cache = cache_new(&cfg);
	bus = cache ? event_bus_new(&cfg, cache) : NULL;
	if (!bus)
		goto out;
	if (!strcmp(argv[i], "publish")) {
		json_error_t jerr;
		payload = json_loads(argv[i + 3], 0, &jerr);
		if (!json_is_object(payload)) {
			fprintf(stderr, "event-cli: JSON must be an object\n");
			goto out;
		}
		rc = event_publish(bus, argv[i + 1], argv[i + 2], payload) ? 1 : 0;
	} else if (!strcmp(argv[i], "consume")) {
		struct cli_consume c = {atol(argv[i + 3]), 0};
		signal(SIGTERM, cli_on_signal);
		signal(SIGINT, cli_on_signal);
		signal(SIGALRM, cli_on_signal);
		alarm(argc - i > 4 ? (unsigned)atoi(argv[i + 4]) : 30);
		if (c.want < 1)
			c.want = 1;
		rc = event_consume(bus, argv[i + 1], argv[i + 2], cli_print, &c, &cli_stop) ? 1 : 0;
		if (c.seen < c.want)
			rc = 3; /* timed out before COUNT events */
	} else {
		rc = cli_usage();
	}
out:
	json_decref(payload);
	event_bus_free(bus);
	cache_free(cache);
	config_free(&cfg);
	return rc;
}
