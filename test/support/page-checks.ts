import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumAvailable, launchChromium } from './browser.js';

/** Where page screenshots go (gitignored): kept as test artifacts, to be looked at. */
export const ARTIFACTS = 'test-artifacts';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface AxeViolation { id: string; impact?: string; help: string; nodes: Array<{ target: unknown[] }> }

/** Runs axe-core in the page; answers the serious and critical violations, described. */
export async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe.run();
    return result.violations.map(({ id, impact, help, nodes }) => ({ id, impact, help, nodes: nodes.map((node) => ({ target: node.target })) }));
  });
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => JSON.stringify(node.target)).join(', ')}`);
}

/**
 * What every page must pass, at a desktop width (1280 px) and a phone's (375 px):
 * no serious or critical axe-core violation, nothing wider than the screen,
 * and a full-page screenshot of each under test-artifacts/<name>-<width>.png.
 */
export async function checkPage(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const original = page.viewportSize();
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: width === 375 ? 760 : 900 });
    await page.screenshot({ path: `${ARTIFACTS}/${name}-${width}.png`, fullPage: true });
    expect(await seriousViolations(page), `axe-core on ${name} at ${width} px`).to.deep.equal([]);
    const overflow = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.skip'))
      .map((el) => `${el.tagName}.${el.className}`));
    expect(overflow, `nothing on ${name} wider than ${width} px`).to.deep.equal([]);
  }
  if (original) await page.setViewportSize(original);
}

/**
 * A fresh browser context at desktop width with one page. bypassCSP lets a
 * test inject axe-core; the pages themselves allow no script.
 */
export async function newCheckedPage(chromium: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  context.setDefaultTimeout(8000);
  return { context, page: await context.newPage() };
}

/** Opens `url` and signs in on Gatehouse's login page, as a person would. */
export async function signInWithChromium(page: Page, url: string, user: { username: string; password: string }): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Debian's Chromium, which page tests require (they fail, not skip, without it). */
export async function requireChromium(): Promise<Browser> {
  if (!chromiumAvailable()) throw new Error('Debian chromium is required for page tests: apt-get install chromium');
  return launchChromium();
}

/**
 * Registers the hooks of a describe block whose tests each get a fresh
 * context and page of one Chromium launched for the block; `use` receives
 * each test's page before the test runs.
 */
export function freshPagePerTest(use: (page: Page) => void): void {
  let chromium: Browser;
  let context: BrowserContext | undefined;
  before(async () => {
    chromium = await requireChromium();
  });
  beforeEach(async () => {
    const opened = await newCheckedPage(chromium);
    context = opened.context;
    use(opened.page);
  });
  afterEach(() => context?.close());
  after(() => chromium?.close());
}
