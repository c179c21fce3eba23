// admin-orders.js - admins: every user's orders with filters (state, user, order number) and a
// refund of any paid order, in part (an amount in yuan) or in full (empty: what is left).

import { apiPost, loggedIn } from './api.js';
import { refundBadge } from './refund-ui.js';
import { $, busy, el, errText, fmtTime, goLogin, header, parseYuan, showMsg, stateBadge, yuan } from './ui.js';

header('admin');
const PAGE_SIZE = 20;
let lastId = 0;

/** Report an API failure (a lost session goes to the login page). */
function fail(box, e, overrides) {
	if (e && e.code === 100003) return goLogin();
	showMsg(box, errText(e, overrides));
}

/** The refund cell of a paid order: an amount field and a Refund button. */
function refundCell(o) {
	const s = Number(o.tradeState);
	const left = Number(o.payTotal) - Number(o.refunded || 0);
	if ((s !== 1 && s !== 2) || left <= 0) return el('td', {});
	const amount = el('input', { class: 'refund-amount', inputmode: 'decimal', size: '7', placeholder: (left / 100).toFixed(2), 'aria-label': 'Amount to refund (¥)' });
	const b = el('button', { type: 'button', class: 'btn btn-danger btn-sm', dataset: { action: 'admin-refund' } }, 'Refund');
	b.addEventListener('click', async () => {
		const body = { sn: o.sn, reason: 'refunded by an administrator' };
		if (amount.value.trim()) {
			const fen = parseYuan(amount.value);
			if (!fen) return showMsg('orders-msg', 'Enter the amount in yuan, e.g. 5 or 5.50, or leave it empty for all that is left.');
			body.amount = fen;
		}
		const done = busy(b, 'Refunding…');
		try {
			const d = await apiPost('/order/v1/admin/order/refund', body);
			showMsg('orders-msg', `Refund ${d.refundSn} of order ${o.sn}: ${d.status}.`, 'ok');
			setTimeout(() => reload(), 800);
		} catch (e) {
			done();
			fail('orders-msg', e, { 400002: 'This order is not paid.', 400003: 'That is more than what is left to refund.' });
		}
	});
	return el('td', {}, amount, ' ', b);
}

/** One order as a table row. */
function row(o) {
	return el(
		'tr',
		{ dataset: { sn: o.sn, state: String(o.tradeState) } },
		el('td', {}, String(o.id)),
		el('td', { class: 'sn' }, o.sn, el('br'), el('span', { class: 'muted small' }, fmtTime(o.createTime))),
		el('td', {}, String(o.userId)),
		el('td', {}, (o.orderType === 'seckill' ? '秒杀 ' : '') + (o.title || '#' + o.productId) + ' × ' + o.quantity),
		el('td', { class: 'num' }, yuan(o.payTotal)),
		el('td', { class: 'num refunded' }, yuan(o.refunded || 0)),
		el('td', {}, stateBadge(o.tradeState)),
		el('td', {}, refundBadge(o.refundStatus, o)),
		refundCell(o),
	);
}

/** The filters as a request body. */
function filters() {
	const body = { pageSize: PAGE_SIZE, tradeState: Number($('f-state').value) };
	const user = $('f-user').value.trim();
	const sn = $('f-sn').value.trim();
	if (/^[1-9]\d*$/.test(user)) body.userId = Number(user);
	if (sn) body.sn = sn;
	return body;
}

/** Loads started; an answer to an older one than the last is dropped (the filters changed). */
let loads = 0;

/** Load a page of orders (append = load more). */
async function load(append) {
	const mine = ++loads;
	if (!append) lastId = 0;
	try {
		const d = await apiPost('/order/v1/admin/order/list', { ...filters(), lastId });
		if (mine !== loads) return;
		const list = d.list || [];
		if (!append) $('orders').replaceChildren();
		if (!list.length && !append) $('orders').append(el('tr', {}, el('td', { colspan: '9', class: 'empty' }, 'No orders match.')));
		$('orders').append(...list.map(row));
		if (list.length) lastId = list[list.length - 1].id;
		$('more').hidden = list.length < PAGE_SIZE;
	} catch (e) {
		fail(append ? 'orders-msg' : 'page-msg', e);
	}
}

/** Reload from the first page. */
function reload() {
	load(false);
}

if (!loggedIn()) {
	goLogin();
} else {
	$('filters').addEventListener('submit', (ev) => {
		ev.preventDefault();
		showMsg('orders-msg', '');
		reload();
	});
	$('more').addEventListener('click', () => load(true));
	reload();
}
