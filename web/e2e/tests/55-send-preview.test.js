// The send window's preview step: who is left out and why, sample messages and the cost;
// "Düzenle" back to the form with everything kept, "SMS gönder" to the progress page; the
// subscriber picker and field insertion with the script; axe on desktop and a 375-px phone.
import { test } from 'node:test';
import { api, axeCheck, check, checkNoProblems, env, find, screenshot, signIn, withPages } from '../lib/harness.js';

/** Credit, a subscriber who opted out and one who did not; their ids. */
async function setUp() {
  await api('POST', '/credit/entries', { kind: 'purchase', amount: 1000 });
  const ids = {};
  for (const [key, name, phone, consent] of [
    ['ok', 'Önizleme Ayşe', '05327770001', 'opted_in'],
    ['out', 'Önizleme Ret', '05327770002', 'opted_out'],
  ]) {
    await api('POST', '/subscribers', { name, phone, consent }, { ok: [201, 409] });
    const found = await api('GET', `/subscribers?search=${phone.slice(1)}&limit=5`);
    ids[key] = found.body.items[0].id;
  }
  return ids;
}

async function openSend(page, query = '') {
  await signIn(page, 'default', 'admin', env.adminPassword);
  await page.goto(`/send${query}`);
  await find(page, 'h1:has-text("Toplu Mesaj Gönder")', 'the send window');
}

const cell = async (page, id) => (await page.locator(`[data-testid="${id}"]`).innerText()).trim();

test('the preview names who is left out, shows samples and cost, and Düzenle keeps the form', withPages(async (pages) => {
  const ids = await setUp();
  const page = await pages.make('desktop');
  await openSend(page, `?subscribers=${ids.ok},${ids.out}`);
  await page.locator('#numbers').fill('05327770003\n12345');
  await page.locator('#text').fill('Merhaba {{telefon}}');
  await page.locator('#validity').selectOption('2');
  await page.getByRole('button', { name: 'Önizle', exact: true }).click();
  await find(page, 'h1:has-text("Gönderim önizlemesi")', 'the preview');
  await check(page, (await cell(page, 'recipients')) === '2', `expected 2 recipients, the page shows ${await cell(page, 'recipients')}`);
  await check(page, (await cell(page, 'skipped')) === '2', `expected 2 left out, the page shows ${await cell(page, 'skipped')}`);
  const reasons = await page.locator('[data-testid="reasons"]').innerText();
  await check(page, reasons.includes('İleti izni yok') && reasons.includes('Geçersiz telefon numarası'), `the reasons: ${reasons}`);
  await check(page, reasons.includes('+90532*****02') && !reasons.includes('05327770002'), `a masked example: ${reasons}`);
  const samples = await page.locator('[data-testid="samples"] li').count();
  await check(page, samples === 2, `expected 2 sample messages (one per recipient), found ${samples}`);
  await check(page, (await cell(page, 'validity')) === '2 saat', 'the validity chosen');
  await axeCheck(page, 'the preview');
  await screenshot(page, 'send-preview');
  await page.getByRole('button', { name: 'Düzenle', exact: true }).click();
  await find(page, 'h1:has-text("Toplu Mesaj Gönder")', 'the send window again');
  await check(page, (await page.locator('#text').inputValue()) === 'Merhaba {{telefon}}', 'the text is kept');
  await check(page, (await page.locator('#numbers').inputValue()) === '05327770003\n12345', 'the numbers are kept');
  await check(page, (await page.locator('#validity').inputValue()) === '2', 'the validity is kept');
  const picked = await page.locator('input[name="subscriber"]:checked').count();
  await check(page, picked === 2, `the 2 subscribers are still picked (${picked})`);
  await page.getByRole('button', { name: 'Önizle', exact: true }).click();
  await find(page, 'h1:has-text("Gönderim önizlemesi")', 'the preview again');
  await page.getByRole('button', { name: 'SMS gönder', exact: true }).click();
  await page.waitForURL(/\/campaigns\/\d+$/);
  await page.waitForFunction(
    () => document.getElementById('progress-state')?.dataset.state === 'finished',
    null,
    { timeout: 30000 },
  );
  const delivered = await page.locator('[data-count="delivered"]').innerText();
  await check(page, delivered.trim() === '2', `expected 2 delivered messages, the page shows "${delivered}"`);
  await checkNoProblems(page);
}));

test('the picker adds a subscriber found as one types, and a field goes in at the caret', withPages(async (pages) => {
  const ids = await setUp();
  const page = await pages.make('desktop');
  await openSend(page);
  await page.locator('#find').fill('Önizleme Ay');
  const add = page.locator('#found button', { hasText: 'Ekle' });
  await add.first().waitFor({ timeout: 5000 });
  await axeCheck(page, 'the send window with the picker open');
  await add.first().click();
  const box = page.locator(`#picked-subscribers input[name="subscriber"][value="${ids.ok}"]`);
  await check(page, await box.isChecked(), 'the subscriber found is picked');
  await page.locator('#text').fill('Sayın , hoş geldiniz');
  await page.locator('#text').evaluate((el) => el.setSelectionRange(6, 6));
  await page.locator('#field').selectOption('ad');
  await page.getByRole('button', { name: 'Alanı ekle', exact: true }).click();
  const text = await page.locator('#text').inputValue();
  await check(page, text === 'Sayın {{ad}}, hoş geldiniz', `the field at the caret: ${JSON.stringify(text)}`);
  await page.waitForFunction(() => document.getElementById('cost-recipients').textContent.trim() === '1');
  await page.getByRole('button', { name: 'Önizle', exact: true }).click();
  await find(page, 'h1:has-text("Gönderim önizlemesi")', 'the preview');
  const sample = await page.locator('[data-testid="samples"]').innerText();
  await check(page, sample.includes('Sayın Önizleme Ayşe, hoş geldiniz'), `the sample is filled in: ${sample}`);
}));

test('the preview fits a 375-px phone', withPages(async (pages) => {
  const ids = await setUp();
  const page = await pages.make('phone');
  await openSend(page, `?subscribers=${ids.ok},${ids.out}`);
  await page.locator('#numbers').fill('12345');
  await page.locator('#text').fill('Telefondan önizleme');
  await page.getByRole('button', { name: 'Önizle', exact: true }).click();
  await find(page, 'h1:has-text("Gönderim önizlemesi")', 'the preview');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await check(page, width <= 375, `the preview scrolls sideways: scrollWidth ${width} > 375`);
  await axeCheck(page, 'the preview on a phone');
  await screenshot(page, 'send-preview-phone');
}));
