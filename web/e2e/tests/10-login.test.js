// The sign-in page: its fields, accessibility, security headers and the CSRF guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { axeCheck, check, checkNoProblems, env, find, open, screenshot, withPages } from '../lib/harness.js';
import { expectSignInPage } from '../lib/screens.js';

test('the sign-in page is Turkish, labelled and has the three fields', withPages(async (pages) => {
  const page = await pages.make('desktop');
  await open(page, '/login');
  const lang = await page.locator('html').getAttribute('lang');
  await check(page, lang === 'tr', `expected <html lang="tr">, found lang=${JSON.stringify(lang)}`);
  const company = await find(page, '#company', 'the company field');
  assert.equal(await company.inputValue(), 'default', 'the company field is prefilled with "default"');
  await find(page, '#username', 'the user name field');
  const password = await find(page, '#password', 'the password field');
  assert.equal(await password.getAttribute('type'), 'password', '#password is type=password');
  const submit = page.locator('form:has(#password)').getByRole('button', { name: 'Giriş yap', exact: true });
  await check(page, (await submit.count()) === 1, 'expected one "Giriş yap" button in the sign-in form');
  await axeCheck(page, 'the sign-in page');
  await checkNoProblems(page);
  await screenshot(page, 'login');
}));

test('the sign-in page fits a 375-px phone screen', withPages(async (pages) => {
  const page = await pages.make('phone');
  await open(page, '/login');
  await find(page, '#password', 'the password field');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await check(page, width <= 375, `the page scrolls sideways on a phone: scrollWidth ${width} > 375`);
  await axeCheck(page, 'the sign-in page on a phone');
}));

test('pages carry the security headers: strict CSP, no framing, nosniff', withPages(async (pages) => {
  const page = await pages.make('desktop');
  const response = await open(page, '/login');
  const headers = response.headers();
  const csp = headers['content-security-policy'] ?? '';
  await check(page, csp !== '', 'expected a Content-Security-Policy header');
  await check(page, /frame-ancestors\s+'none'/.test(csp), `the CSP forbids framing (frame-ancestors 'none'): ${csp}`);
  const scripts = (csp.match(/(?:^|;)\s*script-src([^;]*)/) ?? csp.match(/(?:^|;)\s*default-src([^;]*)/) ?? [])[1] ?? '';
  await check(page, scripts !== '' && !/'unsafe-inline'|'unsafe-eval'|\*/.test(scripts),
    `the CSP allows no inline scripts: script-src/default-src is "${scripts.trim()}"`);
  assert.equal(headers['x-content-type-options'], 'nosniff', 'X-Content-Type-Options: nosniff');
}));

/** The sign-in form's fields as the browser would send them, hidden ones included. */
async function loginFields(page) {
  await open(page, '/login');
  await find(page, 'form:has(#password)', 'the sign-in form');
  await page.locator('#username').fill('admin');
  await page.locator('#password').fill(env.adminPassword);
  return page.locator('form:has(#password)').first().evaluate((form) => {
    const fields = {};
    for (const [k, v] of new FormData(form)) fields[k] = String(v);
    const hidden = [...form.querySelectorAll('input[type=hidden]')].map((i) => i.name);
    return { fields, hidden, action: form.getAttribute('action') || '/login' };
  });
}

test('a sign-in POST without the CSRF token, or with a wrong one, is refused with 403', withPages(async (pages) => {
  const page = await pages.make('desktop');
  const { fields, hidden, action } = await loginFields(page);
  await check(page, hidden.length > 0, 'expected the CSRF token as a hidden field of the sign-in form');
  assert.equal(action, '/login', 'the sign-in form posts to /login');
  const without = { ...fields };
  for (const name of hidden) delete without[name];
  const r1 = await page.request.post('/login', { form: without, maxRedirects: 0 });
  assert.equal(r1.status(), 403, `POST /login without ${hidden.join(', ')} answered ${r1.status()}`);
  const wrong = { ...fields };
  for (const name of hidden) wrong[name] = 'x'.repeat(Math.max(wrong[name].length, 8));
  const r2 = await page.request.post('/login', { form: wrong, maxRedirects: 0 });
  assert.equal(r2.status(), 403, `POST /login with a wrong ${hidden.join(', ')} answered ${r2.status()}`);
  // Nothing was signed in by either attempt.
  await open(page, '/');
  await expectSignInPage(page, 'GET / without a session leads to /login');
}));
