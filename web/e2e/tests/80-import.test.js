// The import wizard: the README's CSV into group VIP (step 1 upload, step 2 mapping over a
// preview, step 3 the result), then the group page lists the members; row errors shown as
// text and downloadable; a viewer gets no form; axe and a 375-px phone on every step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, axeCheck, check, checkNoProblems, env, find, open, screenshot, signIn, withPages } from '../lib/harness.js';

const XSS = '<script>alert(1)</script>';
// The README's example file, byte for byte.
const README_CSV = 'Ad Soyad;Telefon;TC;Bakiye\nAyşe Yılmaz;0532 123 45 67;10000000146;120,50\nMehmet Demir;+90 542 987 65 43;;80,00\n';

async function admin(pages, kind = 'desktop') {
  const page = await pages.make(kind);
  await signIn(page, 'default', 'admin', env.adminPassword);
  page.on('dialog', async (d) => {
    page.problems.push(`a dialog opened: ${d.message()}`);
    await d.dismiss();
  });
  return page;
}

async function vipId() {
  const groups = await api('GET', '/groups?search=VIP&limit=500');
  return groups.body.items.find((g) => g.name === 'VIP')?.id;
}

/** Step 1: the file, subscribers, and the group (an existing one by name, or a new one). */
async function upload(page, csv, { group, newGroup } = {}) {
  await open(page, '/import');
  await page.locator('#file').setInputFiles({ name: 'aboneler.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  if (group) await page.locator('#group').selectOption({ label: group });
  if (newGroup) await page.locator('#new_group').fill(newGroup);
  await page.getByRole('button', { name: 'Devam', exact: true }).click();
  await page.waitForLoadState('load');
  await find(page, '[data-testid="preview"]', 'the preview of the first rows');
}

test('the README\'s CSV goes into group VIP through the wizard', withPages(async (pages) => {
  const page = await admin(pages);
  const existing = await vipId();
  await upload(page, README_CSV, existing ? { group: 'VIP' } : { newGroup: 'VIP' });
  await axeCheck(page, 'the mapping step');
  const preview = page.locator('[data-testid="preview"]');
  await check(page, (await preview.getByText('Ayşe Yılmaz').count()) === 1, 'expected the first row in the preview');
  await page.locator('#map-name').selectOption('Ad Soyad');
  await page.locator('#map-phone').selectOption('Telefon');
  await page.locator('#map-tckn').selectOption('TC');
  await page.getByRole('checkbox', { name: 'Bakiye', exact: true }).check();
  await screenshot(page, 'import-mapping');
  await page.getByRole('button', { name: 'İçe aktar', exact: true }).click();
  await page.waitForLoadState('load');
  await find(page, '[data-testid="summary"]', 'the result of the import');
  const imported = Number(await page.locator('[data-testid="imported"]').innerText());
  const added = Number(await page.locator('[data-testid="added"]').innerText());
  await check(page, imported + added === 2, `expected both rows imported or added, got ${imported} + ${added}`);
  await axeCheck(page, 'the result step');
  await screenshot(page, 'import-result');
  const vip = await vipId();
  const members = (await api('GET', `/groups/${vip}/members?limit=500`)).body.items;
  const ours = members.filter((m) => ['+905321234567', '+905429876543'].includes(m.phone));
  assert.equal(ours.length, 2, `VIP members: ${JSON.stringify(members)}`);
  await open(page, `/groups/${vip}`);
  const table = page.locator('[data-testid="members"]');
  for (const m of ours) {
    await check(page, (await table.locator(`a[href="/subscribers/${m.id}"]`).count()) === 1, `expected member ${m.phone} on the group page`);
  }
  await checkNoProblems(page);
}));

test('row errors show as text and download as CSV', withPages(async (pages) => {
  const page = await admin(pages);
  await upload(page, `name,phone\n${XSS},12\n`);
  await check(page, (await page.locator('[data-testid="preview"]').getByText(XSS).count()) === 1, 'the cell shows as text');
  await page.locator('#mode').selectOption('skip-invalid');
  await page.getByRole('button', { name: 'İçe aktar', exact: true }).click();
  await page.waitForLoadState('load');
  const errors = await find(page, '[data-testid="errors"]', 'the row errors');
  await check(page, (await errors.locator('tbody tr').count()) === 1, 'expected one row error');
  const href = await page.locator('[data-testid="errors-csv"]').getAttribute('href');
  const csv = await page.evaluate(async (h) => (await fetch(h)).text(), href);
  await check(page, csv.startsWith('row,column,reason\r\n2,"phone",'), `unexpected errors CSV: ${csv}`);
  await axeCheck(page, 'the result with errors');
  await checkNoProblems(page);
}));

test('every step fits a 375-px phone screen', withPages(async (pages) => {
  const page = await admin(pages, 'phone');
  const fits = async (what) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await check(page, width <= 375, `${what} scrolls sideways on a phone: scrollWidth ${width} > 375`);
    await axeCheck(page, `${what} on a phone`);
  };
  await open(page, '/import');
  await fits('the upload step');
  const wide = `${'uzun-sutun-adi-'.repeat(4)},phone\n${'uzun-deger-'.repeat(8)},05329990011\n`;
  await upload(page, wide);
  await fits('the mapping step');
  await page.getByRole('button', { name: 'İçe aktar', exact: true }).click();
  await page.waitForLoadState('load');
  await fits('the result step');
  await checkNoProblems(page);
}));

test('a viewer sees no upload form', withPages(async (pages) => {
  const login = `izleyici-ice${Date.now() % 100000}`;
  await api('POST', '/users', { login, password: 'Izleyici-Parola-1', role: 'viewer' });
  const page = await pages.make('desktop');
  await signIn(page, 'default', login, 'Izleyici-Parola-1');
  await open(page, '/import');
  await find(page, '[data-testid="read-only"]', 'the read-only note');
  await check(page, (await page.locator('main input[type=file]').count()) === 0, 'a viewer sees an upload form');
  await axeCheck(page, 'the import page for a viewer');
}));

test('a template is created and edited with the live counter, and previewed on sample fields', withPages(async (pages) => {
  const page = await admin(pages);
  const name = `${XSS} ${Date.now() % 100000}`;
  await open(page, '/templates');
  await axeCheck(page, 'the template list');
  await page.locator('#name').fill(name);
  await page.locator('#text').fill('Sayın {{ad}}, bakiyeniz {{bakiye}} TL.');
  const counter = page.locator('#counter');
  await page.waitForFunction(() => document.getElementById('counter').dataset.counted.endsWith('TL.'));
  await check(page, (await page.locator('#count-chars').innerText()) === '38', 'expected 38 characters counted');
  await check(page, (await counter.locator('#count-segments').innerText()) === '1', 'expected 1 segment');
  await page.getByRole('button', { name: 'Şablonu kaydet', exact: true }).click();
  await page.waitForLoadState('load');
  const h1 = await find(page, 'h1', 'the template heading');
  assert.equal((await h1.innerText()).trim(), name);
  const preview = await find(page, '[data-testid="preview"]', 'the preview');
  assert.equal((await preview.innerText()).trim(), 'Sayın Ayşe Yılmaz, bakiyeniz [bakiye] TL.');
  await page.getByLabel('bakiye için örnek değer', { exact: true }).fill('120,50');
  await page.getByRole('button', { name: 'Önizle', exact: true }).click();
  await page.waitForLoadState('load');
  assert.equal((await page.locator('[data-testid="preview"]').innerText()).trim(), 'Sayın Ayşe Yılmaz, bakiyeniz 120,50 TL.');
  await axeCheck(page, 'the template page');
  // Editing: a smart quote makes the text UCS-2 and the counter says so while typing.
  await page.locator('#text').fill('“Merhaba” {{ad}}');
  await page.waitForFunction(() => document.getElementById('counter').dataset.counted.startsWith('“'));
  await check(page, (await page.locator('#count-encoding').getAttribute('data-encoding')) === 'ucs2', 'expected UCS-2');
  await check(page, await page.locator('#count-hint').isVisible(), 'expected the hint naming the smart quote');
  await page.getByRole('button', { name: 'Değişiklikleri kaydet', exact: true }).click();
  await page.waitForLoadState('load');
  assert.equal((await page.locator('[data-testid="preview"]').innerText()).trim(), '“Merhaba” Ayşe Yılmaz');
  await screenshot(page, 'template');
  await checkNoProblems(page);
}));

test('the template pages fit a 375-px phone screen', withPages(async (pages) => {
  const made = await api('POST', '/templates', { name: `Telefon ${Date.now() % 100000}`, body: `${'uzun-kelime-'.repeat(10)} {{ad}}` });
  const page = await admin(pages, 'phone');
  for (const path of ['/templates', `/templates/${made.body.id}`]) {
    await open(page, path);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await check(page, width <= 375, `${path} scrolls sideways on a phone: scrollWidth ${width} > 375`);
    await axeCheck(page, `${path} on a phone`);
  }
  await checkNoProblems(page);
}));
