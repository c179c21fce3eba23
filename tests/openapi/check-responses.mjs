// check-responses.mjs - validate recorded HTTP responses against a dereferenced OpenAPI 3.1
// document with ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1).
//
// A response passes when its (method, path) is an operation of the document, its status is one
// of that operation's responses, its content type is one the response declares (no body where
// it declares none), its JSON body validates against the schema, and a required X-Request-Id
// header is present. A request for a path under /<domain>/v1/ that no operation describes must
// have been answered 404/100009 (unknown route) or by the web server for any path (413/100010,
// 503/100005). Paths outside the API (the static storefront) are not checked.
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const API_PATH = /^\/(usercenter|product|seckill|order|payment|coupon)\/v1\//;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// What the web server or the router answers for a path no operation describes.
const UNDOCUMENTED = {
	type: 'object',
	required: ['code', 'msg'],
	properties: { code: { enum: [100009, 100010, 100005] }, msg: { type: 'string' } },
};
const UNDOCUMENTED_STATUS = { 100009: 404, 100010: 413, 100005: 503 };

// Validate the records; returns {groups: [{key, ok, detail}], total, checked, skipped, ...}.
export function checkResponses(api, records) {
	const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
	addFormats.default ? addFormats.default(ajv) : addFormats(ajv);
	const compiled = new Map();
	const validator = (schema) => {
		if (!compiled.has(schema)) compiled.set(schema, ajv.compile(schema));
		return compiled.get(schema);
	};
	const groups = new Map();
	const seen = new Set();
	let checked = 0, skipped = 0;

	for (const r of records) {
		// The web server resolves dot segments before routing (a traversal probe is static).
		if (!API_PATH.test(path.posix.normalize(r.path))) {
			skipped++;
			continue;
		}
		checked++;
		const item = api.paths[r.path];
		const op = item && item[r.method.toLowerCase()];
		const key = op ? `${r.method} ${r.path} ${r.status}` : `${r.method} (undocumented path) ${r.status}`;
		const problems = op ? checkOne(op, r, validator) : checkUndocumented(r, validator);
		if (op) seen.add(`${r.method} ${r.path}`);
		const g = groups.get(key) || { key, n: 0, bad: [] };
		g.n++;
		if (problems.length) g.bad.push({ r, problems });
		groups.set(key, g);
	}

	const allOps = [];
	for (const [p, item] of Object.entries(api.paths))
		for (const m of METHODS) if (item[m]) allOps.push(`${m.toUpperCase()} ${p}`);
	const out = [...groups.values()].sort((a, b) => a.key.localeCompare(b.key)).map((g) => ({
		key: `${g.key} (${g.n} responses)`,
		ok: g.bad.length === 0,
		detail: g.bad.slice(0, 3).map(({ r, problems }) =>
			`     ${r.test || '?'} [${r.server}]: ${problems.join('; ')}\n` +
			`       body: ${(r.body ?? '').slice(0, 300)}`).join('\n') +
			(g.bad.length > 3 ? `\n     ... and ${g.bad.length - 3} more` : ''),
	}));
	return {
		groups: out, total: records.length, checked, skipped,
		allOps: allOps.length, seenOps: seen.size, unseen: allOps.filter((o) => !seen.has(o)),
	};
}

// Problems of one response of a documented operation (empty: it validates).
function checkOne(op, r, validator) {
	const s = String(r.status);
	const resp = op.responses[s] || op.responses[`${s[0]}XX`] || op.responses.default;
	if (!resp) return [`status ${s} is not a documented response of this operation`];
	const problems = [];
	for (const [name, h] of Object.entries(resp.headers || {}))
		if (h.required && name.toLowerCase() === 'x-request-id' && !r.requestId)
			problems.push('no X-Request-Id header');
	if (!resp.content) {
		if (r.bodyLength > 0) problems.push(`a body where none is documented: ${r.contentType}`);
		return problems;
	}
	const type = (r.contentType || '').split(';')[0].trim().toLowerCase();
	const media = resp.content[type];
	if (!media) {
		problems.push(`content type "${type}" not documented (${Object.keys(resp.content)})`);
		return problems;
	}
	if (type !== 'application/json' || !media.schema) return problems;
	let body;
	try {
		body = JSON.parse(r.body);
	} catch {
		problems.push('body is not JSON');
		return problems;
	}
	const v = validator(media.schema);
	if (!v(body)) problems.push(...v.errors.slice(0, 5).map(fmtError));
	return problems;
}

// Problems of a response to a path under /<domain>/v1/ that the document does not describe.
function checkUndocumented(r, validator) {
	let body;
	try {
		body = JSON.parse(r.body);
	} catch {
		return [`undocumented path answered ${r.status} without a JSON error`];
	}
	const v = validator(UNDOCUMENTED);
	if (!v(body)) return [`undocumented path ${r.path}: ` + v.errors.map(fmtError).join('; ')];
	if (UNDOCUMENTED_STATUS[body.code] !== r.status)
		return [`undocumented path ${r.path}: code ${body.code} with HTTP ${r.status}`];
	return [];
}

// One ajv error as text.
function fmtError(e) {
	const extra = e.params && (e.params.allowedValues || e.params.missingProperty ||
		e.params.allowedValue);
	return `${e.instancePath || '/'} ${e.message}${extra !== undefined ? ` (${JSON.stringify(extra)})` : ''}`;
}
