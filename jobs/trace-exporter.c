/* trace-exporter.c - receive span datagrams from the programs, post OTLP/HTTP JSON batches. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "breaker.h"
#include "config.h"
#include "job.h"
#include "log.h"

#define SPAN_MAX 8192 /* a datagram larger than this is not a span of ours */

/* Spans waiting for export, grouped by service name. */
struct exporter {
	const struct fs_config *cfg;
	CURL *curl;
	json_t *by_service; /* service -> array of OTLP spans */
	size_t held;
	long long first_ms; /* when the oldest held span arrived */
	unsigned long exported, dropped;
};

/* An OTLP attribute {key, value:{intValue|stringValue}}. */
static json_t *otlp_attr(const char *key, json_t *value, int is_int)
{
	return json_pack("{s:s,s:{s:o}}", "key", key, "value", is_int ? "intValue" : "stringValue",
			 value);
}

/* Convert one span datagram (see common/trace.c) to an OTLP span; NULL if malformed. */
static json_t *otlp_span(json_t *in, const char **service)
{
	const char *trace, *span, *parent, *name, *kind;
	json_int_t start, end;
	int status, error;
	if (json_unpack(in, "{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:b}", "service", service,
			"traceId", &trace, "spanId", &span, "parentSpanId", &parent, "name", &name,
			"kind", &kind, "start", &start, "end", &end, "status", &status, "error",
			&error))
		return NULL;
	char st[24], en[24];
	snprintf(st, sizeof st, "%lld", (long long)start);
	snprintf(en, sizeof en, "%lld", (long long)end);
	int server = !strcmp(kind, "server");
	json_t *attrs = json_array();
	if (server) {
		json_array_append_new(attrs, otlp_attr("http.route", json_string(name), 0));
		json_array_append_new(attrs,
				      otlp_attr("http.status_code", json_integer(status), 1));
	} else {
		json_array_append_new(attrs, otlp_attr("db.system", json_string(kind), 0));
		json_array_append_new(attrs, otlp_attr("db.statement", json_string(name), 0));
	}
	/* OTLP kinds: 2 SERVER, 3 CLIENT; status codes: 0 unset, 2 error. */
	json_t *o =
	    json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:o,s:{s:i}}", "traceId", trace, "spanId", span,
		      "name", name, "kind", server ? 2 : 3, "startTimeUnixNano", st,
		      "endTimeUnixNano", en, "attributes", attrs, "status", "code", error ? 2 : 0);
	if (o && parent[0])
		json_object_set_new(o, "parentSpanId", json_string(parent));
	return o;
}

/* Keep one received datagram. */
static void exporter_take(struct exporter *ex, const char *buf, size_t len)
{
	json_t *in = json_loadb(buf, len, 0, NULL);
	const char *service = NULL;
	json_t *span = in ? otlp_span(in, &service) : NULL;
	if (!span) {
		ex->dropped++;
		json_decref(in);
		return;
	}
	json_t *list = json_object_get(ex->by_service, service);
	if (!list) {
		list = json_array();
		json_object_set_new(ex->by_service, service, list);
	}
	json_array_append_new(list, span);
	json_decref(in);
	if (ex->held++ == 0)
		ex->first_ms = breaker_now_ms();
}

/* POST everything held as one OTLP/HTTP JSON request, then forget it. */
static void exporter_flush(struct exporter *ex)
{
	if (!ex->held)
		return;
	json_t *rs = json_array();
	const char *service;
	json_t *spans;
	json_object_foreach(ex->by_service, service, spans)
	{
		json_array_append_new(
		    rs, json_pack("{s:{s:[o]},s:[{s:{s:s},s:O}]}", "resource", "attributes",
				  otlp_attr("service.name", json_string(service), 0), "scopeSpans",
				  "scope", "name", "flashsale", "spans", spans));
	}
	json_t *body = json_pack("{s:o}", "resourceSpans", rs);
	char *text = json_dumps(body, JSON_COMPACT);
	int ok = 0;
	if (text && ex->cfg->trace_otlp_url[0]) {
		struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(ex->curl, CURLOPT_URL, ex->cfg->trace_otlp_url);
		curl_easy_setopt(ex->curl, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(ex->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(ex->curl, CURLOPT_TIMEOUT_MS, 3000L);
		curl_easy_setopt(ex->curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
		CURLcode rc = curl_easy_perform(ex->curl);
		long status = 0;
		curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &status);
		ok = rc == CURLE_OK && status >= 200 && status < 300;
		if (!ok)
			log_warn("OTLP export of %zu spans failed: %s (HTTP %ld)", ex->held,
				 curl_easy_strerror(rc), status);
		curl_slist_free_all(h);
	}
	if (ok)
		ex->exported += ex->held;
	else
		ex->dropped += ex->held;
	free(text);
	json_decref(body);
	json_object_clear(ex->by_service);
	ex->held = 0;
}

/* Bind the datagram socket the programs send to (any local user may send). */
static int exporter_bind(const char *path)
{
	struct sockaddr_un sa;
	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0666) < 0) {
		close(fd);
		return -1;
	}
	int rcvbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	return fd;
}

/* Receive span datagrams and post them in batches until job_stop. */
static int trace_exporter_run(struct job *j)
{
	struct exporter ex = {0};
	char buf[SPAN_MAX + 1];
	int rc = 1, fd = -1;

	if (!j->cfg.trace_socket[0]) {
		log_info("trace.socket is empty: tracing is off, nothing to export");
		rc = 0;
		goto out;
	}
	fd = exporter_bind(j->cfg.trace_socket);
	if (fd < 0) {
		log_error("cannot bind %s: %s", j->cfg.trace_socket, strerror(errno));
		goto out;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ex.cfg = &j->cfg;
	ex.curl = curl_easy_init();
	ex.by_service = json_object();
	log_info("exporting spans from %s to %s", j->cfg.trace_socket,
		 j->cfg.trace_otlp_url[0] ? j->cfg.trace_otlp_url : "(nowhere: dropped)");

	/* SIGTERM (job_stop): flush what is held and exit. */
	while (!job_stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, 100);
		while (n > 0) {
			ssize_t len = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
			if (len <= 0)
				break;
			if (len > SPAN_MAX)
				ex.dropped++;
			else
				exporter_take(&ex, buf, (size_t)len);
			if (ex.held >= (size_t)j->cfg.trace_batch)
				exporter_flush(&ex);
		}
		if (ex.held && breaker_now_ms() - ex.first_ms >= j->cfg.trace_flush_ms)
			exporter_flush(&ex);
	}
	exporter_flush(&ex);
	log_info("stopped: %lu spans exported, %lu dropped", ex.exported, ex.dropped);
	rc = 0;
	curl_easy_cleanup(ex.curl);
	json_decref(ex.by_service);
	unlink(j->cfg.trace_socket);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static const struct job_entry trace_exporter_entry = {
    .name = "trace-exporter",
    .needs = JOB_DAEMON,
    .run = trace_exporter_run,
};

int main(int argc, char **argv)
{
	return job_main(&trace_exporter_entry, argc, argv);
}
