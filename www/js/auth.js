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
		const code = $('reg-code').value.trim();
		if (code && !/^\d{6}$/.test(code)) return 'The SMS code has 6 digits.';
	} else if (!password) {
		return 'Enter your password.';
	}
	return null;
}

/** Logged in: cache the profile for the header, then go back to where the shopper came from. */
async function enter(d) {
	setAuth(d);
	try {
		const u = await apiPost('/usercenter/v1/user/detail', {});
		if (u.userInfo) setCachedProfile(u.userInfo);
	} catch (e) {
		/* the header fetches it later */
	}
	location.assign(next);
}

/** A "Send code" button: sends the SMS code of scene to the number in mobileEl, then counts down. */
function wireSendCode(send, mobileEl, msgId, scene, codeEl) {
	let timer = null;
	/** Keep the button off for s seconds, counting down. */
	const cooldown = (s) => {
		clearInterval(timer);
		send.disabled = true;
		const stepDown = () => {
			if (s <= 0) {
				clearInterval(timer);
				send.disabled = false;
				send.textContent = 'Send code';
				return;
			}
			send.textContent = `Resend in ${s--} s`;
		};
		stepDown();
		timer = setInterval(stepDown, 1000);
	};
	send.addEventListener('click', async () => {
		if (!/^1\d{10}$/.test(mobileEl.value.trim())) {
			showMsg(msgId, 'Enter an 11-digit mobile number starting with 1.');
			return;
		}
		send.disabled = true;
		try {
			const d = await api('POST', '/usercenter/v1/user/smsCode', { mobile: mobileEl.value.trim(), scene });
			showMsg(msgId, 'A code is on its way by SMS. It is valid for 5 minutes.', 'info');
			cooldown(d.resendAfter || 60);
			codeEl.focus();
		} catch (e) {
			if (e.retryAfter) cooldown(e.retryAfter);
			else send.disabled = false;
			showMsg(msgId, errText(e, {
				100007: 'Please wait a little before asking for another code.',
				200001: 'This mobile number is already registered. Log in instead?',
			}));
		}
	});
}

if ($('reg-send')) wireSendCode($('reg-send'), $('mobile'), 'form-msg', 'register', $('reg-code'));

// SMS code login (login page): send a code, then log in (an unknown mobile gets an account).
if ($('sms-form')) {
	wireSendCode($('sms-send'), $('sms-mobile'), 'sms-msg', 'login', $('sms-code'));
	$('sms-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const code = $('sms-code').value.trim();
		if (!/^1\d{10}$/.test($('sms-mobile').value.trim())) return showMsg('sms-msg', 'Enter an 11-digit mobile number starting with 1.');
		if (!/^\d{6}$/.test(code)) return showMsg('sms-msg', 'Enter the 6-digit code from the SMS.');
		const done = busy($('sms-submit'), 'Logging in…');
		try {
			await enter(await api('POST', '/usercenter/v1/user/loginBySms', { mobile: $('sms-mobile').value.trim(), code }));
		} catch (e) {
			done();
			showMsg('sms-msg', errText(e, { 100011: 'That code is wrong, expired or used up. Ask for a new one.' }));
		}
	});
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
		const code = $('reg-code').value.trim();
		if (code) body.code = code;
	}
	const done = busy($('submit'), mode === 'register' ? 'Creating account…' : 'Logging in…');
	showMsg('form-msg', '');
	try {
		await enter(await api('POST', '/usercenter/v1/user/' + mode, body));
	} catch (e) {
		done();
		showMsg(
			'form-msg',
			errText(e, {
				200001: 'This mobile number is already registered. Log in instead?',
				200002: 'Mobile number or password is incorrect.',
				100011: 'That SMS code is wrong, expired or used up. Ask for a new one.',
			}),
		);
	}
});
