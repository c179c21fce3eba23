// docs-page.mjs - www/docs/ in headless Chromium: redoc renders doc/openapi.yaml under the web
// server's CSP (no violations, no error page, the operations listed).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// Load /docs/ of base; returns a list of problems (empty: it renders).
export async function checkDocsPage(base) {
	const pw = path.join(here, '../browser/node_modules/playwright-core/index.mjs');
	const { chromium } = await import(pathToFileURL(pw).href);
	const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
	const problems = [];
	try {
		const page = await browser.newPage();
		page.on('console', (m) => {
			// redoc's "API docs by Redocly" badge is an image on its CDN: the CSP blocks it, as
			// it should (the page loads nothing from outside).
			if (m.type() === 'error' && !m.text().includes('cdn.redoc.ly'))
				problems.push(`console: ${m.text().slice(0, 200)}`);
			if (m.type() === 'warning') problems.push(`redoc warning: ${m.text().slice(0, 200)}`);
		});
		page.on('pageerror', (e) => problems.push(`page error: ${e.message.slice(0, 200)}`));
		const r = await page.goto(`${base}/docs/`, { waitUntil: 'networkidle' });
		if (!r || r.status() !== 200) problems.push(`GET /docs/ answered ${r && r.status()}`);
		// redoc lists each operation by its summary once the document is parsed.
		await page.waitForFunction(() => document.body.innerText.includes(
			'The purchase, answered from Redis'), null, { timeout: 20000 })
			.catch(() => problems.push('operations not rendered'));
		const text = await page.evaluate(() => document.body.innerText);
		if (!text.includes('flashsale HTTP API')) problems.push('title not rendered');
		if (text.includes('Something went wrong')) problems.push('redoc error page');
	} finally {
		await browser.close();
	}
	return problems;
}
