// refund-ui.js - refunds in the storefront: a refund's state as a badge, the "Request refund"
// button (with a reason), and the list of an order's refunds. Used by orders.js.

import { apiPost } from './api.js';
import { busy, el, errText, fmtTime, goLogin, showMsg, yuan } from './ui.js';

/** What each refund status means to a shopper. */
export const REFUND_TEXT = {
	PROCESSING: 'Refund in progress',
	SUCCESS: 'Refunded',
	CLOSED: 'Refund closed',
	ABNORMAL: 'Refund needs attention',
};

/** A badge for the latest refund of an order (null when it has none); o: the order, to tell
 * a partial refund from a full one. */
export function refundBadge(status, o) {
	if (!status) return null;
	const cls = status === 'SUCCESS' ? 'badge-ok' : status === 'PROCESSING' ? 'badge-warn' : 'badge-muted';
	const partial = status === 'SUCCESS' && o && Number(o.refunded) < Number(o.payTotal);
	return el('span', { class: 'badge ' + cls + ' refund-badge', dataset: { refund: status } }, partial ? 'Partly refunded' : REFUND_TEXT[status] || status);
}

/** May the shopper ask for a refund of this order now? (The server checks the window.) */
export function canRequestRefund(o) {
	const s = Number(o.tradeState);
	return (s === 1 || s === 2) && o.refundStatus !== 'PROCESSING' && Number(o.refunded || 0) < Number(o.payTotal || o.totalPrice);
}

/** "Request refund": opens a reason field and a confirm button; after() runs on success. */
export function refundButton(o, after, box) {
	const wrap = el('div', { class: 'refund-form', dataset: { sn: o.sn } });
	const open = el('button', { type: 'button', class: 'btn btn-ghost btn-sm', dataset: { action: 'refund' } }, 'Request refund');
	open.addEventListener('click', () => {
		open.hidden = true;
		const reason = el('input', { type: 'text', maxlength: '80', class: 'refund-reason', placeholder: 'Why? (e.g. changed my mind)', 'aria-label': 'Refund reason' });
		const confirm = el('button', { type: 'button', class: 'btn btn-danger btn-sm', dataset: { action: 'refund-confirm' } }, 'Confirm refund');
		confirm.addEventListener('click', async () => {
			const done = busy(confirm, 'Requesting…');
			try {
				const d = await apiPost('/order/v1/order/refund', { sn: o.sn, reason: reason.value.trim() || 'Changed my mind' });
				showMsg(box, `Refund ${d.refundSn}: ${REFUND_TEXT[d.status] || d.status}. The money goes back to your WeChat Pay account.`, 'ok');
				after();
			} catch (e) {
				done();
				if (e && e.code === 100003) return goLogin();
				showMsg(box, errText(e, { 400002: 'This order is not paid, so there is nothing to refund.', 400003: 'A refund is no longer possible: the refund window has passed or nothing is left to refund.' }));
			}
		});
		wrap.append(reason, confirm);
		reason.focus();
	});
	wrap.append(open);
	return wrap;
}

/** The refunds of an order as a small table (an empty element when there are none). */
export async function refundTable(sn) {
	const box = el('div', { class: 'refunds', id: 'refunds' });
	let list = [];
	try {
		list = (await apiPost('/order/v1/order/refunds', { sn })).list || [];
	} catch (e) {
		return box;
	}
	if (!list.length) return box;
	box.classList.add('panel');
	box.append(
		el('h2', {}, 'Refunds'),
		el(
			'table',
			{ class: 'table' },
			el('thead', {}, el('tr', {}, el('th', {}, 'Refund'), el('th', { class: 'num' }, 'Amount'), el('th', {}, 'Status'), el('th', {}, 'Reason'), el('th', {}, 'Requested'), el('th', {}, 'Done'))),
			el(
				'tbody',
				{},
				list.map((r) =>
					el(
						'tr',
						{ dataset: { refund: r.refundSn, status: r.status } },
						el('td', { class: 'sn' }, r.refundSn),
						el('td', { class: 'num' }, yuan(r.amount)),
						el('td', {}, refundBadge(r.status)),
						el('td', {}, r.reason || ''),
						el('td', {}, fmtTime(r.createTime)),
						el('td', {}, r.successTime ? fmtTime(r.successTime) : '—'),
					),
				),
			),
		),
	);
	return box;
}
