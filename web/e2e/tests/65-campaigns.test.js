// The campaign list and the dashboard's new parts: a campaign started through the REST API
// shows in the list (newest first, filtered by state) with its progress, its page draws the
// delivery chart with a table behind it; the dashboard shows the week's chart, the latest
// campaigns, unread inbound messages and the provider accounts; axe and a 375-px phone on
// each. A script in a campaign's name stays text.
import { test, before } from 'node:test';
import { api, axeCheck, check, checkNoProblems, env, find, open, screenshot, signIn, WAIT_MS, withPages } from '../lib/harness.js';

const run = `${Date.now() % 1000000}`;
const XSS = '<script>alert(1)</script>';
const started = `Bayram ${run} ${XSS}`;
const drafted = `Taslak ${run}`;
let startedId;

before(async () => {
  await api('POST', '/credit/entries', { kind: 'purchase', amount: 100000 });
  // Numbers no other test file sends to: the message log's filters count their own.
  const audience = { numbers: ['05324440001', '05324440002', '05324440003'] };
  const a = await api('POST', '/campaigns', { name: started, audience, text: 'İyi bayramlar', start: true });
  startedId = a.body.id;
  await api('POST', '/campaigns', { name: drafted, audience, text: 'Taslak metin' });
});

function noDialogs(page) {
  page.on('dialog', async (d) => {
    page.problems.push(`a dialog opened, so a script ran: ${d.message()}`);
    await d.dismiss();
  });
}

async function fitsPhone(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await check(page, width <= 375, `${what} scrolls sideways on a phone: scrollWidth ${width} > 375`);
}

test('the campaign list shows the newest first, filters by state and links to the chart', withPages(async (pages) => {
  const page = await pages.make('desktop');
  noDialogs(page);
  await signIn(page, 'default', 'admin', env.adminPassword);
  await page.getByRole('link', { name: 'Kampanyalar', exact: true }).first().click();
  await page.waitForLoadState('load');
  await find(page, 'h1:has-text("Kampanyalar")', 'the campaign list');
  const names = await page.locator('[data-testid="campaigns"] tbody td:first-child').allInnerTexts();
  const at = (n) => names.findIndex((x) => x.trim() === n);
  await check(page, at(drafted) >= 0 && at(started) > at(drafted), `newest first: ${names.join(' | ')}`);
  await find(page, '[data-testid="campaigns"] progress', 'a progress bar');
  await axeCheck(page, 'the campaign list');
  await screenshot(page, 'campaigns');
  await page.locator('#state').selectOption('draft');
  await page.getByRole('button', { name: 'Süz', exact: true }).click();
  await page.waitForLoadState('load');
  const drafts = await page.locator('[data-testid="campaigns"] tbody td:first-child').allInnerTexts();
  await check(page, drafts.some((x) => x.trim() === drafted) && !drafts.some((x) => x.trim() === started),
    `only drafts after the filter: ${drafts.join(' | ')}`);
  await open(page, `/campaigns/${startedId}`);
  // The simulator delivers within seconds; the chart is drawn once the campaign has started.
  const deadline = Date.now() + WAIT_MS * 3;
  while ((await page.locator('[data-testid="delivery"] svg').count()) === 0 && Date.now() < deadline) {
    await page.waitForTimeout(300);
    await page.reload();
  }
  await find(page, '[data-testid="delivery"] svg[role="img"]', 'the delivery chart');
  await page.locator('[data-testid="delivery"] summary').click();
  await find(page, '[data-testid="delivery-table"]', 'the chart as a table');
  await axeCheck(page, 'a campaign with its delivery chart');
  await checkNoProblems(page);
}));

test('the dashboard shows the week, the latest campaigns, unread messages and providers', withPages(async (pages) => {
  const page = await pages.make('desktop');
  noDialogs(page);
  await signIn(page, 'default', 'admin', env.adminPassword);
  await find(page, '[data-testid="week"] svg[role="img"]', 'the week chart');
  await find(page, '[data-testid="unread"]', 'the unread count');
  await find(page, `[data-testid="campaigns"] a[href="/campaigns/${startedId}"]`, 'the latest campaign');
  await find(page, '[data-testid="providers"] tr[data-provider-state]', 'a provider account row');
  await axeCheck(page, 'the dashboard');
  await screenshot(page, 'dashboard');
  await checkNoProblems(page);
}));

test('the list, a campaign and the dashboard fit a 375-px phone', withPages(async (pages) => {
  const page = await pages.make('phone');
  noDialogs(page);
  await signIn(page, 'default', 'admin', env.adminPassword);
  await fitsPhone(page, 'the dashboard');
  await axeCheck(page, 'the dashboard on a phone');
  await screenshot(page, 'dashboard-phone');
  await open(page, '/campaigns');
  await fitsPhone(page, 'the campaign list');
  await axeCheck(page, 'the campaign list on a phone');
  await screenshot(page, 'campaigns-phone');
  await open(page, `/campaigns/${startedId}`);
  await fitsPhone(page, 'a campaign');
  await axeCheck(page, 'a campaign on a phone');
  await checkNoProblems(page);
}));
