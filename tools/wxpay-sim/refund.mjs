// refund.mjs - the simulator's v3 domestic refunds, REFUND.* notifications and its controls.
//
// POST /v3/refund/domestic/refunds answers PROCESSING (idempotent per out_refund_no, as WeChat
// is); a moment later the refund ends as the `refund_result` control says (SUCCESS by default)
// and a REFUND.<status> notification, signed and encrypted like payment notifications, goes
// to the request's notify_url, retried on failure. GET /v3/refund/domestic/refunds/{no}
// queries it. Controls (POST /simulator/controls): close_fails, refund_result, notify.
const REFUND_DELAY_MS = 300; // PROCESSING -> final state
const MAX_REFUNDS = 100000;
const RESULTS = ['SUCCESS', 'ABNORMAL', 'CLOSED'];

// The refund part of the simulator; ctx carries sim.mjs's state and helpers.
export function refundModule(ctx) {
	const { cfg, trades, send, v3error, signedNotification, notifier, randomDigits, rfc3339, now, log } = ctx;
	const refunds = new Map(); // out_refund_no -> refund
	const controls = { close_fails: false, refund_result: 'SUCCESS', notify: true };

	// The v3 refund object (the API's answer and query; status as WeChat names it there).
	function refundObject(r) {
		const o = {
			refund_id: r.refund_id, out_refund_no: r.out_refund_no, transaction_id: r.transaction_id,
			out_trade_no: r.out_trade_no, channel: 'ORIGINAL', user_received_account: '支付用户零钱',
			status: r.status, create_time: rfc3339(r.create_time),
			amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund, currency: 'CNY',
				settlement_refund: r.refund, settlement_total: r.total, discount_refund: 0, refund_fee: 0 },
		};
		if (r.success_time) o.success_time = rfc3339(r.success_time);
		return o;
	}

	// The plaintext of a REFUND.* notification (refund_status, mchid; no appid).
	function refundResource(r) {
		const o = {
			mchid: cfg.mchid, out_trade_no: r.out_trade_no, transaction_id: r.transaction_id,
			out_refund_no: r.out_refund_no, refund_id: r.refund_id, refund_status: r.status,
			user_received_account: '支付用户零钱',
			amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
		};
		if (r.success_time) o.success_time = rfc3339(r.success_time);
		return o;
	}

	// Build (and possibly break) one REFUND.* notification of r: { headers, body }.
	function buildNotification(r, tamper) {
		const res = refundResource(r);
		if (tamper === 'amount') res.amount.refund += 1;
		const summary = { SUCCESS: '退款成功', ABNORMAL: '退款异常', CLOSED: '退款关闭' }[r.status];
		return signedNotification(res, 'refund', 'REFUND.' + r.status, summary, tamper);
	}

	// REFUND.* notifications of a refund, retried on failure.
	const notify = notifier(buildNotification, (r) => ['refund notify', r.out_refund_no, r.status], () => true);

	// End refund r as result says: SUCCESS moves the money; the notification goes out.
	function finish(r, result) {
		const t = trades.get(r.out_trade_no);
		r.status = result;
		if (result === 'SUCCESS') {
			r.success_time = now();
			if (t) {
				t.refunded += r.refund;
				t.trade_state = 'REFUND';
			}
		}
		if (t) t.refunding -= r.refund;
		log('refund', r.out_refund_no, result, r.refund);
		if (r.notify) notify(r, { retry: true });
	}

	// POST /v3/refund/domestic/refunds
	function create(res, b) {
		if (typeof b.out_refund_no !== 'string' || !/^[A-Za-z0-9_\-|*@]{1,64}$/.test(b.out_refund_no))
			return v3error(res, 400, 'PARAM_ERROR', 'out_refund_no is invalid');
		const old = refunds.get(b.out_refund_no);
		if (old) {
			if (old.out_trade_no !== b.out_trade_no || !b.amount || old.refund !== b.amount.refund)
				return v3error(res, 400, 'INVALID_REQUEST', 'out_refund_no reused with different parameters');
			return send(res, 200, refundObject(old), { signed: true });
		}
		const t = trades.get(b.out_trade_no) || [...trades.values()].find((x) => x.transaction_id && x.transaction_id === b.transaction_id);
		if (!t) return v3error(res, 404, 'RESOURCE_NOT_EXISTS', 'order does not exist');
		if (t.trade_state !== 'SUCCESS' && t.trade_state !== 'REFUND') return v3error(res, 400, 'INVALID_REQUEST', 'trade not paid');
		const a = b.amount || {};
		if (!Number.isInteger(a.refund) || a.refund < 1 || a.total !== t.amount.total) return v3error(res, 400, 'PARAM_ERROR', 'amount.refund/total invalid');
		if (a.currency !== undefined && a.currency !== 'CNY') return v3error(res, 400, 'PARAM_ERROR', 'currency must be CNY');
		if (b.reason !== undefined && (typeof b.reason !== 'string' || [...b.reason].length > 80)) return v3error(res, 400, 'PARAM_ERROR', 'reason is at most 80 characters');
		const url = b.notify_url === undefined ? (cfg.refundNotifyUrl || '') : b.notify_url;
		if (url && (typeof url !== 'string' || !/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(url)))
			return v3error(res, 400, 'PARAM_ERROR', 'notify_url must be an http(s) URL on loopback (simulator)');
		t.refunding = t.refunding || 0;
		if (t.refunded + t.refunding + a.refund > t.amount.total) return v3error(res, 400, 'INVALID_REQUEST', 'refund amount exceeds what is refundable');
		if (refunds.size >= MAX_REFUNDS) return v3error(res, 429, 'FREQUENCY_LIMITED', 'simulator is full');
		const r = {
			refund_id: '5030' + randomDigits(24), out_refund_no: b.out_refund_no, out_trade_no: t.out_trade_no,
			transaction_id: t.transaction_id, status: 'PROCESSING', refund: a.refund, total: t.amount.total,
			reason: b.reason || '', notify_url: url, notify: controls.notify !== false && !!url,
			create_time: now(), success_time: 0, notifications: [], last: null,
		};
		refunds.set(r.out_refund_no, r);
		t.refunding += a.refund;
		const result = controls.refund_result;
		setTimeout(() => finish(r, result), REFUND_DELAY_MS).unref();
		log('refund requested', r.out_refund_no, t.out_trade_no, a.refund);
		send(res, 200, refundObject(r), { signed: true });
	}

	// The /v3/ refund endpoints (merchant signature already checked); true if handled.
	function v3(req, res, path, b) {
		let m;
		if (req.method === 'POST' && path === '/v3/refund/domestic/refunds') {
			create(res, b);
			return true;
		}
		if (req.method === 'GET' && (m = path.match(/^\/v3\/refund\/domestic\/refunds\/([^/]+)$/))) {
			const r = refunds.get(decodeURIComponent(m[1]));
			if (r) send(res, 200, refundObject(r), { signed: true });
			else v3error(res, 404, 'RESOURCE_NOT_EXISTS', 'refund does not exist');
			return true;
		}
		return false;
	}

	// Parse a control body: an object or null.
	function parse(buf) {
		try {
			const v = JSON.parse(buf.toString('utf8') || '{}');
			return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : null;
		} catch {
			return null;
		}
	}

	// The control endpoints of refunds; true if handled.
	async function control(req, res, path, buf) {
		let m;
		if (req.method === 'POST' && path === '/simulator/controls') {
			const b = parse(buf);
			if (!b) return send(res, 400, { error: 'body must be a JSON object' }), true;
			if (b.close_fails !== undefined && typeof b.close_fails !== 'boolean') return send(res, 400, { error: 'close_fails must be a boolean' }), true;
			if (b.notify !== undefined && typeof b.notify !== 'boolean') return send(res, 400, { error: 'notify must be a boolean' }), true;
			if (b.refund_result !== undefined && !RESULTS.includes(b.refund_result)) return send(res, 400, { error: 'refund_result must be SUCCESS, ABNORMAL or CLOSED' }), true;
			for (const k of ['close_fails', 'notify', 'refund_result']) if (b[k] !== undefined) controls[k] = b[k];
			log('controls', JSON.stringify(controls));
			send(res, 200, { controls });
			return true;
		}
		if (req.method === 'GET' && path === '/simulator/controls') return send(res, 200, { controls }), true;
		if (req.method === 'GET' && (m = path.match(/^\/simulator\/refunds\/([^/]+)$/))) {
			const r = refunds.get(decodeURIComponent(m[1]));
			if (!r) return send(res, 404, { error: 'no such refund' }), true;
			send(res, 200, { ...refundObject(r), notify_url: r.notify_url, notifications: r.notifications });
			return true;
		}
		if (req.method === 'GET' && (m = path.match(/^\/simulator\/trades\/([^/]+)\/refunds$/))) {
			const list = [...refunds.values()].filter((r) => r.out_trade_no === decodeURIComponent(m[1])).map(refundObject);
			send(res, 200, { list });
			return true;
		}
		if (req.method === 'POST' && path === '/simulator/refund-notify') {
			const b = parse(buf);
			if (!b || typeof b.out_refund_no !== 'string') return send(res, 400, { error: 'out_refund_no is required' }), true;
			const tamper = b.tamper === undefined || b.tamper === null ? '' : b.tamper;
			if (!['', 'signature', 'amount', 'ciphertext', 'stale'].includes(tamper))
				return send(res, 400, { error: 'tamper must be signature, amount, ciphertext or stale' }), true;
			const r = refunds.get(b.out_refund_no);
			if (!r) return send(res, 404, { error: 'no such refund' }), true;
			if (r.status === 'PROCESSING') return send(res, 409, { error: 'refund still PROCESSING' }), true;
			if (!r.notify_url) return send(res, 409, { error: 'refund has no notify_url' }), true;
			const rec = await notify(r, { tamper, replay: b.replay === true });
			send(res, rec.status === 0 && rec.error === 'nothing to replay yet' ? 409 : 200, rec);
			return true;
		}
		return false;
	}

	return { controls, refunds, v3, control };
}
