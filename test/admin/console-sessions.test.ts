import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { findCommand } from '../../src/cli/commands.js';
import { FormBrowser } from '../support/form-browser.js';
import { checkPage, freshPagePerTest, newCheckedPage, requireChromium, signInWithChromium } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { consoleSignIn, type Credentials } from '../support/console.js';

describe('the admin console’s Sessions section (/admin/sessions)', () => {
  let server: TestServer;
  const stamp = Date.now();
  const admin = { username: `sessions-admin-${stamp}`, password: 'sessions admin pw' };
  let adminBrowser: FormBrowser;

  const signIn = (user: Credentials, path = '/admin') => consoleSignIn(server, user, path);

  async function newUser(name: string, roles: string[] = []) {
    const user = { username: `${name}-${stamp}`, password: `${name} session pw` };
    return { user, account: await server.services.accounts.create({ ...user, roles }) };
  }

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    ({ browser: adminBrowser } = await signIn(admin));
  });

  after(() => server?.stop());

  describe('over HTTP, as a browser without JavaScript', () => {
    it('lists who is signed in, from where and since when, on the list and on the user’s page', async () => {
      const { user, account } = await newUser('listed');
      await signIn(user, '/account');
      await signIn(user, '/account');
      const [first] = await server.services.sessions.ofAccount(account.id);
      expect(await server.services.sessions.ofAccount(account.id)).to.have.length(2);
      expect(first).to.deep.include({ accountId: account.id, ip: '127.0.0.1' });
      const list = await adminBrowser.navigate(`${server.issuer}/admin/sessions`);
      expect(list.status).to.equal(200);
      expect(list.html).to.include(`href="/admin/users/${account.id}">${user.username}</a>`).and.match(/\d+ sessions · page 1 of \d+/);
      const userPage = await adminBrowser.navigate(`${server.issuer}/admin/users/${account.id}`);
      expect(userPage.html).to.include('Signed-in sessions').and.include(`/admin/sessions/${encodeURIComponent(first!.sessionUid)}?back=user`);
      expect((await adminBrowser.navigate(`${server.issuer}/admin/sessions?page=x`)).status, 'a malformed page number').to.equal(400);
    });

    it('signs one browser out after a confirmation, leaving the other signed in', async () => {
      const { user, account } = await newUser('revoked');
      const one = await signIn(user, '/account');
      const other = await signIn(user, '/account');
      // Browser one's page offers to sign the other out: that form names the other's session.
      const onePage = await one.browser.navigate(`${server.issuer}/account`);
      const otherUid = decodeURIComponent(/\/account\/sessions\/([^/"]+)\/sign-out/.exec(onePage.html)![1]!);
      const confirm = await adminBrowser.navigate(`${server.issuer}/admin/sessions/${encodeURIComponent(otherUid)}?back=user`);
      expect(confirm.status).to.equal(200);
      expect(confirm.html).to.include('Yes, sign out this session');
      const done = await adminBrowser.submit(confirm, '/revoke');
      expect(done.url).to.equal(`${server.issuer}/admin/users/${account.id}?done=session_revoked`);
      expect(done.html).to.include('Session ended');
      const otherAgain = await other.browser.navigate(`${server.issuer}/account`);
      expect(otherAgain.html, 'the revoked browser is asked to sign in').to.include('name="password"').and.not.include('Your account');
      expect((await one.browser.navigate(`${server.issuer}/account`)).html).to.include('Your account');
      expect((await server.services.sessions.ofAccount(account.id)).map((s) => s.sessionUid)).not.to.include(otherUid);
      const { items } = await server.services.audit.list({ perPage: 500 });
      expect(items.find((item) => item.event === 'session.revoked' && item.detail.session === otherUid)?.actor).to.match(/^user:/);
    });

    it('ends every session of a user who is disabled, and of one who is deleted, at once: each browser must sign in again', async () => {
      for (const end of ['disable', 'delete'] as const) {
        const { user, account } = await newUser(`ended-by-${end}`);
        const signedIn = await signIn(user, '/account');
        expect((await signedIn.browser.navigate(`${server.issuer}/account`)).html).to.include('Your account');
        expect(await server.services.sessions.ofAccount(account.id)).to.have.length(1);
        if (end === 'disable') await server.services.accounts.update(account.id, { active: false });
        else await server.services.accounts.delete(account.id);
        expect(await server.services.sessions.ofAccount(account.id), `${end}: no session listed`).to.deep.equal([]);
        if (end === 'disable') await server.services.accounts.update(account.id, { active: true });
        // Enabled again (or not there at all), the browser's old session still does not count: it signs in afresh.
        expect((await signedIn.browser.navigate(`${server.issuer}/account`)).html, end).to.include('name="password"').and.not.include('Your account');
      }
    });

    it('lists and revokes the same sessions from the CLI’s session commands', async () => {
      const { user, account } = await newUser('cli');
      const browser = (await signIn(user, '/account')).browser;
      const run = (words: string[], values: Record<string, string> = {}) => {
        const found = findCommand(words)!;
        return found.command.run(server.services, found.args, values);
      };
      const listed = await run(['session', 'list'], { user: user.username }) as Array<{ session: string; ip: string }>;
      expect(listed).to.have.length(1);
      expect(listed[0]!.ip).to.equal('127.0.0.1');
      expect(await run(['session', 'revoke', listed[0]!.session])).to.deep.equal({ revoked: listed[0]!.session, account_id: account.id });
      expect((await browser.navigate(`${server.issuer}/account`)).html).not.to.include('Your account');
    });

    it('refuses a form without its CSRF token, and anyone who is not an administrator', async () => {
      const { user, account } = await newUser('guarded');
      await signIn(user, '/account');
      const [session] = await server.services.sessions.ofAccount(account.id);
      const forged = await adminBrowser.request(`${server.issuer}/admin/sessions/${encodeURIComponent(session!.sessionUid)}/revoke`, { method: 'POST', body: new URLSearchParams({}) });
      expect(forged.status).to.equal(403);
      const { browser: plain } = await signIn((await newUser('plain')).user, '/account');
      expect((await plain.navigate(`${server.issuer}/admin/sessions`)).status).to.equal(403);
      expect(await server.services.sessions.ofAccount(account.id)).to.have.length(1);
      expect((await adminBrowser.navigate(`${server.issuer}/admin/sessions/no-such-session`)).status).to.equal(404);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    this.timeout(90_000);
    let page: Page;
    freshPagePerTest((opened) => { page = opened; });

    it('revokes one of two browsers signed in as the same user: that one is signed out', async () => {
      const { user, account } = await newUser('two-browsers');
      const chromium = await requireChromium();
      try {
        const first = await newCheckedPage(chromium);
        const second = await newCheckedPage(chromium);
        await signInWithChromium(first.page, `${server.issuer}/account`, user);
        await first.page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
        await signInWithChromium(second.page, `${server.issuer}/account`, user);
        await second.page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
        await first.page.reload();
        const secondUid = decodeURIComponent(/\/account\/sessions\/([^/"]+)\/sign-out/.exec(await first.page.content())![1]!);

        await signInWithChromium(page, `${server.issuer}/admin/sessions`, admin);
        await page.getByRole('heading', { name: 'Sessions', exact: true }).waitFor();
        await checkPage(page, 'console-sessions');
        await page.goto(`${server.issuer}/admin/users/${account.id}`);
        await page.getByRole('heading', { name: 'Signed-in sessions' }).waitFor();
        await checkPage(page, 'console-user-sessions');
        await page.locator(`a[href*="${encodeURIComponent(secondUid)}"]`).click();
        await page.getByRole('button', { name: 'Yes, sign out this session' }).waitFor();
        await checkPage(page, 'console-session-revoke');
        await page.getByRole('button', { name: 'Yes, sign out this session' }).click();
        await page.getByText('Session ended').waitFor();

        await second.page.goto(`${server.issuer}/account`);
        await second.page.getByLabel('Username').waitFor();
        await first.page.goto(`${server.issuer}/account`);
        await first.page.getByRole('heading', { name: 'Your account', exact: true }).waitFor();
        await Promise.all([first.context.close(), second.context.close()]);
      } finally {
        await chromium.close();
      }
    });
  });
});
