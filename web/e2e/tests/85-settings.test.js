// The settings screens ("Ayarlar"): an API key made on the web is shown once, works against
// the REST API and is refused there once revoked; a read-only user made on the web signs in
// elsewhere and may not send; a password change makes the old password fail; axe and a
// 375-px phone on every page; the OTP password is write-only. Names are unique to this run (the server is shared).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, axeCheck, check, checkNoProblems, env, find, open, press, screenshot, signIn, withPages } from '../lib/harness.js';

const run = `${Date.now() % 1000000}`;
const XSS = '<script>alert(1)</script>';

async function admin(pages, kind = 'desktop') {
  const page = await pages.make(kind);
  await signIn(page, 'default', 'admin', env.adminPassword);
  // No script may ever run from a name: a dialog means one did.
  page.on('dialog', async (d) => {
    page.problems.push(`a dialog opened: ${d.message()}`);
    await d.dismiss();
  });
  return page;
}

async function callApi(key, method = 'GET', path = '/subscribers') {
  const r = await fetch(`${env.url}/api/v1${path}`, { method, headers: { Authorization: `Bearer ${key}` } });
  return r.status;
}

async function newUser(page, login, password, role, displayName) {
  await open(page, '/settings/users');
  await page.locator('#u-login').fill(login);
  await page.locator('#u-password').fill(password);
  await page.locator('#u-name').fill(displayName);
  await page.locator('#u-role').selectOption(role);
  await press(page, 'form[action="/settings/users"]', 'Kullanıcı oluştur');
  await check(page, new URL(page.url()).pathname === '/settings/users', `expected the user list after creating ${login}`);
}

test('an API key is shown once, works, and is refused once revoked', withPages(async (pages) => {
  const page = await admin(pages);
  await open(page, '/settings/keys');
  await find(page, 'h1:has-text("API anahtarları")', 'the key list');
  await axeCheck(page, 'the key list');
  const name = `${XSS} ${run}`;
  await page.locator('#key-name').fill(name);
  await page.locator('#key-role').selectOption('operator');
  await press(page, 'form[action="/settings/keys"]', 'Anahtar oluştur');
  const key = await (await find(page, '[data-testid="new-key"]', 'the new key')).inputValue();
  await check(page, key.length > 20, `the key looks too short: ${key.length} characters`);
  const heading = (await page.locator('#created-h').innerText()).trim();
  assert.ok(heading.includes(name), `the heading shows the name as text: ${heading}`);
  await axeCheck(page, 'the key list with a new key');
  await screenshot(page, 'settings-keys');
  assert.equal(await callApi(key), 200, 'the new key reads subscribers');
  await open(page, '/settings/keys');
  const html = await page.content();
  await check(page, !html.includes(key) && (await page.locator('[data-testid="new-key"]').count()) === 0,
    'the key must not be shown again');
  const row = page.locator('tr', { hasText: name });
  await check(page, (await row.count()) === 1, 'expected the new key\'s row');
  await row.getByRole('checkbox').check();
  await row.getByRole('button', { name: 'İptal et', exact: true }).click();
  await page.waitForLoadState('load');
  await check(page, (await page.locator('tr', { hasText: name }).getByText('İptal edildi').count()) === 1,
    'expected the key marked revoked');
  assert.equal(await callApi(key), 401, 'a revoked key is refused');
  await checkNoProblems(page);
}));

test('a read-only user made here may not send, in a browser of their own', withPages(async (pages) => {
  const page = await admin(pages);
  const login = `okur${run}`;
  const password = 'Okur-Parola-123';
  await newUser(page, login, password, 'viewer', `${XSS} Okur`);
  const cell = page.locator('tr', { hasText: login }).locator('td').nth(1);
  assert.equal((await cell.innerText()).trim(), `${XSS} Okur`);
  await axeCheck(page, 'the user list');
  await screenshot(page, 'settings-users');
  // A new page is a new browser context: the viewer's own cookies.
  const viewer = await pages.make('desktop');
  await signIn(viewer, 'default', login, password);
  await open(viewer, '/send');
  await find(viewer, '[data-testid="read-only"]', 'the read-only note');
  const buttons = await viewer.locator('[data-testid="send"], [data-testid="preview"]').count()
    + await viewer.getByRole('button', { name: 'SMS gönder' }).count();
  await check(viewer, buttons === 0, 'a viewer must see no send button');
  const csrf = await viewer.locator('input[name="csrf"]').first().inputValue();
  const r = await viewer.request.post('/send', { form: { csrf, action: 'send', text: 'x', numbers: '05329990001' } });
  await check(viewer, r.status() === 403, `a viewer's POST /send answered ${r.status()}, not 403`);
  await open(viewer, '/settings/users');
  await check(viewer, (await viewer.locator('form[action="/settings/users"]').count()) === 0, 'a viewer gets no new-user form');
  await check(viewer, (await viewer.locator('a[href="/settings/keys"]').count()) === 0, 'a viewer gets no key tab');
  const k = await viewer.request.get('/settings/keys');
  await check(viewer, k.status() === 403, `a viewer's /settings/keys answered ${k.status()}`);
  const post = await viewer.request.post('/settings/users', { form: { csrf, login: `x${run}`, password, role: 'admin' } });
  await check(viewer, post.status() === 403, `a viewer's POST /settings/users answered ${post.status()}`);
  await axeCheck(viewer, 'the user list, read-only');
  await checkNoProblems(page);
  await checkNoProblems(viewer);
}));

