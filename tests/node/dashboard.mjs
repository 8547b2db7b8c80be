// dashboard.mjs: the browser half of tests/integration/test_dashboard.py.
//
//   node dashboard.mjs CONFIG.json
//
// Drives Debian's chromium through playwright-core (no browser download):
// signs in on pregond's dashboard, launches an alert to the audience in the
// config, watches the page's counts reach every message delivered and the
// ETA reach zero as the Twilio fake's callbacks arrive, has some recipients
// answer "1" through the fake, and sees the replies on the page; then the
// same on a 360x740 phone screen in Spanish. Screenshots go to the config's
// artifacts directory. Prints one JSON line of what it saw; exits non-zero
// (with the reason on stderr) when the page does not show what it must.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const seen = {};

async function post(url, body, headers = {}) {
	const r = await fetch(url, { method: 'POST', body: JSON.stringify(body),
		headers: { 'Content-Type': 'application/json', ...headers } });
	if (r.status >= 300)
		throw new Error(`POST ${url}: ${r.status} ${await r.text()}`);
	return r;
}

// Reads the alert view's numbers as the page shows them.
async function alertNumbers(page) {
	return page.evaluate(() => {
		const n = (sel) => document.querySelector(sel);
		const responding = document.querySelector('#a-replies dd[data-key="responding"]');
		return {
			delivered: Number(n('#a-delivered').dataset.n || -1),
			total: n('#a-total').textContent,
			eta: n('#a-eta').dataset.seconds,
			etaText: n('#a-eta').textContent,
			bar: n('#a-bar').getAttribute('aria-valuenow'),
			conn: n('#conn').textContent,
			responding: responding ? Number(responding.dataset.n) : 0,
		};
	});
}

// A fresh profile per run (Playwright takes the --user-data-dir this way).
function launch(run) {
	return chromium.launchPersistentContext(path.join(cfg.profile, run.name), {
		executablePath: cfg.chromium,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		viewport: run.viewport, locale: run.locale, deviceScaleFactor: 1,
	});
}

