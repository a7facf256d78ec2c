// Subscribers, groups and customer accounts ("Cari Hesaplar"): escaping, search, keyset pages,
// marks sent to the send window, group members added and removed, axe and a phone screen on
// every page. Rows are made through the REST API with names unique to this run (the server is
// shared by every test file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, axeCheck, check, checkNoProblems, env, find, open, screenshot, signIn, withPages } from '../lib/harness.js';

const run = `${Date.now() % 1000000}`;
const XSS = '<script>alert(1)</script>';
// Mobile numbers unique to this run: 0532 and seven digits from a random base.
let nextPhone = 1000000 + Math.floor(Math.random() * 8000000);
const phone = () => `0532${nextPhone++}`;

async function subscriber(name) {
  return (await api('POST', '/subscribers', { name, phone: phone(), tckn: '10000000146' })).body.id;
}

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

async function rowCount(page) {
  return page.locator('[data-testid="rows"] tbody a[href^="/subscribers/"]').count();
}

test('a subscriber named <script> shows as text on the list and the card', withPages(async (pages) => {
  const id = await subscriber(XSS);
  const page = await admin(pages);
  await open(page, `/subscribers?q=${encodeURIComponent(XSS)}`);
  const link = page.locator(`a[href="/subscribers/${id}"]`);
  await check(page, (await link.count()) === 1, 'expected the subscriber in the list');
  assert.equal((await link.innerText()).trim(), XSS);
  const send = page.locator(`a[href="/send?subscribers=${id}"]`);
  await check(page, (await send.innerText()).trim() === 'SMS Gönder', 'expected "SMS Gönder" on the row');
  await axeCheck(page, 'the subscriber list');
  await link.click();
  await page.waitForLoadState('load');
  const h1 = await find(page, 'h1', 'the card heading');
  assert.equal((await h1.innerText()).trim(), XSS);
  const tckn = (await (await find(page, '[data-testid="tckn"]')).innerText()).trim();
  await check(page, tckn.endsWith('46') && !tckn.includes('10000000146'), `TC ID not masked: ${tckn}`);
  await find(page, `a[href="/send?subscribers=${id}"]`, 'the card\'s "SMS Gönder"');
  await axeCheck(page, 'the subscriber card');
  await checkNoProblems(page);
  await screenshot(page, 'subscriber-card');
}));

test('search finds subscribers and the pages walk forward and back', withPages(async (pages) => {
  const prefix = `Sayfa-${run}`;
  for (let i = 0; i < 60; i++) await subscriber(`${prefix}-${String(i).padStart(2, '0')}`);
  const page = await admin(pages);
  await open(page, '/subscribers');
  await page.locator('#q').fill(prefix);
  await page.locator('form.search').getByRole('button', { name: 'Ara', exact: true }).click();
  await page.waitForLoadState('load');
  await check(page, (await rowCount(page)) === 50, `expected 50 rows on the first page, found ${await rowCount(page)}`);
  await page.getByRole('link', { name: 'Sonraki', exact: true }).click();
  await page.waitForLoadState('load');
  await check(page, (await rowCount(page)) === 10, `expected 10 rows on the second page, found ${await rowCount(page)}`);
  await check(page, (await page.getByText(`${prefix}-59`).count()) === 1, 'expected the last row on page 2');
  await page.getByRole('link', { name: 'Önceki', exact: true }).click();
  await page.waitForLoadState('load');
  await check(page, (await rowCount(page)) === 50, 'expected 50 rows back on the first page');
  await check(page, (await page.getByText(`${prefix}-00`).count()) === 1, 'expected the first row on page 1');
  await screenshot(page, 'subscribers');
  await checkNoProblems(page);
}));

