// ui.js - what every page shares: the header, element helpers, money and time formatting,
// messages and countdowns. User data is only ever put into the page with textContent.

import {
	api,
	apiPost,
	cachedProfile,
	claims,
	clearAuth,
	getAuth,
	loggedIn,
	serverNowMs,
	setCachedProfile,
} from './api.js';

export const PLACEHOLDER_IMG = '/img/placeholder.svg';

/**
 * Make an element: el('a', {href: '/', class: 'x'}, 'text', child...). Attributes go through
 * setAttribute (never 'style', which the CSP forbids; never on* handlers); children that are
 * strings become text nodes.
 */
export function el(tag, attrs = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'class') e.className = v;
		else if (k === 'text') e.textContent = v;
		else if (k === 'dataset') Object.assign(e.dataset, v);
		else if (k.startsWith('on') || k === 'style') throw new Error('el(): ' + k + ' not allowed');
		else e.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of children.flat()) {
		if (c === null || c === undefined || c === false) continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}

/** document.getElementById shorthand. */
export const $ = (id) => document.getElementById(id);

/** Fen (integer) to "¥12.34". */
export function yuan(fen) {
	const n = Number(fen);
	if (!Number.isFinite(n)) return '¥—';
	const neg = n < 0;
	const abs = Math.abs(Math.round(n));
	const s = Math.floor(abs / 100).toLocaleString('en-US') + '.' + String(abs % 100).padStart(2, '0');
	return (neg ? '-¥' : '¥') + s;
}

/** Parse a yuan amount typed by a person ("12", "12.3", "12.34") into fen; null if invalid. */
export function parseYuan(text) {
	const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(String(text));
	if (!m) return null;
	return parseInt(m[1], 10) * 100 + parseInt((m[2] || '0').padEnd(2, '0'), 10);
}

