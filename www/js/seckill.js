// seckill.js - the flash-sale page: the activity with a countdown on the server's clock; the
// buy button unlocks at the start; buying is token → do → poll result (API.md, seckill).

import { ApiError, apiGet, apiPost, loggedIn, serverNowMs } from './api.js';
import { guardInit, guardTokenFields, guardUpdate } from './guard.js';
import { discount, phase, PHASE_TEXT } from './sales.js';
import { $, el, errText, fmtDuration, fmtTime, goLogin, header, intParam, safeImageUrl, showMsg, tick, yuan } from './ui.js';

header('sales');
const id = intParam('id');
let act = null; // the activity as last answered
let buying = false; // a purchase is in flight
let bought = false; // this visit's purchase succeeded
let lastPhase = null;

const FAIL_TEXT = {
	600001: 'This flash sale does not exist.',
	600002: 'The sale has not started yet — the button unlocks when the countdown reaches zero.',
	600003: 'This flash sale has ended.',
	600004: 'Sold out — every unit has been taken. Better luck next time!',
	600005: 'You have reached the purchase limit for this flash sale.',
	600006: 'Your purchase verification expired. Please press the button again.',
	600009: 'This flash sale is for people who reserved before the start.',
	100012: 'The anti-bot check failed or expired. Please press the button again.',
	300002: 'Sold out — every unit has been taken.',
};

/**
 * Failure reasons the result endpoint gives (API.md: the stable strings of /seckill/result),
 * compared whole, in words for people.
 */
const REASON_TEXT = {
	'activity not found': FAIL_TEXT[600001],
	'activity closed': FAIL_TEXT[600003],
	'sold out': FAIL_TEXT[600004],
	'purchase limit reached': FAIL_TEXT[600005],
	'malformed intent': 'Your purchase could not be processed; nothing was charged and the unit went back on sale.',
	'order could not be written': 'Your order could not be created; nothing was charged and the unit went back on sale.',
};

/** A failure reason in words for people. */
function reasonText(reason) {
	return REASON_TEXT[reason] || 'Your purchase did not go through' + (reason ? ': ' + reason : '.');
}

/** Load (or reload) the activity. */
async function load() {
	try {
		const d = await apiGet('/seckill/v1/activity/detail', { id });
		if (!d.activity) throw new Error('The flash sale could not be loaded.');
		act = d.activity;
		render();
		return true;
	} catch (e) {
		if (!act) showMsg('page-msg', errText(e, { 600001: FAIL_TEXT[600001] }));
		return false;
	}
}

/** Show the activity's fixed facts. */
function render() {
	const a = act;
	document.title = (a.title || 'Flash sale') + ' — flashsale 秒杀';
	$('crumb-title').textContent = a.title || 'Flash sale #' + a.id;
	$('title').textContent = a.title || 'Flash sale #' + a.id;
	const cover = $('cover');
	cover.alt = a.title || '';
	cover.src = safeImageUrl(a.cover);
	$('seckill-price').textContent = yuan(a.seckillPrice);
	$('orig-price').textContent = a.price ? yuan(a.price) : '';
	const off = discount(a);
	$('discount').textContent = off || '';
	$('discount').hidden = !off;
	const remaining = Math.max(0, a.remaining ?? 0);
	$('remaining').textContent = `${remaining} of ${a.stock} left`;
	$('stock-bar').max = Math.max(1, a.stock);
	$('stock-bar').value = remaining;
	$('limit').textContent = `${a.perUserLimit} per person`;
	$('start').textContent = fmtTime(a.startTime);
	$('end').textContent = fmtTime(a.endTime);
	$('product-link').href = '/product.html?id=' + encodeURIComponent(a.productId);
	const q = $('quantity');
	q.max = String(Math.max(1, a.perUserLimit || 1));
	if (parseInt(q.value, 10) > a.perUserLimit) q.value = String(a.perUserLimit);
	$('activity').hidden = false;
	update(serverNowMs());
}

/** The per-tick part: phase, countdown and the button. */
function update(now) {
	if (!act) return;
	const a = act;
	const p = phase(a, now);
	const badge = $('phase');
	badge.textContent = PHASE_TEXT[p];
	badge.className = 'badge badge-' + p;
	const btn = $('buy');
	if (p === 'upcoming') {
		$('count-label').textContent = 'Starts in';
		$('countdown').textContent = fmtDuration(a.startTime * 1000 - now);
	} else if (p === 'ongoing') {
		$('count-label').textContent = 'Ends in';
		$('countdown').textContent = fmtDuration(a.endTime * 1000 - now);
	} else {
		$('count-label').textContent = PHASE_TEXT[p];
		$('countdown').textContent = p === 'ended' ? 'Ended at ' + fmtTime(a.endTime) : '';
	}
	if (!buying) {
		btn.disabled = p !== 'ongoing' || bought;
		if (bought) btn.textContent = 'Purchased ✓';
		else if (p === 'ongoing') btn.textContent = 'Buy now — ' + yuan(a.seckillPrice);
		else if (p === 'upcoming') btn.textContent = 'Not started yet';
		else btn.textContent = PHASE_TEXT[p];
	}
	guardUpdate(a, now, bought || buying);
	if (lastPhase === 'upcoming' && p === 'ongoing') load(); // fresh stock at the start
	lastPhase = p;
}

