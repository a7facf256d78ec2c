// What the tests expect of each screen, shared between test files (importing a test file
// would run its tests again).
import { check, find } from './harness.js';

/** Checks the page is the dashboard of a signed-in user, by its heading in the page's language. */
export async function expectDashboard(page, title = 'Gösterge paneli') {
  await check(page, new URL(page.url()).pathname === '/', 'expected to be on the dashboard (/)');
  const h1 = await find(page, 'h1', 'the page heading');
  const text = (await h1.first().innerText()).trim();
  await check(page, text === title, `expected the heading "${title}", found "${text}"`);
}

/** Checks the page is the sign-in page. */
export async function expectSignInPage(page, why) {
  await check(page, new URL(page.url()).pathname === '/login', why);
}
