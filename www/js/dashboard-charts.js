// dashboard-charts.js - small time-series charts drawn with the Canvas 2D API: a stacked area
// chart and a line chart over a sliding window ending now. Points are {t (ms), v: {key: n}};
// series are [{key, color}]. No library: a handful of paths, grid lines and labels.

const PAD = { l: 46, r: 10, t: 10, b: 20 };
const INK = '#8a919c';
const GRID = 'rgba(138, 145, 156, 0.25)';

/** Size the canvas's backing store to its CSS box (sharp on high-DPI screens); the context. */
function prepare(canvas) {
	const dpr = window.devicePixelRatio || 1;
	const w = Math.max(120, Math.round(canvas.clientWidth || 300));
	const h = Math.max(80, Math.round(canvas.clientHeight || 150));
	if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
		canvas.width = Math.round(w * dpr);
		canvas.height = Math.round(h * dpr);
	}
	const ctx = canvas.getContext('2d');
	ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
	ctx.clearRect(0, 0, w, h);
	ctx.font = '11px system-ui, sans-serif';
	return { ctx, w, h };
}

/** A round upper bound for an axis (1, 2, 5 × 10^n), at least 1. */
function niceMax(v) {
	if (!(v > 1)) return 1;
	const p = 10 ** Math.floor(Math.log10(v));
	for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
	return 10 * p;
}

/** Short axis label: 1200 → "1.2k". */
function short(v) {
	if (v >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
	if (v >= 1e3) return +(v / 1e3).toFixed(1) + 'k';
	return String(+v.toFixed(1));
}

/** Grid, y labels up to max, x labels of the window; returns the coordinate mappers. */
function axes(ctx, w, h, now, windowMs, max) {
	const x = (t) => PAD.l + ((t - (now - windowMs)) / windowMs) * (w - PAD.l - PAD.r);
	const y = (v) => h - PAD.b - (v / max) * (h - PAD.t - PAD.b);
	ctx.lineWidth = 1;
	ctx.strokeStyle = GRID;
	ctx.fillStyle = INK;
	ctx.textAlign = 'right';
	ctx.textBaseline = 'middle';
	for (let i = 0; i <= 4; i++) {
		const v = (max * i) / 4;
		const yy = Math.round(y(v)) + 0.5;
		ctx.beginPath();
		ctx.moveTo(PAD.l, yy);
		ctx.lineTo(w - PAD.r, yy);
		ctx.stroke();
		ctx.fillText(short(v), PAD.l - 6, yy);
	}
	ctx.textBaseline = 'alphabetic';
	ctx.textAlign = 'left';
	ctx.fillText('-60 s', PAD.l, h - 5);
	ctx.textAlign = 'center';
	ctx.fillText('-30 s', x(now - windowMs / 2), h - 5);
	ctx.textAlign = 'right';
	ctx.fillText('now', w - PAD.r, h - 5);
	return { x, y };
}

/** "Waiting for data" in the middle of an empty chart. */
function waiting(ctx, w, h) {
	ctx.fillStyle = INK;
	ctx.textAlign = 'center';
	ctx.textBaseline = 'middle';
	ctx.fillText('collecting data…', (w + PAD.l) / 2, (h - PAD.b) / 2);
}

/** Stacked areas of the series' values (first series at the bottom). */
export function sparkStacked(canvas, points, series, now, windowMs) {
	const { ctx, w, h } = prepare(canvas);
	const pts = points.filter((p) => p.t >= now - windowMs);
	let top = 0;
	for (const p of pts) top = Math.max(top, series.reduce((s, se) => s + (p.v[se.key] || 0), 0));
	const { x, y } = axes(ctx, w, h, now, windowMs, niceMax(top));
	if (pts.length < 1) return waiting(ctx, w, h);
	const base = pts.map(() => 0);
	for (const se of series) {
		const upper = pts.map((p, i) => base[i] + (p.v[se.key] || 0));
		if (upper.some((u, i) => u > base[i])) {
			ctx.beginPath();
			pts.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(upper[i])) : ctx.moveTo(x(p.t), y(upper[i]))));
			for (let i = pts.length - 1; i >= 0; i--) ctx.lineTo(x(pts[i].t), y(base[i]));
			ctx.closePath();
			ctx.globalAlpha = 0.75;
			ctx.fillStyle = se.color;
			ctx.fill();
			ctx.globalAlpha = 1;
			if (pts.length === 1) ctx.fillRect(x(pts[0].t) - 2, y(upper[0]), 4, y(base[0]) - y(upper[0]));
		}
		upper.forEach((u, i) => (base[i] = u));
	}
}

/** One line per series, y from 0 to max. */
export function sparkLines(canvas, points, series, now, windowMs, max) {
	const { ctx, w, h } = prepare(canvas);
	const pts = points.filter((p) => p.t >= now - windowMs);
	const { x, y } = axes(ctx, w, h, now, windowMs, niceMax(max));
	if (pts.length < 1) return waiting(ctx, w, h);
	ctx.lineWidth = 2;
	ctx.lineJoin = 'round';
	for (const se of series) {
		ctx.strokeStyle = se.color;
		ctx.fillStyle = se.color;
		ctx.beginPath();
		pts.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v[se.key] || 0)) : ctx.moveTo(x(p.t), y(p.v[se.key] || 0))));
		ctx.stroke();
		const last = pts[pts.length - 1];
		ctx.beginPath();
		ctx.arc(x(last.t), y(last.v[se.key] || 0), 3, 0, 2 * Math.PI);
		ctx.fill();
	}
}
