// orders.js - "My orders": the list (filter by state, load more), one order's detail, cancel,
// and paying with WeChat Pay Native: the codeUrl as a QR code, then polling the payment and
// the order until the order is paid.

import qrcode from '/vendor/qrcode-generator.js';
import { apiPost, loggedIn } from './api.js';
import { $, busy, el, errText, fmtDuration, fmtTime, goLogin, header, img, param, showMsg, stateBadge, tick, yuan } from './ui.js';
import { canRequestRefund, refundBadge, refundButton, refundTable } from './refund-ui.js';

header('orders');
const PAGE_SIZE = 10;
const sn = param('sn');

/** Report an API failure; a lost session goes to the login page. */
function fail(box, e, overrides) {
	if (e && e.code === 100003) {
		goLogin();
		return;
	}
	showMsg(box, errText(e, { 400001: 'Order not found.', 400002: 'This order can no longer be changed (it may have just been paid or cancelled).', ...overrides }));
}

/** The "pay within mm:ss" line of an unpaid order, kept live; calls onExpire once at zero. */
function deadline(o, onExpire) {
	const span = el('span', { class: 'deadline' });
	let fired = false;
	tick((now) => {
		if (!span.isConnected && span.dataset.mounted) return false;
		if (span.isConnected) span.dataset.mounted = '1';
		const left = o.payDeadline * 1000 - now;
		if (left > 0) {
			span.textContent = 'Pay within ' + fmtDuration(left);
			return true;
		}
		span.textContent = 'Payment time is up';
		if (!fired && onExpire) {
			fired = true;
			onExpire();
		}
		return false;
	});
	return span;
}

/** A cancel button that asks once more before cancelling. */
function cancelButton(o, after, box) {
	const b = el('button', { type: 'button', class: 'btn btn-danger btn-sm', dataset: { action: 'cancel' } }, 'Cancel order');
	let armed = false;
	let timer = null;
	b.addEventListener('click', async () => {
		if (!armed) {
			armed = true;
			b.textContent = 'Click again to cancel';
			timer = setTimeout(() => {
				armed = false;
				b.textContent = 'Cancel order';
			}, 5000);
			return;
		}
		clearTimeout(timer);
		const done = busy(b, 'Cancelling…');
		try {
			await apiPost('/order/v1/order/cancel', { sn: o.sn });
			showMsg(box, 'Order ' + o.sn + ' was cancelled.', 'ok');
			after();
		} catch (e) {
			done();
			armed = false;
			b.textContent = 'Cancel order';
			fail(box, e);
		}
	});
	return b;
}

// ---------------------------------------------------------------- list

let stateFilter = -99;
let lastId = 0;

/** One order in the list. */
function orderRow(o) {
	const detail = '/orders.html?sn=' + encodeURIComponent(o.sn);
	const actions = el('div', { class: 'order-actions' });
	const side = el('div', { class: 'order-side' }, el('span', { class: 'order-total' }, yuan(o.payTotal ?? o.totalPrice)));
	if (Number(o.tradeState) === 0) {
		side.append(deadline(o, () => setTimeout(() => reloadList(), 3000)));
		actions.append(
			cancelButton(o, reloadList, 'list-msg'),
			el('a', { class: 'btn btn-primary btn-sm', href: detail + '&pay=1', dataset: { action: 'pay' } }, 'Pay now'),
		);
	} else {
		actions.append(el('a', { class: 'btn btn-ghost btn-sm', href: detail }, 'Details'));
		if (canRequestRefund(o)) actions.append(refundButton(o, reloadList, 'list-msg'));
	}
	side.append(actions);
	return el(
		'article',
		{ class: 'order', dataset: { sn: o.sn, state: String(o.tradeState) } },
		el(
			'div',
			{ class: 'order-head' },
			el(
				'span',
				{},
				o.orderType === 'seckill' ? el('span', { class: 'kind-tag' }, 'Flash sale') : null,
				fmtTime(o.createTime),
				' · Order ',
				el('a', { href: detail, class: 'sn' }, o.sn),
			),
			el('span', {}, stateBadge(o.tradeState), ' ', refundBadge(o.refundStatus, o)),
		),
		el(
			'div',
			{ class: 'order-body' },
			img(o.cover, o.title, 'thumb'),
			el(
				'div',
				{},
				el('p', { class: 'order-title' }, el('a', { href: '/product.html?id=' + encodeURIComponent(o.productId) }, o.title || 'Product #' + o.productId)),
				el('p', { class: 'muted small' }, `${yuan(o.unitPrice)} × ${o.quantity}`),
			),
			side,
		),
	);
}

