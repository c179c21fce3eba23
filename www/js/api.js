// api.js - the storefront's client of the flashsale HTTP API (see shared/API.md).
//
// Where the access token lives, and why: localStorage.
//  - The API authenticates with an `Authorization: Bearer` header that this code adds
//    explicitly; no cookie is ever sent, so another site cannot make the browser issue
//    authenticated requests on the user's behalf: there is no CSRF surface.
//  - The site's Content-Security-Policy allows only scripts from this origin (script-src
//    'self': no inline script, no inline handlers, no third-party script), and every piece
//    of user data is rendered with textContent, which keeps the XSS exposure that could read
//    localStorage small.
//  - Tokens expire (accessExpire); past refreshAfter the client trades the token for a new
//    one (/user/refresh), and logout revokes the session on the server at once, so a copied
//    token stops working.

const TOKEN_KEY = 'flashsale.auth';
const PROFILE_KEY = 'flashsale.profile';

/** An API error: code and msg from the envelope (or a network/HTTP failure). */
export class ApiError extends Error {
	constructor(code, msg, status, retryAfter) {
		super(msg || 'request failed');
		this.code = code;
		this.status = status;
		this.retryAfter = retryAfter || 0;
	}
}

// Server clock: the storefront never trusts the browser's wall clock for countdowns. The
// offset is taken from the API's `serverTime` (or, with 1 s precision, from the HTTP Date
// header) and carried forward with performance.now(), which is monotonic.
const clock = { base: null, at: 0, precise: false };

/** Record the server's time (Unix seconds) as observed now; precise values win. */
export function syncClock(serverSeconds, precise = true) {
	if (typeof serverSeconds !== 'number' || !isFinite(serverSeconds)) return;
	if (!precise && clock.precise) return;
	clock.base = serverSeconds * 1000;
	clock.at = performance.now();
	clock.precise = clock.precise || precise;
}

/** The server's current time in milliseconds (browser clock only until a response came). */
export function serverNowMs() {
	if (clock.base === null) return Date.now();
	return clock.base + (performance.now() - clock.at);
}

/** The server's current time in Unix seconds. */
export function serverNow() {
	return Math.floor(serverNowMs() / 1000);
}

/** The stored token triple {accessToken, accessExpire, refreshAfter}, or null. */
export function getAuth() {
	try {
		const a = JSON.parse(localStorage.getItem(TOKEN_KEY) || 'null');
		if (a && typeof a.accessToken === 'string' && a.accessToken) return a;
	} catch (e) {
		/* a damaged entry counts as logged out */
	}
	return null;
}

/** Store a token triple as answered by register/login/refresh. */
export function setAuth(data) {
	localStorage.setItem(
		TOKEN_KEY,
		JSON.stringify({
			accessToken: data.accessToken,
			accessExpire: data.accessExpire,
			refreshAfter: data.refreshAfter,
		}),
	);
}

/** Forget the token and the cached profile. */
export function clearAuth() {
	localStorage.removeItem(TOKEN_KEY);
	localStorage.removeItem(PROFILE_KEY);
}

/** The token's claims (display only: the server checks every request itself). */
export function claims() {
	const a = getAuth();
	if (!a) return null;
	try {
		const part = a.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
		return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
	} catch (e) {
		return null;
	}
}

/** True when a token is stored and, by the server's clock, not expired. */
export function loggedIn() {
	const a = getAuth();
	if (!a) return false;
	if (a.accessExpire && serverNow() >= a.accessExpire) {
		clearAuth();
		return false;
	}
	return true;
}

/** The cached {nickname, mobile} of the user, or null. */
export function cachedProfile() {
	try {
		return JSON.parse(localStorage.getItem(PROFILE_KEY) || 'null');
	} catch (e) {
		return null;
	}
}

/** Cache the user's profile for the header. */
export function setCachedProfile(p) {
	localStorage.setItem(PROFILE_KEY, JSON.stringify({ nickname: p.nickname, mobile: p.mobile }));
}

let refreshing = null;

/** Trade the token for a new one once refreshAfter has passed (one refresh at a time). */
async function maybeRefresh() {
	const a = getAuth();
	if (!a || !a.refreshAfter || serverNow() < a.refreshAfter) return;
	if (a.accessExpire && serverNow() >= a.accessExpire) {
		clearAuth();
		return;
	}
	if (!refreshing) {
		refreshing = send('POST', '/usercenter/v1/user/refresh', {}, a.accessToken)
			.then((data) => setAuth(data))
			.catch((e) => {
				if (e.code === 100003) clearAuth();
			})
			.finally(() => {
				refreshing = null;
			});
	}
	await refreshing;
}

/** One HTTP exchange; resolves with `data`, rejects with ApiError. */
async function send(method, path, body, token) {
	const headers = { Accept: 'application/json' };
	const init = { method, headers, credentials: 'omit', cache: 'no-store' };
	if (token) headers.Authorization = 'Bearer ' + token;
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch(path, init);
	} catch (e) {
		throw new ApiError(0, 'Network error: the shop cannot be reached. Check your connection.', 0);
	}
	const date = Date.parse(res.headers.get('Date') || '');
	if (!isNaN(date)) syncClock(date / 1000, false);
	let env = null;
	try {
		env = await res.json();
	} catch (e) {
		env = null;
	}
	const retryAfter = parseInt(res.headers.get('Retry-After') || '0', 10) || 0;
	if (!env || typeof env !== 'object' || typeof env.code !== 'number') {
		if (res.status === 404) throw new ApiError(100009, 'This service is not available yet.', 404);
		throw new ApiError(100001, 'Unexpected answer from the server (HTTP ' + res.status + ').', res.status);
	}
	if (env.code !== 200) throw new ApiError(env.code, env.msg, res.status, retryAfter);
	const data = env.data || {};
	if (typeof data.serverTime === 'number') syncClock(data.serverTime, true);
	return data;
}

/**
 * Call the API. opts.auth: send the token (and refresh it first when due). A 100003 answer to
 * an authenticated call forgets the token, so the page can send the user to log in.
 */
export async function api(method, path, body, opts = {}) {
	let token = null;
	if (opts.auth) {
		await maybeRefresh();
		const a = getAuth();
		if (!a) throw new ApiError(100003, 'Please log in first.', 401);
		token = a.accessToken;
	}
	try {
		return await send(method, path, body, token);
	} catch (e) {
		if (opts.auth && e.code === 100003) clearAuth();
		throw e;
	}
}

/**
 * GET with query parameters (undefined/null/'' values left out). opts.auth sends the token:
 * the web server's microcache is bypassed for such requests, so an admin sees changes at once.
 */
export function apiGet(path, params = {}, opts = {}) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
	}
	const qs = q.toString();
	return api('GET', qs ? path + '?' + qs : path, undefined, opts);
}

/** POST JSON with the user's token. */
export function apiPost(path, body = {}, opts = { auth: true }) {
	return api('POST', path, body, opts);
}
