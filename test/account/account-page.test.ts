import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth } from '../support/http.js';
import { authorize, discover, isActive, redeem } from '../support/oidc.js';
import { checkPage, freshPagePerTest, signInWithChromium } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('the account page (/account)', () => {
  let server: TestServer;
  let app: { clientId: string; clientSecret: string };
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer();
    const made = await server.services.clients.create({
      name: `Photo Album ${stamp}`, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://rp.example.test/callback'], scope: ['openid', 'profile', 'email', 'offline_access'],
    });
    app = { clientId: made.client.clientId, clientSecret: made.clientSecret! };
  });

  after(() => server?.stop());

  async function newUser(name: string, roles: string[] = []) {
    const user = { username: `${name}-${stamp}`, password: `${name} account pw` };
    const account = await server.services.accounts.create({ ...user, roles });
    return { user, account };
  }

  async function signIn(user: { username: string; password: string }) {
    const browser = new FormBrowser();
    const login = await browser.navigate(`${server.issuer}/account`);
    return { browser, page: await browser.submit(login, '/login', user) };
  }

  /** The user grants the photo album access (code flow), which gets an access and a refresh token. */
  async function grantTheApp(user: { username: string; password: string }) {
    const config = await discover(server, app.clientId, app.clientSecret);
    const tokens = await redeem(config, await authorize(config, user, { scope: 'openid profile offline_access', parameters: { prompt: 'consent' } }));
    return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token! };
  }

  const auth = () => ({ authorization: basicAuth(app.clientId, app.clientSecret) });

  describe('over HTTP, as a browser without JavaScript', () => {
    it('sends a visitor without a session to sign in first', async () => {
      const response = await fetch(`${server.issuer}/account`, { redirect: 'manual' });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal(`/account/login?returnTo=${encodeURIComponent('/account')}`);
    });

    it('shows any signed-in user their account, without the admin sections', async () => {
      const { user } = await newUser('viewer');
      const { page } = await signIn(user);
      expect(page.status).to.equal(200);
      expect(page.url).to.equal(`${server.issuer}/account`);
      expect(page.html).to.include('Your account').and.include(user.username).and.include('This sign-in (use Sign out)');
      expect(page.html).not.to.include('href="/admin/users"');
    });

    it('changes the password only with the current one, and says which field was wrong', async () => {
      const { user, account } = await newUser('changer');
      const { browser, page } = await signIn(user);
      const wrong = await browser.submit(page, '/account/password', { current_password: 'not it at all', new_password: 'a brand new pw' });
      expect(wrong.status).to.equal(422);
      expect(wrong.html).to.include('id="current_password-error" role="alert">is not your current password');
      expect(wrong.html).to.match(/id="current_password"[^>]*aria-invalid="true"/);
      const short = await browser.submit(page, '/account/password', { current_password: user.password, new_password: 'short' });
      expect(short.status).to.equal(422);
      expect(short.html).to.include('id="new_password-error" role="alert">must be 8 to 1024 characters').and.not.include('current_password-error');
      expect(await server.services.accounts.authenticate(user.username, user.password), 'nothing changed').to.not.equal(undefined);
      const changed = await browser.submit(page, '/account/password', { current_password: user.password, new_password: 'a brand new pw' });
      expect(changed.html).to.include('Your password was changed.');
      expect(await server.services.accounts.authenticate(user.username, user.password)).to.equal(undefined);
      expect(await server.services.accounts.authenticate(user.username, 'a brand new pw')).to.not.equal(undefined);
      const { items } = await server.services.audit.list({ perPage: 500 });
      const event = items.find((item) => item.event === 'account.password_changed' && item.detail.account_id === account.id);
      expect(event?.actor).to.equal(`user:${account.id}`);
    });

    it('lists the applications granted with scopes and date, and withdraws one: its tokens die with it', async () => {
      const { user } = await newUser('granter');
      const tokens = await grantTheApp(user);
      expect(await isActive(server, tokens.accessToken, auth())).to.equal(true);
      const { browser, page } = await signIn(user);
      expect(page.html).to.include(`Photo Album ${stamp}`).and.include('openid profile offline_access').and.match(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      const withdrawn = await browser.submit(page, '/withdraw');
      expect(withdrawn.html).to.include('Access withdrawn').and.not.include(`Photo Album ${stamp}`);
      expect(await isActive(server, tokens.accessToken, auth()), 'the access token').to.equal(false);
      expect(await isActive(server, tokens.refreshToken, auth()), 'the refresh token').to.equal(false);
      expect((await browser.navigate(`${server.issuer}/account`)).status, 'this page’s own sign-in is untouched').to.equal(200);
    });

    it('withdraws only the user’s own grants, and only from a form of the page', async () => {
      const { user: mine } = await newUser('mine');
      const { user: theirs, account: theirAccount } = await newUser('theirs');
      await grantTheApp(theirs);
      const [theirGrant] = (await server.services.accounts.grants(theirAccount.id)).grants;
      const { browser, page } = await signIn(mine);
      const csrf = FormBrowser.forms(page).find((form) => form.action.endsWith('/password'))!.fields.csrf!;
      const crossed = await browser.navigate(`${server.issuer}/account/grants/${theirGrant!.grantId}/withdraw`, { method: 'POST', body: new URLSearchParams({ csrf }) });
      expect(crossed.status).to.equal(404);
      const forged = await browser.request(`${server.issuer}/account/password`, { method: 'POST', body: new URLSearchParams({ current_password: mine.password, new_password: 'forged password' }) });
      expect(forged.status).to.equal(403);
      expect(await server.services.accounts.authenticate(mine.username, mine.password)).to.not.equal(undefined);
      expect(await server.services.provider.Grant.find(theirGrant!.grantId)).to.not.equal(undefined);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    // Each page is screenshot and checked by axe-core at two widths: slower than a click.
    this.timeout(60_000);
    let page: Page;
    freshPagePerTest((opened) => { page = opened; });

    it('lets a user withdraw an application, and change their password after a mistake, with the keyboard', async () => {
      const { user } = await newUser('chromium-account');
      const tokens = await grantTheApp(user);
      await signInWithChromium(page, `${server.issuer}/account`, user);
      await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
      await checkPage(page, 'account');

      // Withdrawn first: a new password withdraws every application's access.
      await page.getByRole('button', { name: `Withdraw Photo Album ${stamp}’s access` }).focus();
      await page.keyboard.press('Enter');
      await page.getByText('Access withdrawn').waitFor();
      await checkPage(page, 'account-withdrawn');
      expect(await isActive(server, tokens.accessToken, auth())).to.equal(false);

      await page.getByLabel('Current password').fill('wrong guess');
      await page.getByLabel('New password').fill('chromium new pw');
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.locator('#current_password-error').waitFor();
      await checkPage(page, 'account-password-error');
      await page.getByLabel('Current password').fill(user.password);
      await page.getByLabel('New password').fill('chromium new pw');
      await page.keyboard.press('Enter');
      await page.getByText('Your password was changed.').waitFor();
    });

    it('shows an administrator the console’s sections beside their account', async () => {
      const { user } = await newUser('chromium-admin', ['admin']);
      await signInWithChromium(page, `${server.issuer}/account`, user);
      await page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
      expect(new URL(page.url()).pathname).to.equal('/admin/users');
    });
  });
});