test('after a password change the old password fails and the new one works', withPages(async (pages) => {
  const page = await admin(pages);
  const login = `parola${run}`;
  await newUser(page, login, 'Eski-Parola-123', 'operator', `Parola ${run}`);
  const user = await pages.make('desktop');
  await signIn(user, 'default', login, 'Eski-Parola-123');
  await open(user, '/settings/password');
  await axeCheck(user, 'the password form');
  await user.locator('#old').fill('Eski-Parola-123');
  await user.locator('#new').fill('Yeni-Parola-456');
  await press(user, 'form[action="/settings/password"]', 'Parolayı değiştir');
  await find(user, '[data-testid="done"]', 'the change confirmation');
  const again = await pages.make('desktop');
  await signIn(again, 'default', login, 'Eski-Parola-123');
  await find(again, '[role="alert"]', 'the refusal of the old password');
  await check(again, new URL(again.url()).pathname === '/login', 'the old password must not sign in');
  const fresh = await pages.make('desktop');
  await signIn(fresh, 'default', login, 'Yeni-Parola-456');
  await check(fresh, new URL(fresh.url()).pathname === '/', 'the new password signs in');
  await checkNoProblems(user);
}));

test('the OTP password is written, never shown back, and the nav leads here', withPages(async (pages) => {
  const page = await admin(pages);
  await open(page, '/');
  await page.getByRole('link', { name: 'Ayarlar', exact: true }).click();
  await page.waitForLoadState('load');
  await find(page, 'h1:has-text("SMS ayarları")', 'the SMS settings');
  await axeCheck(page, 'the SMS settings');
  const secret = `Gizli-${run}`;
  await page.locator('#otp-user').fill(`otp-${run}`);
  await page.locator('#otp-password').fill(secret);
  await press(page, 'form[action="/settings/sms"]', 'Kaydet');
  await find(page, '[data-testid="saved"]', 'the saved note');
  await check(page, (await page.locator('#otp-password').inputValue()) === '', 'the password field must be empty');
  await check(page, !(await page.content()).includes(secret), 'the OTP password must never be in the page');
  const state = (await page.locator('[data-testid="otp-state"]').innerText()).trim();
  await check(page, state.startsWith('Parola kayıtlı'), `expected the "stored" note, got: ${state}`);
  await axeCheck(page, 'the SMS settings, saved');
  await screenshot(page, 'settings-sms');
  await checkNoProblems(page);
}));

test('a company of its own: the credit tab shows its balance and purchase as text', withPages(async (pages) => {
  // A fresh company, so its ledger holds only this purchase (the default one's fills up with
  // the other files' sends); its viewer also shows every role reads the ledger.
  const made = (await api('POST', '/companies', { name: `kredi${run}`, display_name: `Kredi ${run}`, country_type: 'TR' })).body;
  const note = `${XSS} yükleme ${run}`;
  await api('POST', `/companies/${made.company.id}/credit/entries`, { kind: 'purchase', amount: 1500, note });
  const password = 'Kredi-Okur-123';
  const r = await fetch(`${env.url}/api/v1/users`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${made.api_key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ login: 'okur', password, role: 'viewer' }),
  });
  assert.equal(r.status, 201, 'the company\'s viewer is made');
  const page = await pages.make('desktop');
  page.on('dialog', async (d) => {
    page.problems.push(`a dialog opened: ${d.message()}`);
    await d.dismiss();
  });
  await signIn(page, `kredi${run}`, 'okur', password);
  await open(page, '/settings/credit');
  const balance = (await (await find(page, '[data-testid="balance"]', 'the balance')).innerText()).trim();
  await check(page, balance === 'Kalan kredi: 1.500', `the balance reads: ${balance}`);
  const rows = page.locator('[data-testid="rows"] tbody tr');
  await check(page, (await rows.count()) === 1, `expected one ledger row, found ${await rows.count()}`);
  const text = await rows.first().innerText();
  await check(page, text.includes(XSS) && text.includes('+1.500') && text.includes('Satın alma'), `the row shows: ${text}`);
  await check(page, (await page.locator('form[action="/settings/credit"]').count()) === 0, 'no purchase form on the web');
  await axeCheck(page, 'the credit tab');
  await checkNoProblems(page);
}));

test('the settings pages fit a 375-px phone', withPages(async (pages) => {
  const page = await admin(pages, 'phone');
  for (const path of ['/settings/sms', '/settings/credit', '/settings/providers', '/settings/users', '/settings/keys', '/settings/password']) {
    await open(page, path);
    await find(page, 'h1', `the heading of ${path}`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await check(page, width <= 375, `${path} scrolls sideways on a phone: scrollWidth ${width} > 375`);
    await axeCheck(page, `${path} on a phone`);
  }
  await checkNoProblems(page);
}));