test('marking 3 customer accounts and pressing "Toplu SMS" opens /send with them', withPages(async (pages) => {
  const ids = [];
  for (let i = 1; i <= 4; i++) {
    const body = { code: `CARI-${run}-${i}`, title: `Cari ${run} ${i}`, phones: [phone()], balance_minor: 123456 };
    ids.push((await api('POST', '/customers', body)).body.id);
  }
  const page = await admin(pages);
  await open(page, `/customers?q=CARI-${run}`);
  await find(page, 'h1:text-is("Cari Hesaplar")', 'the heading "Cari Hesaplar"');
  await find(page, `a[href="/send?customers=${ids[0]}"]`, 'the row\'s "SMS Gönder"');
  await check(page, (await page.getByText('1.234,56').count()) === 4, 'expected balances in Turkish format');
  await axeCheck(page, 'the customer accounts');
  await screenshot(page, 'customers');
  const marked = ids.slice(0, 3);
  for (let i = 1; i <= 3; i++) {
    await page.getByRole('checkbox', { name: `Seç: Cari ${run} ${i}`, exact: true }).check();
  }
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/send'),
    page.getByRole('button', { name: 'Toplu SMS', exact: true }).click(),
  ]);
  const url = new URL(page.url());
  assert.deepEqual(url.searchParams.getAll('customers').map(Number).sort((a, b) => a - b), marked);
}));

test('members are added to a group and removed from it', withPages(async (pages) => {
  const name = `Üye-${run}`;
  const id = await subscriber(name);
  const group = (await api('POST', '/groups', { name: `Grup ${run}`, description: XSS })).body.id;
  const page = await admin(pages);
  await open(page, '/groups');
  await axeCheck(page, 'the group list');
  await open(page, `/groups/${group}`);
  await check(page, (await page.getByText(XSS).count()) === 1, 'the description shows as text');
  await page.locator('#find').fill(name);
  await page.locator('#find').press('Enter');
  await page.waitForLoadState('load');
  await page.locator('[data-testid="candidates"]').getByRole('checkbox', { name }).check();
  await page.getByRole('button', { name: 'Seçilenleri gruba ekle', exact: true }).click();
  await page.waitForLoadState('load');
  const members = page.locator('[data-testid="members"]');
  await check(page, (await members.locator(`a[href="/subscribers/${id}"]`).count()) === 1, 'expected the new member');
  const listed = await api('GET', `/groups/${group}/members`);
  assert.deepEqual(listed.body.items.map((s) => s.id), [id]);
  await axeCheck(page, 'the group page');
  await screenshot(page, 'group');
  await members.getByRole('checkbox', { name: `Seç: ${name}`, exact: true }).check();
  await page.getByRole('button', { name: 'Seçilenleri gruptan çıkar', exact: true }).click();
  await page.waitForLoadState('load');
  await check(page, (await members.locator(`a[href="/subscribers/${id}"]`).count()) === 0, 'expected the member gone');
  assert.deepEqual((await api('GET', `/groups/${group}/members`)).body.items, []);
  await checkNoProblems(page);
}));

test('every people page fits a 375-px phone screen', withPages(async (pages) => {
  const id = await subscriber(`Telefon-${run} ${'uzun-ad-'.repeat(8)}`);
  const group = (await api('POST', '/groups', { name: `Telefon ${run}` })).body.id;
  await api('POST', `/groups/${group}/members`, { subscriber_ids: [id] });
  const page = await admin(pages, 'phone');
  for (const path of ['/subscribers', `/subscribers/${id}`, '/groups', `/groups/${group}?find=Telefon`, '/customers']) {
    await open(page, path);
    await find(page, 'h1', `the heading of ${path}`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await check(page, width <= 375, `${path} scrolls sideways on a phone: scrollWidth ${width} > 375`);
    await axeCheck(page, `${path} on a phone`);
  }
  await checkNoProblems(page);
}));

test('a viewer sees the lists without marks or send buttons', withPages(async (pages) => {
  const login = `izleyici${run}`;
  await api('POST', '/users', { login, password: 'Izleyici-Parola-1', role: 'viewer' });
  const page = await pages.make('desktop');
  await signIn(page, 'default', login, 'Izleyici-Parola-1');
  for (const path of ['/subscribers', '/groups', '/customers']) {
    await open(page, path);
    await find(page, '[data-testid="rows"]', `the list of ${path}`);
    // In the page's own content: the menu's link to the send window (read-only for a viewer)
    // is no send action.
    const actions = await page.locator('main input[type=checkbox], main a[href^="/send"], main button:text-is("Toplu SMS")').count();
    await check(page, actions === 0, `${path} shows a viewer ${actions} mark(s) or send button(s)`);
    await axeCheck(page, `${path} for a viewer`);
  }
}));
