/*
 * kafka-mock.c - a librdkafka mock Kafka cluster for tests: listens on
 * 127.0.0.1 (random ports), prints its bootstrap servers as one line on stdout,
 * and runs until SIGTERM/SIGINT.
 * usage: kafka-mock [-b BROKERS(1-3)] [-p PARTITIONS] [TOPIC ...]
 * Topics given (default payment.status, order.paid, order.closed) are created
 * up front so consumers that subscribe before the first produce find them.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t mock_stop;

/* SIGTERM/SIGINT: shut the cluster down. */
static void mock_on_signal(int sig)
{
	(void)sig;
	mock_stop = 1;
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = {"payment.status", "order.paid", "order.closed"};
	char err[512];
	int brokers = 1, partitions = 2, opt, rc = 1;
	rd_kafka_t *rk = NULL;
	rd_kafka_mock_cluster_t *mc = NULL;

	while ((opt = getopt(argc, argv, "b:p:")) != -1) {
		if (opt == 'b')
			brokers = atoi(optarg);
		else if (opt == 'p')
			partitions = atoi(optarg);
		else
			goto usage;
	}
	if (brokers < 1 || brokers > 3 || partitions < 1 || partitions > 16)
		goto usage;

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* The mock cluster needs a client instance to own it; it never connects anywhere. */
	if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK)
		fprintf(stderr, "kafka-mock: %s\n", err);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "kafka-mock: %s\n", err);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "kafka-mock: cannot create the mock cluster\n");
		goto out;
	}
	int ntopics = argc - optind;
	for (int i = 0; i < (ntopics ? ntopics : 3); i++) {
		const char *t = ntopics ? argv[optind + i] : defaults[i];
		rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, t, partitions, brokers);
		if (e) {
			fprintf(stderr, "kafka-mock: topic %s: %s\n", t, rd_kafka_err2str(e));
			goto out;
		}
	}
	signal(SIGTERM, mock_on_signal);
	signal(SIGINT, mock_on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (!mock_stop)
		pause();
	rc = 0;
out:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return rc;
usage:
	fprintf(stderr, "usage: kafka-mock [-b BROKERS(1-3)] [-p PARTITIONS] [TOPIC ...]\n");
	return 2;
}
