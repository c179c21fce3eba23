// guard.js - the flash-sale page's anti-scalper steps: the reservation before the start, and the
// proof-of-work challenge (the ALTCHA widget, vendored in /vendor/altcha) solved during the
// countdown, so a person pays no delay when the sale opens (API.md: seckill/challenge, reserve).

import { apiGet, apiPost, loggedIn } from './api.js';
import { $, el, errText, goLogin, showMsg } from './ui.js';

// Challenges live seckill.pow_ttl (600 s by default): fetch one this long before the start.
const FETCH_BEFORE_MS = 8 * 60 * 1000;

let act = null; // the activity (as seckill.js last loaded it)
let widget = null; // the <altcha-widget> solving the current challenge
let solved = null; // its payload once verified
let fetching = false;
let widgetLoaded = null; // the widget's module, loaded once when first needed

/** Load the widget's module (a custom element) the first time a challenge is needed. */
function loadWidget() {
	if (!widgetLoaded) widgetLoaded = import('/vendor/altcha/altcha.js');
	return widgetLoaded;
}

/** The reservation box: a button before the start, the count always. */
function renderReservation() {
	const box = $('reserve-box');
	if (!act.requireReservation) {
		box.hidden = true;
		return;
	}
	box.hidden = false;
	$('reserved-count').textContent = String(act.reserved ?? 0);
	const mine = localStorage.getItem('reserved:' + act.id) === '1';
	const btn = $('reserve');
	const before = Date.now() < act.startTime * 1000;
	btn.hidden = !before || mine;
	$('reserve-done').hidden = !mine;
	$('reserve-closed').hidden = before || mine;
}

/** POST /activity/reserve for the signed-in user. */
async function reserve() {
	if (!loggedIn()) return goLogin();
	const btn = $('reserve');
	btn.disabled = true;
	try {
		await apiPost('/seckill/v1/activity/reserve', { activityId: Number(act.id) });
		localStorage.setItem('reserved:' + act.id, '1');
		act.reserved = (act.reserved ?? 0) + 1;
		showMsg('guard-msg', 'Reserved. Come back before the start: only people who reserved can buy.', 'ok');
	} catch (e) {
		if (e.code === 100003) return goLogin();
		showMsg('guard-msg', errText(e));
	} finally {
		btn.disabled = false;
		renderReservation();
	}
}

/** Fetch a challenge and let a fresh widget solve it in the background. */
async function startChallenge() {
	if (fetching) return;
	fetching = true;
	solved = null;
	$('pow-state').textContent = 'Preparing the anti-bot check…';
	try {
		const [d] = await Promise.all([apiGet('/seckill/v1/seckill/challenge', { activityId: act.id }), loadWidget()]);
		if (!d.challenge) return;
		const w = el('altcha-widget', {
			id: 'altcha',
			auto: 'onload',
			hidelogo: '',
			hidefooter: '',
			workerurl: '/vendor/altcha/worker.js',
			challengejson: JSON.stringify(d.challenge),
		});
		w.addEventListener('statechange', (ev) => {
			const st = ev.detail && ev.detail.state;
			if (st === 'verifying') {
				w.dataset.started = String(performance.now());
				$('pow-state').textContent = 'Solving the anti-bot check in the background…';
			}
			if (st === 'verified') {
				solved = ev.detail.payload;
				$('pow-state').dataset.ms = String(Math.round(performance.now() - Number(w.dataset.started || 0)));
				$('pow-state').textContent = 'Anti-bot check done ✓ — you are ready for the start.';
			}
			if (st === 'error' || st === 'expired') {
				solved = null;
				$('pow-state').textContent = 'The anti-bot check failed; retrying…';
				setTimeout(startChallenge, 1000);
			}
		});
		$('pow-widget').replaceChildren(w);
		widget = w;
	} catch (e) {
		$('pow-state').textContent = errText(e);
	} finally {
		fetching = false;
	}
}

/**
 * Called on each tick and after each load: show the steps, start solving when it is time.
 * done: this visit's purchase succeeded, so no further challenge is needed.
 */
export function guardUpdate(activity, nowMs, done = false) {
	act = activity;
	renderReservation();
	if (nowMs >= act.startTime * 1000) $('guard-msg').hidden = true;
	const pow = !done && act.powDifficulty > 0 && act.status !== 'ended' && act.status !== 'cancelled';
	$('pow-box').hidden = !pow;
	$('guard').hidden = !pow && !act.requireReservation;
	if (pow && !widget && !fetching && nowMs >= act.startTime * 1000 - FETCH_BEFORE_MS) startChallenge();
}

/**
 * The body fields /seckill/token needs: {altcha} once solved (waiting for the widget if it is
 * still working), {} when the activity has no challenge. The solution is single use, so a new
 * challenge starts solving for the next purchase.
 */
export async function guardTokenFields() {
	if (!act || !(act.powDifficulty > 0)) return {};
	if (!widget) await startChallenge();
	const deadline = performance.now() + 60000;
	while (!solved && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
	if (!solved) throw Object.assign(new Error('The anti-bot check did not finish. Please try again.'), { code: 100012 });
	const altcha = solved;
	widget = null; // the next update starts a new challenge unless the purchase succeeded
	solved = null;
	return { altcha };
}

/** Wire the reservation button once. */
export function guardInit() {
	$('reserve').addEventListener('click', reserve);
}
