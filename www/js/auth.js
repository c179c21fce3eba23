// auth.js - the login and register pages (usercenter): store the token triple, fetch the
// profile for the header, then go back to where the shopper came from (?next=, same origin).

import { api, setAuth, setCachedProfile, apiPost, loggedIn } from './api.js';
import { $, busy, errText, header, param, safeNext, showMsg } from './ui.js';

const mode = document.body.dataset.page; // 'login' or 'register'
const next = safeNext(param('next') || '/');

header();

// Carry ?next= across the login/register switch.
if (param('next')) {
	const alt = $('alt-link');
	alt.href = alt.getAttribute('href') + '?next=' + encodeURIComponent(next);
}
if (loggedIn() && mode === 'login' && param('next')) {
	showMsg('form-msg', 'You are already logged in. Log in as someone else, or go back.', 'info');
} else if (param('next')) {
	showMsg('form-msg', 'Please log in to continue.', 'info');
}

/** Check the form in the browser first (the server checks again). */
function validate() {
	const mobile = $('mobile').value.trim();
	const password = $('password').value;
	if (!/^1\d{10}$/.test(mobile)) return 'Enter an 11-digit mobile number starting with 1.';
	if (mode === 'register') {
		if (password.length < 6) return 'The password needs at least 6 characters.';
		if (password !== $('password2').value) return 'The two passwords do not match.';
	} else if (!password) {
		return 'Enter your password.';
	}
	return null;
}

$('auth-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const problem = validate();
	if (problem) {
		showMsg('form-msg', problem);
		return;
	}
	const body = { mobile: $('mobile').value.trim(), password: $('password').value };
	if (mode === 'register') {
		const nick = $('nickname').value.trim();
		if (nick) body.nickname = nick;
	}
	const done = busy($('submit'), mode === 'register' ? 'Creating account…' : 'Logging in…');
	showMsg('form-msg', '');
	try {
		const d = await api('POST', '/usercenter/v1/user/' + mode, body);
		setAuth(d);
		try {
			const u = await apiPost('/usercenter/v1/user/detail', {});
			if (u.userInfo) setCachedProfile(u.userInfo);
		} catch (e) {
			/* the header fetches it later */
		}
		location.assign(next);
	} catch (e) {
		done();
		showMsg(
			'form-msg',
			errText(e, {
				200001: 'This mobile number is already registered. Log in instead?',
				200002: 'Mobile number or password is incorrect.',
			}),
		);
	}
});
