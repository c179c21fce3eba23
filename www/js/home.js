// home.js - the home page: ongoing and upcoming flash sales (live countdowns on the server's
// clock) and the product catalogue with keyword search and pages.

import { apiGet } from './api.js';
import { saleCard } from './sales.js';
import { $, el, errText, header, img, param, showMsg, takeNotice, yuan } from './ui.js';

const PAGE_SIZE = 12;

header(location.hash === '#flash-sales' ? 'sales' : 'home');
const notice = takeNotice();
if (notice) showMsg('page-msg', notice, 'info');

const keyword = (param('q') || '').trim().slice(0, 64);
const page = Math.max(1, parseInt(param('page') || '1', 10) || 1);
$('keyword').value = keyword;

/** Load the ongoing and upcoming flash sales. */
async function loadSales() {
	const box = $('sales');
	try {
		const d = await apiGet('/seckill/v1/activity/list');
		const list = Array.isArray(d.list) ? d.list : [];
		showMsg('sales-msg', '');
		if (!list.length) {
			box.replaceChildren(el('p', { class: 'empty' }, 'No flash sales right now — check back soon.'));
			return;
		}
		list.sort((a, b) => a.startTime - b.startTime);
		box.replaceChildren(...list.map(saleCard));
	} catch (e) {
		box.replaceChildren();
		showMsg('sales-msg', 'Flash sales cannot be shown right now: ' + errText(e), 'warn');
	}
}

/** A card for one product. */
function productCard(p) {
	const off = p.marketPrice && p.marketPrice > p.price;
	return el(
		'a',
		{ class: 'card product-card', href: '/product.html?id=' + encodeURIComponent(p.id), dataset: { productId: String(p.id) } },
		el('div', { class: 'card-media' }, img(p.cover, p.title)),
		el(
			'div',
			{ class: 'card-body' },
			el('h3', { class: 'card-title' }, p.title),
			p.subTitle ? el('p', { class: 'card-sub' }, p.subTitle) : null,
			el(
				'div',
				{ class: 'price-row' },
				el('span', { class: 'price' }, yuan(p.price)),
				off ? el('del', { class: 'price-old' }, yuan(p.marketPrice)) : null,
			),
			p.stock === 0 ? el('span', { class: 'badge badge-muted' }, 'Out of stock') : null,
		),
	);
}

/** A link to this page with another page number. */
function pageHref(n) {
	const q = new URLSearchParams();
	if (keyword) q.set('q', keyword);
	if (n > 1) q.set('page', String(n));
	const s = q.toString();
	return '/' + (s ? '?' + s : '');
}

/** Load one page of products (filtered by the keyword). */
async function loadProducts() {
	const box = $('products');
	box.replaceChildren(el('p', { class: 'loading' }, 'Loading products…'));
	try {
		const d = await apiGet('/product/v1/product/list', { page, pageSize: PAGE_SIZE, keyword });
		const list = Array.isArray(d.list) ? d.list : [];
		const total = Number(d.total) || 0;
		showMsg('products-msg', '');
		if (keyword) {
			$('products-summary').textContent = `${total} result${total === 1 ? '' : 's'} for “${keyword}”`;
		} else {
			$('products-summary').textContent = total ? `${total} product${total === 1 ? '' : 's'}` : '';
		}
		if (!list.length) {
			box.replaceChildren(
				el('p', { class: 'empty' }, keyword ? 'No products match your search.' : 'No products on sale yet.'),
			);
		} else {
			box.replaceChildren(...list.map(productCard));
		}
		const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
		$('pager').hidden = pages <= 1;
		$('page-info').textContent = `Page ${page} of ${pages}`;
		const prev = $('prev-page');
		const next = $('next-page');
		prev.href = pageHref(page - 1);
		next.href = pageHref(page + 1);
		prev.classList.toggle('is-disabled', page <= 1);
		next.classList.toggle('is-disabled', page >= pages);
		prev.setAttribute('aria-disabled', String(page <= 1));
		next.setAttribute('aria-disabled', String(page >= pages));
	} catch (e) {
		box.replaceChildren();
		$('products-summary').textContent = '';
		showMsg('products-msg', 'Products cannot be shown right now: ' + errText(e));
	}
}

$('search-form').addEventListener('submit', (ev) => {
	ev.preventDefault();
	const q = $('keyword').value.trim();
	location.assign('/' + (q ? '?q=' + encodeURIComponent(q) : ''));
});

loadSales();
loadProducts();
setInterval(loadSales, 30000);
