// bill.mjs - the simulator's trade bills (对账单): GET /v3/bill/tradebill, the signed download
// of its download_url, and the bill_* controls. Bills are built from the simulator's own trades
// and refunds of the day (Asia/Shanghai) in WeChat's format: a header line, every field of a
// row prefixed with a backquote, then the summary header and the summary line; hash_type SHA1.
//
// Deviations from WeChat, for tests: today's bill is served too (WeChat serves a day's bill from
// about 10:00 the next day), and the controls below put trades on any day.
//   bill_extra: {out_trade_no, amount?, date?}  a trade only WeChat knows: a NOTPAY trade of the
//     simulator becomes SUCCESS without a notification (an unknown one is created, amount in
//     fen required); date (YYYY-MM-DD) is its success day, default today.
//     {out_refund_no, out_trade_no, amount, status?, date?}  a refund that only the bill shows.
//     An array of these is accepted too.
//   bill_date_shift: {out_trade_no | out_refund_no, date}  (or an array) moves a paid trade's
//     success time, or a refund's time, to noon of that day.
//   bill_corrupt: true  the next download differs by one byte from its hash_value.
import crypto from 'node:crypto';

const TOKEN_TTL_MS = 30000; // WeChat's download_url is valid for 30 s
const MAX_TOKENS = 1000;
const MAX_EXTRA = 10000;
const DATE_RE = /^(\d{4})-(\d\d)-(\d\d)$/;
const HEADER = '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,'
	+ '交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,'
	+ '退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
const SUMMARY = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';
const REFUND_STATE = { SUCCESS: 'SUCCESS', CLOSED: 'REFUNDCLOSE', ABNORMAL: 'CHANGE', PROCESSING: 'PROCESSING' };

// First second (Unix) of a YYYY-MM-DD day in Asia/Shanghai, or null if not a real date.
function dayStart(date) {
	const m = typeof date === 'string' ? DATE_RE.exec(date) : null;
	if (!m) return null;
	const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
	if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) return null;
	return ms / 1000 - 8 * 3600;
}

