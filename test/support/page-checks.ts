import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { Page } from 'playwright-core';

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
