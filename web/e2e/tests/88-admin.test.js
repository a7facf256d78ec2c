// Provider accounts, routing and system administration: an SMPP account made on the web, the
// built-in simulator's connection tested, a route added and deleted, a company opened with a
// first administrator who signs in, credit sold to it; axe on every new screen, on a desktop
// and on a 375-px phone. Names are unique to this run (the server is shared).
import { test } from 'node:test';
import { axeCheck, check, checkNoProblems, env, find, open, press, screenshot, signIn, withPages } from '../lib/harness.js';

const run = `${Date.now() % 1000000}`;

async function admin(pages, kind = 'desktop') {
  const page = await pages.make(kind);
  await signIn(page, 'default', 'admin', env.adminPassword);
  page.on('dialog', async (d) => {
    page.problems.push(`a dialog opened: ${d.message()}`);
    await d.dismiss();
  });
  return page;
}

test('provider accounts: the simulator binds, an SMPP account is made and kept', withPages(async (pages) => {
  const page = await admin(pages);
  await open(page, '/settings/providers');
  await axeCheck(page, 'the provider list');
  await page.getByRole('link', { name: 'Simülatör' }).click();
  await page.waitForLoadState('load');
  await press(page, 'form[action$="/test"]', 'Bağlantıyı sına');
  const result = await find(page, '[data-testid="tested"]', 'the test result');
  await check(page, (await result.getAttribute('data-ok')) === 'true', `the simulator should bind: ${await result.innerText()}`);
  await axeCheck(page, 'a tested account');
  await screenshot(page, 'settings-provider-test');
  await open(page, '/settings/providers/new');
  await axeCheck(page, 'the new account form');
  const name = `Operatör ${run}`;
  await page.locator('#p-name').fill(name);
  await page.locator('#p-host').fill('smpp.operator.example.com');
  await page.locator('#p-port').fill('2775');
  await page.locator('#p-system-id').fill('ulak');
  await page.locator('#p-password').fill('gizli-parola');
  await press(page, 'form[action="/settings/providers"]', 'Kaydet');
  await check(page, /\/settings\/providers\/\d+$/.test(new URL(page.url()).pathname), `expected the account's page, got ${page.url()}`);
  await check(page, (await page.locator('#p-password').inputValue()) === '', 'the password is never shown back');
  await find(page, 'text=Kayıtlı bir parola var', 'the stored-password hint');
  await checkNoProblems(page);
}));

test('routes: an admin adds a rule and deletes it', withPages(async (pages) => {
  const page = await admin(pages);
  await open(page, '/settings/routes');
  await find(page, 'h1:has-text("Yönlendirme kuralları")', 'the routes page');
  await axeCheck(page, 'the routes page');
  const prefix = `90${run}`.slice(0, 12);
  await page.locator('#r-position').fill('7');
  await page.locator('#r-prefix').fill(prefix);
  await page.locator('#r-account-1').selectOption({ label: 'Simülatör' });
  await page.locator('#r-weight-1').fill('2');
  await press(page, '[data-testid="route-form"]', 'Kaydet');
  const row = page.locator('tr', { hasText: `+${prefix}` });
  await check(page, (await row.count()) === 1, 'expected the new rule in the list');
  await axeCheck(page, 'the routes page with a rule');
  await screenshot(page, 'settings-routes');
  await row.getByRole('checkbox').check();
  await row.getByRole('button', { name: 'Sil', exact: true }).click();
  await page.waitForLoadState('load');
  await check(page, (await page.locator('tr', { hasText: `+${prefix}` }).count()) === 0, 'the rule is gone');
  await checkNoProblems(page);
}));

test('system administration: a company with its first administrator, and credit', withPages(async (pages) => {
  const page = await admin(pages);
  await open(page, '/');
  await page.getByRole('link', { name: 'Sistem yönetimi' }).click();
  await page.waitForLoadState('load');
  await find(page, 'h1:has-text("Sistem yönetimi")', 'the admin page');
  await axeCheck(page, 'the companies page');
  const name = `firma${run}`;
  await page.locator('#c-name').fill(name);
  await page.locator('#c-display').fill(`Firma ${run}`);
  await page.locator('#c-login').fill('patron');
  await page.locator('#c-password').fill('Patron-Parola-1');
  await press(page, 'form[action="/admin/companies"]', 'Şirketi aç');
  const row = page.locator('tr', { hasText: name });
  await check(page, (await row.count()) === 1, 'expected the new company in the list');
  await row.locator('input[name="amount"]').fill('2500');
  await row.getByRole('button', { name: 'Yükle', exact: true }).click();
  await page.waitForLoadState('load');
  const balance = (await page.locator('tr', { hasText: name }).locator('td').nth(3).innerText()).trim();
  await check(page, balance === '2.500', `expected 2.500 credits, got ${balance}`);
  await screenshot(page, 'admin-companies');
  const patron = await pages.make('desktop');
  await signIn(patron, name, 'patron', 'Patron-Parola-1');
  await check(patron, new URL(patron.url()).pathname === '/', `the first administrator signs in: ${patron.url()}`);
  await check(patron, (await patron.locator('a[href="/admin/companies"]').count()) === 0, 'no admin link for them');
  const r = await open(patron, '/admin/companies');
  await check(patron, r.status() === 403, `expected 403, got ${r.status()}`);
  await checkNoProblems(page);
}));

test('the new screens fit a 375-px phone', withPages(async (pages) => {
  const page = await admin(pages, 'phone');
  for (const path of ['/settings/providers/new', '/settings/routes', '/admin/companies']) {
    await open(page, path);
    await find(page, 'h1', `the heading of ${path}`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await check(page, width <= 375, `${path} scrolls sideways on a phone: scrollWidth ${width} > 375`);
    await axeCheck(page, `${path} on a phone`);
  }
  await checkNoProblems(page);
}));
