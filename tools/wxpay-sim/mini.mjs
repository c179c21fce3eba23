// mini.mjs - the mini-program side of WeChat's server API, and an SMS gateway, for sim.mjs.
//
// WeChat: wx.login / getPhoneNumber codes (issued by POST /simulator/wx/login), GET
// /sns/jscode2session, the access token (GET /cgi-bin/token, POST /cgi-bin/stable_token) and
// POST /wxa/business/getuserphonenumber, with WeChat's error answers. SMS: the gateway's send
// endpoint (POST /simulator/sms/send, HMAC-signed requests) and its outbox (GET /simulator/sms).
// See README.md beside this file.
import crypto from 'node:crypto';

const CODE_TTL = 300; // seconds a wx.login or getPhoneNumber code is valid
const TOKEN_TTL = 7200; // expires_in of an access token
const MAX_CODES = 100000;
const MAX_SMS = 10000;
const LOGIN_QUOTA = 60; // jscode2session calls per openid per minute before 45011

function now() {
	return Math.floor(Date.now() / 1000);
}

function rnd(n) {
	return crypto.randomBytes(n).toString('base64url').slice(0, n);
}

// Make the module: appid and its AppSecret, the SMS gateway's secret, the simulator's send/log.
export function createMini({ appid, wxSecret, smsSecret, send, log }) {
	const codes = new Map(); // code -> {kind: 'login'|'phone', openid, phone, expires, used}
	const tokens = new Map(); // access_token -> {expires, invalid}
	const quota = new Map(); // openid -> {minute, n}
	const outbox = []; // SMS sent, oldest first
	const forced = new Map(); // api -> [{errcode|drop}] answers forced by a control
	let stable = null; // the current stable_token
	let issued = 0; // tokens handed out (token + stable_token with a new token)

	function json(res, body, status = 200) {
		send(res, status, body);
	}

	function prune() {
		const t = now();
		for (const [c, v] of codes) if (v.expires < t - CODE_TTL) codes.delete(c);
		for (const [k, v] of tokens) if (v.expires < t - TOKEN_TTL) tokens.delete(k);
	}

	function newToken() {
		const token = rnd(100);
		tokens.set(token, { expires: now() + TOKEN_TTL, invalid: false });
		issued++;
		return token;
	}

	// 0 for a valid access token, else WeChat's errcode (40001 invalid, 42001 expired).
	function tokenError(token) {
		const t = token ? tokens.get(token) : null;
		if (!t || t.invalid) return 40001;
		if (t.expires <= now()) return 42001;
		return 0;
	}

	// A forced answer for api, if a control asked for one: true when it answered.
	function takeForced(api, res) {
		const list = forced.get(api);
		if (!list || !list.length) return false;
		const f = list.shift();
		if (f.drop) {
			res.socket.destroy();
			return true;
		}
		json(res, { errcode: f.errcode, errmsg: f.errcode === -1 ? 'system error' : 'forced by simulator' });
		return true;
	}

	function checkCredential(res, a, s, badSecretCode) {
		if (a !== appid) {
			json(res, { errcode: 40013, errmsg: 'invalid appid' });
			return false;
		}
		if (!s || s !== wxSecret) {
			json(res, { errcode: badSecretCode, errmsg: 'invalid appsecret' });
			return false;
		}
		return true;
	}

	function code2session(res, q) {
		if (takeForced('jscode2session', res)) return;
		if (!checkCredential(res, q.get('appid'), q.get('secret'), 40125)) return;
		if (q.get('grant_type') !== 'authorization_code') return json(res, { errcode: 40002, errmsg: 'invalid grant_type' });
		const c = codes.get(q.get('js_code') || '');
		if (!c || c.kind !== 'login' || c.expires <= now()) return json(res, { errcode: 40029, errmsg: 'invalid code' });
		if (c.used) return json(res, { errcode: 40163, errmsg: 'code been used' });
		const minute = Math.floor(Date.now() / 60000);
		const qo = quota.get(c.openid) || { minute, n: 0 };
		if (qo.minute !== minute) Object.assign(qo, { minute, n: 0 });
		qo.n++;
		quota.set(c.openid, qo);
		if (qo.n > LOGIN_QUOTA) return json(res, { errcode: 45011, errmsg: 'api minute-quota reach limit, mustslower retry next minute' });
		c.used = true;
		log('jscode2session', c.openid);
		json(res, { openid: c.openid, session_key: crypto.randomBytes(16).toString('base64') });
	}

	function token(res, q) {
		if (takeForced('token', res)) return;
		if (q.get('grant_type') !== 'client_credential') return json(res, { errcode: 40002, errmsg: 'invalid grant_type' });
		if (!checkCredential(res, q.get('appid'), q.get('secret'), 40001)) return;
		// /cgi-bin/token: a new token each call; the previous one stays valid (WeChat: 5 min).
		json(res, { access_token: newToken(), expires_in: TOKEN_TTL });
	}

	function stableToken(res, b) {
		if (takeForced('stable_token', res)) return;
		if (!b || b.grant_type !== 'client_credential') return json(res, { errcode: 40002, errmsg: 'invalid grant_type' });
		if (!checkCredential(res, b.appid, b.secret, 40125)) return;
		const cur = stable && tokens.get(stable);
		if (b.force_refresh === true || !cur || cur.invalid || cur.expires <= now()) {
			if (cur) cur.invalid = true; // a forced refresh ends the previous stable token
			stable = newToken();
			log('stable_token: new token', b.force_refresh === true ? '(forced)' : '');
		}
		json(res, { access_token: stable, expires_in: tokens.get(stable).expires - now() });
	}

	function phoneNumber(res, q, b) {
		if (takeForced('getuserphonenumber', res)) return;
		const te = tokenError(q.get('access_token'));
		if (te) return json(res, { errcode: te, errmsg: te === 42001 ? 'access_token expired' : 'invalid credential, access_token is invalid or not latest' });
		const c = b && typeof b.code === 'string' ? codes.get(b.code) : null;
		if (!c || c.kind !== 'phone' || c.expires <= now() || c.used) return json(res, { errcode: 40029, errmsg: 'invalid code' });
		c.used = true;
		json(res, {
			errcode: 0, errmsg: 'ok',
			phone_info: { phoneNumber: c.phone, purePhoneNumber: c.phone, countryCode: '86', watermark: { timestamp: now(), appid } },
		});
	}

	// POST /simulator/wx/login {openid?, phone?}: a wx.login code, or a getPhoneNumber code.
	function issueCode(res, b) {
		if (!b) return json(res, { error: 'body must be a JSON object' }, 400);
		if (codes.size >= MAX_CODES) prune();
		if (b.openid !== undefined && (typeof b.openid !== 'string' || !/^[A-Za-z0-9_-]{6,64}$/.test(b.openid)))
			return json(res, { error: 'openid must be 6-64 of [A-Za-z0-9_-]' }, 400);
		if (b.phone !== undefined && (typeof b.phone !== 'string' || !/^\d{5,15}$/.test(b.phone)))
			return json(res, { error: 'phone must be digits' }, 400);
		const openid = b.openid || 'o' + rnd(27);
		const code = rnd(32).replace(/[^A-Za-z0-9]/g, 'x');
		const kind = b.phone ? 'phone' : 'login';
		codes.set(code, { kind, openid, phone: b.phone || '', expires: now() + CODE_TTL, used: false });
		json(res, { code, openid, kind, expiresIn: CODE_TTL });
	}

	// POST /simulator/wx/controls: expire or invalidate tokens, force answers of an API.
	function controls(res, b) {
		if (!b) return json(res, { error: 'body must be a JSON object' }, 400);
		if (b.tokens === 'expire') for (const t of tokens.values()) t.expires = now();
		else if (b.tokens === 'invalidate') for (const t of tokens.values()) t.invalid = true;
		else if (b.tokens !== undefined) return json(res, { error: 'tokens must be expire or invalidate' }, 400);
		if (b.force !== undefined) {
			const f = b.force;
			const apis = ['jscode2session', 'token', 'stable_token', 'getuserphonenumber'];
			if (!f || !apis.includes(f.api) || !(Number.isInteger(f.errcode) || f.drop === true))
				return json(res, { error: `force: {api: ${apis.join('|')}, errcode: N | drop: true, count?}` }, 400);
			const n = Number.isInteger(f.count) && f.count > 0 ? Math.min(f.count, 1000) : 1;
			const list = forced.get(f.api) || [];
			for (let i = 0; i < n; i++) list.push(f.drop ? { drop: true } : { errcode: f.errcode });
			forced.set(f.api, list);
		}
		if (b.clear === true) forced.clear();
		json(res, { issued, valid: [...tokens.values()].filter((t) => !t.invalid && t.expires > now()).length });
	}

	// POST /simulator/sms/send: the SMS gateway (HMAC-SHA256 over "ts\nnonce\nbody").
	function smsSend(req, res, text, b) {
		const ts = req.headers['x-sms-timestamp'] || '';
		const nonce = req.headers['x-sms-nonce'] || '';
		const sig = req.headers['x-sms-signature'] || '';
		const want = crypto.createHmac('sha256', smsSecret || '').update(`${ts}\n${nonce}\n${text}`).digest('hex');
		if (!smsSecret || sig.length !== want.length || !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want)))
			return json(res, { Code: 'SignatureDoesNotMatch', Message: 'signature does not match' }, 400);
		if (!/^\d{1,12}$/.test(ts) || Math.abs(now() - Number(ts)) > 300) return json(res, { Code: 'InvalidTimeStamp.Expired', Message: 'timestamp expired' }, 400);
		if (!b || typeof b.PhoneNumbers !== 'string' || !/^1\d{10}$/.test(b.PhoneNumbers)) return json(res, { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: 'invalid mobile' });
		let param;
		try {
			param = JSON.parse(b.TemplateParam);
		} catch {
			param = null;
		}
		if (!param || typeof param.code !== 'string') return json(res, { Code: 'isv.INVALID_JSON_PARAM', Message: 'TemplateParam must be JSON with code' });
		if (outbox.length >= MAX_SMS) outbox.shift();
		const text2 = `【${b.SignName}】Your verification code is ${param.code}. It is valid for 5 minutes.`;
		outbox.push({ mobile: b.PhoneNumbers, text: text2, code: param.code, time: now(), template: b.TemplateCode });
		log('sms', b.PhoneNumbers);
		json(res, { Code: 'OK', Message: 'OK', BizId: rnd(20), RequestId: crypto.randomUUID() });
	}

	// Route a request: true if this module answered it.
	function handle(req, res, url, buf, parseJson) {
		const path = url.pathname;
		const q = url.searchParams;
		if (req.method === 'GET' && path === '/sns/jscode2session') return code2session(res, q), true;
		if (req.method === 'GET' && path === '/cgi-bin/token') return token(res, q), true;
		if (req.method === 'POST' && path === '/cgi-bin/stable_token') return stableToken(res, parseJson(buf)), true;
		if (req.method === 'POST' && path === '/wxa/business/getuserphonenumber') return phoneNumber(res, q, parseJson(buf)), true;
		if (req.method === 'POST' && path === '/simulator/wx/login') return issueCode(res, parseJson(buf)), true;
		if (req.method === 'POST' && path === '/simulator/wx/controls') return controls(res, parseJson(buf)), true;
		if (req.method === 'POST' && path === '/simulator/sms/send') return smsSend(req, res, buf.toString('utf8'), parseJson(buf)), true;
		if (req.method === 'GET' && path === '/simulator/sms') {
			const m = q.get('mobile');
			const list = outbox.filter((s) => !m || s.mobile === m).reverse().slice(0, 100);
			return json(res, { list }), true;
		}
		return false;
	}

	return { handle, tokenError };
}
