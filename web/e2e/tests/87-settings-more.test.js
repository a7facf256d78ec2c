// More settings screens: sender headers (added, made default, deleted, refused with the core
// rule's text), webhooks (the signing secret shown once, a test event queued and listed on
// the endpoint's page), and users deactivated and refused sign-in, with the last active
// administrator unable to step down. axe on each screen, desktop and a 375-px phone. Names
// are unique to this run (the server is shared).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, axeCheck, check, checkNoProblems, env, find, open, press, screenshot, signIn, withPages } from '../lib/harness.js';

const run = `${Date.now() % 1000000}`;
const XSS = '<script>alert(1)</script>';

async function admin(pages, kind = 'desktop') {
  const page = await pages.make(kind);
  await signIn(page, 'default', 'admin', env.adminPassword);
  page.on('dialog', async (d) => {
    page.problems.push(`a dialog opened: ${d.message()}`);
    await d.dismiss();
  });
  return page;
}

async function noSidewaysScroll(page, label) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await check(page, width <= 375, `${label} scrolls sideways on a phone: scrollWidth ${width} > 375`);
}

test('sender headers: added, refused by the rules, made default and deleted', withPages(async (pages) => {
  const page = await admin(pages);
  await open(page, '/settings/headers');
  await find(page, 'h1:has-text("Gönderici başlıkları")', 'the header list');
  await axeCheck(page, 'the header list');
  const name = `H${run}`.slice(0, 11);
  await page.locator('#header-name').fill('ŞEKER');
  await press(page, 'form[action="/settings/headers"]', 'Başlığı ekle');
  const alert = (await (await find(page, '[role="alert"]', 'the refusal')).innerText()).trim();
  await check(page, alert.includes('Türkçe harf'), `the refusal says: ${alert}`);
  await axeCheck(page, 'the header list with a refusal');
  await page.locator('#header-name').fill(name);
  await press(page, 'form[action="/settings/headers"]', 'Başlığı ekle');
  const row = page.locator('tr', { hasText: name });
  await check(page, (await row.count()) === 1, `expected the row of ${name}`);
  await row.getByRole('button', { name: `Varsayılan yap ${name}` }).click();
  await page.waitForLoadState('load');
  const cells = await page.locator('tr', { hasText: name }).innerText();
  await check(page, cells.includes('Varsayılan'), `the row shows: ${cells}`);
  await screenshot(page, 'settings-headers');
  await page.locator('tr', { hasText: name }).getByRole('button', { name: `Sil ${name}` }).click();
  await page.waitForLoadState('load');
  await check(page, (await page.locator('tr', { hasText: name }).count()) === 0, 'the header is gone');
  await checkNoProblems(page);
}));

test('a webhook: the secret shown once, a test event listed on its page', withPages(async (pages) => {
  const page = await admin(pages);
  await open(page, '/settings/webhooks');
  await find(page, 'h1:has-text("Webhook\'lar")', 'the webhook list');
  await axeCheck(page, 'the webhook list');
  const url = `https://example.com/ulak-${run}`;
  await page.locator('#hook-url').fill(url);
  await page.locator('#hook-description').fill(`${XSS} ${run}`);
  await page.getByRole('checkbox', { name: /message\.delivered/ }).check();
  await press(page, 'form[action="/settings/webhooks"]', 'Webhook ekle');
  const secret = await (await find(page, '[data-testid="new-secret"]', 'the new secret')).inputValue();
  await check(page, secret.startsWith('whsec_'), `the secret looks wrong: ${secret.slice(0, 6)}…`);
  await axeCheck(page, 'the webhook list with a new secret');
  await screenshot(page, 'settings-webhooks');
  const desc = (await page.locator('tr', { hasText: url }).locator('td').nth(1).innerText()).trim();
  assert.equal(desc, `${XSS} ${run}`, 'the description is text');
  await open(page, '/settings/webhooks');
  await check(page, !(await page.content()).includes(secret), 'the secret must not be shown again');
  await page.getByRole('link', { name: url }).click();
  await page.waitForLoadState('load');
  await find(page, '[data-testid="hook"]', 'the webhook page');
  await axeCheck(page, 'the webhook page');
  await press(page, `form[action$="/test"]`, 'Deneme olayı gönder');
  await find(page, '[data-testid="done"]', 'the test-queued note');
  const attempts = await page.locator('[data-testid="attempts"] tbody').innerText();
  await check(page, attempts.includes('webhook.test'), `the deliveries show: ${attempts}`);
  await check(page, !(await page.content()).includes(secret), 'no secret on the webhook page');
  await axeCheck(page, 'the webhook page with a delivery');
  await press(page, `form[action$="/disable"]`, 'Kapat');
  const state = await page.locator('[data-testid="hook"]').innerText();
  await check(page, state.includes('Kapalı'), `the webhook shows: ${state}`);
  await checkNoProblems(page);
}));

test('a deactivated user cannot sign in; the last admin cannot step down', withPages(async (pages) => {
  // A company of its own: its one administrator is the last one.
  const made = (await api('POST', '/companies', { name: `son${run}`, display_name: `Son ${run}`, country_type: 'TR' })).body;
  const call = (method, path, body) => fetch(`${env.url}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${made.api_key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const password = 'Son-Yonetici-123';
  assert.equal((await call('POST', '/users', { login: 'patron', password, role: 'admin' })).status, 201);
  assert.equal((await call('POST', '/users', { login: 'okur', password, role: 'viewer' })).status, 201);
  const page = await pages.make('desktop');
  await signIn(page, `son${run}`, 'patron', password);
  await open(page, '/settings/users');
  await axeCheck(page, 'the user list with states');
  const okur = page.locator('tr', { hasText: 'okur' });
  await okur.getByRole('button', { name: 'Devre dışı bırak okur' }).click();
  await page.waitForLoadState('load');
  const state = await page.locator('tr', { hasText: 'okur' }).innerText();
  await check(page, state.includes('Devre dışı'), `okur's row shows: ${state}`);
  const viewer = await pages.make('desktop');
  await signIn(viewer, `son${run}`, 'okur', password);
  await check(viewer, new URL(viewer.url()).pathname === '/login', 'a deactivated user must not sign in');
  const me = page.locator('tr', { hasText: 'patron' });
  await me.getByRole('button', { name: 'Devre dışı bırak patron' }).click();
  await page.waitForLoadState('load');
  const alert = (await (await find(page, '[role="alert"]', 'the last-admin refusal')).innerText()).trim();
  await check(page, alert.includes('en az bir etkin yöneticisi'), `the refusal says: ${alert}`);
  await axeCheck(page, 'the user list with the last-admin refusal');
  await screenshot(page, 'settings-users-active');
  await checkNoProblems(page);
}));

test('the new settings pages fit a 375-px phone', withPages(async (pages) => {
  const page = await admin(pages, 'phone');
  const made = (await api('POST', '/webhooks', { url: `https://example.com/telefon-${run}` })).body;
  for (const path of ['/settings/headers', '/settings/webhooks', `/settings/webhooks/${made.id}`, '/settings/users']) {
    await open(page, path);
    await find(page, 'h1', `the heading of ${path}`);
    await noSidewaysScroll(page, path);
    await axeCheck(page, `${path} on a phone`);
  }
  await checkNoProblems(page);
}));
