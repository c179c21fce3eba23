#!/usr/bin/env node
// sim.mjs - a WeChat Pay API v3 simulator for tests and the demo (Node 18+, built-in modules only).
//
// It verifies the merchant's WECHATPAY2-SHA256-RSA2048 request signatures, keeps trades, signs
// every v3 answer with the platform key, and sends payment notifications exactly as WeChat Pay
// does: JSON whose resource is AEAD_AES_256_GCM-encrypted with the APIv3 key, signed over
// "timestamp\nnonce\nbody\n" with the platform key, retried on failure (1 s, 2 s, 4 s, ...).
// Control endpoints (/simulator/...) let tests and people pay, break notifications and look.
// See README.md beside this file. Listens on 127.0.0.1 only.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { refundModule } from './refund.mjs';
import { createBill } from './bill.mjs';

import { createMini } from './mini.mjs';

const MAX_BODY = 64 * 1024;
const SKEW = 300; // seconds a merchant request's timestamp may be off
const RETRY_DELAYS = [1, 2, 4, 8, 16, 32]; // seconds: WeChat's 15 s ... 3 h schedule, shortened
const MAX_TRADES = 100000;
const MAX_MESSAGES = 10000;

// Options: --name value, or WXPAY_SIM_NAME in the environment.
function option(name, def) {
	const i = process.argv.indexOf('--' + name);
	if (i > 0 && i + 1 < process.argv.length) return process.argv[i + 1];
	const env = process.env['WXPAY_SIM_' + name.toUpperCase().replace(/-/g, '_')];
	return env !== undefined && env !== '' ? env : def;
}

function required(name) {
	const v = option(name);
	if (!v) {
		console.error(`wxpay-sim: --${name} (or WXPAY_SIM_${name.toUpperCase().replace(/-/g, '_')}) is required`);
		process.exit(2);
	}
	return v;
}

const cfg = {
	port: Number(option('port', '8090')),
	mchid: required('mchid'),
	appid: required('appid'),
	merchantSerial: required('merchant-serial'),
	merchantKey: crypto.createPublicKey(fs.readFileSync(required('merchant-public-key'))),
	platformSerial: required('platform-serial'),
	platformKey: crypto.createPrivateKey(fs.readFileSync(required('platform-private-key'))),
	apiv3Key: Buffer.from(required('apiv3-key')),
	notifyUrl: option('notify-url', ''),
	refundNotifyUrl: option('refund-notify-url', ''),
};
if (cfg.apiv3Key.length !== 32) {
	console.error('wxpay-sim: the APIv3 key must be 32 bytes');
	process.exit(2);
}

// The mini-program API (login, access token, phone) and the SMS gateway: mini.mjs.
const mini = createMini({ appid: cfg.appid, wxSecret: option('wx-secret', ''), smsSecret: option('sms-secret', ''),
	send: (res, status, body) => send(res, status, body), log: (...a) => log(...a) });

const trades = new Map(); // out_trade_no -> trade
const messages = []; // subscribe messages received
const seenNonces = new Map(); // merchant request nonce -> expiry (ms)
// Refunds, REFUND.* notifications and the controls (refund.mjs).
const R = refundModule({ cfg, trades, send, v3error, signedNotification, notifier, randomDigits, rfc3339, now, log });

function log(...args) {
	console.log(new Date().toISOString(), ...args);
}

// RFC 3339 in China Standard Time, as WeChat writes times.
function rfc3339(unixSeconds) {
	const d = new Date((unixSeconds + 8 * 3600) * 1000);
	return d.toISOString().replace(/\.\d{3}Z$/, '+08:00');
}

function now() {
	return Math.floor(Date.now() / 1000);
}

function randomAlnum(n) {
	const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
	const bytes = crypto.randomBytes(n);
	let s = '';
	for (let i = 0; i < n; i++) s += abc[bytes[i] % abc.length];
	return s;
}

function randomDigits(n) {
	let s = '';
	for (let i = 0; i < n; i++) s += String(crypto.randomInt(10));
	return s;
}

// SHA256withRSA with the platform key, base64.
function platformSign(message) {
	return crypto.sign('sha256', Buffer.from(message), cfg.platformKey).toString('base64');
}

