/* outcomes.c - /seckill/do outcomes counted in the shared metrics (all workers of the program).
 *
 * Domain-wide: flashsale_seckill_outcomes_total{reason=...}, one slot per reason, for every
 * answer the program gives. Per activity, only what is decided before Redis and cannot be
 * counted by the purchase script (purchase-lua.h counts its own answers in {a:N}:stats): the
 * sold-out memo, as flashsale_seckill_soldout_memo_total{activity="N"}. The id is known good
 * there (the seckill token bound it), but slots are never freed and METRICS_MAX_NAMED is
 * small, so such slots are made only while OUTCOME_RESERVE slots stay free for the rest;
 * past that the memo answers are counted domain-wide only, and the dashboard says so.
 * Answers nginx gives from its sold-out marker file never reach the program at all.
 */
#include <pthread.h>
#include <stdio.h>

#include "errors.h"
#include "metrics.h"
#include "seckill.h"

#define OUTCOME_RESERVE 24 /* named slots left for other counters */
#define OUTCOME_MEMOS   64 /* per-process cache of per-activity memo slots */

/* A reason: the API name the dashboard shows and the metrics label. */
struct outcome_reason {
	const char *name;
	const char *label;
};

static const struct outcome_reason outcome_reasons[SECKILL_OUTCOMES] = {
    [SECKILL_QUEUED] = {"queued", "queued"},
    [SECKILL_SOLDOUT] = {"soldOut", "soldout"},
    [SECKILL_SOLDOUT_MEMO] = {"soldOutMemo", "soldout_memo"},
    [SECKILL_LIMIT] = {"limitReached", "limit"},
    [SECKILL_NOT_STARTED] = {"notStarted", "not_started"},
    [SECKILL_ENDED] = {"ended", "ended"},
    [SECKILL_RATE_LIMITED] = {"rateLimited", "rate_limited"},
    [SECKILL_TOKEN_INVALID] = {"tokenInvalid", "token_invalid"},
    [SECKILL_AUTH_INVALID] = {"authInvalid", "auth_invalid"},
    [SECKILL_BAD_REQUEST] = {"badRequest", "bad_request"},
    [SECKILL_NOT_FOUND] = {"notFound", "not_found"},
    [SECKILL_BUSY] = {"busy", "busy"},
    [SECKILL_ERROR] = {"error", "error"},
};

/* One cached per-activity memo slot of this process (-1: none could be made). */
struct outcome_memo {
	long long activity_id;
	int slot;
};

static int outcome_slots[SECKILL_OUTCOMES];
static struct outcome_memo outcome_memo[OUTCOME_MEMOS];

/* The labels of activity id's memo counter. */
static void outcome_memo_labels(char *out, size_t len, long long id)
{
	snprintf(out, len, "activity=\"%lld\"", id);
}

void seckill_outcomes_init(void)
{
	char labels[48];
	for (int i = 0; i < SECKILL_OUTCOMES; i++) {
		snprintf(labels, sizeof labels, "reason=\"%s\"", outcome_reasons[i].label);
		outcome_slots[i] = metrics_define("flashsale_seckill_outcomes_total", labels,
						  "Answers of /seckill/do by outcome", 0);
	}
}

const char *seckill_outcome_name(int outcome)
{
	return outcome >= 0 && outcome < SECKILL_OUTCOMES ? outcome_reasons[outcome].name : "";
}

/* The outcome of an answer of /seckill/do. */
static int outcome_of(int rc, int memo)
{
	switch (rc) {
	case 0: return SECKILL_QUEUED;
	case E_SOLD_OUT: return memo ? SECKILL_SOLDOUT_MEMO : SECKILL_SOLDOUT;
	case E_LIMIT_REACHED: return SECKILL_LIMIT;
	case E_ACTIVITY_NOT_STARTED: return SECKILL_NOT_STARTED;
	case E_ACTIVITY_ENDED: return SECKILL_ENDED;
	case E_RATE_LIMIT: return SECKILL_RATE_LIMITED;
	case E_SECKILL_TOKEN: return SECKILL_TOKEN_INVALID;
	case E_TOKEN: return SECKILL_AUTH_INVALID;
	case E_PARAM: return SECKILL_BAD_REQUEST;
	case E_ACTIVITY_NOT_FOUND: return SECKILL_NOT_FOUND;
	case E_DB_BUSY: return SECKILL_BUSY;
	default: return SECKILL_ERROR;
	}
}

/* This process's slot for activity id's memo counter, made while the budget allows. */
static int outcome_memo_slot(long long id)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct outcome_memo *m = &outcome_memo[id % OUTCOME_MEMOS];
	char labels[48];
	pthread_mutex_lock(&lock); /* the memo slots are the process's, shared by its threads */
	if (m->activity_id == id) {
		int slot = m->slot;
		pthread_mutex_unlock(&lock);
		return slot;
	}
	outcome_memo_labels(labels, sizeof labels, id);
	int slot = metrics_find("flashsale_seckill_soldout_memo_total", labels);
	if (slot < 0 && metrics_free_slots() > OUTCOME_RESERVE)
		slot = metrics_define("flashsale_seckill_soldout_memo_total", labels,
				      "Sold-out answers of the per-process memo, by activity", 0);
	m->activity_id = id;
	m->slot = slot;
	pthread_mutex_unlock(&lock);
	return slot;
}

void seckill_outcome_count(int rc, long long activity_id, int memo)
{
	int o = outcome_of(rc, memo);
	metrics_add(outcome_slots[o], 1);
	if (o == SECKILL_SOLDOUT_MEMO && activity_id > 0)
		metrics_add(outcome_memo_slot(activity_id), 1);
}

long long seckill_outcome_total(int outcome)
{
	if (outcome < 0 || outcome >= SECKILL_OUTCOMES)
		return 0;
	return metrics_get(outcome_slots[outcome]);
}

long long seckill_memo_soldout(long long activity_id, int *complete)
{
	char labels[48];
	outcome_memo_labels(labels, sizeof labels, activity_id);
	int slot = metrics_find("flashsale_seckill_soldout_memo_total", labels);
	/* No slot: either no memo answer yet, or none could be made (then counts are missing). */
	*complete = slot >= 0 || metrics_free_slots() > OUTCOME_RESERVE;
	return metrics_get(slot);
}
