// admin-coupons.js - coupon administration: create templates (amount or percent off, fixed or
// relative validity, products, flash), stop them, and make batches of redeem codes.

import { apiGet, apiPost, loggedIn } from './api.js';
import { couponValue } from './coupon-lib.js';
import { $, busy, el, errText, fmtTime, goLogin, header, parseYuan, showMsg } from './ui.js';

header('admin-coupons');

/** Report an API failure in box (a lost session goes to the login page). */
function fail(box, e) {
	if (e && e.code === 100003) return goLogin();
	showMsg(box, errText(e));
}

/** A datetime-local value as Unix seconds; null if empty. */
function seconds(v) {
	if (!v) return null;
	const ms = new Date(v).getTime();
	return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** The create request from the form; a string saying what is wrong otherwise. */
function templateBody() {
	const b = { title: $('t-title').value.trim(), kind: $('t-kind').value, total: Number($('t-total').value), perUserLimit: Number($('t-limit').value) };
	b.minSpend = parseYuan($('t-min').value || '0');
	if (b.minSpend === null) return 'Minimum spend: enter an amount in yuan.';
	if (b.kind === 'amount') {
		b.amount = parseYuan($('t-amount').value);
		if (!b.amount) return 'Amount off: enter an amount in yuan.';
	} else {
		b.percent = Number($('t-percent').value);
		if ($('t-max').value) b.maxDiscount = parseYuan($('t-max').value);
	}
	if ($('t-days').value) b.validDays = Number($('t-days').value);
	else {
		b.validTo = seconds($('t-to').value);
		const from = seconds($('t-from').value);
		if (from !== null) b.validFrom = from;
	}
	const ids = $('t-products').value.split(',').map((s) => s.trim()).filter(Boolean);
	if (ids.length) b.productIds = ids.map(Number);
	if ($('t-flash').checked) {
		b.flash = true;
		b.startTime = seconds($('t-start').value) ?? Math.floor(Date.now() / 1000);
	}
	return b;
}

/** The live templates, each with a Stop button (pressed twice). */
async function loadTemplates() {
	try {
		const d = await apiGet('/coupon/v1/template/list', { page: 1, pageSize: 100 }, { auth: true });
		const rows = (d.list || []).map((t) => {
			const stop = el('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Stop');
			stop.addEventListener('click', async () => {
				if (stop.dataset.armed !== '1') {
					stop.dataset.armed = '1';
					stop.textContent = 'Really stop?';
					return;
				}
				try {
					await apiPost('/coupon/v1/admin/template/stop', { id: t.id });
					showMsg('tlist-msg', `Template #${t.id} stopped.`, 'ok');
					loadTemplates();
				} catch (e) {
					fail('tlist-msg', e);
				}
			});
			return el('tr', { 'data-template-id': String(t.id) }, el('td', {}, String(t.id)), el('td', {}, t.title), el('td', {}, couponValue(t)),
				el('td', { class: 'num' }, `${t.remaining} / ${t.total}`), el('td', {}, t.flash ? fmtTime(t.startTime) : '—'), el('td', {}, stop));
		});
		$('templates').replaceChildren(...rows);
	} catch (e) {
		fail('tlist-msg', e);
	}
}

$('template-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const b = templateBody();
	if (typeof b === 'string') return showMsg('template-msg', b);
	const done = busy($('t-save'), 'Creating…');
	try {
		const d = await apiPost('/coupon/v1/admin/template/create', b);
		showMsg('template-msg', `Template #${d.id} created.`, 'ok');
		$('c-template').value = String(d.id);
		loadTemplates();
	} catch (e) {
		fail('template-msg', e);
	}
	done();
});

$('codes-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const done = busy($('c-make'), 'Making…');
	try {
		const d = await apiPost('/coupon/v1/admin/code/batch', { templateId: Number($('c-template').value), count: Number($('c-count').value) });
		$('c-codes').value = d.codes.join('\n');
		showMsg('codes-msg', `${d.codes.length} codes made. Copy them now: they cannot be shown again.`, 'ok');
	} catch (e) {
		fail('codes-msg', e);
	}
	done();
});

$('t-reload').addEventListener('click', loadTemplates);
if (!loggedIn()) goLogin();
else loadTemplates();
