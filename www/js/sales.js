// sales.js - flash-sale (秒杀) activities: their phase on the server's clock and the card
// the home and product pages show for each.

import { el, fmtDuration, fmtTime, img, tick, yuan } from './ui.js';

/**
 * The phase of an activity at server time nowMs: 'upcoming', 'ongoing', 'ended',
 * 'soldout' or 'cancelled'. Times move an activity on between two server answers.
 */
export function phase(a, nowMs) {
	if (a.status === 'cancelled') return 'cancelled';
	if (nowMs >= a.endTime * 1000) return 'ended';
	if (a.status === 'soldout' || (typeof a.remaining === 'number' && a.remaining <= 0)) return 'soldout';
	if (a.status === 'ended') return 'ended';
	if (nowMs < a.startTime * 1000) return 'upcoming';
	return 'ongoing';
}

export const PHASE_TEXT = {
	upcoming: 'Starting soon',
	ongoing: 'On now',
	ended: 'Ended',
	soldout: 'Sold out',
	cancelled: 'Cancelled',
};

/** Percentage off the original price, e.g. "-35%" (null when none). */
export function discount(a) {
	if (!a.price || a.seckillPrice >= a.price) return null;
	return '-' + Math.round((1 - a.seckillPrice / a.price) * 100) + '%';
}

/** A card for one activity with a live countdown, linking to its flash-sale page. */
export function saleCard(a) {
	const badge = el('span', { class: 'badge' });
	const countLabel = el('span', { class: 'count-label' });
	const count = el('span', { class: 'countdown', dataset: { activity: String(a.id) } });
	const bar = el('progress', { max: String(a.stock || 1), value: String(Math.max(0, a.remaining ?? 0)) });
	const left = el('span', { class: 'muted small' }, `${a.remaining ?? 0} of ${a.stock} left`);
	const off = discount(a);
	const card = el(
		'a',
		{ class: 'card sale-card', href: '/seckill.html?id=' + encodeURIComponent(a.id), dataset: { activityId: String(a.id) } },
		el('div', { class: 'card-media' }, img(a.cover, a.title), off ? el('span', { class: 'ribbon' }, off) : null),
		el(
			'div',
			{ class: 'card-body' },
			el('div', { class: 'card-top' }, badge),
			el('h3', { class: 'card-title' }, a.title || 'Flash sale #' + a.id),
			el(
				'div',
				{ class: 'price-row' },
				el('span', { class: 'price price-sale' }, yuan(a.seckillPrice)),
				a.price ? el('del', { class: 'price-old' }, yuan(a.price)) : null,
			),
			el('div', { class: 'stock-row' }, bar, left),
			el('div', { class: 'count-row' }, countLabel, count),
		),
	);
	tick((now) => {
		if (!card.isConnected && card.dataset.mounted) return false;
		if (card.isConnected) card.dataset.mounted = '1';
		const p = phase(a, now);
		badge.textContent = PHASE_TEXT[p];
		badge.className = 'badge badge-' + p;
		card.classList.toggle('is-over', p === 'ended' || p === 'soldout' || p === 'cancelled');
		if (p === 'upcoming') {
			countLabel.textContent = 'Starts in';
			count.textContent = fmtDuration(a.startTime * 1000 - now);
		} else if (p === 'ongoing') {
			countLabel.textContent = 'Ends in';
			count.textContent = fmtDuration(a.endTime * 1000 - now);
		} else {
			countLabel.textContent = p === 'ended' ? 'Ended' : PHASE_TEXT[p];
			count.textContent = p === 'ended' ? fmtTime(a.endTime) : '';
		}
	});
	return card;
}
