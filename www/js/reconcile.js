// reconcile.js - the admin page of the daily bill reconciliation: the days reconciled
// (GET /payment/v1/admin/reconcile/days) and one day's totals and differences
// (GET /payment/v1/admin/reconcile?date=).

import { apiGet, loggedIn } from './api.js';
import { $, el, errText, fmtTime, header, loginUrl, showMsg, yuan } from './ui.js';

header('admin');

const STATUS = {
	pending: ['No bill yet', 'badge-muted'],
	reconciled: ['Reconciled', 'badge-ok'],
	differences: ['Differences', 'badge-warn'],
};
const KINDS = {
	only_wechat: 'Only at WeChat',
	only_local: 'Only here',
	amount: 'Amount differs',
	state: 'State differs',
};
const RESOLUTIONS = {
	applied: 'Queried at WeChat and applied: now paid here',
	already_paid: 'Already paid here (on another day)',
	not_found: 'No such payment here: check by hand',
	amount_mismatch: 'WeChat took another amount: check by hand',
	not_paid: 'WeChat says not paid',
	not_at_wechat: 'Unknown to WeChat when queried',
	query_failed: 'WeChat query failed: the next run retries',
	failed: 'Could not be applied: the next run retries',
};

/** Yesterday in Asia/Shanghai, YYYY-MM-DD (the job's default day). */
function yesterday() {
	return new Date(Date.now() + 8 * 3600e3 - 86400e3).toISOString().slice(0, 10);
}

/** A status badge. */
function badge(status) {
	const [text, cls] = STATUS[status] || [status, 'badge-muted'];
	return el('span', { class: 'badge ' + cls }, text);
}

/** "¥12.30 SUCCESS" for one side of a difference, "—" when that side has no row. */
function side(s) {
	if (!s) return '—';
	return (s.amount === null || s.amount === undefined ? '' : yuan(s.amount) + ' ') + (s.state || '');
}

/** Show an error, with a login link when the session is the problem. */
function fail(e) {
	showMsg('page-msg', errText(e), 'error');
	if (e.code === 100003) $('page-msg').append(' ', el('a', { href: loginUrl() }, 'Log in'));
}

/** Load and show one day. */
async function showDay(date) {
	$('r-date').value = date;
	try {
		const d = await apiGet('/payment/v1/admin/reconcile', { date }, { auth: true });
		showMsg('page-msg', '');
		$('r-day').textContent = d.date;
		$('r-status').replaceWith(Object.assign(badge(d.status), { id: 'r-status' }));
		$('r-when').textContent = d.reconcileTime ? 'Reconciled ' + fmtTime(d.reconcileTime) : 'Not reconciled yet: the local side is counted now.';
		$('r-sides').replaceChildren(
			...[['Here', d.local], ['WeChat bill', d.wechat]].map(([name, s]) =>
				el('tr', {}, el('th', {}, name), el('td', { class: 'num' }, String(s.payments.count)), el('td', { class: 'num' }, yuan(s.payments.amount)),
					el('td', { class: 'num' }, String(s.refunds.count)), el('td', { class: 'num' }, yuan(s.refunds.amount)))),
		);
		$('r-nodiff').hidden = d.diffs.length > 0 || d.status === 'pending';
		$('r-diffs').replaceChildren(
			...d.diffs.map((x) =>
				el('tr', { class: 'diff-' + x.kind }, el('td', {}, KINDS[x.kind] || x.kind), el('td', {}, el('code', {}, x.outTradeNo || '')),
					el('td', {}, x.outRefundNo ? el('code', {}, x.outRefundNo) : '—'), el('td', { class: 'num' }, side(x.local)),
					el('td', { class: 'num' }, side(x.wechat)), el('td', {}, RESOLUTIONS[x.resolution] || x.resolution || ''))),
		);
	} catch (e) {
		fail(e);
	}
}

/** Load the list of days. */
async function loadDays() {
	try {
		const d = await apiGet('/payment/v1/admin/reconcile/days', { limit: 60 }, { auth: true });
		$('r-days').replaceChildren(
			...d.list.map((x) => {
				const a = el('a', { href: '#' + x.date }, x.date);
				a.addEventListener('click', (ev) => {
					ev.preventDefault();
					showDay(x.date);
				});
				return el('tr', {}, el('td', {}, a), el('td', {}, badge(x.status)), el('td', { class: 'num' }, String(x.payments)),
					el('td', { class: 'num' }, String(x.refunds)), el('td', { class: 'num' }, String(x.differences)));
			}),
		);
		if (!d.list.length) $('r-days').append(el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'No day reconciled yet.')));
	} catch (e) {
		fail(e);
	}
}

$('r-form').addEventListener('submit', (ev) => {
	ev.preventDefault();
	if ($('r-date').value) showDay($('r-date').value);
});
$('r-reload').addEventListener('click', loadDays);

if (!loggedIn()) {
	showMsg('page-msg', 'Log in with an administrator account to see the reconciliation.', 'error');
	$('page-msg').append(' ', el('a', { href: loginUrl() }, 'Log in'));
} else {
	loadDays();
	showDay(/^#\d{4}-\d\d-\d\d$/.test(location.hash) ? location.hash.slice(1) : yesterday());
}
