// The bulk-send window ("Toplu Mesaj Gönder") and a campaign's progress page: sending to a
// group with a template through the preview until every message is delivered, the live counter against
// `ulak count --json` for 50 texts, the UCS-2 hint and its replacement, refusals, the viewer,
// axe and a 375-px phone.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { api, axeCheck, check, checkNoProblems, env, find, screenshot, signIn, withPages } from '../lib/harness.js';

const ulakBin = process.env.ULAK_BIN;

/** The company's credit, a group "VIP" with 3 subscribers, and a template; ids by name. */
async function setUp() {
  await api('POST', '/credit/entries', { kind: 'purchase', amount: 100000 });
  await api('POST', '/groups', { name: 'VIP' }, { ok: [201, 409] });
  const groups = await api('GET', '/groups?search=VIP&limit=500');
  const vip = groups.body.items.find((g) => g.name === 'VIP');
  const ids = [];
  for (const [name, phone] of [['Ayşe', '05329990001'], ['Mehmet', '05329990002'], ['Zeynep', '05329990003']]) {
    await api('POST', '/subscribers', { name, phone }, { ok: [201, 409] });
    const found = await api('GET', `/subscribers?search=${phone.slice(1)}&limit=5`);
    ids.push(found.body.items[0].id);
  }
  await api('POST', `/groups/${vip.id}/members`, { subscriber_ids: ids });
  await api('POST', '/templates', { name: 'VIP duyurusu', body: 'Sayın {{ad}}, VIP indiriminiz başladı.' }, { ok: [201, 409] });
  return { vip: vip.id, subscribers: ids };
}

async function openSend(page) {
  await signIn(page, 'default', 'admin', env.adminPassword);
  await page.goto('/send');
  await find(page, 'h1:has-text("Toplu Mesaj Gönder")', 'the send window');
}

/** "Önizle", then "SMS gönder" on the preview: ends on the campaign's progress page. */
async function previewAndSend(page) {
  await page.getByRole('button', { name: 'Önizle', exact: true }).click();
  await find(page, 'h1:has-text("Gönderim önizlemesi")', 'the preview');
  await page.getByRole('button', { name: 'SMS gönder', exact: true }).click();
  await page.waitForURL(/\/campaigns\/\d+$/);
}

/** Types `text` into the message box and waits for the server's count of exactly that text. */
async function typeAndCount(page, text) {
  await page.locator('#text').fill(text);
  await page.waitForFunction(
    () => document.getElementById('counter').dataset.counted === document.getElementById('text').value,
    null,
    { timeout: 5000 },
  );
  const digits = async (id) => Number((await page.locator(id).innerText()).replace(/[^0-9]/g, ''));
  return {
    chars: await digits('#count-chars'),
    segments: await digits('#count-segments'),
    encoding: await page.locator('#count-encoding').getAttribute('data-encoding'),
  };
}

test('sending to group VIP with a template ends with every message delivered', withPages(async (pages) => {
  const { vip } = await setUp();
  const page = await pages.make('desktop');
  await openSend(page);
  await axeCheck(page, 'the send window');
  await page.locator(`input[name="group"][value="${vip}"]`).check();
  await page.locator('#template').selectOption({ label: 'VIP duyurusu' });
  await page.waitForFunction(() => document.getElementById('text').value.startsWith('Sayın {{ad}}'));
  await page.waitForFunction(
    () => document.getElementById('counter').dataset.counted === document.getElementById('text').value,
  );
  const cost = Number((await page.locator('#cost-value').innerText()).replace(/[^0-9]/g, ''));
  await check(page, cost >= 3, `expected a cost of at least 3 credits, the page shows ${cost}`);
  await screenshot(page, 'send');
  await previewAndSend(page);
  await axeCheck(page, 'the progress page');
  // The script polls every 2 s and reloads when the state changes: wait for the end.
  await page.waitForFunction(
    () => document.getElementById('progress-state')?.dataset.state === 'finished',
    null,
    { timeout: 30000 },
  );
  const delivered = await page.locator('[data-count="delivered"]').innerText();
  await check(page, delivered.trim() === '3', `expected 3 delivered messages, the page shows "${delivered}"`);
  const bar = await page.locator('#progress-bar').evaluate((b) => [b.value, b.max]);
  await check(page, bar[0] === 3 && bar[1] === 3, `expected a full progress bar of 3, it is ${bar}`);
  await checkNoProblems(page);
}));

