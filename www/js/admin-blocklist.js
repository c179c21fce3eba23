// admin-blocklist.js - the blocklist page: block or unblock users, mobiles and client addresses
// (API.md: /seckill/v1/admin/blocklist/*). The server enforces the admin role.

import { apiGet, apiPost } from './api.js';
import { $, busy, el, errText, fmtTime, goLogin, header, showMsg } from './ui.js';

header('admin');

const FIELD = { user: 'userId', mobile: 'mobile', address: 'address' };

/** Report an API failure in box (a lost session goes to the login page). */
function fail(box, e) {
	if (e && e.code === 100003) return goLogin();
	showMsg(box, errText(e));
}

/** The entry's request body: {userId: 7} etc. */
function entryBody(field, value) {
	return { [field]: field === 'userId' ? parseInt(value, 10) : value };
}

/** The list of blocked entries, each with an unblock button. */
async function load() {
	try {
		const d = await apiGet('/seckill/v1/admin/blocklist/list', { page: 1, pageSize: 100 }, { auth: true });
		const rows = d.list.map((e) => {
			const btn = el('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Unblock');
			btn.addEventListener('click', async () => {
				try {
					await apiPost('/seckill/v1/admin/blocklist/remove', entryBody(FIELD[e.kind], e.value));
					load();
				} catch (err) {
					fail('blist-msg', err);
				}
			});
			return el('tr', {}, el('td', {}, e.kind), el('td', {}, e.value), el('td', {}, e.reason), el('td', {}, fmtTime(e.createTime)), el('td', {}, btn));
		});
		$('entries').replaceChildren(...rows);
		$('blist-msg').hidden = true;
	} catch (e) {
		fail('blist-msg', e);
	}
}

$('block-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const field = $('b-kind').value;
	const value = $('b-value').value.trim();
	if (!value) return showMsg('block-msg', 'Enter what to block.');
	const done = busy($('b-save'), 'Blocking…');
	try {
		await apiPost('/seckill/v1/admin/blocklist/add', { ...entryBody(field, value), reason: $('b-reason').value.trim() });
		showMsg('block-msg', `Blocked ${value}.`, 'ok');
		$('b-value').value = '';
		load();
	} catch (e) {
		fail('block-msg', e);
	} finally {
		done();
	}
});
$('b-reload').addEventListener('click', load);
load();