/** Load a page of orders (append = load more). */
async function loadList(append) {
	const box = $('orders');
	if (!append) {
		lastId = 0;
		box.replaceChildren(el('p', { class: 'loading' }, 'Loading your orders…'));
	}
	const more = $('more');
	try {
		const d = await apiPost('/order/v1/order/list', { lastId, pageSize: PAGE_SIZE, tradeState: stateFilter });
		const list = Array.isArray(d.list) ? d.list : [];
		if (!append) box.replaceChildren();
		if (!list.length && !append) {
			box.append(
				el(
					'p',
					{ class: 'empty' },
					stateFilter === -99 ? 'You have no orders yet. ' : 'No orders in this state. ',
					el('a', { href: '/' }, 'Start shopping'),
				),
			);
		}
		box.append(...list.map(orderRow));
		if (list.length) lastId = list[list.length - 1].id;
		more.hidden = list.length < PAGE_SIZE;
	} catch (e) {
		if (!append) box.replaceChildren();
		fail('list-msg', e);
	}
}

/** Reload the list from the start. */
function reloadList() {
	loadList(false);
}

// ---------------------------------------------------------------- detail

let order = null;
let payPoll = null;

/** Show one order. */
function renderDetail() {
	const o = order;
	$('crumb-sn').textContent = 'Order ' + o.sn;
	document.title = 'Order ' + o.sn + ' — flashsale 秒杀';
	const facts = el(
		'dl',
		{ class: 'facts' },
		el('dt', {}, 'Order number'),
		el('dd', { class: 'sn', id: 'order-sn' }, o.sn),
		el('dt', {}, 'Status'),
		el('dd', { id: 'order-state' }, stateBadge(o.tradeState)),
		el('dt', {}, 'Type'),
		el('dd', {}, o.orderType === 'seckill' ? 'Flash sale 秒杀' : 'Regular order'),
		el('dt', {}, 'Quantity'),
		el('dd', {}, `${o.quantity} × ${yuan(o.unitPrice)}`),
		el('dt', {}, 'Total'),
		el('dd', {}, el('span', { class: 'price', id: 'order-total' }, yuan(o.payTotal ?? o.totalPrice))),
		el('dt', {}, 'Placed'),
		el('dd', {}, fmtTime(o.createTime)),
	);
	if (Number(o.tradeState) === 0) facts.append(el('dt', {}, 'Pay by'), el('dd', {}, fmtTime(o.payDeadline), ' · ', deadline(o, () => setTimeout(loadDetail, 3000))));
	if (o.payTime) facts.append(el('dt', {}, 'Paid'), el('dd', {}, fmtTime(o.payTime) + (o.payType ? ' · ' + payTypeText(o.payType) : '')));
	if (o.discount > 0) facts.append(el('dt', {}, 'Coupon'), el('dd', { id: 'order-discount' }, '−' + yuan(o.discount) + ' of ' + yuan(o.totalPrice)));
	if (o.remark) facts.append(el('dt', {}, 'Note'), el('dd', {}, o.remark));
	if (o.refundStatus) facts.append(el('dt', {}, 'Refund'), el('dd', { id: 'order-refund' }, refundBadge(o.refundStatus, o), o.refunded ? ' · ' + yuan(o.refunded) + ' refunded' : ''));

	const actions = el('div', { class: 'form-actions' });
	if (Number(o.tradeState) === 0) {
		const pay = el('button', { type: 'button', class: 'btn btn-primary btn-lg', id: 'pay-btn' }, 'Pay ' + yuan(o.payTotal ?? o.totalPrice) + ' with WeChat Pay');
		pay.addEventListener('click', () => startPay(pay));
		actions.append(pay, cancelButton(o, loadDetail, 'detail-msg'));
	} else {
		actions.append(el('a', { class: 'btn btn-ghost', href: '/product.html?id=' + encodeURIComponent(o.productId) }, 'Buy again'));
		if (canRequestRefund(o)) actions.append(refundButton(o, loadDetail, 'detail-msg'));
	}
	$('order-detail').replaceChildren(
		el(
			'div',
			{ class: 'detail' },
			el('div', { class: 'gallery' }, el('div', { class: 'gallery-main' }, img(o.cover, o.title))),
			el('div', { class: 'detail-info' }, el('h1', {}, o.title || 'Product #' + o.productId), facts, actions, el('div', { id: 'pay-area' })),
		),
	);
	if (Number(o.tradeState) !== 0)
		refundTable(o.sn).then((t) => {
			if ($('refunds')) $('refunds').remove();
			$('order-detail').append(t);
		});
}

/** Human name of a payment type. */
function payTypeText(t) {
	return /wx|wechat|weixin/i.test(t) ? 'WeChat Pay' : t;
}

/** Load the order of ?sn= and show it. */
async function loadDetail() {
	try {
		const d = await apiPost('/order/v1/order/detail', { sn });
		if (!d.order) throw new Error('The order could not be loaded.');
		const was = order ? Number(order.tradeState) : null;
		order = d.order;
		if (was === 0 && Number(order.tradeState) === 1) showMsg('detail-msg', 'Payment received — thank you! Your order is paid.', 'ok');
		renderDetail();
		return order;
	} catch (e) {
		fail('detail-msg', e);
		return null;
	}
}

