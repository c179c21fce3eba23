// admin.js - the admin page: create, edit and delete products; create and cancel flash-sale
// activities. The server enforces the admin role on every call (100008 otherwise); the role
// read from the token here only decides what to say up front.

import { apiGet, apiPost, claims, loggedIn, serverNowMs } from './api.js';
import { phase, PHASE_TEXT } from './sales.js';
import { $, busy, el, errText, fmtTime, goLogin, header, parseYuan, showMsg, yuan } from './ui.js';

header('admin');

// Reads send the token too: the web server's microcache is bypassed, so changes show at once.
const ADMIN = { auth: true };

/** Report an API failure in box (a lost session goes to the login page). */
function fail(box, e, overrides) {
	if (e && e.code === 100003) return goLogin();
	showMsg(box, errText(e, overrides));
}

/** Fen as a yuan string for an input ("12.30"). */
function fenToInput(f) {
	return f || f === 0 ? (Number(f) / 100).toFixed(2) : '';
}

/** A Date as the value of a datetime-local input (the admin's local time). */
function toLocalInput(ms) {
	const d = new Date(ms);
	const p = (n) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A datetime-local value (the admin's local time) as Unix seconds; null if empty/invalid. */
function fromLocalInput(v) {
	if (!v) return null;
	const ms = new Date(v).getTime();
	return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

// ---------------------------------------------------------------- products

/** Put the form in "create" mode (empty) or "edit" mode (a loaded product). */
function productMode(p) {
	$('p-id').value = p ? String(p.id) : '';
	$('p-title').value = p ? p.title || '' : '';
	$('p-subtitle').value = p ? p.subTitle || '' : '';
	$('p-price').value = p ? fenToInput(p.price) : '';
	$('p-market').value = p && p.marketPrice ? fenToInput(p.marketPrice) : '';
	$('p-stock').value = p ? String(p.stock) : '100';
	$('p-status').value = p ? String(p.status) : '1';
	$('p-cover').value = p ? p.cover || '' : '';
	$('p-banner').value = p ? p.banner || '' : '';
	$('p-info').value = p ? p.info || '' : '';
	$('pf-title').textContent = p ? `Edit product #${p.id}` : 'Create a product';
	$('p-save').textContent = p ? 'Save changes' : 'Create product';
	$('p-delete').hidden = !p;
	$('p-new-btn').hidden = !p;
}

/** Load product #id into the form. */
async function loadProduct(id) {
	showMsg('product-msg', '');
	try {
		const d = await apiGet('/product/v1/product/detail', { id }, ADMIN);
		productMode(d.product);
		$('product-form').scrollIntoView({ behavior: 'smooth', block: 'start' });
	} catch (e) {
		fail('product-msg', e, { 300001: `No product #${id}.` });
	}
}

$('p-load-btn').addEventListener('click', () => {
	const id = $('p-load').value.trim();
	if (!/^[1-9]\d*$/.test(id)) return showMsg('product-msg', 'Enter a product ID.');
	loadProduct(id);
});
$('p-new-btn').addEventListener('click', () => {
	productMode(null);
	showMsg('product-msg', '');
});

$('product-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const title = $('p-title').value.trim();
	const price = parseYuan($('p-price').value);
	const market = $('p-market').value.trim() ? parseYuan($('p-market').value) : 0;
	const stock = parseInt($('p-stock').value, 10);
	if (!title) return showMsg('product-msg', 'The title is required.');
	if (price === null) return showMsg('product-msg', 'Enter the price in yuan, e.g. 99 or 99.50.');
	if (market === null) return showMsg('product-msg', 'Enter the market price in yuan, or leave it empty.');
	if (!(stock >= 0)) return showMsg('product-msg', 'Stock must be 0 or more.');
	const body = {
		title,
		subTitle: $('p-subtitle').value.trim(),
		cover: $('p-cover').value.trim(),
		banner: $('p-banner').value.trim(),
		info: $('p-info').value,
		price,
		marketPrice: market,
		stock,
		status: Number($('p-status').value),
	};
	const id = $('p-id').value;
	const done = busy($('p-save'), id ? 'Saving…' : 'Creating…');
	try {
		if (id) {
			const d = await apiPost('/product/v1/admin/product/update', { id: Number(id), ...body });
			if (d.product) productMode(d.product);
			showMsg('product-msg', `Product #${id} saved.`, 'ok');
		} else {
			const d = await apiPost('/product/v1/admin/product/create', body);
			productMode(null);
			showMsg('product-msg', `Product #${d.id} “${title}” created.`, 'ok');
			$('a-product').value = String(d.id);
		}
		loadProducts();
	} catch (e) {
		fail('product-msg', e, { 100006: 'Someone else changed this product meanwhile. Load it again and retry.' });
	} finally {
		done();
	}
});

$('p-delete').addEventListener('click', async () => {
	const id = $('p-id').value;
	if (!id) return;
	const b = $('p-delete');
	if (b.dataset.armed !== '1') {
		b.dataset.armed = '1';
		b.textContent = 'Click again to delete';
		setTimeout(() => {
			b.dataset.armed = '';
			b.textContent = 'Delete product';
		}, 5000);
		return;
	}
	b.dataset.armed = '';
	const done = busy(b, 'Deleting…');
	try {
		await apiPost('/product/v1/admin/product/delete', { id: Number(id) });
		done();
		b.textContent = 'Delete product';
		productMode(null);
		showMsg('product-msg', `Product #${id} deleted.`, 'ok');
		loadProducts();
	} catch (e) {
		done();
		fail('product-msg', e);
	}
});

/** The on-shelf products, newest first as the API lists them. */
async function loadProducts() {
	const tb = $('products');
	try {
		const d = await apiGet('/product/v1/product/list', { page: 1, pageSize: 100 }, ADMIN);
		const list = d.list || [];
		showMsg('plist-msg', '');
		if (!list.length) {
			tb.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'No products on shelf.')));
			return;
		}
		tb.replaceChildren(
			...list.map((p) => {
				const edit = el('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Edit');
				edit.addEventListener('click', () => loadProduct(p.id));
				const sale = el('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Flash sale');
				sale.addEventListener('click', () => {
					$('a-product').value = String(p.id);
					$('a-price').focus();
				});
				return el(
					'tr',
					{ dataset: { productId: String(p.id) } },
					el('td', {}, String(p.id)),
					el('td', {}, el('a', { href: '/product.html?id=' + encodeURIComponent(p.id) }, p.title)),
					el('td', { class: 'num' }, yuan(p.price)),
					el('td', { class: 'num' }, String(p.stock)),
					el('td', { class: 'num' }, el('span', { class: 'form-actions' }, edit, sale)),
				);
			}),
		);
	} catch (e) {
		tb.replaceChildren();
		fail('plist-msg', e);
	}
}

