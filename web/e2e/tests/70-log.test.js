// The message log, a message's timeline and the inbox: messages sent through the REST API
// show in the log, filter by state and recipient, reach "delivered" in the timeline (the
// built-in simulator delivers); an inbound message appears in the inbox and is answered from
// there; a viewer cannot answer; a script in a text stays text.
import { test, before } from 'node:test';
import {
  api, axeCheck, check, checkNoProblems, env, fail, find, press, screenshot, signIn, WAIT_MS, withPages,
} from '../lib/harness.js';

const XSS = '<script>alert(1)</script>';
const INBOUND_FROM = '+905321112233';
let sent = [];

before(async () => {
  await api('POST', '/credit/entries', { kind: 'purchase', amount: 100000 });
  sent = [];
  for (const [to, text] of [['05321234567', XSS], ['05327654321', 'Merhaba, randevunuz yarın 10:00.'],
    ['05321234567', 'Kargonuz yola çıktı.']]) {
    const r = await api('POST', '/messages', { to, text });
    sent.push(r.body.id);
  }
  await api('POST', '/users', { login: 'log-izleyici', password: 'Dogru-Parola-1', role: 'viewer' }, { ok: [201] });
});

/**
 * Watches for dialogs: a script that ran (alert) would open one. Each is dismissed and kept;
 * `checkNoDialogs` fails the test when there was any.
 */
function noDialogs(page) {
  page.dialogs = [];
  page.on('dialog', (d) => {
    page.dialogs.push(`"${d.message()}" on ${page.url()}`);
    d.dismiss().catch(() => {});
  });
}

async function checkNoDialogs(page) {
  await check(page, page.dialogs.length === 0, `a dialog opened, so a script ran: ${page.dialogs.join(', ')}`);
}

async function noSidewaysScroll(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await check(page, width <= 375, `${what} scrolls sideways on a phone: scrollWidth ${width} > 375`);
}

