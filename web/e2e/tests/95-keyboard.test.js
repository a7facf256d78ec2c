// By keyboard alone: signing in, going to the send window, writing to two numbers, the
// preview and the send, with Tab, typing and Enter only. Every element the Tab key stops at is
// on screen and shows where the focus is; the skip link comes first and appears when focused;
// Tab leads through the whole send window and back without getting stuck.
import { test } from 'node:test';
import { api, check, checkNoProblems, env, find, open, signIn, withPages } from '../lib/harness.js';

/** Where the focus is: a short description, whether it is visible on screen, its outline. */
async function focused(page) {
  return page.evaluate(async () => {
    // After a frame: the style of what just took the focus is settled.
    await new Promise((done) => requestAnimationFrame(() => done()));
    const el = document.activeElement;
    if (!el || el === document.body) return { what: 'body', visible: false, outlined: false };
    el.scrollIntoView({ block: 'nearest' });
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    const visible = r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0
      && r.left < innerWidth && r.top < innerHeight && style.visibility !== 'hidden';
    // A date field's calendar button is a stop of its own inside the field, which Chromium
    // rings itself: the field is then the active element without matching :focus.
    const inner = !el.matches(':focus');
    const outlined = inner || (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0);
    const what = `<${el.tagName.toLowerCase()}${el.id ? ` id=${el.id}` : ''}${
      el.getAttribute('href') ? ` href=${el.getAttribute('href')}` : ''}> "${(el.innerText || el.value || '').slice(0, 30)}"`;
    return { what, visible, outlined, why: `outline ${style.outlineStyle} ${style.outlineWidth}, box ${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}x${Math.round(r.height)}` };
  });
}

/** Presses Tab until the focus is on `selector` (at most `most` times); every stop on the way
 *  must be visible and outlined. */
async function tabTo(page, selector, most = 60) {
  const seen = [];
  for (let i = 0; i < most; i += 1) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f.what === 'body') continue;
    seen.push(f.what);
    await check(page, f.visible, `the focused element is not on screen: ${f.what}`);
    await check(page, f.outlined, `the focused element shows no focus outline: ${f.what} (${f.why})`);
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  await check(page, false, `Tab never reached ${selector} in ${most} presses; it went: ${seen.join(' → ')}`);
}

test('signing in, writing and sending by keyboard alone', withPages(async (pages) => {
  await api('POST', '/credit/entries', { kind: 'purchase', amount: 1000 });
  const page = await pages.make('desktop');
  await open(page, '/login');
  // The user name has the focus on arrival; the company field is one Shift+Tab before it.
  await check(page, (await focused(page)).what.includes('id=username'), 'the sign-in page should focus the user name');
  await page.keyboard.press('Shift+Tab');
  await check(page, (await focused(page)).what.includes('id=company'), 'Shift+Tab should reach the company');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('default');
  await tabTo(page, '#username', 1);
  await page.keyboard.type('admin');
  await tabTo(page, '#password', 1);
  await page.keyboard.type(env.adminPassword);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  await find(page, 'a[href="/send"]', 'the menu after signing in');

  await tabTo(page, 'a[href="/send"]');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/send$/);
  await find(page, 'h1:has-text("Toplu Mesaj Gönder")', 'the send window');
  // First stop: the skip link, shown when focused; Enter on it leaves the menu behind.
  await page.keyboard.press('Tab');
  const skip = await focused(page);
  await check(page, skip.what.includes('href=#main') && skip.visible && skip.outlined,
    `the first Tab stop should be the visible skip link, not ${skip.what}`);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  const inMain = await page.evaluate(() => document.getElementById('main').contains(document.activeElement));
  await check(page, inMain, `after the skip link the next Tab should be in the page, not ${(await focused(page)).what}`);
  await tabTo(page, '#numbers');
  await page.keyboard.type('05329998801\n05329998802');
  await tabTo(page, '#text');
  await page.keyboard.type('Klavyeyle gönderildi.');
  await page.waitForFunction(
    () => document.getElementById('counter').dataset.counted === document.getElementById('text').value,
  );
  await tabTo(page, 'button[value="preview"]');
  await page.keyboard.press('Enter');
  await find(page, 'h1:has-text("Gönderim önizlemesi")', 'the preview');
  const recipients = (await page.locator('[data-testid="recipients"]').innerText()).trim();
  await check(page, recipients === '2', `the preview should count 2 recipients, not "${recipients}"`);
  await tabTo(page, 'button[value="send"]');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/campaigns\/\d+$/);
  await find(page, '[data-testid="total"]', 'the progress page');
  await checkNoProblems(page);
}));

test('Tab leads through the whole send window and back to its start', withPages(async (pages) => {
  const page = await pages.make('desktop');
  await signIn(page, 'default', 'admin', env.adminPassword);
  await open(page, '/send');
  await find(page, '#text', 'the send window');
  await page.keyboard.press('Tab');
  const start = await focused(page);
  const stops = [start.what];
  let back = false;
  for (let i = 0; i < 200 && !back; i += 1) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f.what === 'body') continue;
    if (f.what === start.what) {
      back = true;
      break;
    }
    await check(page, f.visible && f.outlined, `a Tab stop hidden or without outline: ${f.what}`);
    stops.push(f.what);
  }
  await check(page, back, `Tab did not come back to ${start.what} within 200 presses: ${stops.join(' → ')}`);
  for (const id of ['#numbers', '#text', '#sender', 'button']) {
    await check(page, stops.some((s) => s.includes(id.replace('#', 'id='))), `Tab never stopped at ${id}: ${stops.join(' → ')}`);
  }
}));