/** 50 texts: Turkish, plain GSM, emoji, smart quotes, lengths 153–161 and 306–307. */
function texts() {
  const list = [
    'Merhaba dünya', 'Çağrı merkezimiz İstanbul’da değil', 'ŞİRKETİMİZ ığdır şubesi açıldı',
    'Güneşli günler dileriz, öğretmenim', 'Iİıi Ğğ Şş Çç Öö Üü', 'Hello world',
    'Price: 10 EUR {promo} [x] ~ ^ | \\ €', '@£$¥èéùìòÇØøÅå', 'Line one\nline two',
    'Merhaba 😀', '🎉🎉', 'a😀b', 'Kutlu olsun 🇹🇷', '“Kampanya” başladı', 'it’s ok',
    '‘tek’ tırnak', '„alt“ tırnak', 'Üç nokta…', 'Tire – ve — uzun tire', 'ÂâÎî şapkalı',
    'Sekme\tile',
  ];
  for (let n = 153; n <= 161; n += 1) list.push('a'.repeat(n));
  for (let n = 153; n <= 161; n += 1) list.push('ş'.repeat(n));
  for (const n of [306, 307]) {
    list.push('b'.repeat(n), 'ğ'.repeat(n), 'x'.repeat(n - 1) + '€');
  }
  for (const n of [67, 70, 71, 134]) list.push('😀' + 'c'.repeat(n - 2));
  list.push('€'.repeat(80));
  return list.filter((t) => t !== '');
}

test('the counter equals `ulak count --json` for 50 texts', withPages(async (pages) => {
  if (!ulakBin) throw new Error('ULAK_BIN is not set: run through scripts/e2e');
  const all = texts();
  if (all.length !== 50) throw new Error(`expected 50 texts, built ${all.length}`);
  const page = await pages.make('desktop');
  await openSend(page);
  for (const text of all) {
    const shown = await typeAndCount(page, text);
    const cli = JSON.parse(execFileSync(ulakBin, ['count', '--json'], { input: text, encoding: 'utf8' }));
    const want = { chars: cli.total_chars, segments: cli.segments, encoding: cli.encoding };
    await check(
      page,
      JSON.stringify(shown) === JSON.stringify(want),
      `the counter shows ${JSON.stringify(shown)} for ${JSON.stringify(text.slice(0, 40))} (${[...text].length} chars); ulak count says ${JSON.stringify(want)}`,
    );
  }
  await checkNoProblems(page);
}));

test('a smart quote is named and replaced in one click', withPages(async (pages) => {
  const page = await pages.make('desktop');
  await openSend(page);
  const before = await typeAndCount(page, '“Merhaba” dünya');
  await check(page, before.encoding === 'ucs2', `expected UCS-2, got ${before.encoding}`);
  const hint = page.locator('#count-hint');
  await check(page, await hint.isVisible(), 'expected the UCS-2 hint');
  await check(page, (await page.locator('#hint-char').innerText()) === '“', 'the hint names “');
  await axeCheck(page, 'the send window with the UCS-2 hint');
  await page.locator('#hint-replace').click();
  await page.waitForFunction(() => document.getElementById('text').value === '"Merhaba” dünya');
  await page.waitForFunction(() => document.getElementById('hint-char').textContent === '”');
  await page.locator('#hint-replace').click();
  await page.waitForFunction(
    () => document.getElementById('counter').dataset.counted === '"Merhaba" dünya',
  );
  const after = await page.locator('#count-encoding').getAttribute('data-encoding');
  await check(page, after !== 'ucs2', `expected a 7-bit encoding after the replacements, got ${after}`);
  await check(page, !(await hint.isVisible()), 'the hint is gone');
}));

test('a send without recipients is refused with a message', withPages(async (pages) => {
  const page = await pages.make('desktop');
  await openSend(page);
  await page.locator('#text').fill('Merhaba');
  await page.getByRole('button', { name: 'Önizle', exact: true }).click();
  await page.waitForLoadState('load');
  const alert = await find(page, '[role="alert"]', 'the refusal');
  const text = await alert.first().innerText();
  await check(page, text.includes('Alıcılar'), `expected the refusal to name "Alıcılar": ${text}`);
  await check(page, (await page.locator('#text').inputValue()) === 'Merhaba', 'the text is kept');
  await axeCheck(page, 'the send window with a refusal');
}));

