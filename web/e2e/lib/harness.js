// The browser-test harness: Debian's Chromium driven by playwright-core, one browser per test
// file, a fresh browser context (cookies, storage) per test. scripts/e2e starts the server and
// passes its address and first-start secrets in the environment.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
/** The run's scratch folder: failure screenshots, and the others unless E2E_SCREENSHOTS=1. */
const artifacts = process.env.E2E_ARTIFACTS || path.join(repo, 'target', 'e2e');

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the browser tests through scripts/e2e`);
  }
  return value;
}

/** The server under test and its first-start secrets. */
export const env = {
  url: required('ULAK_URL').replace(/\/$/, ''),
  adminPassword: required('ULAK_ADMIN_PASSWORD'),
  apiKey: required('ULAK_API_KEY'),
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
};

/** How long one wait for an element or a page may take: the pages are local and small. */
export const WAIT_MS = Number(process.env.E2E_WAIT_MS || 5000);

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

let browserPromise = null;

/** The file's one Chromium, launched on first use. */
export function browser() {
  if (!browserPromise) {
    browserPromise = chromium.launch({
      executablePath: env.chromium,
      // The tests run as root, where Chromium's sandbox cannot start.
      args: ['--no-sandbox'],
    });
  }
  return browserPromise;
}

after(async () => {
  if (browserPromise) await (await browserPromise).close();
});

/** The main frame's last navigation answer per page, for failure messages. */
const lastStatus = new WeakMap();

/** A page in its own context: `desktop` (1280x800) or `phone` (375x740, mobile viewport). */
export async function newPage(kind = 'desktop') {
  const phone = kind === 'phone';
  const context = await (await browser()).newContext({
    baseURL: env.url,
    viewport: phone ? PHONE : DESKTOP,
    isMobile: phone,
    hasTouch: phone,
    // The browser asks for English on purpose: the UI must still be Turkish by default.
    locale: 'en-US',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(WAIT_MS * 2);
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) {
      lastStatus.set(page, r.status());
    }
  });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('console', (m) => {
    // A blocked inline script or style shows up here: the pages promise a strict CSP.
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) {
      problems.push(`CSP: ${m.text()}`);
    }
  });
  page.problems = problems;
  return page;
}

/** Where the page is and what it says, for an assertion's message. */
export async function where(page) {
  let text = '';
  try {
    text = (await page.evaluate(() => document.body?.innerText ?? '')).replace(/\s+/g, ' ').trim();
  } catch {
    text = '(page text unreadable)';
  }
  const status = lastStatus.get(page) ?? 'no answer';
  const excerpt = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  return `${page.url()} (HTTP ${status}); page text: "${excerpt}"`;
}

/**
 * Throws a plain Error whose stack keeps only the lines in the test files: the report then
 * shows what was expected, where, and which test line asked, without the runner's internals.
 */
export function fail(message) {
  const error = new Error(message);
  const ours = (error.stack ?? '').split('\n').filter((l) => /\/web\/e2e\/tests\/|\/lib\/screens\.js/.test(l));
  error.stack = [`Error: ${message}`, ...ours].join('\n');
  throw error;
}

/** Fails with a message naming the page when `ok` is false. */
export async function check(page, ok, message) {
  if (!ok) fail(`${message}\n    on ${await where(page)}`);
}

/** Waits for `selector` to be on the page; fails naming what was expected and where. */
export async function find(page, selector, what = selector) {
  const loc = page.locator(selector);
  try {
    await loc.first().waitFor({ state: 'attached', timeout: WAIT_MS });
  } catch {
    fail(`expected ${what} (${selector})\n    on ${await where(page)}`);
  }
  return loc;
}

/** Goes to a path of the UI and waits for the page to load. */
export async function open(page, urlPath) {
  const response = await page.goto(urlPath, { waitUntil: 'load' });
  return response;
}

/** A form's submit button, whatever its text (`<button>` or `<input type=submit>`). */
function submitOf(form) {
  return form.locator('button[type=submit], button:not([type]), input[type=submit]').first();
}

/** Fills in and sends the sign-in form; the page then shows whatever the server answered. */
export async function signIn(page, company, user, password) {
  await open(page, '/login');
  const form = (await find(page, 'form:has(#password)', 'the sign-in form')).first();
  await page.locator('#company').fill(company);
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await submitOf(form).click();
  await page.waitForLoadState('load');
}

/**
 * Clicks a button of a form (by accessible name, or the form's submit button whatever its text
 * when `name` is omitted) and waits for the answer.
 */
export async function press(page, formSelector, name) {
  const form = (await find(page, formSelector, `a form ${formSelector}`)).first();
  const button = name === undefined
    ? submitOf(form)
    : form.getByRole('button', { name, exact: true }).first();
  try {
    await button.waitFor({ state: 'visible', timeout: WAIT_MS });
  } catch {
    fail(`expected a button ${name === undefined ? '' : `"${name}" `}in ${formSelector}\n    on ${await where(page)}`);
  }
  await button.click();
  await page.waitForLoadState('load');
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

/**
 * Runs axe-core on the page as it is and fails listing every serious or critical violation.
 * The source goes in through the DevTools protocol (page.evaluate), which the page's CSP does
 * not govern, so the check needs no exception in the CSP and adds no console errors.
 */
export async function axeCheck(page, label = page.url()) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(axeSource);
  }
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) {
    const lines = bad.map((v) => `  ${v.impact} ${v.id}: ${v.help} — at ${v.targets.join(', ')}`);
    fail(`axe on ${label}: ${bad.length} serious or critical violation(s)\n${lines.join('\n')}`);
  }
}

/**
 * Screenshot of the viewport (never the full page: the PNGs are committed). Into
 * docs/screenshots/<name>.png with E2E_SCREENSHOTS=1, otherwise into the run's scratch folder,
 * so every run still takes them.
 */
export async function screenshot(page, name) {
  const dir = process.env.E2E_SCREENSHOTS === '1'
    ? path.join(repo, 'docs', 'screenshots')
    : path.join(artifacts, 'screenshots');
  return shoot(page, dir, name);
}

async function shoot(page, dir, name) {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

/** Fails when the page logged a CSP violation or threw an uncaught script error. */
export async function checkNoProblems(page) {
  await check(page, page.problems.length === 0, `the page had problems:\n  ${page.problems.join('\n  ')}`);
}

/** Calls the REST API with the system administrator's key; fails on an unexpected status. */
export async function api(method, urlPath, body, { ok = [200, 201, 202, 204] } = {}) {
  const response = await fetch(`${env.url}/api/v1${urlPath}`, {
    method,
    headers: {
      Authorization: `Bearer ${env.apiKey}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!ok.includes(response.status)) {
    fail(`${method} /api/v1${urlPath} answered ${response.status}: ${text.slice(0, 500)}`);
  }
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/**
 * Wraps a node:test test body that uses pages: `test(name, withPages(async (pages, t) => …))`.
 * Every page made through `pages.make('desktop' | 'phone')` is screenshot into the scratch
 * folder when the test fails (FAILED-<test>-<n>.png), and closed afterwards.
 */
export function withPages(fn) {
  return async (t) => {
    const made = [];
    const pages = {
      make: async (kind) => {
        const page = await newPage(kind);
        made.push(page);
        return page;
      },
    };
    try {
      await fn(pages, t);
    } catch (e) {
      const slug = t.name.replace(/[^\p{L}\p{N}]+/gu, '-').slice(0, 60);
      for (const [i, page] of made.entries()) {
        const file = await shoot(page, artifacts, `FAILED-${slug}-${i + 1}`).catch(() => null);
        if (file) t.diagnostic(`screenshot of the failed page: ${file}`);
      }
      throw e;
    } finally {
      for (const page of made) await page.context().close().catch(() => {});
    }
  };
}
