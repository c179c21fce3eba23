// dashboard.js - the live sale dashboard: polls GET /seckill/v1/admin/dashboard every second and
// shows, per activity, remaining stock, units queued, orders written, the order-writer's lag,
// and answers of /seckill/do per second by outcome, as canvas charts of the last 60 s. Rates
// are differences of the server's cumulative counters between polls, over the server's clock
// (serverTimeMs), so a slow or skipped poll does not distort them.

import { apiGet, loggedIn } from './api.js';
import { sparkStacked, sparkLines } from './dashboard-charts.js';
import { $, el, errText, fmtDuration, fmtTime, header, loginUrl, showMsg, tick } from './ui.js';

header('dashboard');

const POLL_MS = 1000;
const WINDOW_MS = 60000;

/** Outcomes of /seckill/do counted per activity, bottom to top of the stacked chart. */
const REASONS = [
	{ key: 'queued', label: 'Queued', color: '--dash-queued' },
	{ key: 'soldOut', label: 'Sold out', color: '--dash-soldout' },
	{ key: 'limitReached', label: 'Limit reached', color: '--dash-limit' },
	{ key: 'rateLimited', label: 'Rate limited', color: '--dash-rate' },
	{ key: 'notStarted', label: 'Not started', color: '--dash-early' },
	{ key: 'ended', label: 'Ended', color: '--dash-ended' },
];
const REJECTIONS = REASONS.filter((r) => r.key !== 'queued');

/** Program-wide counters shown beside the activities (no activity can be trusted for these). */
const DOMAIN_EXTRA = [
	{ key: 'tokenInvalid', label: 'Seckill token invalid' },
	{ key: 'authInvalid', label: 'Login token invalid' },
	{ key: 'badRequest', label: 'Bad request' },
	{ key: 'notFound', label: 'Activity not loaded' },
	{ key: 'busy', label: 'Redis busy (100005)' },
	{ key: 'error', label: 'Server errors' },
];

const state = { paused: false, timer: null, failures: 0, cards: new Map(), domain: [], stopped: false };

/** A CSS custom property of the page (chart colours live in the stylesheet). */
const cssVar = (name) => getComputedStyle(document.body).getPropertyValue(name).trim() || '#888';

/** Per-second rates between two samples {t, o} for the given keys. */
function rates(a, b, keys) {
	const dt = (b.t - a.t) / 1000;
	const r = {};
	for (const k of keys) r[k] = dt > 0 ? Math.max(0, (b.o[k] || 0) - (a.o[k] || 0)) / dt : 0;
	return r;
}

/** Append a sample to a history and drop what fell out of the window. */
function remember(hist, sample) {
	const last = hist[hist.length - 1];
	if (last && sample.t <= last.t) return;
	if (last && sample.t - last.t > 5 * POLL_MS) hist.length = 0; // a gap: rates would lie
	hist.push(sample);
	while (hist.length && hist[0].t < sample.t - WINDOW_MS - 2 * POLL_MS) hist.shift();
}

/** Rate points of a history: [{t, v: {key: per second}}]. */
function ratePoints(hist, keys) {
	const pts = [];
	for (let i = 1; i < hist.length; i++) pts.push({ t: hist[i].t, v: rates(hist[i - 1], hist[i], keys) });
	return pts;
}

/** "12.3" for rates, "1,234" for counts. */
const fmtRate = (v) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
const fmtCount = (v) => Number(v || 0).toLocaleString('en-US');

/** A key figure: label, big value, a line under it. Returns {box, value, sub}. */
function kpi(label, cls) {
	const value = el('div', { class: 'dash-kpi-value ' + (cls || '') }, '—');
	const sub = el('div', { class: 'dash-kpi-sub' });
	return { box: el('div', { class: 'dash-kpi' }, el('div', { class: 'dash-kpi-label' }, label), value, sub), value, sub };
}

/** A legend entry with a colour swatch: returns {item, val}. */
function legendItem(r) {
	const val = el('span', { class: 'dash-legend-val' }, '0');
	return { item: el('li', {}, el('span', { class: 'dash-swatch sw-' + r.key, 'aria-hidden': 'true' }), r.label + ' ', val), val };
}

