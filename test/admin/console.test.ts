import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { FormBrowser } from '../support/form-browser.js';
import { checkPage, freshPagePerTest, signInWithChromium as chromiumSignIn } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { consoleSignIn, type Credentials } from '../support/console.js';

describe('the admin console (/admin)', () => {
  let server: TestServer;
  const stamp = Date.now();
  const admin = { username: `console-admin-${stamp}`, password: 'console admin pw' };
  const plain = { username: `console-plain-${stamp}`, password: 'console plain pw' };

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    await server.services.accounts.create(plain);
  });

  after(() => server?.stop());

  const signIn = (user: Credentials, path = '/admin') => consoleSignIn(server, user, path);

  describe('over HTTP, as a browser without JavaScript', () => {
    it('sends a visitor without a session to sign in, and back to the page asked for', async () => {
      const response = await fetch(`${server.issuer}/admin/clients?q=x`, { redirect: 'manual' });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal(`/admin/login?returnTo=${encodeURIComponent('/admin/clients?q=x')}`);
    });

    it('never returns after sign-in to a page outside the console', async () => {
      for (const returnTo of ['https://evil.example.test/', '//evil.example.test/', '/administrator', '/Lux/OAuth2/dashboard']) {
        const browser = new FormBrowser();
        const login = await browser.navigate(`${server.issuer}/admin/login?returnTo=${encodeURIComponent(returnTo)}`);
        const page = await browser.submit(login, '/login', admin);
        expect(page.url, returnTo).to.equal(`${server.issuer}/admin`);
      }
    });

    it('opened at another name for the server (127.0.0.1 for localhost), signs in at the issuer’s address and lands on the page asked for', async () => {
      expect(new URL(server.url).host, 'the test server answers at another name than its issuer').not.to.equal(new URL(server.issuer).host);
      // Before: /login answered with the provider's authorization URL, its pending sign-in a cookie of 127.0.0.1.
      const first = await fetch(`${server.url}/admin/login?returnTo=${encodeURIComponent('/admin/clients')}`, { redirect: 'manual' });
      expect(first.status).to.equal(303);
      expect(first.headers.get('location')).to.equal(`${server.issuer}/admin/login?returnTo=${encodeURIComponent('/admin/clients')}&at_issuer=1`);
      expect(first.headers.get('set-cookie'), 'no sign-in started at the other name').to.equal(null);
      const browser = new FormBrowser();
      // Before: the pending sign-in was a cookie of 127.0.0.1, the callback came to localhost, and the sign-in failed.
      const login = await browser.navigate(`${server.url}/admin/login?returnTo=${encodeURIComponent('/admin/clients')}`);
      const page = await browser.submit(login, '/login', admin);
      expect(page.url).to.equal(`${server.issuer}/admin/clients`);
      expect(page.status).to.equal(200);
      // A proxy that says another host after the redirect too is not sent round again.
      const once = await fetch(`${server.url}/admin/login?at_issuer=1`, { redirect: 'manual' });
      expect(once.status).to.equal(303);
      expect(new URL(once.headers.get('location')!, server.issuer).pathname, 'on to the authorization endpoint').not.to.equal('/admin/login');
    });

    it('shows an administrator the overview with the sections, and the Lux dashboard path leads to the same client pages', async () => {
      const { browser, page } = await signIn(admin);
      expect(page.status).to.equal(200);
      expect(page.html).to.include('Overview').and.include('href="/admin/users"').and.include('href="/admin/clients"');
      const lux = await browser.navigate(`${server.issuer}/Lux/OAuth2/dashboard`);
      expect(lux.html, 'one session serves both').to.include('New client').and.include('href="/admin/users"');
      const clients = await browser.navigate(`${server.issuer}/admin/clients`);
      expect(clients.html).to.include('<h1>Clients</h1>').and.include('href="/admin/clients/new"');
    });

    it('refuses a non-admin on every console page with a page that offers sign-out and their own account page', async () => {
      const { browser, page } = await signIn(plain);
      expect(page.status).to.equal(403);
      expect(page.html).to.include('Administrators only').and.include('action="/admin/logout"').and.include('href="/account"');
      for (const path of ['/admin/clients', '/admin/clients/new']) {
        expect((await browser.navigate(`${server.issuer}${path}`)).status, path).to.equal(403);
      }
    });

    it('refuses a console form posted without its CSRF token and changes nothing', async () => {
      const { browser } = await signIn(admin);
      const forged = await browser.request(`${server.issuer}/admin/clients`, { method: 'POST', body: new URLSearchParams({ name: `Forged ${stamp}`, grant_types: 'client_credentials', scope: 'read' }) });
      expect(forged.status).to.equal(403);
      expect((await server.services.clients.list({ name: `Forged ${stamp}` })).total).to.equal(0);
    });

    it('ends the session of an account disabled meanwhile', async () => {
      const user = { username: `console-soon-off-${stamp}`, password: 'console soon off pw' };
      await server.services.accounts.create({ ...user, roles: ['admin'] });
      const { browser, page } = await signIn(user);
      expect(page.status).to.equal(200);
      await server.services.accounts.update(user.username, { active: false });
      const after = await browser.request(`${server.issuer}/admin`);
      expect(after.status).to.equal(303);
      expect(after.headers.get('location'), 'sent to sign in again').to.match(/^\/admin\/login\?/);
    });
  });

  describe('in headless Chromium', function () {
    // Each page is screenshot and checked by axe-core at two widths: slower than a click.
    this.timeout(60_000);
    let page: Page;
    freshPagePerTest((opened) => { page = opened; });

    const signInWithChromium = (user: { username: string; password: string }) => chromiumSignIn(page, `${server.issuer}/admin`, user);

    it('signs an administrator in to the overview and moves between sections with the keyboard alone', async () => {
      await signInWithChromium(admin);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      await checkPage(page, 'console-overview');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal('Skip to content');
      // Tab through the header to the Clients section, then follow it with Enter.
      for (let i = 0; i < 12; i += 1) {
        await page.keyboard.press('Tab');
        if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Clients') break;
      }
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Clients', exact: true }).waitFor();
      expect(new URL(page.url()).pathname).to.equal('/admin/clients');
      expect(await page.getByRole('link', { name: 'Clients', exact: true }).getAttribute('aria-current')).to.equal('page');
      await checkPage(page, 'console-clients');
      await page.getByRole('link', { name: 'New client' }).click();
      await page.getByRole('heading', { name: 'New client' }).waitFor();
      await checkPage(page, 'console-client-new');
    });

    it('refuses a non-admin with a page that signs them out', async () => {
      await signInWithChromium(plain);
      await page.getByRole('heading', { name: 'Administrators only' }).waitFor();
      await checkPage(page, 'console-refused');
      await page.getByRole('button', { name: 'Sign out and use another account' }).click();
      await page.getByRole('heading', { name: 'Signed out' }).waitFor();
      expect(page.url()).to.equal(`${server.issuer}/admin/signed-out`);
      await checkPage(page, 'console-signed-out');
    });
  });
});
