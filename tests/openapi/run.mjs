// run.mjs - the OpenAPI suite: lint doc/openapi.yaml with two validators, then check every HTTP
// response the suites recorded against the schema of its endpoint and status.
//
// usage: node run.mjs [--spec doc/openapi.yaml] [--responses responses.jsonl] [--lint-only]
//        [--url http://127.0.0.1:PORT]   (also render www/docs/ there in Chromium)
// Prints one "N passed, N failed" line; exits 1 on any failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { checkResponses } from './check-responses.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const spec = path.resolve(opt('--spec', path.join(here, '../../doc/openapi.yaml')));
const responses = opt('--responses', process.env.FLASHSALE_TEST_RESULTS
	? path.join(process.env.FLASHSALE_TEST_RESULTS, 'responses.jsonl') : null);

let passed = 0, failed = 0;
const result = (ok, name, detail) => {
	if (ok) passed++;
	else failed++;
	console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? '\n' + detail : ''}`);
};

// 1. Redocly CLI's recommended rules (tests/openapi/redocly.yaml).
try {
	const out = execFileSync(path.join(here, 'node_modules/.bin/redocly'),
		['lint', '--config', path.join(here, 'redocly.yaml'), '--format', 'stylish', spec],
		{ encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
	result(true, 'redocly lint', out.includes('warning') ? out.trim() : '');
} catch (e) {
	result(false, 'redocly lint', `${e.stdout || ''}${e.stderr || ''}`.trim());
}

// 2. swagger-parser: the OpenAPI 3.1 schema and every $ref.
try {
	await SwaggerParser.validate(spec);
	result(true, 'swagger-parser validate');
} catch (e) {
	result(false, 'swagger-parser validate', e.message);
}

// 3. Every route of the programs' route tables (fcgi/*/main.c) is an operation of the document.
{
	const api = await SwaggerParser.parse(spec);
	const fcgi = path.join(here, '../../fcgi');
	const missing = [];
	let routes = 0;
	for (const d of fs.readdirSync(fcgi)) {
		const f = path.join(fcgi, d, 'main.c');
		if (!fs.existsSync(f)) continue;
		const src = fs.readFileSync(f, 'utf8');
		for (const m of src.matchAll(/\.method\s*=\s*"([A-Z]+)",\s*\.path\s*=\s*"([^"]+)"/g)) {
			routes++;
			if (!(api.paths[m[2]] && api.paths[m[2]][m[1].toLowerCase()])) missing.push(`${m[1]} ${m[2]}`);
		}
	}
	result(routes > 0 && missing.length === 0, `every route of fcgi/*/main.c documented (${routes})`,
		missing.length ? `     not in doc/openapi.yaml: ${missing.join(', ')}` : '');
}

// 4. The checker itself: drifting responses must fail it.
{
	const api = await SwaggerParser.dereference(spec);
	const rec = (method, p, status, body, extra = {}) => ({ method, path: p, status,
		contentType: 'application/json', requestId: 'abcdefgh', server: 'selftest', test: 'selftest',
		body: JSON.stringify(body), bodyLength: 1, ...extra });
	const product = { id: 1, title: 't', subTitle: '', cover: '', banner: '', info: '', price: 1,
		marketPrice: 0, stock: 1, status: 1, createTime: 1 };
	const cases = [
		['a valid product detail passes', true, rec('GET', '/product/v1/product/detail', 200,
			{ code: 200, msg: 'OK', data: { product } })],
		['a product without its title fails', false, rec('GET', '/product/v1/product/detail', 200,
			{ code: 200, msg: 'OK', data: { product: { ...product, title: undefined } } })],
		['a price as a string fails', false, rec('GET', '/product/v1/product/detail', 200,
			{ code: 200, msg: 'OK', data: { product: { ...product, price: '1' } } })],
		['an error code not listed for the status fails', false, rec('GET',
			'/product/v1/product/detail', 404, { code: 600001, msg: 'activity not found' })],
		['an undocumented status fails', false, rec('GET', '/product/v1/product/detail', 418,
			{ code: 100001, msg: 'x' })],
		['a success on an undocumented path fails', false, rec('POST', '/product/v1/admin/x', 200,
			{ code: 200, msg: 'OK', data: {} })],
		['an unknown route answered 100009 passes', true, rec('POST', '/product/v1/admin/x', 404,
			{ code: 100009, msg: 'unknown route' })],
		['a missing X-Request-Id fails', false, rec('POST', '/usercenter/v1/user/logout', 200,
			{ code: 200, msg: 'OK', data: {} }, { requestId: '' })],
		['a body on a 204 notification answer fails', false, rec('POST',
			'/payment/v1/thirdPayment/thirdPaymentWxPayCallback', 204, { code: 'FAIL', message: 'x' })],
	];
	for (const [name, want, r] of cases) {
		const g = checkResponses(api, [r]).groups[0];
		result(g.ok === want, `checker self-test: ${name}`, g.ok === want ? '' : g.detail);
	}
}

// 5. The responses the HTTP suites received (fslib.record_response).
if (!args.includes('--lint-only')) {
	if (!responses || !fs.existsSync(responses)) {
		result(false, 'recorded responses', `no file of recorded responses (${responses})`);
	} else {
		const api = await SwaggerParser.dereference(spec);
		const lines = fs.readFileSync(responses, 'utf8').split('\n').filter(Boolean);
		const report = checkResponses(api, lines.map((l) => JSON.parse(l)));
		for (const g of report.groups) result(g.ok, g.key, g.ok ? '' : g.detail);
		if (report.groups.length === 0) result(false, 'recorded responses', 'none recorded');
		console.log(`\n${report.total} responses: ${report.checked} validated against the ` +
			`document, ${report.skipped} outside the API (static files) not checked`);
		console.log(`operations exercised: ${report.seenOps} of ${report.allOps} documented`);
		if (report.unseen.length) console.log(`never exercised: ${report.unseen.join(', ')}`);
	}
}

// 6. The reference page a running stack serves (--url), when playwright-core is installed.
const url = opt('--url', null);
if (url && fs.existsSync(path.join(here, '../browser/node_modules/playwright-core'))) {
	const { checkDocsPage } = await import('./docs-page.mjs');
	const problems = await checkDocsPage(url).catch((e) => [String(e)]);
	result(problems.length === 0, 'www/docs/ renders the document (redoc, CSP)', problems.join('\n'));
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