test('a viewer sees no send button and posting anyway is refused', withPages(async (pages) => {
  await api('POST', '/users', { login: 'izleyici', password: 'Izleyici-Parola-1', role: 'viewer' }, { ok: [201, 409] });
  const page = await pages.make('desktop');
  await signIn(page, 'default', 'izleyici', 'Izleyici-Parola-1');
  await page.goto('/send');
  await find(page, '[data-testid="read-only"]', 'the read-only note');
  const buttons = await page.getByRole('button', { name: 'Önizle' }).count();
  await check(page, buttons === 0, 'a viewer must see no send button');
  const csrf = await page.locator('input[name="csrf"]').first().inputValue();
  const r = await page.request.post('/send', { form: { csrf, action: 'send', text: 'x', numbers: '05329990001' } });
  await check(page, r.status() === 403, `a viewer's POST /send answered ${r.status()}, not 403`);
  await axeCheck(page, 'the send window, read-only');
}));

test('the send window and the progress page fit a 375-px phone', withPages(async (pages) => {
  const page = await pages.make('phone');
  await openSend(page);
  let width = await page.evaluate(() => document.documentElement.scrollWidth);
  await check(page, width <= 375, `the send window scrolls sideways: scrollWidth ${width} > 375`);
  await axeCheck(page, 'the send window on a phone');
  await page.locator('#numbers').fill('05329990001');
  await page.locator('#text').fill('Telefondan deneme');
  await previewAndSend(page);
  width = await page.evaluate(() => document.documentElement.scrollWidth);
  await check(page, width <= 375, `the progress page scrolls sideways: scrollWidth ${width} > 375`);
  await axeCheck(page, 'the progress page on a phone');
}));

test('three customer accounts passed from "Toplu SMS" are the recipients', withPages(async (pages) => {
  const run = Date.now() % 100000;
  const ids = [];
  for (let i = 1; i <= 3; i += 1) {
    const body = { code: `GND-${run}-${i}`, title: `Gönderim carisi ${i}`, phones: [`0533${run.toString().padStart(5, '0')}${i}0`.slice(0, 11)] };
    ids.push((await api('POST', '/customers', body)).body.id);
  }
  const page = await pages.make('desktop');
  await signIn(page, 'default', 'admin', env.adminPassword);
  await page.goto(`/send?${ids.map((id) => `customers=${id}`).join('&')}`);
  const boxes = page.locator('input[name="customer"]:checked');
  await check(page, (await boxes.count()) === 3, `expected the 3 accounts checked, found ${await boxes.count()}`);
  await page.locator('#text').fill('Cari hesabınız için bilgilendirme');
  await previewAndSend(page);
  await page.waitForFunction(
    () => document.getElementById('progress-state')?.dataset.state === 'finished',
    null,
    { timeout: 30000 },
  );
  const delivered = await page.locator('[data-count="delivered"]').innerText();
  await check(page, delivered.trim() === '3', `expected 3 delivered messages, the page shows "${delivered}"`);
}));

test('a 5,000-number send is paused and resumed from its page', withPages(async (pages) => {
  await api('POST', '/credit/entries', { kind: 'purchase', amount: 20000 });
  const numbers = [];
  for (let i = 0; i < 5000; i += 1) numbers.push(`0535${String(1000000 + i).slice(1)}0`.slice(0, 11));
  const page = await pages.make('desktop');
  await openSend(page);
  // 60 kB typed key by key takes too long: pasted, as a person would.
  await page.locator('#numbers').evaluate((el, value) => {
    el.value = value;
    el.dispatchEvent(new Event('input'));
  }, numbers.join('\n'));
  await page.locator('#text').fill('Büyük gönderim');
  await previewAndSend(page);
  await page.getByRole('button', { name: 'Duraklat', exact: true }).click();
  await page.waitForLoadState('load');
  const paused = await page.locator('#progress-state').getAttribute('data-state');
  await check(page, paused === 'paused', `expected the send paused, it is ${paused}`);
  const settled = async () => Number((await page.locator('#progress-done').innerText()).replace(/[^0-9]/g, ''));
  const atPause = await settled();
  await check(page, atPause < 5000, `the pause came after every message settled (${atPause})`);
  await page.getByRole('button', { name: 'Sürdür', exact: true }).click();
  await page.waitForLoadState('load');
  await page.waitForFunction(
    () => document.getElementById('progress-state')?.dataset.state === 'finished',
    null,
    { timeout: 120000 },
  );
  const delivered = Number((await page.locator('[data-count="delivered"]').innerText()).replace(/[^0-9]/g, ''));
  await check(page, delivered === 5000, `expected 5.000 delivered after the resume, the page shows ${delivered}`);
}));
