import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { FormBrowser } from '../support/form-browser.js';
import { checkPage, freshPagePerTest, signInWithChromium } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { consoleSignIn, type Credentials } from '../support/console.js';

describe('one-time password-reset links', () => {
  let server: TestServer;
  const stamp = Date.now();
  const admin = { username: `reset-admin-${stamp}`, password: 'reset admin pw' };
  let adminBrowser: FormBrowser;

  const signIn = async (user: Credentials, path: string) => (await consoleSignIn(server, user, path)).browser;

  async function newUser(name: string) {
    const user = { username: `${name}-${stamp}`, password: `${name} reset pw` };
    return { user, account: await server.services.accounts.create(user) };
  }

  /** The admin creates a link on the user's password page; the link as the page shows it, once. */
  async function createLink(accountId: string, browser = adminBrowser): Promise<string> {
    const page = await browser.navigate(`${server.issuer}/admin/users/${accountId}/password`);
    const created = await browser.submit(page, '/reset-link');
    expect(created.status).to.equal(200);
    expect(created.headers.get('cache-control')).to.equal('no-store');
    return /value="(http[^"]+\/account\/reset\/[^"]+)"/.exec(created.html)![1]!;
  }

  const use = (link: string, password: string, confirmation = password) => {
    const browser = new FormBrowser();
    return browser.navigate(link, { method: 'POST', body: new URLSearchParams({ password, password_confirmation: confirmation }) });
  };

  before(async () => {
    server = await startTestServer({ PASSWORD_RESET_LINK_TTL: '60' });
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    adminBrowser = await signIn(admin, '/admin');
  });

  after(() => server?.stop());

  async function auditOf(event: string, accountId: string) {
    const { items } = await server.services.audit.list({ perPage: 500 });
    return items.filter((item) => item.event === event && item.detail.account_id === accountId);
  }

  describe('over HTTP, as a browser without JavaScript', () => {
    it('sets the password once, ends the user’s sessions, and refuses the second use', async () => {
      const { user, account } = await newUser('once');
      const signedIn = await signIn(user, '/account');
      const link = await createLink(account.id);
      expect(link.startsWith(`${server.issuer}/account/reset/`)).to.equal(true);
      const form = await new FormBrowser().navigate(link);
      expect(form.status).to.equal(200);
      expect(form.html).to.include('Choose a new password').and.include(user.username);
      const done = await use(link, 'a reset password');
      expect(done.status).to.equal(200);
      expect(done.html).to.include('Password set');
      expect(await server.services.accounts.authenticate(user.username, 'a reset password')).to.not.equal(undefined);
      expect(await server.services.accounts.authenticate(user.username, user.password)).to.equal(undefined);
      expect((await signedIn.navigate(`${server.issuer}/account`)).html, 'the old session is signed out').not.to.include('Your account');
      const again = await use(link, 'another password');
      expect(again.status).to.equal(410);
      expect(again.html).to.include('already been used').and.not.include(user.username);
      expect(await server.services.accounts.authenticate(user.username, 'a reset password')).to.not.equal(undefined);
      expect((await auditOf('account.reset_link_created', account.id))[0]?.actor).to.match(/^user:/).and.not.equal(`user:${account.id}`);
      expect((await auditOf('account.password_reset', account.id))[0]?.actor).to.equal(`user:${account.id}`);
    });

    it('refuses an earlier link, to look at and to use, once a later one has set the password', async () => {
      const { user, account } = await newUser('earlier');
      const earlier = await createLink(account.id);
      const later = await createLink(account.id);
      expect((await use(later, 'set by the later link')).status).to.equal(200);
      const looked = await new FormBrowser().navigate(earlier);
      expect(looked.status).to.equal(410);
      expect(looked.html).to.include('a newer one replaced it').and.not.include(user.username);
      expect((await use(earlier, 'set by the earlier link')).status).to.equal(410);
      expect(await server.services.accounts.authenticate(user.username, 'set by the later link')).to.not.equal(undefined);
      expect(await auditOf('account.password_reset', account.id)).to.have.length(1);
    });

    it('refuses an earlier link as soon as a later one is created, before either is used', async () => {
      const { user, account } = await newUser('replaced');
      const earlier = await createLink(account.id);
      const later = await createLink(account.id);
      expect((await use(earlier, 'set by the replaced link')).status).to.equal(410);
      expect(await server.services.accounts.authenticate(user.username, user.password), 'the password is unchanged').to.not.equal(undefined);
      expect((await use(later, 'set by the later link')).status).to.equal(200);
    });

    it('refuses a link once the user has changed their password on /account', async () => {
      const { user, account } = await newUser('changed');
      const link = await createLink(account.id);
      const { browser, page } = await consoleSignIn(server, user, '/account');
      const changed = await browser.submit(page, '/account/password', { current_password: user.password, new_password: 'changed on the page' });
      expect(changed.html).to.include('Your password was changed.');
      expect((await use(link, 'set by a stale link')).status).to.equal(410);
      expect(await server.services.accounts.authenticate(user.username, 'changed on the page')).to.not.equal(undefined);
    });

    it('lets exactly one of two concurrent uses win', async () => {
      const { user, account } = await newUser('race');
      const link = await createLink(account.id);
      const answers = await Promise.all([use(link, 'first racer pw'), use(link, 'second racer pw')]);
      expect(answers.map((answer) => answer.status).sort()).to.deep.equal([200, 410]);
      const winner = answers[0]!.status === 200 ? 'first racer pw' : 'second racer pw';
      expect(await server.services.accounts.authenticate(user.username, winner)).to.not.equal(undefined);
    });

    it('refuses an expired link and an unknown one, saying nothing of the account', async () => {
      const { user, account } = await newUser('expired');
      const { token } = await server.services.resetLinks.create(account.id, { actor: 'test' });
      // Ages the link past its expiry without waiting for it.
      const real = Date.now;
      Date.now = () => real() + 61_000;
      let expired;
      try {
        expired = await new FormBrowser().navigate(`${server.issuer}/account/reset/${token}`);
      } finally {
        Date.now = real;
      }
      expect(expired.status).to.equal(410);
      expect(expired.html).to.include('has expired').and.not.include(user.username);
      const [id] = token.split('.');
      for (const bad of [`${id}.wrong-secret`, 'nonsense', `${token}x`]) {
        const unknown = await new FormBrowser().navigate(`${server.issuer}/account/reset/${encodeURIComponent(bad)}`);
        expect(unknown.status, bad).to.equal(404);
        expect(unknown.html).to.include('not valid').and.not.include(user.username);
      }
    });

    it('keeps the link alive when the passwords are bad, with the error next to the field', async () => {
      const { account } = await newUser('typo');
      const link = await createLink(account.id);
      const short = await use(link, 'short');
      expect(short.status).to.equal(422);
      expect(short.html).to.include('id="password-error" role="alert">must be 8 to 1024 characters');
      const mismatch = await use(link, 'long enough pw', 'long enough pW');
      expect(mismatch.status).to.equal(422);
      expect(mismatch.html).to.include('id="password_confirmation-error" role="alert">does not match the new password');
      expect((await use(link, 'long enough pw')).status).to.equal(200);
    });

    it('is created only by an administrator, from a form of the console', async () => {
      const { user, account } = await newUser('plain');
      const plain = await signIn(user, '/account');
      expect((await plain.navigate(`${server.issuer}/admin/users/${account.id}/password`)).status).to.equal(403);
      const forged = await adminBrowser.request(`${server.issuer}/admin/users/${account.id}/reset-link`, { method: 'POST', body: new URLSearchParams({}) });
      expect(forged.status).to.equal(403);
      expect(await auditOf('account.reset_link_created', account.id)).to.deep.equal([]);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    this.timeout(60_000);
    let page: Page;
    freshPagePerTest((opened) => { page = opened; });

    it('an administrator creates a link; the user sets a password with it after a mistake', async () => {
      const { user, account } = await newUser('chromium-reset');
      await signInWithChromium(page, `${server.issuer}/admin/users/${account.id}/password`, admin);
      await page.getByRole('heading', { name: 'Or create a reset link' }).waitFor();
      await checkPage(page, 'console-user-password');
      await page.getByRole('button', { name: 'Create a reset link' }).click();
      const link = await page.getByLabel('One-time link').inputValue();
      await checkPage(page, 'console-reset-link');

      const holder = await page.context().browser()!.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
      try {
        const their = await holder.newPage();
        await their.goto(link);
        await their.getByLabel('New password', { exact: true }).fill('chromium reset pw');
        await their.getByLabel('New password again').fill('chromium reset pW');
        await their.getByRole('button', { name: 'Set password' }).click();
        await their.locator('#password_confirmation-error').waitFor();
        await checkPage(their, 'reset-link-error');
        await their.getByLabel('New password', { exact: true }).fill('chromium reset pw');
        await their.getByLabel('New password again').fill('chromium reset pw');
        await their.keyboard.press('Enter');
        await their.getByRole('heading', { name: 'Password set' }).waitFor();
        await their.goto(link);
        await their.getByRole('heading', { name: 'Link no longer valid' }).waitFor();
        await checkPage(their, 'reset-link-used');
      } finally {
        await holder.close();
      }
      expect(await server.services.accounts.authenticate(user.username, 'chromium reset pw')).to.not.equal(undefined);
    });
  });
});