/** Build the card of one activity once; later polls only update its texts and charts. */
function makeCard(a) {
	const title = el('h2', { class: 'dash-title' });
	const badge = el('span', { class: 'badge' });
	const when = el('span', { class: 'dash-when muted small' });
	const remaining = kpi('Remaining', 'dash-remaining');
	const bar = el('progress', { class: 'dash-bar', max: '1', value: '0' });
	remaining.box.append(bar);
	const k = {
		remaining,
		bar,
		queued: kpi('Units queued', 'dash-queued'),
		orders: kpi('Orders written', 'dash-orders'),
		lag: kpi('Writer lag', 'dash-lag'),
		rps: kpi('Requests / s', 'dash-rps'),
		rej: kpi('Rejections / s', 'dash-rej'),
	};
	const answers = el('canvas', { class: 'dash-chart', role: 'img', 'aria-label': 'Answers per second by outcome, last 60 seconds' });
	const stock = el('canvas', { class: 'dash-chart', role: 'img', 'aria-label': 'Remaining and queued units, last 60 seconds' });
	const legend = REASONS.map(legendItem);
	const units = [legendItem({ key: 'remaining', label: 'Remaining' }), legendItem({ key: 'inqueue', label: 'Queued' })];
	const note = el('p', { class: 'dash-note small', hidden: true });
	const card = el(
		'article',
		{ class: 'dash-card', dataset: { activityId: String(a.id) } },
		el('div', { class: 'dash-card-head' }, el('div', { class: 'dash-head-main' }, badge, title), when),
		el('div', { class: 'dash-kpis' }, [k.remaining, k.queued, k.orders, k.lag, k.rps, k.rej].map((x) => x.box)),
		el(
			'div',
			{ class: 'dash-charts' },
			el('figure', { class: 'dash-figure' }, el('figcaption', {}, 'Answers per second by outcome'), answers, el('ul', { class: 'dash-legend' }, legend.map((l) => l.item))),
			el(
				'figure',
				{ class: 'dash-figure' },
				el('figcaption', {}, 'Units: remaining and queued'),
				stock,
				el('ul', { class: 'dash-legend' }, units.map((u) => u.item)),
			),
		),
		note,
	);
	return { card, title, badge, when, k, answers, stock, legend, units, note, hist: [], a };
}

/** Update a card from the latest activity and redraw its charts. */
function updateCard(c, a, t) {
	c.a = a;
	c.title.textContent = `#${a.id} ${a.title || ''}`;
	c.badge.textContent = { ongoing: 'On now', upcoming: 'Starting soon', soldout: 'Sold out', ended: 'Ended', cancelled: 'Cancelled' }[a.status] || a.status;
	c.badge.className = 'badge badge-' + a.status;
	remember(c.hist, { t, o: a.outcomes, remaining: a.remaining, queued: a.queued });
	const pts = ratePoints(c.hist, REASONS.map((r) => r.key));
	const now = pts.length ? pts[pts.length - 1].v : {};
	const rps = REASONS.reduce((s, r) => s + (now[r.key] || 0), 0);
	const rej = REJECTIONS.reduce((s, r) => s + (now[r.key] || 0), 0);
	const o = a.outcomes;
	c.k.remaining.value.textContent = fmtCount(a.remaining);
	c.k.remaining.sub.textContent = `of ${fmtCount(a.stock)}` + (a.loaded ? '' : ' · not loaded in Redis yet');
	c.k.bar.max = Math.max(1, a.stock);
	c.k.bar.value = Math.max(0, a.remaining);
	c.k.queued.value.textContent = fmtCount(a.queued);
	c.k.queued.sub.textContent = 'order not written yet';
	c.k.orders.value.textContent = fmtCount(a.orders);
	c.k.orders.sub.textContent = `${fmtCount(a.sold)} units in live orders`;
	const w = a.writer;
	const lagS = w.oldestAgeMs === null ? 0 : w.oldestAgeMs / 1000;
	c.k.lag.value.textContent = lagS.toFixed(1) + ' s';
	c.k.lag.value.classList.toggle('is-bad', lagS >= 10);
	c.k.lag.value.classList.toggle('is-warn', lagS >= 2 && lagS < 10);
	// writer.kafka (writer.transport kafka): its partition's lag in the writers' group, which
	// the stream's numbers miss once the relay moved the intents on.
	const onKafka = w.kafka ? ` · ${fmtCount(w.kafka.lag)} on Kafka (partition ${w.kafka.partition})` : '';
	c.k.lag.sub.textContent = `${fmtCount(w.intents)} in stream · ${fmtCount(w.pending)} pending${onKafka}`;
	c.k.rps.value.textContent = fmtRate(rps);
	c.k.rps.sub.textContent = `${fmtCount(o.requests)} in total`;
	c.k.rej.value.textContent = fmtRate(rej);
	c.k.rej.sub.textContent = `${fmtCount(o.requests - o.queued)} in total`;
	REASONS.forEach((r, i) => {
		c.legend[i].val.textContent = `${fmtRate(now[r.key] || 0)}/s · ${fmtCount(o[r.key])}`;
	});
	c.units[0].val.textContent = fmtCount(a.remaining);
	c.units[1].val.textContent = fmtCount(a.queued);
	const notes = [];
	if (o.soldOutMemo) notes.push(`${fmtCount(o.soldOutMemo)} of the sold-out answers came from the workers' sold-out memo, before Redis.`);
	if (!o.memoCounted) notes.push("The metrics table is full: this activity's sold-out memo answers are counted program-wide only.");
	c.note.textContent = notes.join(' ');
	c.note.hidden = !notes.length;
	sparkStacked(
		c.answers,
		pts,
		REASONS.map((r) => ({ key: r.key, color: cssVar(r.color) })),
		t,
		WINDOW_MS,
	);
	sparkLines(
		c.stock,
		c.hist.map((h) => ({ t: h.t, v: { remaining: h.remaining, inqueue: h.queued } })),
		[
			{ key: 'remaining', color: cssVar('--dash-remaining') },
			{ key: 'inqueue', color: cssVar('--dash-inqueue') },
		],
		t,
		WINDOW_MS,
		Math.max(1, a.stock),
	);
}

