import { FormBrowser, hiddenFields, type Page } from './form-browser.js';
import type { TestServer } from './server.js';

export const DASHBOARD = '/Lux/OAuth2/dashboard';

/** A browser without JavaScript signed in to the dashboard through Gatehouse's own login page. */
export async function dashboardSignIn(server: TestServer, user: { username: string; password: string }): Promise<FormBrowser> {
  const browser = new FormBrowser();
  const login = await browser.navigate(`${server.issuer}${DASHBOARD}`);
  const page = await browser.submit(login, '/login', user);
  if (page.status !== 200) throw new Error(`dashboard sign-in answered ${page.status}`);
  return browser;
}

/**
 * Posts a dashboard form with repeatable fields (scope, grant_types), carrying
 * the CSRF token of the page the form is on, as the browser would.
 */
export async function postDashboardForm(browser: FormBrowser, formPage: Page, path: string, fields: Array<[string, string]>): Promise<Page> {
  const form = FormBrowser.forms(formPage).find((candidate) => candidate.action.endsWith(path));
  if (!form) throw new Error(`no form posting to …${path}`);
  const body = new URLSearchParams([...hiddenFields(form), ...fields]);
  return browser.request(form.action, { method: 'POST', body });
}