// ---------------------------------------------------------------- activities

$('activity-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const productId = parseInt($('a-product').value, 10);
	const seckillPrice = parseYuan($('a-price').value);
	const stock = parseInt($('a-stock').value, 10);
	const perUserLimit = parseInt($('a-limit').value, 10);
	const startTime = fromLocalInput($('a-start').value);
	const endTime = fromLocalInput($('a-end').value);
	if (!(productId >= 1)) return showMsg('activity-msg', 'Enter the product ID.');
	if (seckillPrice === null) return showMsg('activity-msg', 'Enter the flash price in yuan, e.g. 9.90.');
	if (!(stock >= 1)) return showMsg('activity-msg', 'Units for the sale must be at least 1.');
	if (!(perUserLimit >= 1)) return showMsg('activity-msg', 'The limit per person must be at least 1.');
	if (!startTime || !endTime) return showMsg('activity-msg', 'Choose when the sale starts and ends.');
	if (endTime <= startTime) return showMsg('activity-msg', 'The sale must end after it starts.');
	const done = busy($('a-save'), 'Creating…');
	try {
		const guard = {
			requireReservation: $('a-reserve').checked,
			requireVerifiedMobile: $('a-verified').checked,
			powDifficulty: parseInt($('a-pow').value, 10) || 0,
			minAccountAge: (parseInt($('a-age').value, 10) || 0) * 86400,
			maxAccountsPerAddress: parseInt($('a-addr').value, 10) || 0,
		};
		const d = await apiPost('/seckill/v1/admin/activity/create', { productId, seckillPrice, stock, perUserLimit, startTime, endTime, ...guard });
		showMsg('activity-msg', `Flash sale #${d.id} created: ${stock} units at ${yuan(seckillPrice)}, starting ${fmtTime(startTime)}.`, 'ok');
		loadActivities();
	} catch (e) {
		fail('activity-msg', e, {
			300001: `No product #${productId}.`,
			300002: 'The product does not have that many units in stock.',
		});
	} finally {
		done();
	}
});