/** The program-wide strip: rates and counters every worker shares. */
function updateDomain(d) {
	$('dash-domain').hidden = false;
	remember(state.domain, { t: d.serverTimeMs, o: d.outcomes });
	const keys = ['requests', 'queued'];
	const pts = ratePoints(state.domain, keys);
	const now = pts.length ? pts[pts.length - 1].v : { requests: 0, queued: 0 };
	const o = d.outcomes;
	const items = [
		['Requests / s', fmtRate(now.requests), `${fmtCount(o.requests)} in total`],
		['Queued / s', fmtRate(now.queued), `${fmtCount(o.queued)} in total`],
		['Rejections / s', fmtRate(Math.max(0, now.requests - now.queued)), `${fmtCount(o.requests - o.queued)} in total`],
		...DOMAIN_EXTRA.map((x) => [x.label, fmtCount(o[x.key]), 'in total']),
	];
	$('domain-kpis').replaceChildren(
		...items.map(([label, value, sub]) =>
			el('div', { class: 'dash-kpi' }, el('div', { class: 'dash-kpi-label' }, label), el('div', { class: 'dash-kpi-value' }, value), el('div', { class: 'dash-kpi-sub' }, sub)),
		),
	);
}

/** Put one poll's answer on the page. */
function render(d) {
	const list = $('dash-list');
	const seen = new Set();
	if (!d.list.length) {
		state.cards.clear();
		list.replaceChildren(el('p', { class: 'empty' }, 'No flash sale is on, starting within 10 minutes, or over in the last 5 minutes.'));
	} else {
		list.querySelector('.empty, .loading')?.remove();
		d.list.forEach((a, i) => {
			let c = state.cards.get(a.id);
			if (!c) {
				c = makeCard(a);
				state.cards.set(a.id, c);
			}
			if (list.children[i] !== c.card) list.insertBefore(c.card, list.children[i] || null);
			updateCard(c, a, d.serverTimeMs);
			seen.add(a.id);
		});
		for (const [id, c] of state.cards) {
			if (!seen.has(id)) {
				c.card.remove();
				state.cards.delete(id);
			}
		}
	}
	updateDomain(d);
}

/** Show the live state pill: 'live', 'paused' or 'error'. */
function setState(kind, text) {
	const s = $('dash-state');
	s.className = 'dash-state is-' + kind;
	s.textContent = text;
}

/** Stop for good with a message that needs a person (login, admin role). */
function stopWith(text, withLogin) {
	state.stopped = true;
	clearTimeout(state.timer);
	setState('error', 'Stopped');
	$('dash-pause').disabled = true;
	showMsg('page-msg', text, 'error');
	if (withLogin) $('page-msg').append(' ', el('a', { href: loginUrl() }, 'Log in'));
	$('dash-list').replaceChildren();
}

/** One poll, then the next one a second later (never two in flight). */
async function poll() {
	if (state.paused || state.stopped) return;
	try {
		const d = await apiGet('/seckill/v1/admin/dashboard', {}, { auth: true });
		state.failures = 0;
		showMsg('page-msg', '');
		render(d);
		setState('live', 'Live · updated ' + new Date(d.serverTimeMs).toLocaleTimeString('en-GB'));
	} catch (e) {
		if (e.code === 100003) return stopWith('Your session has ended: log in with an administrator account to see the live dashboard.', true);
		if (e.code === 100008) return stopWith(errText(e));
		state.failures += 1;
		setState('error', 'Connection problem · retrying');
		showMsg('page-msg', 'The live view could not be refreshed: ' + errText(e) + ' The numbers below are from the last good answer.', 'warn');
	}
	if (!state.paused && !state.stopped) state.timer = setTimeout(poll, Math.min(5000, POLL_MS * 2 ** Math.min(state.failures, 3)));
}

$('dash-pause').addEventListener('click', () => {
	state.paused = !state.paused;
	$('dash-pause').textContent = state.paused ? 'Resume' : 'Pause';
	$('dash-pause').setAttribute('aria-pressed', String(state.paused));
	clearTimeout(state.timer);
	if (state.paused) setState('paused', 'Paused');
	else poll();
});

// The clock and each card's countdown, on the server's clock.
tick((now) => {
	$('dash-clock').textContent = new Date(now).toLocaleTimeString('en-GB');
	for (const c of state.cards.values()) {
		const a = c.a;
		if (a.status === 'upcoming') c.when.textContent = 'Starts in ' + fmtDuration(a.startTime * 1000 - now);
		else if (a.status === 'ongoing' || a.status === 'soldout') c.when.textContent = 'Ends in ' + fmtDuration(a.endTime * 1000 - now);
		else if (a.status === 'cancelled') c.when.textContent = 'Cancelled';
		else c.when.textContent = 'Ended ' + fmtTime(a.endTime);
	}
});

if (!loggedIn()) stopWith('Log in with an administrator account to see the live dashboard.', true);
else poll();