// AEAD_AES_256_GCM with the APIv3 key: base64(ciphertext || tag).
function encrypt(plaintext, nonce, aad) {
	const c = crypto.createCipheriv('aes-256-gcm', cfg.apiv3Key, Buffer.from(nonce));
	c.setAAD(Buffer.from(aad));
	const ct = Buffer.concat([c.update(Buffer.from(plaintext)), c.final(), c.getAuthTag()]);
	return ct;
}

// ---- HTTP plumbing ---------------------------------------------------------------------------

// Read a request body up to MAX_BODY; resolves to a Buffer or null if too large.
function readBody(req) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		let size = 0;
		req.on('data', (c) => {
			size += c.length;
			if (size > MAX_BODY) {
				resolve(null);
				req.destroy();
				return;
			}
			chunks.push(c);
		});
		req.on('end', () => resolve(Buffer.concat(chunks)));
		req.on('error', reject);
	});
}

// Send an answer; v3 answers are signed like WeChat's (Wechatpay-* headers).
function send(res, status, body, { signed = false, type = 'application/json', headers = {} } = {}) {
	const text = body === undefined || body === null ? '' : typeof body === 'string' ? body : JSON.stringify(body);
	const h = { 'Content-Type': type, ...headers };
	if (signed) {
		const ts = String(now());
		const nonce = randomAlnum(32);
		h['Request-ID'] = crypto.randomUUID();
		h['Wechatpay-Timestamp'] = ts;
		h['Wechatpay-Nonce'] = nonce;
		h['Wechatpay-Serial'] = cfg.platformSerial;
		h['Wechatpay-Signature-Type'] = 'WECHATPAY2-SHA256-RSA2048';
		h['Wechatpay-Signature'] = platformSign(`${ts}\n${nonce}\n${text}\n`);
	}
	if (status === 204) delete h['Content-Type'];
	res.writeHead(status, h);
	res.end(status === 204 ? undefined : text);
}

function v3error(res, status, code, message) {
	send(res, status, { code, message }, { signed: true });
}

// Parse WECHATPAY2-SHA256-RSA2048 k="v",... into an object, or null.
function parseAuthorization(value) {
	const scheme = 'WECHATPAY2-SHA256-RSA2048 ';
	if (!value || !value.startsWith(scheme) || value.length > 2048) return null;
	const out = {};
	const re = /\s*([a-z_]+)="([^"]*)"\s*(,|$)/gy;
	const rest = value.slice(scheme.length);
	let m;
	let pos = 0;
	while (pos < rest.length && (m = re.exec(rest)) !== null) {
		out[m[1]] = m[2];
		pos = re.lastIndex;
	}
	if (pos !== rest.length) return null;
	return out;
}