/** The ids of the log's rows. */
async function rowIds(page) {
  return page.locator('[data-testid="message-log"] tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
}

/** Reloads until `selector` is on the page (the engine works in the background). */
async function reloadUntil(page, selector, what) {
  const deadline = Date.now() + 6 * WAIT_MS;
  while (await page.locator(selector).count() === 0) {
    if (Date.now() > deadline) await find(page, selector, what);
    await page.waitForTimeout(250);
    await page.reload({ waitUntil: 'load' });
  }
}

test('the log lists the sent messages and filters by recipient and state', withPages(async (pages) => {
  const page = await pages.make('desktop');
  noDialogs(page);
  await signIn(page, 'default', 'admin', env.adminPassword);
  await page.goto('/messages');
  await find(page, '[data-testid="message-log"]', 'the message log');
  const ids = await rowIds(page);
  for (const id of sent) await check(page, ids.includes(id), `expected message ${id} in the log, rows: ${ids}`);
  await axeCheck(page, 'the message log');
  await checkNoProblems(page);
  await screenshot(page, 'message-log');

  await page.locator('#recipient').fill('0532 765 43 21');
  await press(page, 'form.filters', 'Süz');
  let shown = await rowIds(page);
  await check(page, shown.length === 1 && shown[0] === sent[1], `filtered by recipient, expected only ${sent[1]}, got ${shown}`);

  // Every message gets delivered; then the "delivered" filter lists them all, "failed" none.
  await page.goto('/messages?state=delivered');
  const deadline = Date.now() + 6 * WAIT_MS;
  for (;;) {
    shown = await rowIds(page);
    if (sent.every((id) => shown.includes(id))) break;
    if (Date.now() > deadline) fail(`not all delivered in time: ${shown}`);
    await page.waitForTimeout(250);
    await page.reload({ waitUntil: 'load' });
  }
  await check(page, (await page.locator('#state').inputValue()) === 'delivered', 'the state filter keeps its value');
  await page.locator('#state').selectOption('failed');
  await press(page, 'form.filters', 'Süz');
  await find(page, '[data-testid="no-messages"]', 'the empty-result message');
  await axeCheck(page, 'the message log with no result');
  await checkNoDialogs(page);
}));

test('a message\'s timeline reaches delivered and its text stays text', withPages(async (pages) => {
  const page = await pages.make('desktop');
  noDialogs(page);
  await signIn(page, 'default', 'admin', env.adminPassword);
  await page.goto('/messages');
  await page.locator(`tr[data-id="${sent[0]}"] a`).first().click();
  await page.waitForLoadState('load');
  await check(page, new URL(page.url()).pathname === `/messages/${sent[0]}`, 'the row opens its message');
  await reloadUntil(page, '[data-testid="state"][data-state="delivered"]', 'the state "İletildi"');
  const text = await page.locator('[data-testid="text"]').innerText();
  await check(page, text.trim() === XSS, `the text must show as typed, got "${text}"`);
  const steps = await page.locator('[data-testid="timeline"] li').allInnerTexts();
  await check(page, steps[0].includes('Kabul edildi') && steps.some((s) => s.includes('İletildi')),
    `the timeline runs from accepted to delivered: ${steps.join(' | ')}`);
  await find(page, '[data-testid="parts"] td', 'the operator\'s message id');
  await check(page, (await page.locator('[data-testid="pending"]').count()) === 0, 'a delivered message is final');
  await axeCheck(page, 'a message');
  await checkNoProblems(page);
  await screenshot(page, 'message');
  await checkNoDialogs(page);
}));

/**
 * Sends a mobile-originated message the way a handset would: the inbox's administrator form
 * hands it to the built-in simulator, which delivers it to the company's account as a
 * deliver_sm; the engine reassembles and stores it. Waits until the inbox shows it.
 */
async function sendFromHandset(page, text) {
  await page.goto('/inbox');
  const form = page.locator('[data-testid="simulate"]');
  await form.locator('summary').click();
  await form.getByLabel('Gönderen telefon numarası').fill(INBOUND_FROM);
  await form.getByLabel('Mesaj metni').fill(text);
  await form.getByRole('button', { name: 'Simülatöre gönder', exact: true }).click();
  await page.waitForLoadState('load');
  await find(page, '[data-testid="simulated"]', 'the confirmation that the simulator took the message');
  const deadline = Date.now() + 4 * WAIT_MS;
  for (;;) {
    const texts = await page.locator('[data-testid="inbox"] [data-testid="text"]').allInnerTexts();
    if (texts.some((t) => t === text)) return;
    if (Date.now() > deadline) fail(`the inbound message never reached the inbox: ${texts}`);
    await page.waitForTimeout(200);
    await page.reload();
  }
}

test('an inbound message shows in the inbox and is answered from there', withPages(async (pages) => {
  await api('POST', '/subscribers', { name: XSS, phone: '0532 111 22 33' }, { ok: [201] });
  const page = await pages.make('desktop');
  noDialogs(page);
  await signIn(page, 'default', 'admin', env.adminPassword);
  await sendFromHandset(page, `Randevumu ertelemek istiyorum ${XSS}`);
  const item = page.locator('[data-testid="inbox"] li', { hasText: 'Randevumu ertelemek' }).last();
  await item.waitFor({ state: 'attached' }).catch(async () => find(page, '[data-testid="inbox"] li', 'the inbound message'));
  const body = await item.locator('[data-testid="text"]').innerText();
  await check(page, body.includes(XSS), `the inbound text shows as typed: "${body}"`);
  const meta = await item.locator('.meta').innerText();
  await check(page, meta.includes(INBOUND_FROM) && meta.includes(XSS), `the sender and the subscriber's name show: "${meta}"`);
  await check(page, (await item.locator('[data-testid="unread"]').count()) === 1, 'a new inbound message is marked unread');
  await find(page, '#unmatched', 'the unmatched receipts section (administrator)');
  await axeCheck(page, 'the inbox');
  await screenshot(page, 'inbox');

  await item.locator('summary').click();
  await item.locator('textarea').fill('Tabii, yeni saatinizi yazmanız yeterli.');
  await item.getByRole('button', { name: 'Yanıtı gönder', exact: true }).click();
  await page.waitForLoadState('load');
  await find(page, '[data-testid="reply-sent"]', 'the confirmation of the reply');
  const answered = page.locator('[data-testid="inbox"] li', { hasText: 'Randevumu ertelemek' }).last();
  await check(page, (await answered.locator('[data-testid="unread"]').count()) === 0, 'an answered message is read');
  await axeCheck(page, 'the inbox after a reply');
  await page.locator('[data-testid="reply-sent"] a').click();
  await page.waitForLoadState('load');
  const to = await page.locator('dl.facts').innerText();
  await check(page, to.includes(INBOUND_FROM), `the reply goes to the sender: ${to}`);
  await page.goto(`/messages?recipient=${encodeURIComponent('05321112233')}`);
  const ids = await rowIds(page);
  await check(page, ids.length === 1, `the reply is in the log: ${ids}`);
  await checkNoProblems(page);
  await checkNoDialogs(page);
}));

test('a viewer sees the inbox without a reply button and is refused when posting', withPages(async (pages) => {
  const page = await pages.make('desktop');
  noDialogs(page);
  await signIn(page, 'default', 'log-izleyici', 'Dogru-Parola-1');
  await page.goto('/inbox');
  await find(page, '[data-testid="inbox"]', 'the inbox');
  await check(page, (await page.locator('form[action="/inbox/reply"]').count()) === 0, 'a viewer gets no reply form');
  await check(page, (await page.locator('form[action="/inbox/read"]').count()) === 0, 'a viewer gets no mark-read button');
  await check(page, (await page.locator('#unmatched').count()) === 0, 'a viewer gets no unmatched receipts');
  const csrf = await page.locator('form[action="/logout"] input[name="csrf"]').inputValue();
  const r = await page.request.post('/inbox/reply', {
    form: { csrf, inbound: '1', to: INBOUND_FROM, text: 'izinsiz' },
    maxRedirects: 0,
  });
  await check(page, r.status() === 403, `a viewer's reply must be refused with 403, got ${r.status()}`);
  const noToken = await page.request.post('/inbox/reply', {
    form: { inbound: '1', to: INBOUND_FROM, text: 'izinsiz' },
    maxRedirects: 0,
  });
  await check(page, noToken.status() === 403, `a post without the CSRF token must be 403, got ${noToken.status()}`);
  await axeCheck(page, 'the inbox of a viewer');
  await checkNoDialogs(page);
}));

test('the log, a message and the inbox fit a 375-px phone screen', withPages(async (pages) => {
  const page = await pages.make('phone');
  noDialogs(page);
  await signIn(page, 'default', 'admin', env.adminPassword);
  for (const [where, what] of [['/messages', 'the message log'], [`/messages/${sent[0]}`, 'a message'], ['/inbox', 'the inbox']]) {
    await page.goto(where);
    await find(page, 'h1', `the heading of ${what}`);
    await noSidewaysScroll(page, what);
    await axeCheck(page, `${what} on a phone`);
  }
  await checkNoProblems(page);
  await checkNoDialogs(page);
}));