async function run(ctx, run) {
	const page = ctx.pages()[0] || await ctx.newPage();
	const outside = [];
	page.on('request', (req) => {
		if (!req.url().startsWith(cfg.base))
			outside.push(req.url());
	});
	// Script errors and console errors, but a failed load is told apart
	// by its answer (below), not by the console's line for it.
	const problems = [], failed = [];
	page.on('console', (m) => {
		if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
			problems.push(m.text());
	});
	page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`); });
	page.on('requestfailed', (r) => failed.push(`${r.failure().errorText} ${new URL(r.url()).pathname}`));
	page.on('pageerror', (e) => problems.push(String(e)));
	// Each view is shot, and measured: nothing may be wider than the screen.
	let width = 0;
	const shot = async (name) => {
		await page.screenshot({ path: path.join(cfg.artifacts, `${run.name}-${name}.png`), fullPage: true });
		width = Math.max(width, await page.evaluate(() => document.documentElement.scrollWidth));
	};

	// 1. Sign in.
	await page.goto(cfg.base + '/');
	await page.getByLabel(run.tokenLabel).fill(cfg.token);
	await shot('login');
	await page.getByLabel(run.tokenLabel).press('Enter');
	await page.waitForSelector('#app:not([hidden])');
	// 2. Launch an alert, then open it.
	await post(cfg.base + '/v1/jobs', run.job, { Authorization: 'Bearer ' + cfg.token });
	await page.goto(cfg.base + '/#alert/' + encodeURIComponent(run.job.id));
	await page.waitForSelector('#alert-body:not([hidden])');
	// 3. The counts fill in and the ETA falls to zero.
	const total = run.job.audience.recipients.length;
	const etas = [];
	let midShot = false;
	const deadline = Date.now() + 90000;
	for (;;) {
		const a = await alertNumbers(page);
		if (a.eta !== '' && a.eta !== undefined)
			etas.push(Number(a.eta));
		if (!midShot && a.delivered > total / 5 && a.delivered < total) {
			await shot('alert-running');
			midShot = true;
		}
		if (a.delivered === total && a.eta === '0')
			break;
		if (Date.now() > deadline)
			throw new Error(`${run.name}: the page shows ${JSON.stringify(a)} after 90 s`);
		await page.waitForTimeout(100);
	}
	// The connection drops (the test restarts pregond): the page says so,
	// then reconnects with Last-Event-ID and says it caught up.
	if (run.drop) {
		console.log('stop');
		await page.waitForSelector('#conn.down', { timeout: 30000 });
		seen.down_text = await page.textContent('#conn');
		await shot('reconnecting');
		fs.writeFileSync(path.join(cfg.profile, 'down-seen'), '');
		await page.waitForFunction(() => document.querySelector('#conn.live') &&
			document.querySelector('#alert-error').textContent === '', null, { timeout: 60000 });
		seen.back_text = await page.textContent('#conn');
	}
	// 4. Replies: some answer "1", one writes free text.
	const answer = run.job.audience.recipients.slice(0, cfg.replies);
	for (const r of answer)
		await post(cfg.fake + '/_fake/inbound', { url: cfg.inbound_url, from: r.phone, to: cfg.from, body: '1' });
	await post(cfg.fake + '/_fake/inbound', { url: cfg.inbound_url,
		from: run.job.audience.recipients[cfg.replies].phone, to: cfg.from, body: 'running late' });
	await page.waitForFunction((want) => {
		const dd = document.querySelector('#a-replies dd[data-key="responding"]');
		// (An admin token: what the person wrote is on the page.)
		return dd && Number(dd.dataset.n) === want &&
			document.querySelector('#a-freetext').textContent !== '' &&
			document.querySelector('#a-freetext-list').textContent.includes('running late');
	}, cfg.replies, { timeout: 30000 });
	const final = await alertNumbers(page);
	await shot('alert');
	// The other views, for the eyes.
	await page.goto(cfg.base + '/#jobs');
	await page.waitForSelector('#jobs-list li a');
	await shot('jobs');
	// Court reminders by day: the recipient by id, never a number.
	await page.goto(cfg.base + '/#court/' + encodeURIComponent(cfg.cases));
	await page.waitForSelector('#court-days .day li');
	await shot('court');
	const court = await page.$$eval('#court-days li', (lis) =>
		lis.map((li) => (/client-\d+/.exec(li.textContent) || [''])[0]));
	const numbersShown = async () => {
		const text = await page.evaluate(() => document.body.innerText);
		for (const n of cfg.numbers)
			if (text.includes(n) || text.includes(n.slice(2)))
				throw new Error(`${run.name}: a number on the page`);
	};
	await numbersShown();
	// The town hall's figures.
	await page.goto(cfg.base + '/#townhall/' + encodeURIComponent(cfg.townhall));
	await page.waitForSelector('#th-figures:not([hidden])');
	await shot('townhall');
	const townhall = await page.textContent('#th-figures dd[data-key="th_registered"]');
	await numbersShown();
	// Keyboard: the tabs are reachable and the focused one is outlined.
	await page.keyboard.press('Tab');
	const focused = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
	seen[run.name] = { final, court, townhall, etas_seen: etas.length, eta_max: Math.max(...etas, 0), outside, failed,
		problems, focused, scroll_width: width, lang: await page.evaluate(() => document.documentElement.lang) };
}

for (const r of cfg.runs) {
	const ctx = await launch(r);
	try {
		await run(ctx, r);
	} catch (e) {
		const page = ctx.pages()[0];
		if (page)
			await page.screenshot({ path: path.join(cfg.artifacts, `${r.name}-failed.png`), fullPage: true });
		throw e;
	} finally {
		await ctx.close();
	}
}
console.log(JSON.stringify(seen));
