// Signing in: the dashboard, the session cookie, a phone screen, a wrong password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { axeCheck, check, checkNoProblems, env, find, screenshot, signIn, withPages } from '../lib/harness.js';
import { expectDashboard } from '../lib/screens.js';

test('admin signs in and lands on the dashboard', withPages(async (pages) => {
  const page = await pages.make('desktop');
  await signIn(page, 'default', 'admin', env.adminPassword);
  await expectDashboard(page);
  await find(page, '[data-testid="credit"]', 'the remaining credit');
  const signOut = page.locator('form[action="/logout"]').getByRole('button', { name: 'Çıkış yap', exact: true });
  await check(page, (await signOut.count()) === 1, 'expected a "Çıkış yap" button in form[action="/logout"]');
  await axeCheck(page, 'the dashboard');
  await checkNoProblems(page);
  await screenshot(page, 'dashboard');
}));

test('the session cookie is HttpOnly, SameSite=Lax and new at sign-in', withPages(async (pages) => {
  const page = await pages.make('desktop');
  await page.goto('/login');
  const before = new Map((await page.context().cookies()).map((c) => [c.name, c.value]));
  await signIn(page, 'default', 'admin', env.adminPassword);
  await expectDashboard(page);
  const cookies = await page.context().cookies();
  await check(page, cookies.length > 0, 'expected a session cookie after signing in');
  for (const c of cookies) {
    assert.ok(c.httpOnly, `cookie ${c.name} is HttpOnly`);
    assert.equal(c.sameSite, 'Lax', `cookie ${c.name} is SameSite=Lax`);
  }
  // A cookie that existed before signing in must not carry the same value after (rotation).
  const kept = cookies.filter((c) => before.get(c.name) === c.value).map((c) => c.name);
  assert.deepEqual(kept, [], 'no cookie keeps its pre-sign-in value');
}));

test('the dashboard fits a 375-px phone screen', withPages(async (pages) => {
  const page = await pages.make('phone');
  await signIn(page, 'default', 'admin', env.adminPassword);
  await expectDashboard(page);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await check(page, width <= 375, `the dashboard scrolls sideways on a phone: scrollWidth ${width} > 375`);
  await axeCheck(page, 'the dashboard on a phone');
}));

test('a wrong password is refused with a message', withPages(async (pages) => {
  const page = await pages.make('desktop');
  await signIn(page, 'default', 'admin', 'Yanlis-Parola-1');
  const alert = await find(page, '[role="alert"]', 'an error message');
  const text = await alert.first().innerText();
  await check(page, text.includes('hatalı'), `expected the message to say "hatalı", it says "${text.trim()}"`);
  await check(page, new URL(page.url()).pathname !== '/', 'a wrong password must not reach the dashboard');
  await axeCheck(page, 'the sign-in page with an error');
}));