/** Every activity, with a cancel button for those not over yet. */
async function loadActivities() {
	const tb = $('activities');
	try {
		const d = await apiGet('/seckill/v1/activity/list', { status: 'all' }, ADMIN);
		const list = (d.list || []).slice().sort((a, b) => b.id - a.id);
		if (!list.length) {
			tb.replaceChildren(el('tr', {}, el('td', { colspan: '8', class: 'muted' }, 'No flash sales yet.')));
			return;
		}
		const now = serverNowMs();
		tb.replaceChildren(
			...list.map((a) => {
				const p = phase(a, now);
				const cell = el('td', { class: 'num' });
				if (p === 'upcoming' || p === 'ongoing' || p === 'soldout') {
					const c = el('button', { type: 'button', class: 'btn btn-danger btn-sm' }, 'Cancel');
					c.addEventListener('click', () => cancelActivity(a, c));
					cell.append(c);
				}
				return el(
					'tr',
					{ dataset: { activityId: String(a.id) } },
					el('td', {}, el('a', { href: '/seckill.html?id=' + encodeURIComponent(a.id) }, String(a.id))),
					el('td', {}, a.title || '#' + a.productId),
					el('td', { class: 'num' }, yuan(a.seckillPrice)),
					el('td', { class: 'num' }, `${a.remaining ?? '—'} / ${a.stock}`),
					el('td', {}, fmtTime(a.startTime)),
					el('td', {}, fmtTime(a.endTime)),
					el('td', {}, el('span', { class: 'badge badge-' + p }, PHASE_TEXT[p])),
					cell,
				);
			}),
		);
	} catch (e) {
		tb.replaceChildren();
		fail('alist-msg', e);
	}
}

/** Cancel an activity after a second click. */
async function cancelActivity(a, btn) {
	showMsg('alist-msg', '');
	if (btn.dataset.armed !== '1') {
		btn.dataset.armed = '1';
		btn.textContent = 'Confirm cancel';
		return;
	}
	const done = busy(btn, 'Cancelling…');
	try {
		await apiPost('/seckill/v1/admin/activity/cancel', { id: Number(a.id) });
		showMsg('alist-msg', `Flash sale #${a.id} cancelled; unsold units went back to the product.`, 'ok');
		loadActivities();
	} catch (e) {
		done();
		fail('alist-msg', e, { 600001: `No flash sale #${a.id}.` });
	}
}

// ---------------------------------------------------------------- start

if (!loggedIn()) {
	goLogin();
} else {
	const c = claims();
	if (!c || c.role !== 'admin') {
		showMsg(
			'page-msg',
			'Administrators only: your account does not have the admin role, so the shop will refuse these actions. ' +
				'If the role was just granted, log out and log in again.',
			'warn',
		);
	}
	const now = serverNowMs();
	$('a-start').value = toLocalInput(Math.ceil(now / 60000) * 60000 + 5 * 60000);
	$('a-end').value = toLocalInput(Math.ceil(now / 60000) * 60000 + 65 * 60000);
	$('p-reload').addEventListener('click', loadProducts);
	$('a-reload').addEventListener('click', loadActivities);
	loadProducts();
	loadActivities();
}
