// coupon-lib.js - how a coupon or template reads to a shopper (shared by the coupon pages and
// the checkout picker).

import { fmtTime, yuan } from './ui.js';

/** "¥50 off orders over ¥300" / "20% off, up to ¥40". */
export function couponValue(c) {
	const min = c.minSpend > 0 ? ` orders over ${yuan(c.minSpend)}` : ' any order';
	if (c.kind === 'amount') return `${yuan(c.amount)} off${min}`;
	const cap = c.maxDiscount > 0 ? `, up to ${yuan(c.maxDiscount)}` : '';
	return `${c.percent}% off${min}${cap}`;
}

/** "Valid 2025-01-01 10:00 – 2025-01-08 10:00" or "Valid 7 days after claiming". */
export function couponValidity(c) {
	if (c.validDays) return `Valid ${c.validDays} day${c.validDays > 1 ? 's' : ''} after claiming`;
	return `Valid ${fmtTime(c.validFrom)} – ${fmtTime(c.validTo)}`;
}