/** Unix seconds to "2025-01-31 14:05" in the shopper's time zone. */
export function fmtTime(sec) {
	if (!sec) return '—';
	const d = new Date(sec * 1000);
	const p = (n) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A duration in ms as "2d 03:04:05" / "03:04:05" / "04:05". */
export function fmtDuration(ms) {
	let s = Math.max(0, Math.ceil(ms / 1000));
	const d = Math.floor(s / 86400);
	s -= d * 86400;
	const h = Math.floor(s / 3600);
	s -= h * 3600;
	const m = Math.floor(s / 60);
	s -= m * 60;
	const p = (n) => String(n).padStart(2, '0');
	const hms = h > 0 || d > 0 ? `${p(h)}:${p(m)}:${p(s)}` : `${p(m)}:${p(s)}`;
	return d > 0 ? `${d}d ${hms}` : hms;
}

// One timer drives every countdown on the page, on the server's clock.
const ticking = new Set();
let timer = null;

/**
 * Call fn(nowMs) now and about every 250 ms on the server's clock until it returns false or
 * the returned stop() is called.
 */
export function tick(fn) {
	ticking.add(fn);
	if (fn(serverNowMs()) === false) ticking.delete(fn);
	if (!timer && ticking.size) {
		timer = setInterval(() => {
			const now = serverNowMs();
			for (const f of [...ticking]) if (f(now) === false) ticking.delete(f);
			if (!ticking.size) {
				clearInterval(timer);
				timer = null;
			}
		}, 250);
	}
	return () => ticking.delete(fn);
}

/** An <img> that falls back to the placeholder when the source is missing or broken. */
export function img(src, alt, cls) {
	const i = el('img', { alt: alt || '', class: cls, loading: 'lazy', decoding: 'async' });
	i.addEventListener('error', () => {
		if (!i.src.endsWith(PLACEHOLDER_IMG)) i.src = PLACEHOLDER_IMG;
	});
	i.src = safeImageUrl(src);
	return i;
}

/** Only same-origin paths and data: images may be shown (the CSP would block others anyway). */
export function safeImageUrl(src) {
	if (typeof src !== 'string' || !src) return PLACEHOLDER_IMG;
	if (src.startsWith('/') && !src.startsWith('//')) return src;
	if (src.startsWith('data:image/')) return src;
	try {
		const u = new URL(src, location.href);
		if (u.origin === location.origin) return u.pathname + u.search;
	} catch (e) {
		/* fall through */
	}
	return PLACEHOLDER_IMG;
}

/** Show a message in a box: kind is 'error', 'ok', 'info' or 'warn'; '' hides it. */
export function showMsg(box, text, kind = 'error') {
	if (typeof box === 'string') box = $(box);
	if (!box) return;
	box.textContent = text || '';
	box.className = 'msg' + (text ? ' msg-' + kind : '');
	box.hidden = !text;
	if (text) box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

/** Human text for an API error: our wording for known codes, else the server's msg. */
export function errText(e, overrides = {}) {
	if (!e) return 'Something went wrong.';
	if (overrides[e.code]) return overrides[e.code];
	switch (e.code) {
		case 100003:
			return 'Please log in to continue.';
		case 100005:
			return 'The shop is busy or this service is not available right now. Please try again shortly.';
		case 100007:
			return 'Too many requests — please wait ' + (e.retryAfter || 1) + ' s and try again.';
		case 100008:
			return 'Administrators only: your account does not have the admin role. (If it was just granted, log out and log in again.)';
		case 100009:
			return 'This service is not available yet.';
		default:
			return e.message || 'Something went wrong.';
	}
}

/** The URL of the login page that comes back to the current page. */
export function loginUrl() {
	const here = location.pathname + location.search;
	return '/login.html?next=' + encodeURIComponent(here);
}

/** Go to the login page (and back here afterwards). */
export function goLogin() {
	location.assign(loginUrl());
}

/** A same-origin path to return to after login; anything else becomes '/'. */
export function safeNext(next) {
	if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
	return next;
}

/** The query parameter name of the current URL. */
export function param(name) {
	return new URLSearchParams(location.search).get(name);
}

/** A positive integer query parameter, or null. */
export function intParam(name) {
	const v = param(name);
	return v && /^[1-9]\d{0,17}$/.test(v) ? v : null;
}

/** Build the shared header into <header id="site-header"> and the footer. */
export function header(active) {
	const h = $('site-header');
	if (!h) return;
	const isIn = loggedIn();
	const c = isIn ? claims() : null;
	const nav = el(
		'nav',
		{ class: 'nav', 'aria-label': 'Main' },
		navLink('/', 'Home', active === 'home'),
		navLink('/#flash-sales', 'Flash sales', active === 'sales'),
		navLink('/orders.html', 'My orders', active === 'orders'),
		navLink('/coupons.html', 'Coupons', active === 'coupons'),
		c && c.role === 'admin' ? navLink('/admin.html', 'Admin', active === 'admin') : null,
		c && c.role === 'admin' ? navLink('/admin-coupons.html', 'Coupon admin', active === 'admin-coupons') : null,
		c && c.role === 'admin' ? navLink('/dashboard.html', 'Live dashboard', active === 'dashboard') : null,
	);
	const user = el('div', { class: 'userbox', id: 'userbox' });
	if (isIn) {
		const p = cachedProfile();
		const name = el('span', { class: 'username', id: 'username' }, p && p.nickname ? p.nickname : 'My account');
		const out = el('button', { type: 'button', class: 'btn btn-ghost btn-sm', id: 'logout' }, 'Log out');
		out.addEventListener('click', logout);
		user.append(el('span', { class: 'hello' }, 'Hi, '), name, out);
		if (!p) refreshProfile(name);
	} else {
		user.append(
			el('a', { href: loginUrl(), class: 'btn btn-ghost btn-sm', id: 'login-link' }, 'Log in'),
			el('a', { href: '/register.html', class: 'btn btn-primary btn-sm', id: 'register-link' }, 'Register'),
		);
	}
	const brand = el(
		'a',
		{ href: '/', class: 'brand', 'aria-label': 'flashsale 秒杀 home' },
		el('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '⚡'),
		el('span', { class: 'brand-name' }, 'flashsale'),
		el('span', { class: 'brand-cn' }, '秒杀'),
	);
	h.replaceChildren(el('div', { class: 'wrap header-inner' }, brand, nav, user));

	const f = $('site-footer');
	if (f) {
		f.replaceChildren(
			el(
				'div',
				{ class: 'wrap footer-inner' },
				el('span', {}, '© flashsale 秒杀 — limited stock, fair queue, secure WeChat Pay.'),
				el('span', { class: 'muted' }, 'Prices in CNY (¥), tax included.'),
			),
		);
	}
}

/** A nav link, marked current when active. */
function navLink(href, text, active) {
	return el('a', { href, class: active ? 'active' : null, 'aria-current': active ? 'page' : null }, text);
}

/** Fetch the user's nickname for the header. */
async function refreshProfile(nameEl) {
	try {
		const d = await apiPost('/usercenter/v1/user/detail', {});
		if (d.userInfo) {
			setCachedProfile(d.userInfo);
			nameEl.textContent = d.userInfo.nickname || d.userInfo.mobile || 'My account';
		}
	} catch (e) {
		if (e.code === 100003) header();
	}
}

const NOTICE_KEY = 'flashsale.notice';

/** A one-time notice left by the previous page (e.g. after logout), or null; read once. */
export function takeNotice() {
	const t = sessionStorage.getItem(NOTICE_KEY);
	if (t) sessionStorage.removeItem(NOTICE_KEY);
	return t;
}

/** Revoke the session on the server, forget the token, go home. */
export async function logout() {
	const a = getAuth();
	if (a) {
		try {
			await api('POST', '/usercenter/v1/user/logout', {}, { auth: true });
		} catch (e) {
			/* the token is dropped locally whatever the server says */
		}
	}
	clearAuth();
	sessionStorage.setItem(NOTICE_KEY, 'You have been logged out. See you soon!');
	location.assign('/');
}

/** Mark a button busy (disabled, with a label) and return a function that restores it. */
export function busy(btn, label) {
	const old = btn.textContent;
	const wasDisabled = btn.disabled;
	btn.disabled = true;
	btn.classList.add('is-busy');
	if (label) btn.textContent = label;
	return () => {
		btn.disabled = wasDisabled;
		btn.classList.remove('is-busy');
		btn.textContent = old;
	};
}

/** Human text for an order's tradeState. */
export const TRADE_STATES = {
	'-1': { text: 'Cancelled', cls: 'badge-muted' },
	0: { text: 'Awaiting payment', cls: 'badge-warn' },
	1: { text: 'Paid', cls: 'badge-ok' },
	2: { text: 'Completed', cls: 'badge-ok' },
	3: { text: 'Refunded', cls: 'badge-muted' },
};

/** A state badge for an order. */
export function stateBadge(tradeState) {
	const s = TRADE_STATES[tradeState] || { text: 'Unknown', cls: 'badge-muted' };
	return el('span', { class: 'badge ' + s.cls, dataset: { state: String(tradeState) } }, s.text);
}
