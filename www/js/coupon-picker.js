// coupon-picker.js - the coupon picker at checkout (product page): the shopper's unused coupons,
// the best one chosen, and the breakdown from /order/v1/order/quote as quantity or choice changes.

import { apiPost, loggedIn } from './api.js';
import { couponValue } from './coupon-lib.js';
import { $, el, errText, yuan } from './ui.js';

let productId = 0;
let seq = 0;

/** The chosen coupon id, or 0. */
export function chosenCoupon() {
	const s = $('coupon');
	return s && !$('coupon-field').hidden ? Number(s.value) || 0 : 0;
}

/** Ask for the breakdown of the current quantity and coupon and show it. */
async function quote() {
	const my = ++seq;
	const qty = parseInt($('quantity').value, 10);
	if (!(qty >= 1 && qty <= 99)) return;
	const body = { productId, quantity: qty };
	const cid = chosenCoupon();
	if (cid) body.couponId = cid;
	try {
		const q = await apiPost('/order/v1/order/quote', body);
		if (my !== seq) return;
		$('quote').className = 'small coupon-quote';
		$('quote').replaceChildren(
			'Total ',
			el('span', { id: 'quote-total' }, yuan(q.totalPrice)),
			q.discount ? ' − coupon ' : '',
			q.discount ? el('span', { id: 'quote-discount' }, yuan(q.discount)) : '',
			' = you pay ',
			el('strong', { id: 'quote-pay' }, yuan(q.payTotal)),
		);
	} catch (e) {
		if (my !== seq) return;
		$('quote').className = 'small msg-error';
		$('quote').textContent = errText(e, { 700004: 'This coupon cannot be used here: ' + (e.message || 'not usable') + '.' });
	}
}

/** Fill the picker with the shopper's unused coupons (hidden when there are none). */
export async function couponPicker(id) {
	productId = id;
	if (!loggedIn() || !$('coupon')) return;
	let list = [];
	let best = null;
	try {
		list = (await apiPost('/coupon/v1/coupon/mine', { status: 'unused' })).list || [];
		if (list.length) best = (await apiPost('/order/v1/order/quote', { productId: id, quantity: 1 })).bestCouponId;
	} catch (e) {
		return; // no coupons to offer: checkout works without
	}
	if (!list.length) return;
	const opts = list.map((c) => el('option', { value: String(c.id) }, `${c.title} — ${couponValue(c)}`));
	$('coupon').replaceChildren(el('option', { value: '' }, 'No coupon'), ...opts);
	if (best) $('coupon').value = String(best);
	$('coupon-field').hidden = false;
	$('coupon').addEventListener('change', quote);
	$('quantity').addEventListener('input', quote);
	quote();
}
