// refund-steps.mjs - the browser suite's refund steps: a user refund end to end from "My
// orders", and an admin's partial refund from the admin orders page. Called by run.mjs with
// its helpers, so this file stays apart from the other steps.

/** Register the refund steps; h carries run.mjs's helpers and state. */
export async function refundSteps(h) {
	const { step, page, call, expect, waitText, BASE, S, tag, needOrder, needPayment } = h;

	/** A paid order of the page's user: created and paid through the API and the simulator. */
	async function paidOrder(productId, qty) {
		const tok = await page.evaluate(() => JSON.parse(localStorage.getItem('flashsale.auth') || 'null')?.accessToken || null);
		const c = await call('POST', '/order/v1/order/create', { productId, quantity: qty }, tok);
		expect(c.code === 200, `order/create answered ${c.code} ${c.msg}`);
		const sn = c.data.orderSn;
		const p = await call('POST', '/payment/v1/thirdPayment/thirdPaymentWxPay', { orderSn: sn, serviceType: 'order', tradeType: 'NATIVE' }, tok);
		expect(p.code === 200 && p.data.codeUrl, `prepay answered ${p.code} ${p.msg}`);
		// What the payer does on the page the QR code leads to.
		const res = await fetch(p.data.codeUrl, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'result=SUCCESS' });
		expect(res.status === 200, `the simulator's pay page answered ${res.status}`);
		for (let i = 0; i < 100; i++) {
			const d = await call('POST', '/order/v1/order/detail', { sn }, tok);
			if (d.data && d.data.order.tradeState === 1) return { sn, tok };
			await page.waitForTimeout(200);
		}
		throw new Error(`order ${sn} was not marked paid`);
	}

	await step('refunds: a user asks for a refund in My orders', async () => {
		await needOrder();
		await needPayment();
		const p = await call('POST', '/product/v1/admin/product/create', { title: `Refund mug ${tag}`, price: 1500, stock: 10, status: 1 }, S.adminToken);
		expect(p.code === 200, `product create answered ${p.code}`);
		S.refundProduct = p.data.id;
		const { sn, tok } = await paidOrder(S.refundProduct, 2);
		await page.goto(BASE + '/orders.html');
		const row = page.locator(`article.order[data-sn="${sn}"]`);
		await row.waitFor();
		await row.locator('[data-action="refund"]').click();
		await row.locator('.refund-reason').fill('杯子有裂缝 cracked');
		await row.locator('[data-action="refund-confirm"]').click();
		await waitText('#list-msg', /Refund RFD/);
		// The refund finishes when WeChat notifies: the list shows it refunded.
		let state = null;
		for (let i = 0; i < 40 && state !== '3'; i++) {
			if (i) await page.waitForTimeout(500);
			await page.goto(BASE + '/orders.html');
			await page.locator(`article.order[data-sn="${sn}"]`).waitFor();
			state = await page.locator(`article.order[data-sn="${sn}"]`).getAttribute('data-state');
		}
		expect(state === '3', `the order is in state ${state}, not 3 (refunded)`);
		await page.locator(`article.order[data-sn="${sn}"] .refund-badge[data-refund="SUCCESS"]`).waitFor();
		expect(!(await page.locator(`article.order[data-sn="${sn}"] [data-action="refund"]`).count()), 'a refunded order still offers a refund');
		await page.goto(BASE + '/orders.html?sn=' + encodeURIComponent(sn));
		await page.locator('#refunds tr[data-status="SUCCESS"]').waitFor();
		expect((await page.locator('#refunds').textContent()).includes('¥30.00'), 'the refund table does not show ¥30.00');
		expect((await page.locator('#refunds').textContent()).includes('杯子有裂缝 cracked'), 'the reason is not shown');
		const d = await call('POST', '/order/v1/order/detail', { sn }, tok);
		expect(d.data.order.refunded === 3000 && d.data.order.tradeState === 3, `stored as ${JSON.stringify(d.data.order)}`);
		const st = await call('GET', `/product/v1/product/detail?id=${S.refundProduct}`, undefined, S.adminToken);
		expect(st.data.product.stock === 10, `the units did not come back (stock ${st.data.product.stock})`);
	});

	await step('refunds: an admin refunds part of an order', async () => {
		await needOrder();
		await needPayment();
		expect(S.refundProduct, 'no product from the previous step');
		const { sn, tok } = await paidOrder(S.refundProduct, 1);
		await page.goto(BASE + '/admin-orders.html');
		await page.fill('#f-sn', sn);
		await page.selectOption('#f-state', '1');
		await page.click('#f-go');
		const row = page.locator(`#orders tr[data-sn="${sn}"]`);
		await row.waitFor();
		// The page's first, unfiltered list may be the one showing yet: wait for the filtered one.
		let rows = 0;
		for (let i = 0; i < 50 && rows !== 1; i++) {
			if (i) await page.waitForTimeout(100);
			rows = await page.locator('#orders tr[data-sn]').count();
		}
		expect(rows === 1, `the filter shows ${rows} orders, not the one`);
		await row.locator('.refund-amount').fill('5.5');
		await row.locator('[data-action="admin-refund"]').click();
		await waitText('#orders-msg', /Refund RFD/);
		let refunded = 0;
		for (let i = 0; i < 40 && refunded !== 550; i++) {
			await page.waitForTimeout(300);
			refunded = (await call('POST', '/order/v1/order/detail', { sn }, tok)).data.order.refunded;
		}
		expect(refunded === 550, `refunded ${refunded}, not 550`);
		await page.click('#f-go');
		await waitText(`#orders tr[data-sn="${sn}"] .refunded`, /¥5\.50/);
		const d = await call('POST', '/order/v1/order/detail', { sn }, tok);
		expect(d.data.order.tradeState === 1, `a partial refund moved the order to ${d.data.order.tradeState}`);
		// More than what is left is refused on the page.
		await page.locator(`#orders tr[data-sn="${sn}"] .refund-amount`).fill('100');
		await page.locator(`#orders tr[data-sn="${sn}"] [data-action="admin-refund"]`).click();
		await waitText('#orders-msg', /more than what is left/);
		// The user sees the partial refund in My orders.
		await page.goto(BASE + '/orders.html?sn=' + encodeURIComponent(sn));
		await page.locator('#refunds tr[data-status="SUCCESS"]').waitFor();
		expect((await page.locator('#order-refund').textContent()).includes('¥5.50 refunded'), 'the detail does not show ¥5.50 refunded');
	});
}