/** Mark the progress steps: the current one and those done. */
function steps(current) {
	const order = ['token', 'queued', 'result'];
	const i = order.indexOf(current);
	$('steps').hidden = false;
	for (const li of $('steps').children) {
		const j = order.indexOf(li.dataset.step);
		li.className = j < i ? 'done' : j === i ? 'current' : '';
	}
}

/** A promise that resolves after ms milliseconds. */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll the result of a queued request until it is decided (or we give up waiting). */
async function poll(requestId) {
	const started = performance.now();
	let delay = 500;
	let notFound = 0;
	while (performance.now() - started < 90000) {
		await sleep(delay);
		delay = Math.min(2000, delay + 250);
		let r;
		try {
			r = await apiPost('/seckill/v1/seckill/result', { requestId });
		} catch (e) {
			if (e.code === 100003) return goLogin();
			if (e.code === 600007 && ++notFound < 5) continue;
			if (e.code === 100007 || e.code === 100005 || e.code === 0) continue;
			return { status: 'error', error: e };
		}
		if (r.status === 'success' || r.status === 'failed') return r;
	}
	return { status: 'timeout' };
}

/** The attempts of one purchase, the wait before each retry (ms), and one attempt's timeout. */
const BUY_RETRY_MS = [500, 1000, 2000];
const BUY_TIMEOUT_MS = 8000;

/** A client request id for /seckill/do: 32 hex digits (API.md: 8-64 of [A-Za-z0-9_-]). */
function newRequestId() {
	const b = new Uint8Array(16);
	crypto.getRandomValues(b);
	return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * POST /seckill/do with our own requestId, retried with the same id after a timeout, a
 * network error or a 5xx: the server answers a retry with the first attempt's outcome, so a
 * lost answer never buys a second unit.
 */
async function purchase(body) {
	const path = '/seckill/v1/seckill/do?activityId=' + encodeURIComponent(body.activityId);
	const req = { ...body, requestId: newRequestId() };
	for (let attempt = 0; ; attempt++) {
		let timer;
		const timeout = new Promise((_, reject) => {
			timer = setTimeout(() => reject(new ApiError(0, 'The shop did not answer in time.', 0)), BUY_TIMEOUT_MS);
		});
		try {
			return await Promise.race([apiPost(path, req), timeout]);
		} catch (e) {
			const transient = e.code === 0 || e.status >= 500;
			if (!transient || attempt >= BUY_RETRY_MS.length) throw e;
			await sleep(BUY_RETRY_MS[attempt]);
		} finally {
			clearTimeout(timer);
		}
	}
}

/** Show the outcome of a purchase. */
function showResult(r) {
	const actions = $('result-actions');
	actions.replaceChildren();
	actions.hidden = true;
	if (r.status === 'success') {
		bought = true;
		for (const li of $('steps').children) li.className = 'done';
		showMsg('buy-msg', 'You got it! Your order ' + (r.orderSn || '') + ' is waiting for payment.', 'ok');
		const sn = encodeURIComponent(r.orderSn || '');
		actions.append(
			el('a', { class: 'btn btn-primary', id: 'pay-link', href: '/orders.html?sn=' + sn + '&pay=1' }, 'Pay now'),
			el('a', { class: 'btn btn-ghost', id: 'order-link', href: '/orders.html?sn=' + sn }, 'View order'),
		);
		actions.hidden = false;
	} else if (r.status === 'failed') {
		showMsg('buy-msg', reasonText(r.reason));
	} else if (r.status === 'timeout') {
		showMsg('buy-msg', 'Your request is still being processed. Check My orders in a minute.', 'warn');
		actions.append(el('a', { class: 'btn btn-ghost', href: '/orders.html' }, 'My orders'));
		actions.hidden = false;
	} else {
		showMsg('buy-msg', errText(r.error, FAIL_TEXT));
	}
}

$('buy-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	if (!act || buying) return;
	if (!loggedIn()) {
		goLogin();
		return;
	}
	const qty = parseInt($('quantity').value, 10);
	if (!(qty >= 1 && qty <= (act.perUserLimit || 1))) {
		showMsg('buy-msg', `Choose a quantity from 1 to ${act.perUserLimit}.`);
		return;
	}
	buying = true;
	const btn = $('buy');
	btn.disabled = true;
	btn.textContent = 'Buying…';
	$('result-actions').hidden = true;
	steps('token');
	showMsg('buy-msg', 'Verifying…', 'info');
	try {
		const guard = await guardTokenFields();
		const t = await apiPost('/seckill/v1/seckill/token', { activityId: Number(act.id), ...guard });
		const d = await purchase({ activityId: Number(act.id), token: t.token, quantity: qty });
		steps('queued');
		showMsg('buy-msg', 'Queued — you are in line. Hold on, your order is being created…', 'info');
		btn.textContent = 'Queued…';
		const r = await poll(d.requestId);
		if (r) showResult(r);
	} catch (e) {
		$('steps').hidden = true;
		if (e.code === 100003) {
			goLogin();
			return;
		}
		if (e.code === 600004 || e.code === 300002) act.remaining = 0;
		if (e.code === 600003) act.status = 'ended';
		showMsg('buy-msg', errText(e, FAIL_TEXT), e.code === 100007 ? 'warn' : 'error');
	} finally {
		buying = false;
		update(serverNowMs());
		load();
	}
});

guardInit();
if (!id) {
	showMsg('page-msg', 'No flash sale selected. Go back to the home page and pick one.');
} else {
	load().then((ok) => {
		if (!ok) return;
		tick((now) => update(now));
		setInterval(() => {
			if (!buying) load();
		}, 15000);
	});
}
