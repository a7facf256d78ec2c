// The language switch: English on request, remembered per user.
import { test } from 'node:test';
import { check, env, newPage, press, signIn, withPages } from '../lib/harness.js';
import { expectDashboard } from '../lib/screens.js';

async function expectLang(page, lang) {
  const found = await page.locator('html').getAttribute('lang');
  await check(page, found === lang, `expected <html lang="${lang}">, found lang=${JSON.stringify(found)}`);
}

/** Puts admin back to Turkish whatever the test did: the files after this one expect it. */
async function backToTurkish() {
  const page = await newPage('desktop');
  try {
    await signIn(page, 'default', 'admin', env.adminPassword);
    if ((await page.locator('html').getAttribute('lang')) === 'en') {
      await press(page, 'form[action="/language"]', 'Türkçe');
    }
  } catch {
    // Nothing to put back when the switch or the dashboard is missing.
  } finally {
    await page.context().close();
  }
}

test('"English" switches the UI, "Türkçe" switches it back', withPages(async (pages) => {
  try {
    const page = await pages.make('desktop');
    await signIn(page, 'default', 'admin', env.adminPassword);
    await expectDashboard(page);
    await expectLang(page, 'tr');
    await press(page, 'form[action="/language"]', 'English');
    await expectLang(page, 'en');
    await expectDashboard(page, 'Dashboard');
    await press(page, 'form[action="/language"]', 'Türkçe');
    await expectLang(page, 'tr');
    await expectDashboard(page);
  } finally {
    await backToTurkish();
  }
}));

test('the language is remembered for the user across sign-ins', withPages(async (pages) => {
  try {
    const page = await pages.make('desktop');
    await signIn(page, 'default', 'admin', env.adminPassword);
    await expectDashboard(page);
    await press(page, 'form[action="/language"]', 'English');
    await expectDashboard(page, 'Dashboard');
    // Signed out by the form's own button, whatever it is called in English.
    await press(page, 'form[action="/logout"]');
    // A new browser context: only the user's own setting can carry the choice over.
    const again = await pages.make('desktop');
    await signIn(again, 'default', 'admin', env.adminPassword);
    await expectLang(again, 'en');
    await expectDashboard(again, 'Dashboard');
    await press(again, 'form[action="/language"]', 'Türkçe');
    await expectLang(again, 'tr');
    await expectDashboard(again);
  } finally {
    await backToTurkish();
  }
}));
