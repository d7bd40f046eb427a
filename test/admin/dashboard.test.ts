import { mkdir } from 'node:fs/promises';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { chromiumAvailable, launchChromium } from '../support/browser.js';
import { FormBrowser, type Page as FormPage } from '../support/form-browser.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ARTIFACTS = 'test-artifacts';

describe('the client dashboard (/Lux/OAuth2/dashboard)', () => {
  let server: TestServer;
  let dashboard: string;
  const stamp = Date.now();
  const admin = { username: `admin-${stamp}`, password: 'dashboard admin pw' };
  const plain = { username: `plain-${stamp}`, password: 'dashboard plain pw' };

  before(async () => {
    server = await startTestServer();
    dashboard = `${server.issuer}/Lux/OAuth2/dashboard`;
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    await server.services.accounts.create(plain);
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(() => server?.stop());

  /** Signs in through Gatehouse's own login page, as a browser without JavaScript. */
  async function signIn(user: { username: string; password: string }): Promise<{ browser: FormBrowser; page: Awaited<ReturnType<FormBrowser['navigate']>> }> {
    const browser = new FormBrowser();
    const login = await browser.navigate(dashboard);
    expect(login.html).to.include('Sign in');
    const page = await browser.submit(login, '/login', user);
    return { browser, page };
  }

  describe('over HTTP', () => {
    it('sends a visitor without a session to Gatehouse’s login, as an OIDC client with PKCE', async () => {
      const response = await fetch(`${dashboard}/`, { redirect: 'manual' });
      expect(response.status).to.equal(303);
      const login = await fetch(new URL(response.headers.get('location')!, dashboard), { redirect: 'manual' });
      const authorize = new URL(login.headers.get('location')!);
      expect(authorize.pathname).to.equal('/auth');
      expect(authorize.searchParams.get('client_id')).to.equal('gatehouse-dashboard');
      expect(authorize.searchParams.get('code_challenge_method')).to.equal('S256');
      expect(authorize.searchParams.get('code_challenge')).to.be.a('string');
    });

    it('refuses a signed-in non-admin with a clear page', async () => {
      const { page } = await signIn(plain);
      expect(page.status).to.equal(403);
      expect(page.html).to.include('Administrators only').and.include(plain.username);
    });

    it('refuses a form posted without the CSRF token, and saves nothing', async () => {
      const { browser, page } = await signIn(admin);
      expect(page.status).to.equal(200);
      const before = await server.services.clients.list({ name: 'CSRF victim' });
      const forged = await browser.request(`${dashboard}/clients`, { method: 'POST', body: new URLSearchParams({ name: 'CSRF victim', grant_types: 'client_credentials', scope: 'read' }) });
      expect(forged.status).to.equal(403);
      expect((await server.services.clients.list({ name: 'CSRF victim' })).total).to.equal(before.total);
    });

    it('shows validation errors next to the field and writes nothing', async () => {
      const { browser } = await signIn(admin);
      const form = await browser.navigate(`${dashboard}/clients/new`);
      const result = await browser.submit(form, '/clients', { name: '', redirect_uris: 'http://evil.example.test/cb' });
      expect(result.status).to.equal(422);
      expect(result.html).to.match(/id="name-error"[^>]*>name: |id="name-error">is required/);
      expect(result.html).to.include('id="redirect_uris-error"');
      expect(result.html).to.include('must use https');
    });

    /** The dashboard session cookie (and its signature) as the browser last received them. */
    function dashboardCookie(browser: FormBrowser): string {
      const pairs = new Map<string, string>();
      for (const line of browser.history.flatMap((exchange) => exchange.setCookies)) {
        const [pair = ''] = line.split(';');
        const [name = '', value = ''] = pair.split('=');
        if (name.trim().startsWith('gh_dashboard') && !name.includes('login')) pairs.set(name.trim(), value);
      }
      expect(pairs.get('gh_dashboard'), 'a dashboard session cookie').to.be.a('string').and.not.equal('');
      return [...pairs].map(([name, value]) => `${name}=${value}`).join('; ');
    }

    /** Submits the dashboard's sign-out form, which ends the provider's sign-in session too, on the server (test/web/sign-out.test.ts). */
    async function signOut(browser: FormBrowser, page: FormPage): Promise<FormPage> {
      const signedOut = await browser.submit(page, `${new URL(dashboard).pathname}/logout`);
      expect(signedOut.html, 'no confirmation page of the provider’s').not.to.include('Sign out?');
      return signedOut;
    }

    it('after sign-out, a replayed dashboard session cookie gets the sign-in page, not the dashboard', async () => {
      const { browser, page } = await signIn(admin);
      expect(page.html).to.include('New client');
      const copied = dashboardCookie(browser);
      const signedOut = await signOut(browser, page);
      expect(signedOut.html).to.include('Signed out');
      const replayed = await fetch(`${dashboard}/`, { redirect: 'manual', headers: { cookie: copied } });
      expect(replayed.status, 'the dashboard does not answer the old cookie').to.equal(303);
      expect(replayed.headers.get('location')).to.match(/\/Lux\/OAuth2\/dashboard\/login\?/);
      const posted = await fetch(`${dashboard}/clients`, { method: 'POST', redirect: 'manual', headers: { cookie: copied, 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=replayed' });
      expect(posted.status).to.equal(303);
    });

    it('sign-out ends Gatehouse’s sign-in session too: “Sign in again” asks for the password', async () => {
      const { browser, page } = await signIn(admin);
      const signedOut = await signOut(browser, page);
      expect(signedOut.url).to.equal(`${dashboard}/signed-out`);
      const again = await browser.navigate(new URL(/href="([^"]+)"[^>]*>Sign in again/.exec(signedOut.html)![1]!, signedOut.url).href);
      expect(again.html).to.include('name="password"');
      const back = await browser.submit(again, '/login', admin);
      expect(back.status).to.equal(200);
      expect(back.html).to.include('New client');
    });

    it('ends the dashboard session when the user signs out of Gatehouse elsewhere (its end_session endpoint)', async () => {
      const { browser, page } = await signIn(admin);
      expect(page.html).to.include('New client');
      const confirm = await browser.navigate(`${server.issuer}/session/end`);
      expect(confirm.html).to.include('Sign out?');
      await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
      const after = await browser.navigate(`${dashboard}/`);
      expect(after.html, 'the sign-in page, not the dashboard').to.include('name="password"').and.not.include('New client');
    });

    it('lets a non-admin sign out, and leaves no code in the address bar', async () => {
      const { browser, page } = await signIn(plain);
      expect(page.status).to.equal(403);
      expect(page.url).to.equal(dashboard);
      const signedOut = await signOut(browser, page);
      expect(signedOut.html).to.include('Signed out');
      const again = await browser.navigate(dashboard);
      expect(again.html, 'a fresh sign-in, where another account can be used').to.include('name="password"');
      expect((await browser.submit(again, '/login', admin)).html).to.include('New client');
    });

    it('says why a sign-in failed (the provider’s error), on a page whose address holds no code', async () => {
      const browser = new FormBrowser();
      const login = await browser.navigate(dashboard);
      const failed = await browser.submit(login, '/abort');
      expect(failed.url).to.equal(`${dashboard}/sign-in-failed`);
      expect(failed.status).to.equal(400);
      expect(failed.html).to.include('The user declined the request.').and.include('access_denied');
      expect(failed.html, 'offers to sign out of Gatehouse').to.match(/href="[^"]*\/session\/end\?[^"]*client_id=gatehouse-dashboard/);
      expect(browser.history.at(-2)!.url, 'the callback redirected at once').to.match(/\/callback\?/);
      const reload = await browser.navigate(failed.url);
      expect(reload.html, 'the reason is shown once').not.to.include('access_denied');
    });

    const failures: Array<{ cause: string; reason: RegExp; reach(browser: FormBrowser): Promise<FormPage> }> = [
      {
        cause: 'a callback with no sign-in in progress',
        reason: /took longer than ten minutes or was started in another window/,
        reach: (browser) => browser.navigate(`${dashboard}/callback?code=stolen&state=guessed`),
      },
      {
        cause: 'a callback whose state is not the one sent',
        reason: /unexpected &quot;state&quot; response parameter value/,
        async reach(browser) {
          const start = await browser.request(`${dashboard}/login`);
          const authorize = new URL(start.headers.get('location')!);
          return browser.navigate(`${dashboard}/callback?code=forged&state=not-${authorize.searchParams.get('state')!}&iss=${encodeURIComponent(server.issuer)}`);
        },
      },
    ];
    for (const { cause, reason, reach } of failures) {
      it(`says why a sign-in failed after ${cause}`, async () => {
        const browser = new FormBrowser();
        const failed = await reach(browser);
        expect(failed.url).to.equal(`${dashboard}/sign-in-failed`);
        expect(failed.html).to.include('Sign-in failed').and.match(reason);
        expect(failed.html).not.to.include('The sign-in could not be completed.');
      });
    }

    it('shows Gatehouse’s own client read-only and refuses every way to edit it', async () => {
      const { browser } = await signIn(admin);
      const before = await server.services.storage.clients.find('gatehouse-dashboard');
      const shown = await browser.navigate(`${dashboard}/clients/gatehouse-dashboard`);
      expect(shown.status).to.equal(200);
      expect(shown.html).to.include('Gatehouse manages this client itself');
      expect(shown.html).not.to.include('/clients/gatehouse-dashboard/edit');
      expect((await browser.navigate(`${dashboard}/clients/gatehouse-dashboard/edit`)).status).to.equal(403);
      const csrf = FormBrowser.forms(shown).find((form) => form.action.endsWith('/logout'))!.fields.csrf!;
      const posted = await browser.navigate(`${dashboard}/clients/gatehouse-dashboard`, { method: 'POST', body: new URLSearchParams({ csrf, name: 'Broken', redirect_uris: 'https://elsewhere.example.test/cb', scope: 'profile' }) });
      expect(posted.status).to.equal(403);
      expect(posted.html).to.include('managed by Gatehouse itself');
      expect((await server.services.storage.clients.find('gatehouse-dashboard'))!.metadata).to.deep.equal(before!.metadata);
    });

    it('answers an unknown client with a not-found page', async () => {
      const { browser } = await signIn(admin);
      const page = await browser.navigate(`${dashboard}/clients/no-such-client`);
      expect(page.status).to.equal(404);
      expect(page.html).to.include('Not found');
    });
  });

  describe('in headless Chromium', () => {
    let chromium: Browser;

    before(async function () {
      if (!chromiumAvailable()) throw new Error('Debian chromium is required for page tests: apt-get install chromium');
      chromium = await launchChromium();
    });

    after(async () => { await chromium?.close(); });

    async function signInWithChromium(page: Page, user: { username: string; password: string }) {
      await page.goto(dashboard);
      await page.getByLabel('Username').fill(user.username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }

    it('signs in an admin who creates a client, sees the secret once, edits it and finds it in the list', async () => {
      const context = await chromium.newContext({ viewport: { width: 1200, height: 900 } });
      context.setDefaultTimeout(8000);
      const page = await context.newPage();
      await signInWithChromium(page, admin);
      await page.getByRole('heading', { name: 'Clients' }).waitFor();

      await page.getByRole('link', { name: 'New client' }).click();
      await page.getByLabel('Name', { exact: true }).fill(`Photo Printer ${stamp}`);
      await page.getByLabel('Description').fill('Prints albums on paper.');
      await page.getByLabel('Redirect URIs').fill('https://printer.example.test/callback');
      await page.getByRole('checkbox', { name: /^read —/ }).check();
      await page.getByRole('button', { name: 'Create client' }).click();
      await page.getByRole('heading', { name: 'Client created' }).waitFor();
      const secret = (await page.locator('#client-secret').textContent())!.trim();
      expect(secret).to.have.length.of.at.least(43);
      const clientId = (await page.locator('#client-id').textContent())!.trim();
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-created.png`, fullPage: true });

      await page.getByRole('link', { name: 'I have copied it' }).click();
      expect(await page.content()).not.to.include(secret);
      await page.getByRole('link', { name: 'Edit' }).click();
      expect(await page.getByLabel('Client ID').inputValue()).to.equal(clientId);
      expect(await page.getByLabel('Client ID').getAttribute('readonly')).to.not.equal(null);
      await page.getByLabel('Name', { exact: true }).fill(`Photo Printer Pro ${stamp}`);
      await page.getByRole('checkbox', { name: /^write —/ }).check();
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Changes saved.').waitFor();
      const stored = await server.services.clients.show(clientId);
      expect(stored.name).to.equal(`Photo Printer Pro ${stamp}`);
      expect(stored.scope).to.include.members(['read', 'write']);
      expect(await server.services.clients.secretOf(clientId)).to.equal(secret);

      await page.getByRole('link', { name: '← All clients' }).click();
      await page.getByLabel('Search clients by name').fill('printer pro');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('link', { name: `Photo Printer Pro ${stamp}` }).waitFor();
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-list.png`, fullPage: true });
      expect(await page.getByRole('button', { name: /delete/i }).count(), 'no delete in the dashboard').to.equal(0);

      await page.setViewportSize({ width: 375, height: 760 });
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-phone.png`, fullPage: true });
      const overflow = await page.evaluate(() => [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
        .map((el) => `${el.tagName}.${el.className}`));
      expect(overflow, 'nothing wider than a phone screen').to.deep.equal([]);
      await context.close();
    });

    it('refuses a non-admin, who signs out there and signs in with another account', async () => {
      const context = await chromium.newContext();
      context.setDefaultTimeout(8000);
      const page = await context.newPage();
      await signInWithChromium(page, plain);
      await page.getByRole('heading', { name: 'Administrators only' }).waitFor();
      expect(page.url()).not.to.include('code=');
      await page.getByRole('button', { name: 'Sign out and use another account' }).click();
      await page.getByRole('heading', { name: 'Signed out' }).waitFor();
      await page.getByRole('link', { name: 'Sign in again' }).click();
      await page.getByLabel('Username').fill(admin.username);
      await page.getByLabel('Password').fill(admin.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Clients' }).waitFor();
      await context.close();
    });

    it('signs out of the dashboard and of Gatehouse: the copied cookie and “Sign in again” both meet the password form', async () => {
      const context = await chromium.newContext();
      context.setDefaultTimeout(8000);
      const page = await context.newPage();
      await signInWithChromium(page, admin);
      await page.getByRole('heading', { name: 'Clients' }).waitFor();
      const copied = (await context.cookies()).filter((cookie) => cookie.name.startsWith('gh_dashboard'));
      expect(copied.map((cookie) => cookie.name)).to.include.members(['gh_dashboard', 'gh_dashboard.sig']);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Signed out' }).waitFor();
      expect(page.url()).to.equal(`${dashboard}/signed-out`);
      await page.getByRole('link', { name: 'Sign in again' }).click();
      await page.getByLabel('Password').waitFor();

      const replay = await chromium.newContext();
      await replay.addCookies(copied);
      const replayed = await replay.newPage();
      await replayed.goto(dashboard);
      expect(await replayed.getByLabel('Password').count(), 'the sign-in page').to.equal(1);
      expect(await replayed.getByRole('heading', { name: 'Clients' }).count(), 'not the dashboard').to.equal(0);
      await replay.close();
      await context.close();
    });

    it('shows its own client read-only in the list and refuses a direct POST that edits it', async () => {
      const context = await chromium.newContext();
      context.setDefaultTimeout(8000);
      const page = await context.newPage();
      await signInWithChromium(page, admin);
      await page.getByLabel('Search clients by name').fill('Gatehouse dashboard');
      await page.getByRole('button', { name: 'Search' }).click();
      const row = page.getByRole('row', { name: /gatehouse-dashboard/ });
      expect(await row.textContent()).to.include('read-only');
      await row.getByRole('link', { name: 'Gatehouse dashboard' }).click();
      await page.getByText('Gatehouse manages this client itself').waitFor();
      expect(await page.getByRole('link', { name: 'Edit' }).count()).to.equal(0);

      const before = await server.services.storage.clients.find('gatehouse-dashboard');
      const csrf = await page.locator('input[name="csrf"]').first().inputValue();
      const posted = await context.request.post(`${dashboard}/clients/gatehouse-dashboard`, {
        form: { csrf, name: 'Gatehouse dashboard', redirect_uris: 'https://elsewhere.example.test/cb', scope: 'profile' },
        maxRedirects: 0,
      });
      expect(posted.status()).to.equal(403);
      expect((await server.services.storage.clients.find('gatehouse-dashboard'))!.metadata).to.deep.equal(before!.metadata);
      await context.close();
    });
  });
});
