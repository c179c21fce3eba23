/* refund.h - refunds: one row per out_refund_no, PROCESSING -> SUCCESS | CLOSED | ABNORMAL.
 *
 * Shared by the order program (user and admin refunds), the payment program (refund
 * notifications, late payments), order-timeout and refund-query. Every state change is a
 * guarded update, so a refund is applied once however often WeChat reports it.
 */
#ifndef FS_REFUND_H
#define FS_REFUND_H

#include "cache.h"
#include "db.h"
#include "event.h"
#include "wxpay.h"

/* The refund sn (out_refund_no) is at most this long (ids.h: RFD + 26). */
#define REFUND_SN_MAX 40

/* Outcome of refund_create. */
enum refund_create_rc {
	REFUND_CREATED = 0,     /* a new PROCESSING row */
	REFUND_EXISTING = 1,    /* the caller's PROCESSING user refund of that order (idempotent) */
	REFUND_NOT_FOUND = 2,   /* no such order, or not the caller's */
	REFUND_NOT_PAID = 3,    /* the order is not paid (waiting or cancelled) */
	REFUND_NOT_ALLOWED = 4, /* past the window, nothing left, or amount above what is left */
	/* DB_DOWN, DB_ERR (enum db_rc, db.h) when MySQL failed: err_from_db maps them */
};

/* A refund someone asks for. */
struct refund_ask {
	const char *order_sn;
	long long user_id; /* the owner for a user refund; 0 for an admin (any owner) */
	long long amount;  /* fen; 0 means everything that is left */
	const char *reason;
	const char *source; /* "user" or "admin" */
	long long window;   /* user: seconds after pay_time a refund is allowed (0: none) */
};

/*
 * Record a refund of a paid order: in one transaction lock the order, find its paid payment,
 * check what is left (the payment's total minus refunds PROCESSING, SUCCESS or ABNORMAL) and
 * insert the PROCESSING row. sn gets its out_refund_no. enum refund_create_rc.
 */
int refund_create(struct db *db, const struct refund_ask *a, char *sn, size_t snlen);

/*
 * Money arrived for an order that is cancelled: record the full refund of that payment
 * (source late_payment) under an sn derived from the payment's, so it exists once however
 * often this runs. 1 recorded now (logged), 0 nothing to do or already recorded, or a db_rc.
 */
int refund_late_record(struct db *db, const char *payment_sn, char *sn, size_t snlen);

/* Outcome of refund_apply. */
enum refund_apply_rc {
	RAPPLY_CHANGED = 0,   /* this call moved the refund out of PROCESSING */
	RAPPLY_ALREADY = 1,   /* it had been applied before, or is still PROCESSING */
	RAPPLY_NOT_FOUND = 2, /* no refund with that out_refund_no */
	RAPPLY_MISMATCH = 3,  /* amount or trade differs from our row */
			      /* DB_DOWN, DB_ERR (enum db_rc, db.h) when MySQL failed */
};

/*
 * Apply what WeChat reported (x->status SUCCESS, CLOSED or ABNORMAL) once: PROCESSING ->
 * status with a guarded update; on SUCCESS in the same transaction the order's refunded
 * grows, a fully refunded payment goes to pay_status 2, a paid order refunded in full goes
 * to trade_state 3 and a normal order's units return to the product (seckill orders' units
 * stay sold: see README). order.refunded is published after a full refund. PROCESSING only
 * records refund_id and requested = 1.
 */
int refund_apply(struct db *db, struct cache *c, struct event_bus *bus,
		 const struct wxpay_refund_info *x);

/*
 * Ask WeChat for refund sn (the same out_refund_no on every try) unless it is finished or
 * WeChat accepted it already (requested = 1), and apply its answer. A
 * gateway failure counts an attempt and leaves it PROCESSING with requested = 0 for
 * refund-query to send again. status gets the refund's status after the call. 0, 1 when
 * WeChat could not be reached (or refused for now), or a db_rc / -1 when the row cannot be
 * read.
 */
int refund_submit(struct db *db, struct cache *c, struct event_bus *bus, struct wxpay *w,
		  const char *sn, char *status, size_t statuslen);

/* Submit the late-payment refund of payment_sn if there is one still to send. As refund_submit. */
int refund_submit_late(struct db *db, struct cache *c, struct event_bus *bus, struct wxpay *w,
		       const char *payment_sn);

#endif
