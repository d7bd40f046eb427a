import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { FormBrowser } from '../support/form-browser.js';
import { checkPage, freshPagePerTest, signInWithChromium } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { consoleSignIn, type Credentials } from '../support/console.js';

describe('the account page’s sessions (/account)', () => {
  let server: TestServer;
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer();
  });

  after(() => server?.stop());

  async function newUser(name: string) {
    const user = { username: `${name}-${stamp}`, password: `${name} account pw` };
    return { user, account: await server.services.accounts.create(user) };
  }

  const signIn = async (user: Credentials) => (await consoleSignIn(server, user, '/account')).browser;

  const account = (browser: FormBrowser) => browser.navigate(`${server.issuer}/account`);
  const signedIn = async (browser: FormBrowser) => (await account(browser)).html.includes('Your account');

  describe('over HTTP, as a browser without JavaScript', () => {
    it('marks this device, signs out every other session, and leaves this one', async () => {
      const { user, account: holder } = await newUser('others');
      const others = [await signIn(user), await signIn(user)];
      const me = await signIn(user);
      const page = await account(me);
      expect(page.html).to.include('This device').and.include('Sign out of all other sessions');
      expect(page.html.match(/\/sign-out"/g)).to.have.length(2);
      const done = await me.submit(page, '/sessions/sign-out-others');
      expect(done.html).to.include('Every other session is signed out; this one stays.').and.not.include('Sign out of all other sessions');
      for (const other of others) expect(await signedIn(other), 'another browser').to.equal(false);
      expect(await signedIn(me), 'this browser').to.equal(true);
      expect(await server.services.sessions.ofAccount(holder.id)).to.have.length(1);
    });

    it('changing the password signs out every other session, and leaves this one', async () => {
      const { user, account: holder } = await newUser('changes');
      const other = await signIn(user);
      const me = await signIn(user);
      expect(await server.services.sessions.ofAccount(holder.id)).to.have.length(2);
      const changed = await me.submit(await account(me), '/account/password', { current_password: user.password, new_password: 'a changed password' });
      // The other browser's account page ends with its provider session: were that still
      // alive, going back to /account would sign it in again without a password.
      expect(await signedIn(other), 'another browser').to.equal(false);
      expect(await signedIn(me), 'this browser').to.equal(true);
      expect(changed.html).to.include('Your password was changed. Every other session is signed out; this one stays.');
      expect(await server.services.sessions.ofAccount(holder.id)).to.have.length(1);
      const after = await account(me);
      expect(after.html, 'the one left is this device').to.include('This device').and.not.match(/\/sign-out"/);
      const { items } = await server.services.audit.list({ perPage: 500 });
      expect(items.filter((item) => item.event === 'session.revoked' && item.detail.account_id === holder.id)).to.have.length(1);
    });

    it('signs out one other session, and only the user’s own', async () => {
      const { user } = await newUser('single');
      const other = await signIn(user);
      const me = await signIn(user);
      const { user: stranger, account: strangerAccount } = await newUser('stranger');
      await signIn(stranger);
      const [strangers] = await server.services.sessions.ofAccount(strangerAccount.id);
      const page = await account(me);
      const csrf = FormBrowser.forms(page).find((form) => form.action.endsWith('/password'))!.fields.csrf!;
      const crossed = await me.request(`${server.issuer}/account/sessions/${encodeURIComponent(strangers!.sessionUid)}/sign-out`, { method: 'POST', body: new URLSearchParams({ csrf }) });
      expect(crossed.status, 'another account’s session').to.equal(404);
      const forged = await me.request(`${server.issuer}/account/sessions/sign-out-others`, { method: 'POST', body: new URLSearchParams({}) });
      expect(forged.status, 'without the CSRF token').to.equal(403);
      expect(await signedIn(other)).to.equal(true);
      const done = await me.submit(page, '/sign-out');
      expect(done.html).to.include('That session is signed out.');
      expect(await signedIn(other)).to.equal(false);
      expect(await signedIn(me)).to.equal(true);
      expect(await server.services.sessions.ofAccount(strangerAccount.id)).to.have.length(1);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    this.timeout(60_000);
    let page: Page;
    freshPagePerTest((opened) => { page = opened; });

    it('shows where the user is signed in and signs out the others with the keyboard', async () => {
      const { user } = await newUser('chromium-sessions');
      const other = await signIn(user);
      await signInWithChromium(page, `${server.issuer}/account`, user);
      await page.getByRole('heading', { name: 'Where you are signed in' }).waitFor();
      await page.getByText('This device').waitFor();
      await checkPage(page, 'account-sessions');
      await page.getByRole('button', { name: 'Sign out of all other sessions' }).focus();
      await page.keyboard.press('Enter');
      await page.getByText('Every other session is signed out').waitFor();
      await checkPage(page, 'account-sessions-signed-out');
      expect(await signedIn(other)).to.equal(false);
    });
  });
});
