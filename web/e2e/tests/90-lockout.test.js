// Lockout after repeated wrong passwords. Its own user, so admin stays usable; last of the
// files, since the per-address count of failures grows here too.
import { test } from 'node:test';
import { api, check, find, signIn, withPages } from '../lib/harness.js';

const USER = 'kilit';
const PASSWORD = 'Dogru-Parola-123';

test('10 wrong passwords lock the user: then even the right one is refused', withPages(async (pages) => {
  await api('POST', '/users', { login: USER, password: PASSWORD, role: 'operator' });
  const page = await pages.make('desktop');
  for (let i = 1; i <= 10; i += 1) {
    await signIn(page, 'default', USER, `Yanlis-Parola-${i}`);
    await find(page, '[role="alert"]', `an error message after wrong password ${i}`);
  }
  await signIn(page, 'default', USER, PASSWORD);
  const alert = await find(page, '[role="alert"]', 'the locked-account message');
  const text = await alert.first().innerText();
  await check(page, text.includes('kilit'), `expected the message to say "kilit", it says "${text.trim()}"`);
  await check(page, new URL(page.url()).pathname !== '/', 'a locked user must not reach the dashboard');
  const h1 = (await page.locator('h1').allInnerTexts()).map((t) => t.trim());
  await check(page, !h1.includes('Gösterge paneli'), 'a locked user must not see the dashboard');
}));
