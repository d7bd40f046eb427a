import type { Browser, BrowserContext, Page } from 'playwright-core';
import { FormBrowser, hiddenFields, type Page as FormPage } from './form-browser.js';
import { newCheckedPage, requireChromium, signInWithChromium } from './page-checks.js';
import type { TestServer } from './server.js';

export interface Credentials { username: string; password: string }

/** A browser without JavaScript, signed in through Gatehouse's login page from `path` (where it lands). */
export async function consoleSignIn(server: TestServer, user: Credentials, path = '/admin'): Promise<{ browser: FormBrowser; page: FormPage }> {
  const browser = new FormBrowser();
  const login = await browser.navigate(`${server.issuer}${path}`);
  return { browser, page: await browser.submit(login, '/login', { username: user.username, password: user.password }) };
}

/** An administrator and a user without the admin role, created for one test file. */
export async function consolePeople(server: TestServer, prefix: string): Promise<{ admin: Credentials & { id: string }; user: Credentials }> {
  const stamp = `${prefix}-${Date.now()}`;
  const admin = { username: `${stamp}-admin`, password: `${stamp} admin pw` };
  const user = { username: `${stamp}-user`, password: `${stamp} user pw` };
  const { id } = await server.services.accounts.create({ ...admin, roles: ['admin'] });
  await server.services.accounts.create({ ...user, roles: ['staff'] });
  return { admin: { ...admin, id }, user };
}

/** The newest audit event of a kind whose detail matches, if any. */
export async function lastAudit(server: TestServer, event: string, match: (detail: Record<string, unknown>) => boolean = () => true) {
  const { items } = await server.services.audit.search({ event, perPage: 500 });
  return items.find((item) => match(item.detail));
}

/** Posts to a form of `formPage` with exactly `fields` and the page's CSRF token (as a browser would, checkboxes unticked left out). */
export function postWithCsrf(browser: FormBrowser, formPage: FormPage, path: string, fields: Array<[string, string]>): Promise<FormPage> {
  const form = FormBrowser.forms(formPage).find((candidate) => new URL(candidate.action).pathname + new URL(candidate.action).search === path || candidate.action.endsWith(path));
  if (!form) throw new Error(`no form posting to …${path} on ${formPage.url}`);
  return browser.navigate(form.action, { method: 'POST', body: new URLSearchParams([...hiddenFields(form), ...fields]) });
}

/** Posts `fields` without a CSRF token, as a form on another site would. */
export function postWithoutCsrf(browser: FormBrowser, url: string, fields: Array<[string, string]>): Promise<FormPage> {
  return browser.request(url, { method: 'POST', body: new URLSearchParams(fields) });
}

/** One Chromium page signed in as `user` at `path`, for a describe block. */
export function chromiumSignedIn(server: () => TestServer, user: () => Credentials, path: string): { page: () => Page } {
  let chromium: Browser;
  let context: BrowserContext;
  let page: Page;
  before(async () => {
    chromium = await requireChromium();
    ({ context, page } = await newCheckedPage(chromium));
    await signInWithChromium(page, `${server().issuer}${path}`, user());
    await page.waitForURL((url) => url.pathname === path);
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
  });
  return { page: () => page };
}