// Check the merchant's signature of a v3 request; an error message, or null when it verifies.
function verifyMerchant(req, body) {
	const a = parseAuthorization(req.headers.authorization);
	if (!a) return 'missing or malformed Authorization (WECHATPAY2-SHA256-RSA2048)';
	for (const k of ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'])
		if (!a[k]) return `Authorization lacks ${k}`;
	if (a.mchid !== cfg.mchid) return 'mchid in Authorization is not a known merchant';
	if (a.serial_no !== cfg.merchantSerial) return 'serial_no does not name the merchant certificate';
	const ts = Number(a.timestamp);
	if (!/^\d{1,12}$/.test(a.timestamp) || Math.abs(now() - ts) > SKEW) return 'timestamp expired';
	const message = `${req.method}\n${req.url}\n${a.timestamp}\n${a.nonce_str}\n${body}\n`;
	let ok = false;
	try {
		ok = crypto.verify('sha256', Buffer.from(message), cfg.merchantKey, Buffer.from(a.signature, 'base64'));
	} catch {
		ok = false;
	}
	if (!ok) return 'signature verification failed';
	const t = Date.now();
	for (const [n, exp] of seenNonces) if (exp < t) seenNonces.delete(n);
	if (seenNonces.has(a.nonce_str)) return 'nonce_str replayed';
	seenNonces.set(a.nonce_str, t + 2 * SKEW * 1000);
	return null;
}

// ---- trades ----------------------------------------------------------------------------------

// The v3 transaction object of a trade (query answer and notification plaintext).
function transaction(t) {
	const o = {
		appid: t.appid,
		mchid: t.mchid,
		out_trade_no: t.out_trade_no,
		trade_type: t.trade_type,
		trade_state: t.trade_state,
		trade_state_desc: {
			SUCCESS: '支付成功', NOTPAY: '未支付', CLOSED: '已关闭', PAYERROR: '支付失败', REFUND: '转入退款',
		}[t.trade_state] || t.trade_state,
		attach: '',
		amount: { total: t.amount.total, currency: t.amount.currency },
	};
	if (t.transaction_id) {
		o.transaction_id = t.transaction_id;
		o.bank_type = 'OTHERS';
		o.success_time = rfc3339(t.success_time);
		o.payer = { openid: t.payer_openid };
		o.amount.payer_total = t.amount.total;
		o.amount.payer_currency = 'CNY';
	} else if (t.payer_openid) {
		o.payer = { openid: t.payer_openid };
	}
	return o;
}

const SN_RE = /^[A-Za-z0-9_\-|*]{6,32}$/;

// Validate a prepay request; an error message or null.
function checkPrepay(b, kind) {
	if (typeof b !== 'object' || b === null) return 'body must be a JSON object';
	if (b.appid !== cfg.appid) return 'appid is not bound to this merchant';
	if (b.mchid !== cfg.mchid) return 'mchid does not match';
	if (typeof b.description !== 'string' || !b.description || Buffer.byteLength(b.description) > 127)
		return 'description must be 1-127 bytes';
	if (typeof b.out_trade_no !== 'string' || !SN_RE.test(b.out_trade_no)) return 'out_trade_no must be 6-32 of [A-Za-z0-9_-|*]';
	if (typeof b.notify_url !== 'string' || !/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(b.notify_url))
		return 'notify_url must be an http(s) URL on loopback (simulator)';
	if (cfg.notifyUrl && b.notify_url !== cfg.notifyUrl) return 'notify_url is not the one configured for this merchant';
	if (!b.amount || !Number.isInteger(b.amount.total) || b.amount.total < 1 || b.amount.total > 1e11)
		return 'amount.total must be a positive integer (fen)';
	if (b.amount.currency !== undefined && b.amount.currency !== 'CNY') return 'currency must be CNY';
	if (b.time_expire !== undefined) {
		const t = Date.parse(b.time_expire);
		if (typeof b.time_expire !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/.test(b.time_expire) || Number.isNaN(t))
			return 'time_expire must be RFC 3339';
		if (t <= Date.now()) return 'time_expire is in the past';
	}
	if (kind === 'jsapi' && (!b.payer || typeof b.payer.openid !== 'string' || !b.payer.openid || b.payer.openid.length > 128))
		return 'payer.openid is required for JSAPI';
	return null;
}

function payPageUrl(sn) {
	return `http://127.0.0.1:${cfg.port}/simulator/pay/${encodeURIComponent(sn)}`;
}

// POST /v3/pay/transactions/{jsapi,native}
function prepay(res, kind, b) {
	const err = checkPrepay(b, kind);
	if (err) return v3error(res, 400, 'PARAM_ERROR', err);
	const type = kind.toUpperCase();
	const old = trades.get(b.out_trade_no);
	if (old) {
		if (old.trade_state === 'SUCCESS' || old.trade_state === 'REFUND') return v3error(res, 400, 'ORDERPAID', 'order paid');
		if (old.trade_state === 'CLOSED') return v3error(res, 400, 'ORDER_CLOSED', 'order closed');
		if (old.trade_type !== type || old.amount.total !== b.amount.total || old.description !== b.description)
			return v3error(res, 400, 'INVALID_REQUEST', 'out_trade_no reused with different parameters');
		return send(res, 200, type === 'JSAPI' ? { prepay_id: old.prepay_id } : { code_url: old.code_url }, { signed: true });
	}
	if (trades.size >= MAX_TRADES) return v3error(res, 429, 'FREQUENCY_LIMITED', 'simulator is full');
	const t = {
		appid: b.appid,
		mchid: b.mchid,
		out_trade_no: b.out_trade_no,
		description: b.description,
		trade_type: type,
		trade_state: 'NOTPAY',
		amount: { total: b.amount.total, currency: 'CNY' },
		time_expire: b.time_expire ? Math.floor(Date.parse(b.time_expire) / 1000) : now() + 7200,
		notify_url: b.notify_url,
		payer_openid: type === 'JSAPI' ? b.payer.openid : '',
		prepay_id: 'wx' + randomDigits(14) + randomAlnum(18),
		code_url: type === 'NATIVE' ? payPageUrl(b.out_trade_no) : '',
		transaction_id: '',
		success_time: 0,
		create_time: now(),
		notifications: [],
		last: null, // the last notification sent: headers and body, for replay
		refunded: 0,
	};
	trades.set(t.out_trade_no, t);
	log('prepay', type, t.out_trade_no, t.amount.total);
	send(res, 200, type === 'JSAPI' ? { prepay_id: t.prepay_id } : { code_url: t.code_url }, { signed: true });
}

// ---- notifications ---------------------------------------------------------------------------

// Build (and possibly break) one notification of trade t: { headers, body }.
function buildNotification(t, tamper) {
	const txn = transaction(t);
	if (tamper === 'amount') {
		txn.amount.total += 1;
		txn.amount.payer_total = txn.amount.total;
	}
	return signedNotification(txn, 'transaction', 'TRANSACTION.SUCCESS', '支付成功', tamper);
}

// One notification as WeChat Pay sends it: resource encrypted (AEAD_AES_256_GCM, APIv3 key,
// associated data kind) into the v3 envelope, signed over "timestamp\nnonce\nbody\n" with the
// platform key. tamper breaks it: ciphertext, stale, signature ('amount' is the caller's).
function signedNotification(resource, kind, eventType, summary, tamper) {
	const nonce = randomAlnum(12);
	const ct = encrypt(JSON.stringify(resource), nonce, kind);
	if (tamper === 'ciphertext') ct[Math.floor(ct.length / 3)] ^= 0x5a;
	const body = JSON.stringify({
		id: crypto.randomUUID(),
		create_time: rfc3339(now()),
		resource_type: 'encrypt-resource',
		event_type: eventType,
		summary,
		resource: { original_type: kind, algorithm: 'AEAD_AES_256_GCM', ciphertext: ct.toString('base64'), associated_data: kind, nonce },
	});
	const ts = String(tamper === 'stale' ? now() - 2 * SKEW : now());
	const hnonce = randomAlnum(32);
	let sig = platformSign(`${ts}\n${hnonce}\n${body}\n`);
	if (tamper === 'signature') {
		// Still valid base64 of the right length: only the RSA check can tell.
		const raw = Buffer.from(sig, 'base64');
		raw[10] ^= 0x01;
		sig = raw.toString('base64');
	}
	return {
		headers: {
			'Content-Type': 'application/json',
			'Wechatpay-Timestamp': ts,
			'Wechatpay-Nonce': hnonce,
			'Wechatpay-Signature': sig,
			'Wechatpay-Serial': cfg.platformSerial,
			'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
		},
		body,
	};
}

// POST a notification to url; resolves to { status, error }.
function post(url, n) {
	return new Promise((resolve) => {
		let u;
		try {
			u = new URL(url);
		} catch {
			resolve({ status: 0, error: 'bad notify_url' });
			return;
		}
		const req = http.request(
			{ hostname: u.hostname, port: u.port || 80, path: u.pathname + u.search, method: 'POST', timeout: 5000,
				headers: { ...n.headers, 'Content-Length': Buffer.byteLength(n.body), 'User-Agent': 'Mozilla/4.0' } },
			(res) => {
				let text = '';
				res.setEncoding('utf8');
				res.on('data', (c) => { if (text.length < 4096) text += c; });
				res.on('end', () => resolve({ status: res.statusCode, error: res.statusCode < 300 ? '' : text.slice(0, 300) }));
			});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', (e) => resolve({ status: 0, error: String(e.message || e) }));
		req.end(n.body);
	});
}

// A notify(x, { tamper, replay, retry, attempt }) for records x with notify_url, notifications
// and last (a trade, a refund): sends build(x, tamper) (replay: the last genuine one again) and
// records it; with retry a failure is sent again on RETRY_DELAYS while again(x) holds.
// name(x) gives the words its log lines start with.
function notifier(build, name, again) {
	return async function notify(x, { tamper = '', replay = false, retry = false, attempt = 1 } = {}) {
		let n;
		if (replay) {
			if (!x.last) return { status: 0, error: 'nothing to replay yet' };
			n = x.last;
		} else {
			n = build(x, tamper);
			if (!tamper) x.last = n;
		}
		const r = await post(x.notify_url, n);
		const rec = { at: now(), attempt, status: r.status, tamper: tamper || null, replay, error: r.error || null, nonce: n.headers['Wechatpay-Nonce'] };
		x.notifications.push(rec);
		if (x.notifications.length > 100) x.notifications.shift();
		log(...name(x), 'attempt', attempt, tamper || (replay ? 'replay' : 'genuine'), '->', r.status, r.error || '');
		const ok = r.status >= 200 && r.status < 300;
		if (!ok && retry && attempt <= RETRY_DELAYS.length) {
			const timer = setTimeout(() => {
				if (again(x)) notify(x, { retry: true, attempt: attempt + 1 });
			}, RETRY_DELAYS[attempt - 1] * 1000);
			timer.unref();
		}
		return rec;
	};
}

// Payment notifications of a trade, retried while it stays paid.
const notify = notifier(buildNotification, (t) => ['notify', t.out_trade_no], (t) => t.trade_state === 'SUCCESS');

// The payer pays trade t (result SUCCESS or PAYERROR); a success is notified unless told not to.
function pay(t, result, openid, sendNotification) {
	if (t.trade_state !== 'NOTPAY') return `trade is ${t.trade_state}, not NOTPAY`;
	if (now() > t.time_expire) return 'trade expired (time_expire has passed)';
	if (result === 'PAYERROR') {
		// WeChat Pay sends no notification for a failed payment; query shows PAYERROR.
		t.trade_state = 'PAYERROR';
		log('pay', t.out_trade_no, 'PAYERROR');
		return null;
	}
	t.trade_state = 'SUCCESS';
	t.transaction_id = '4200' + randomDigits(24);
	t.success_time = now();
	if (!t.payer_openid) t.payer_openid = openid || 'oSim' + randomAlnum(24);
	log('pay', t.out_trade_no, 'SUCCESS', t.transaction_id);
	if (sendNotification && R.controls.notify !== false) notify(t, { retry: true });
	return null;
}

// ---- HTML pay page (what the Native QR code leads to) -----------------------------------------

function esc(s) {
	return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const PAGE_CSP = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const CSS = `body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.3rem;color:#07c160}.amount{font-size:2rem;font-weight:600}.state{color:#666}
button{font-size:1rem;padding:.6rem 1.4rem;border:0;border-radius:6px;background:#07c160;color:#fff;cursor:pointer}
button.fail{background:#eee;color:#333;margin-left:.5rem}.msg{padding:.6rem;background:#f3f3f3;border-radius:6px}`;

function page(res, status, t, msg) {
	const amount = t ? (t.amount.total / 100).toFixed(2) : '';
	const body = t
		? `<h1>WeChat Pay (simulator)</h1>
<p>${esc(t.description)}</p>
<p class="amount">¥${amount}</p>
<p class="state">Trade <code>${esc(t.out_trade_no)}</code>: ${esc(t.trade_state)}</p>
${msg ? `<p class="msg">${esc(msg)}</p>` : ''}
${t.trade_state === 'NOTPAY'
		? `<form method="post" action="/simulator/pay/${encodeURIComponent(t.out_trade_no)}">
<button name="result" value="SUCCESS">Pay ¥${amount}</button>
<button class="fail" name="result" value="PAYERROR">Fail the payment</button>
</form>`
		: ''}`
		: `<h1>WeChat Pay (simulator)</h1><p class="msg">${esc(msg)}</p>`;
	const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>WeChat Pay simulator</title><link rel="stylesheet" href="/simulator/static/sim.css"></head>
<body>${body}</body></html>`;
	send(res, status, html, { type: 'text/html; charset=utf-8', headers: { 'Content-Security-Policy': PAGE_CSP, 'Cache-Control': 'no-store' } });
}

// ---- routing ---------------------------------------------------------------------------------

function parseJson(buf) {
	try {
		const v = JSON.parse(buf.toString('utf8') || '{}');
		return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : null;
	} catch {
		return null;
	}
}

async function handle(req, res) {
	const url = new URL(req.url, 'http://127.0.0.1');
	const path = url.pathname;
	const buf = await readBody(req);
	if (buf === null) return send(res, 413, { code: 'PARAM_ERROR', message: 'body too large' });
	const text = buf.toString('utf8');
	let m;

	// --- the v3 API (signed requests, signed answers) ---
	if (path.startsWith('/v3/')) {
		const err = verifyMerchant(req, text);
		if (err) return v3error(res, 401, 'SIGN_ERROR', err);
		const b = req.method === 'POST' ? parseJson(buf) : {};
		if (b === null) return v3error(res, 400, 'PARAM_ERROR', 'body must be a JSON object');
		if (bill.handle(req, res, url)) return; // trade bills (bill.mjs)
		if (req.method === 'POST' && (m = path.match(/^\/v3\/pay\/transactions\/(jsapi|native)$/))) return prepay(res, m[1], b);
		if (req.method === 'GET' && (m = path.match(/^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/))) {
			if (url.searchParams.get('mchid') !== cfg.mchid) return v3error(res, 400, 'PARAM_ERROR', 'mchid does not match');
			const t = trades.get(decodeURIComponent(m[1]));
			if (!t) return v3error(res, 404, 'ORDER_NOT_EXIST', 'order does not exist');
			return send(res, 200, transaction(t), { signed: true });
		}
		if (req.method === 'POST' && (m = path.match(/^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/))) {
			if (b.mchid !== cfg.mchid) return v3error(res, 400, 'PARAM_ERROR', 'mchid does not match');
			const t = trades.get(decodeURIComponent(m[1]));
			if (!t) return v3error(res, 404, 'ORDER_NOT_EXIST', 'order does not exist');
			if (t.trade_state === 'SUCCESS' || t.trade_state === 'REFUND') return v3error(res, 400, 'ORDERPAID', 'order paid');
			if (R.controls.close_fails) return v3error(res, 500, 'SYSTEM_ERROR', 'system error (simulator close_fails)');
			t.trade_state = 'CLOSED';
			log('close', t.out_trade_no);
			return send(res, 204, '', { signed: true });
		}
		if (R.v3(req, res, path, b)) return;
		return v3error(res, 404, 'NOT_FOUND', 'no such API in the simulator');
	}

	// --- subscribe messages (jobs/notify) ---
	if (req.method === 'POST' && path === '/cgi-bin/message/subscribe/send') {
		const te = mini.tokenError(url.searchParams.get('access_token'));
		if (te) return send(res, 200, { errcode: te, errmsg: te === 42001 ? 'access_token expired' : 'invalid credential, access_token is invalid or not latest' });
		const b = parseJson(buf);
		if (!b || typeof b.touser !== 'string' || !b.touser || typeof b.template_id !== 'string' || !b.template_id)
			return send(res, 200, { errcode: 47003, errmsg: 'argument invalid: touser and template_id are required' });
		if (messages.length >= MAX_MESSAGES) messages.shift();
		const msgid = messages.length ? messages[messages.length - 1].msgid + 1 : 1;
		messages.push({ msgid, at: now(), access_token: url.searchParams.has('access_token'), ...b });
		log('subscribe message', msgid, b.touser, b.template_id);
		return send(res, 200, { errcode: 0, errmsg: 'ok', msgid });
	}
	if (req.method === 'GET' && path === '/simulator/messages') return send(res, 200, { messages });

	// --- control endpoints ---
	if (req.method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' });
	if (req.method === 'GET' && path === '/simulator/static/sim.css') return send(res, 200, CSS, { type: 'text/css' });
	if (req.method === 'POST' && path === '/simulator/pay') {
		const b = parseJson(buf);
		if (!b || typeof b.out_trade_no !== 'string') return send(res, 400, { error: 'out_trade_no is required' });
		const result = b.result === undefined ? 'SUCCESS' : b.result;
		if (result !== 'SUCCESS' && result !== 'PAYERROR') return send(res, 400, { error: 'result must be SUCCESS or PAYERROR' });
		const t = trades.get(b.out_trade_no);
		if (!t) return send(res, 404, { error: 'no such trade' });
		const err = pay(t, result, typeof b.openid === 'string' ? b.openid.slice(0, 128) : '', b.notify !== false);
		if (err) return send(res, 409, { error: err });
		return send(res, 200, { trade: transaction(t) });
	}
	if (req.method === 'POST' && path === '/simulator/notify') {
		const b = parseJson(buf);
		if (!b || typeof b.out_trade_no !== 'string') return send(res, 400, { error: 'out_trade_no is required' });
		const tamper = b.tamper === undefined || b.tamper === null ? '' : b.tamper;
		if (!['', 'signature', 'amount', 'ciphertext', 'stale'].includes(tamper))
			return send(res, 400, { error: 'tamper must be signature, amount, ciphertext or stale' });
		const t = trades.get(b.out_trade_no);
		if (!t) return send(res, 404, { error: 'no such trade' });
		if (t.trade_state !== 'SUCCESS') return send(res, 409, { error: `trade is ${t.trade_state}; WeChat notifies paid trades` });
		const rec = await notify(t, { tamper, replay: b.replay === true });
		return send(res, rec.status === 0 && rec.error === 'nothing to replay yet' ? 409 : 200, rec);
	}
	if (req.method === 'POST' && path === '/simulator/controls') {
		const b = parseJson(buf);
		if (!b) return send(res, 400, { error: 'body must be a JSON object' });
		const err = bill.control(b); // bill_extra, bill_date_shift, bill_corrupt (bill.mjs)
		if (err) return send(res, 400, { error: err });
		// close_fails, refund_result, notify (refund.mjs), which answers with its controls.
		if (await R.control(req, res, path, buf)) return;
		return send(res, 200, { ok: true });
	}
	if (req.method === 'GET' && (m = path.match(/^\/simulator\/trades\/([^/]+)$/))) {
		const t = trades.get(decodeURIComponent(m[1]));
		if (!t) return send(res, 404, { error: 'no such trade' });
		return send(res, 200, { ...transaction(t), description: t.description, time_expire: rfc3339(t.time_expire), notify_url: t.notify_url, notifications: t.notifications });
	}
	if ((m = path.match(/^\/simulator\/pay\/([^/]+)$/))) {
		const t = trades.get(decodeURIComponent(m[1]));
		if (!t) return page(res, 404, null, 'No such trade.');
		if (req.method === 'GET') return page(res, 200, t, '');
		if (req.method === 'POST') {
			const result = new URLSearchParams(text).get('result') === 'PAYERROR' ? 'PAYERROR' : 'SUCCESS';
			const err = pay(t, result, '', true);
			return page(res, err ? 409 : 200, t, err || (result === 'SUCCESS' ? 'Paid. You can go back to the shop.' : 'The payment failed.'));
		}
	}
	if (await R.control(req, res, path, buf)) return;
	if (mini.handle(req, res, url, buf, parseJson)) return;
	return send(res, 404, { error: 'not found' });
}

const bill = createBill({ cfg, trades, refunds: R.refunds, send, v3error, log, randomDigits, randomAlnum, now });

const server = http.createServer((req, res) => {
	handle(req, res).catch((e) => {
		log('error', e && e.stack ? e.stack : e);
		if (!res.headersSent) send(res, 500, { code: 'SYSTEM_ERROR', message: 'simulator error' });
	});
});
server.requestTimeout = 10000;
server.headersTimeout = 5000;
server.listen(cfg.port, '127.0.0.1', () => log(`wxpay-sim listening on http://127.0.0.1:${cfg.port} (mchid ${cfg.mchid})`));
for (const sig of ['SIGTERM', 'SIGINT']) {
	process.on(sig, () => {
		server.close(() => process.exit(0));
		setTimeout(() => process.exit(0), 500).unref();
	});
}