/** Draw text as a QR code on a canvas (qrcode-generator, vendored). */
function qrCanvas(text) {
	const qr = qrcode(0, 'M');
	qr.addData(text);
	qr.make();
	const n = qr.getModuleCount();
	const margin = 4;
	const scale = 6;
	const c = el('canvas', { class: 'qr', id: 'pay-qr', width: (n + 2 * margin) * scale, height: (n + 2 * margin) * scale, role: 'img', 'aria-label': 'WeChat Pay QR code' });
	const g = c.getContext('2d');
	g.fillStyle = '#fff';
	g.fillRect(0, 0, c.width, c.height);
	g.fillStyle = '#000';
	for (let r = 0; r < n; r++) for (let col = 0; col < n; col++) if (qr.isDark(r, col)) g.fillRect((col + margin) * scale, (r + margin) * scale, scale, scale);
	return c;
}

/** Only these schemes may become a link: the demo's simulator page and WeChat's own. */
function safePayLink(u) {
	try {
		const x = new URL(u);
		return ['http:', 'https:', 'weixin:'].includes(x.protocol) ? x.href : null;
	} catch (e) {
		return null;
	}
}

/** Ask for a Native payment, show its QR code, and watch for the payment. */
async function startPay(btn) {
	const done = busy(btn, 'Preparing payment…');
	showMsg('detail-msg', '');
	let d;
	try {
		d = await apiPost('/payment/v1/thirdPayment/thirdPaymentWxPay', { orderSn: order.sn, serviceType: 'order', tradeType: 'NATIVE' });
		if (!d.codeUrl) throw new Error('The payment service did not return a payment code.');
	} catch (e) {
		done();
		fail('detail-msg', e, { 500002: 'This order is already paid or its payment was closed.', 500003: 'WeChat Pay is not reachable right now. Please try again in a moment.' });
		return;
	}
	btn.textContent = 'Waiting for payment…';
	const link = safePayLink(d.codeUrl);
	const status = el('p', { class: 'msg msg-info', id: 'pay-status', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Waiting for your payment…');
	$('pay-area').replaceChildren(
		el(
			'div',
			{ class: 'pay-panel' },
			qrCanvas(d.codeUrl),
			el(
				'div',
				{},
				el('h2', {}, el('span', { class: 'wechat' }, 'WeChat Pay'), ' ', yuan(order.payTotal ?? order.totalPrice)),
				el('p', {}, 'Open WeChat, tap Scan, and scan this code to pay. The page updates by itself once the payment arrives.'),
				link ? el('p', {}, el('a', { href: link, target: '_blank', rel: 'noopener noreferrer', id: 'pay-open', class: 'btn btn-ghost' }, 'Open the payment page')) : null,
				status,
			),
		),
	);
	watchPayment(status);
}

/** Poll the payment and the order until the order is paid (or give up after 15 min). */
function watchPayment(status) {
	if (payPoll) clearInterval(payPoll);
	const started = performance.now();
	let busyNow = false;
	payPoll = setInterval(async () => {
		if (busyNow) return;
		busyNow = true;
		try {
			if (performance.now() - started > 15 * 60 * 1000) {
				clearInterval(payPoll);
				status.textContent = 'Still no payment. If you paid, refresh this page in a moment.';
				return;
			}
			let pay = null;
			try {
				pay = await apiPost('/payment/v1/thirdPayment/detail', { orderSn: order.sn });
			} catch (e) {
				if (e.code === 100003) return goLogin();
			}
			if (pay && Number(pay.payStatus) === -1) {
				status.className = 'msg msg-error';
				status.textContent = 'The payment failed. You can try again.';
				clearInterval(payPoll);
				return;
			}
			if (pay && Number(pay.payStatus) === 1) {
				for (const b of document.querySelectorAll('#order-detail [data-action="cancel"]')) b.remove();
				status.className = 'msg msg-ok';
				status.replaceChildren(el('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Payment received, confirming your order…');
			}
			const r = await apiPost('/order/v1/order/detail', { sn: order.sn }).catch(() => null);
			if (r && r.order && Number(r.order.tradeState) !== 0) {
				clearInterval(payPoll);
				const paid = Number(r.order.tradeState) >= 1;
				order = r.order;
				renderDetail();
				showMsg('detail-msg', paid ? 'Payment received — thank you! Your order is paid.' : 'This order is no longer waiting for payment.', paid ? 'ok' : 'warn');
			}
		} finally {
			busyNow = false;
		}
	}, 2000);
}

// ---------------------------------------------------------------- start

if (!loggedIn()) {
	goLogin();
} else if (sn) {
	$('detail-view').hidden = false;
	loadDetail().then((o) => {
		if (o && Number(o.tradeState) === 0 && param('pay') === '1') startPay($('pay-btn'));
	});
} else {
	$('list-view').hidden = false;
	for (const b of $('tabs').querySelectorAll('button')) {
		b.addEventListener('click', () => {
			stateFilter = Number(b.dataset.state);
			for (const x of $('tabs').querySelectorAll('button')) x.setAttribute('aria-pressed', String(x === b));
			reloadList();
		});
	}
	$('more').addEventListener('click', () => loadList(true));
	reloadList();
}
