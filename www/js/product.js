// product.js - one product: gallery, price, stock, description, and "Buy now" (a normal
// order: POST /order/v1/order/create, then the order page to pay).

import { apiGet, apiPost, loggedIn } from './api.js';
import { chosenCoupon, couponPicker } from './coupon-picker.js';
import { phase } from './sales.js';
import { $, busy, el, errText, fmtDuration, goLogin, header, img, intParam, safeImageUrl, showMsg, tick, yuan } from './ui.js';

header('home');
const id = intParam('id');

/** Fill the gallery: the cover first, then the banner images (comma or newline separated). */
function gallery(p) {
	const srcs = [p.cover, ...String(p.banner || '').split(/[,\n]/)]
		.map((s) => (s || '').trim())
		.filter((s, i, all) => s && all.indexOf(s) === i);
	const main = $('main-img');
	main.alt = p.title;
	main.addEventListener('error', () => {
		if (!main.src.endsWith('/img/placeholder.svg')) main.src = '/img/placeholder.svg';
	});
	main.src = safeImageUrl(srcs[0]);
	if (srcs.length < 2) return;
	const buttons = srcs.map((s, i) => {
		const b = el('button', { type: 'button', class: i === 0 ? 'active' : null, 'aria-label': 'Picture ' + (i + 1) }, img(s, ''));
		b.addEventListener('click', () => {
			main.src = safeImageUrl(s);
			buttons.forEach((x) => x.classList.toggle('active', x === b));
		});
		return b;
	});
	$('thumbs').replaceChildren(...buttons);
}

/** Show a banner when this product has an ongoing or upcoming flash sale. */
async function saleBanner(productId) {
	let list;
	try {
		list = (await apiGet('/seckill/v1/activity/list')).list || [];
	} catch (e) {
		return; // no flash sales to mention
	}
	const a = list
		.filter((x) => String(x.productId) === String(productId))
		.sort((x, y) => x.startTime - y.startTime)[0];
	if (!a) return;
	const box = $('sale-banner');
	const text = el('span');
	const link = el('a', { href: '/seckill.html?id=' + encodeURIComponent(a.id), class: 'btn btn-primary btn-sm' }, 'Go to flash sale');
	box.replaceChildren(text, link);
	box.hidden = false;
	tick((now) => {
		const ph = phase(a, now);
		if (ph === 'upcoming') text.textContent = `⚡ Flash sale at ${yuan(a.seckillPrice)} starts in ${fmtDuration(a.startTime * 1000 - now)}`;
		else if (ph === 'ongoing') text.textContent = `⚡ Flash sale on now: ${yuan(a.seckillPrice)} — ends in ${fmtDuration(a.endTime * 1000 - now)}`;
		else {
			box.hidden = true;
			return false;
		}
	});
}

/** Load and show the product. */
async function load() {
	if (!id) {
		showMsg('page-msg', 'No product selected. Go back to the home page and pick one.');
		return;
	}
	let p;
	try {
		p = (await apiGet('/product/v1/product/detail', { id })).product;
		if (!p) throw new Error('The product could not be loaded.');
	} catch (e) {
		showMsg('page-msg', errText(e, { 300001: 'This product does not exist or is no longer sold.' }));
		return;
	}
	document.title = p.title + ' — flashsale 秒杀';
	$('crumb-title').textContent = p.title;
	$('title').textContent = p.title;
	$('subtitle').textContent = p.subTitle || '';
	$('subtitle').hidden = !p.subTitle;
	$('price').textContent = yuan(p.price);
	if (p.marketPrice && p.marketPrice > p.price) $('market-price').textContent = yuan(p.marketPrice);
	$('stock').textContent = p.stock > 0 ? `${p.stock} in stock` : 'Out of stock';
	gallery(p);
	if (p.info) {
		$('info').textContent = p.info;
		$('description').hidden = false;
	}
	const onSale = p.status === 1 && p.stock > 0;
	$('buy').disabled = !onSale;
	$('quantity').max = String(Math.max(1, Math.min(99, p.stock || 1)));
	if (p.status !== 1) $('buy-note').textContent = 'This product is not on sale at the moment.';
	else if (p.stock <= 0) $('buy-note').textContent = 'Sold out — check back later.';
	$('product').hidden = false;
	saleBanner(p.id);
	if (onSale) couponPicker(p.id);
}

$('buy-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	if (!loggedIn()) {
		goLogin();
		return;
	}
	const qty = parseInt($('quantity').value, 10);
	if (!(qty >= 1 && qty <= 99)) {
		showMsg('buy-msg', 'Choose a quantity from 1 to 99.');
		return;
	}
	const body = { productId: Number(id), quantity: qty };
	const remark = $('remark').value.trim();
	if (remark) body.remark = remark;
	if (chosenCoupon()) body.couponId = chosenCoupon();
	const done = busy($('buy'), 'Placing order…');
	showMsg('buy-msg', '');
	try {
		const d = await apiPost('/order/v1/order/create', body);
		showMsg('buy-msg', 'Order placed. Taking you to payment…', 'ok');
		location.assign('/orders.html?sn=' + encodeURIComponent(d.orderSn));
	} catch (e) {
		done();
		if (e.code === 100003) {
			goLogin();
			return;
		}
		showMsg('buy-msg', errText(e, { 300002: 'Not enough stock for that quantity.', 300001: 'This product is no longer sold.', 700004: 'That coupon cannot be used for this order: ' + e.message + '.' }));
	}
});

load();