// "YYYY-MM-DD HH:MM:SS" in China Standard Time.
function cstText(unix) {
	return new Date((unix + 8 * 3600) * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

// Fen as yuan with two decimals, in integers (no floating point).
function yuan(fen) {
	const neg = fen < 0 ? '-' : '';
	const a = Math.abs(fen);
	return `${neg}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

// The 0.6 % fee with five decimals, as WeChat writes it.
function fee(fen) {
	return (Math.round(fen * 6) / 100000).toFixed(5);
}

// A time given as Unix seconds or RFC 3339 text, as Unix seconds (0 if absent).
function unixOf(v) {
	if (typeof v === 'number') return v;
	const t = typeof v === 'string' ? Date.parse(v) : NaN;
	return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

// A line of a bill: every field prefixed with a backquote (backquotes inside are dropped).
function line(fields) {
	return fields.map((f) => '`' + String(f ?? '').replace(/`/g, '')).join(',');
}

export function createBill({ cfg, trades, refunds, send, v3error, log, randomDigits, randomAlnum, now }) {
	const tokens = new Map(); // download token -> { text, expires }
	const extraRefunds = []; // refunds only the bill shows (bill_extra)
	let corruptNext = false;

	// The refunds of the simulator, whatever their shape: v3 refund objects.
	function allRefunds() {
		const own = refunds ? [...refunds.values()] : [];
		return own.concat(extraRefunds);
	}

	// The bill text of a day, and its row count.
	function build(date) {
		const start = dayStart(date);
		const end = start + 86400;
		const rows = [];
		let total = 0, refundTotal = 0, fees = 0;
		for (const t of trades.values()) {
			if (!t.transaction_id || !(t.success_time >= start && t.success_time < end)) continue;
			const a = t.amount.total;
			total += a;
			fees += a * 6;
			rows.push(line([cstText(t.success_time), t.appid, t.mchid, '0', '', t.transaction_id, t.out_trade_no,
				t.payer_openid, t.trade_type, 'SUCCESS', 'OTHERS', 'CNY', yuan(a), '0.00', '0', '0', '0.00', '0.00',
				'', '', t.description, '', fee(a), '0.60%', yuan(a), '0.00', '']));
		}
		for (const r of allRefunds()) {
			const at = unixOf(r.create_time);
			if (!(at >= start && at < end)) continue;
			const t = trades.get(r.out_trade_no) || {};
			const a = Number((r.amount && r.amount.refund) ?? r.refund ?? 0);
			const st = REFUND_STATE[r.status] || r.status || 'PROCESSING';
			refundTotal += a;
			fees -= a * 6;
			rows.push(line([cstText(at), t.appid || cfg.appid, t.mchid || cfg.mchid, '0', '', r.transaction_id || t.transaction_id || '',
				r.out_trade_no, t.payer_openid || '', t.trade_type || 'NATIVE', 'REFUND', 'OTHERS', 'CNY', '0.00', '0.00',
				r.refund_id || '', r.out_refund_no, st === 'SUCCESS' ? yuan(a) : '0.00', '0.00', 'ORIGINAL', st,
				t.description || '', '', '-' + fee(a), '0.60%', '0.00', yuan(a), '']));
		}
		const fs = (Math.round(fees) / 100000).toFixed(5);
		const text = [HEADER, ...rows, SUMMARY,
			line([rows.length, yuan(total), yuan(refundTotal), '0.00', fs, yuan(total), yuan(refundTotal)])].join('\r\n') + '\r\n';
		return { text, rows: rows.length };
	}

	// GET /v3/bill/tradebill?bill_date=&bill_type= (the request is verified by sim.mjs).
	function tradebill(res, url) {
		const date = url.searchParams.get('bill_date');
		const type = url.searchParams.get('bill_type') || 'ALL';
		const start = dayStart(date);
		if (start === null) return v3error(res, 400, 'PARAM_ERROR', 'bill_date must be YYYY-MM-DD');
		if (!['ALL', 'SUCCESS', 'REFUND'].includes(type)) return v3error(res, 400, 'PARAM_ERROR', 'bill_type must be ALL, SUCCESS or REFUND');
		if (start > now()) return v3error(res, 400, 'INVALID_REQUEST', 'bill_date is in the future');
		const { text, rows } = build(date);
		if (!rows) return v3error(res, 400, 'NO_STATEMENT_EXIST', 'no statement for that day');
		const t = Date.now();
		for (const [k, v] of tokens) if (v.expires < t || tokens.size > MAX_TOKENS) tokens.delete(k);
		const token = randomAlnum(32);
		tokens.set(token, { text, expires: t + TOKEN_TTL_MS });
		const hash = crypto.createHash('sha1').update(text).digest('hex');
		log('tradebill', date, rows, 'rows');
		return send(res, 200, {
			hash_type: 'SHA1', hash_value: hash,
			download_url: `http://127.0.0.1:${cfg.port}/v3/billdownload/file?token=${token}`,
		}, { signed: true });
	}

	// Handle a verified v3 request if it is ours; true when answered. The download
	// (GET /v3/billdownload/file?token=) needs a signed request; the file itself is not signed.
	function handle(req, res, url) {
		if (req.method !== 'GET') return false;
		if (url.pathname === '/v3/bill/tradebill') return tradebill(res, url), true;
		if (url.pathname === '/v3/billdownload/file') {
			const e = tokens.get(url.searchParams.get('token') || '');
			if (!e || e.expires < Date.now()) return v3error(res, 400, 'INVALID_REQUEST', 'download token invalid or expired'), true;
			let body = Buffer.from(e.text);
			if (corruptNext) {
				corruptNext = false;
				body[body.length - 3] ^= 0x01; // a digit of the summary changes
			}
			res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
			res.end(body);
			return true;
		}
		return false;
	}

	// Noon (CST) of a day, or null.
	function noon(date) {
		const s = dayStart(date);
		return s === null ? null : s + 12 * 3600;
	}

	// One bill_extra entry; an error message or null.
	function extra(e) {
		if (typeof e !== 'object' || e === null) return 'bill_extra entries are objects';
		const at = e.date === undefined ? now() : noon(e.date);
		if (at === null) return 'bill_extra.date must be YYYY-MM-DD';
		if (typeof e.out_refund_no === 'string') {
			if (!Number.isInteger(e.amount) || e.amount < 1 || typeof e.out_trade_no !== 'string')
				return 'a bill_extra refund needs out_trade_no and amount (fen)';
			if (extraRefunds.length >= MAX_EXTRA) return 'too many bill_extra refunds';
			extraRefunds.push({
				out_refund_no: e.out_refund_no, out_trade_no: e.out_trade_no, refund_id: '5030' + randomDigits(24),
				status: typeof e.status === 'string' ? e.status : 'SUCCESS', create_time: at, amount: { refund: e.amount },
			});
			log('bill_extra refund', e.out_refund_no, e.amount);
			return null;
		}
		if (typeof e.out_trade_no !== 'string' || !e.out_trade_no) return 'bill_extra needs out_trade_no';
		let t = trades.get(e.out_trade_no);
		if (!t) {
			if (!Number.isInteger(e.amount) || e.amount < 1) return 'an unknown bill_extra trade needs amount (fen)';
			t = {
				appid: cfg.appid, mchid: cfg.mchid, out_trade_no: e.out_trade_no, description: 'bill extra',
				trade_type: 'NATIVE', trade_state: 'NOTPAY', amount: { total: e.amount, currency: 'CNY' },
				time_expire: now() + 7200, notify_url: cfg.notifyUrl, payer_openid: '', prepay_id: '', code_url: '',
				transaction_id: '', success_time: 0, create_time: now(), notifications: [], last: null, refunded: 0,
			};
			trades.set(t.out_trade_no, t);
		}
		if (t.trade_state === 'NOTPAY' || t.trade_state === 'CLOSED' || t.trade_state === 'PAYERROR') {
			// Paid at WeChat, but no notification reaches the shop.
			t.trade_state = 'SUCCESS';
			t.transaction_id = '4200' + randomDigits(24);
			if (!t.payer_openid) t.payer_openid = 'oSim' + randomAlnum(24);
		}
		t.success_time = at;
		log('bill_extra trade', t.out_trade_no, t.amount.total, cstText(at));
		return null;
	}

	// One bill_date_shift entry; an error message or null.
	function shift(e) {
		const at = e && noon(e.date);
		if (!at) return 'bill_date_shift needs date (YYYY-MM-DD)';
		if (typeof e.out_refund_no === 'string') {
			const r = (refunds && refunds.get(e.out_refund_no)) || extraRefunds.find((x) => x.out_refund_no === e.out_refund_no);
			if (!r) return 'no such refund';
			r.create_time = typeof r.create_time === 'string' ? new Date((at + 8 * 3600) * 1000).toISOString().replace(/\.\d{3}Z$/, '+08:00') : at;
			if (r.success_time) r.success_time = r.create_time;
			return null;
		}
		const t = e.out_trade_no && trades.get(e.out_trade_no);
		if (!t || !t.transaction_id) return 'no such paid trade';
		t.success_time = at;
		return null;
	}

	// Apply the bill_* keys of POST /simulator/controls; an error message or null.
	function control(b) {
		for (const [key, fn] of [['bill_extra', extra], ['bill_date_shift', shift]]) {
			if (b[key] === undefined) continue;
			for (const e of Array.isArray(b[key]) ? b[key] : [b[key]]) {
				const err = fn(e);
				if (err) return err;
			}
		}
		if (b.bill_corrupt !== undefined) corruptNext = b.bill_corrupt === true;
		return null;
	}

	return { handle, control };
}
