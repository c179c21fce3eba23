// coupons.js - the coupon centre (领券中心): claimable templates with countdowns for flash ones,
// claiming (at once, or queued and polled for flash templates), my coupons and redeem codes.

import { apiGet, apiPost, loggedIn, syncClock } from './api.js';
import { couponValidity, couponValue } from './coupon-lib.js';
import { $, busy, el, errText, fmtDuration, goLogin, header, showMsg, tick } from './ui.js';

header('coupons');

const CLAIM_ERRORS = {
	700001: 'This coupon no longer exists.',
	700002: 'All claimed — too late this time.',
	700003: 'You already hold as many of these as allowed.',
	700005: 'Not open yet (or no longer).',
};

/** Poll a flash claim until it is decided; resolves to the result. */
async function waitClaim(requestId) {
	const end = Date.now() + 60000;
	for (;;) {
		const r = await apiPost('/coupon/v1/coupon/result', { requestId });
		if (r.status !== 'queued' || Date.now() > end) return r;
		await new Promise((ok) => setTimeout(ok, 400));
	}
}

/** Claim a template from its card. */
async function claim(t, btn, msg) {
	if (!loggedIn()) {
		goLogin();
		return;
	}
	const done = busy(btn, t.flash ? 'Grabbing…' : 'Claiming…');
	showMsg(msg, '');
	try {
		const d = await apiPost('/coupon/v1/coupon/claim', { templateId: t.id });
		if (d.couponId) {
			showMsg(msg, 'Claimed! It is in My coupons.', 'ok');
		} else {
			showMsg(msg, 'Queued… hold on.', 'info');
			const r = await waitClaim(d.requestId);
			if (r.status === 'success') showMsg(msg, 'You got it! It is in My coupons.', 'ok');
			else if (r.status === 'failed') showMsg(msg, 'Not this time: ' + (r.reason || 'refused') + '.');
			else showMsg(msg, 'Still queued — check My coupons in a moment.', 'warn');
		}
		loadMine();
	} catch (e) {
		if (e.code === 100003) {
			goLogin();
			return;
		}
		showMsg(msg, errText(e, CLAIM_ERRORS));
	}
	done();
}

/** One template card; flash ones count down to their start and enable the button then. */
function templateCard(t) {
	const btn = el('button', { type: 'button', class: 'btn btn-primary btn-sm', id: 'claim-' + t.id }, t.flash ? 'Grab' : 'Claim');
	const count = el('span', { class: 'coupon-count' });
	const msg = el('p', { class: 'msg', hidden: '' });
	const left = el('span', { class: 'muted small coupon-left' }, `${t.remaining ?? '?'} of ${t.total} left`);
	const card = el(
		'article',
		{ class: 'coupon-card' + (t.flash ? ' coupon-flash' : ''), 'data-template-id': String(t.id) },
		el('div', { class: 'coupon-value' }, couponValue(t)),
		el('h3', { class: 'coupon-title' }, t.title, t.flash ? el('span', { class: 'badge badge-ongoing' }, '⚡ Flash 秒杀') : null),
		el('p', { class: 'muted small' }, couponValidity(t), t.productIds && t.productIds.length ? ' · selected products' : ''),
		el('div', { class: 'coupon-actions' }, btn, count, left),
		msg,
	);
	btn.addEventListener('click', () => claim(t, btn, msg));
	if (t.flash) {
		tick((now) => {
			const wait = t.startTime * 1000 - now;
			if (wait > 0) {
				btn.disabled = true;
				count.textContent = 'Starts in ' + fmtDuration(wait);
				return true;
			}
			if (!btn.classList.contains('is-busy')) btn.disabled = false;
			count.textContent = 'On now';
			return false;
		});
	}
	return card;
}

/** The claimable templates. */
async function loadTemplates() {
	try {
		const d = await apiGet('/coupon/v1/template/list', { page: 1, pageSize: 100 });
		if (d.serverTime) syncClock(d.serverTime);
		const list = d.list || [];
		$('templates').replaceChildren(...(list.length ? list.map(templateCard) : [el('p', { class: 'empty muted' }, 'No coupons to claim right now.')]));
	} catch (e) {
		showMsg('centre-msg', errText(e));
	}
}

/** One of my coupons. */
function mineCard(c) {
	const labels = { unused: 'Unused', locked: 'In an unpaid order', used: 'Used', expired: 'Expired' };
	return el(
		'article',
		{ class: 'coupon-card coupon-' + c.status, 'data-coupon-id': String(c.id) },
		el('div', { class: 'coupon-value' }, couponValue(c)),
		el('h3', { class: 'coupon-title' }, c.title, el('span', { class: 'badge badge-muted coupon-status' }, labels[c.status] || c.status)),
		el('p', { class: 'muted small' }, couponValidity(c), c.orderSn ? ' · order ' + c.orderSn : ''),
	);
}

/** My coupons of the chosen status. */
async function loadMine() {
	if (!loggedIn()) {
		showMsg('mine-msg', 'Log in to see your coupons.', 'info');
		return;
	}
	try {
		const status = $('mine-status').value;
		const d = await apiPost('/coupon/v1/coupon/mine', status ? { status } : {});
		const list = d.list || [];
		$('mine').replaceChildren(...(list.length ? list.map(mineCard) : [el('p', { class: 'empty muted' }, 'None.')]));
		showMsg('mine-msg', '');
	} catch (e) {
		showMsg('mine-msg', errText(e));
	}
}

$('mine-status').addEventListener('change', loadMine);
$('redeem-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	if (!loggedIn()) {
		goLogin();
		return;
	}
	const code = $('redeem-code').value.trim();
	const done = busy($('redeem-btn'), 'Redeeming…');
	try {
		await apiPost('/coupon/v1/coupon/redeem', { code });
		showMsg('redeem-msg', 'Redeemed! The coupon is in My coupons.', 'ok');
		$('redeem-code').value = '';
		loadMine();
	} catch (e) {
		showMsg('redeem-msg', errText(e, { 100002: 'That is not a valid code (32 letters and digits).', 700001: 'No such code.', 700004: 'This code was used already.', ...CLAIM_ERRORS }));
	}
	done();
});

loadTemplates();
loadMine();
