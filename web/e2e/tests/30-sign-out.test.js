// Signing out ends the session.
import { test } from 'node:test';
import { env, open, press, signIn, withPages } from '../lib/harness.js';
import { expectDashboard, expectSignInPage } from '../lib/screens.js';

test('"Çıkış yap" signs out; the dashboard then leads to /login', withPages(async (pages) => {
  const page = await pages.make('desktop');
  await signIn(page, 'default', 'admin', env.adminPassword);
  await expectDashboard(page);
  await press(page, 'form[action="/logout"]', 'Çıkış yap');
  await expectSignInPage(page, 'signing out leads to /login');
  await open(page, '/');
  await expectSignInPage(page, 'GET / after signing out leads to /login');
}));
