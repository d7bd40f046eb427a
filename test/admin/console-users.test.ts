import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { FormBrowser, type Page as FormPage } from '../support/form-browser.js';
import { chromiumSignedIn, consoleSignIn, type Credentials } from '../support/console.js';
import { checkPage } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('the admin console’s Users section (/admin/users)', () => {
  let server: TestServer;
  let adminId: string;
  const stamp = Date.now();
  const admin = { username: `users-admin-${stamp}`, password: 'users admin pw' };

  before(async () => {
    server = await startTestServer();
    adminId = (await server.services.accounts.create({ ...admin, roles: ['admin'] })).id;
  });

  after(() => server?.stop());

  const signIn = (user: Credentials, path = '/admin') => consoleSignIn(server, user, path);

  /** The audit events of one kind about one account, newest first. */
  async function auditOf(event: string, accountId: string) {
    const { items } = await server.services.audit.list({ perPage: 500 });
    return items.filter((item) => item.event === event && item.detail.account_id === accountId);
  }

  /** A user who has signed in once (to the console, which refuses them): they hold a grant of the console's client. */
  async function userWithGrant(username: string, roles: string[] = []) {
    const user = { username, password: `${username} pw` };
    const account = await server.services.accounts.create({ ...user, roles });
    const signedIn = await signIn(user);
    return { user, account, ...signedIn };
  }

  describe('over HTTP, as a browser without JavaScript', () => {
    let browser: FormBrowser;

    before(async () => {
      ({ browser } = await signIn(admin));
    });

    const users = (path = '') => `${server.issuer}/admin/users${path}`;

    it('searches users by username, email or name, twenty to a page', async () => {
      const prefix = `pager-${stamp}`;
      for (let i = 0; i < 23; i += 1) {
        await server.services.accounts.create({ username: `${prefix}-${String(i).padStart(2, '0')}`, password: 'pager user pw', ...(i === 7 ? { email: `seventh-${stamp}@example.test` } : {}) });
      }
      const first = await browser.navigate(users(`?q=${prefix}`));
      expect(first.status).to.equal(200);
      expect(first.html).to.include('23 users · page 1 of 2').and.include(`${prefix}-19`).and.not.include(`${prefix}-20`);
      expect(first.html).to.include(`href="/admin/users?q=${prefix}&amp;page=2" rel="next"`);
      const second = await browser.navigate(users(`?q=${prefix}&page=2`));
      expect(second.html).to.include(`${prefix}-22`).and.not.include(`${prefix}-19<`);
      expect((await browser.navigate(users(`?q=seventh-${stamp}`))).html).to.include('1 user · page 1 of 1').and.include(`${prefix}-07`);
      expect((await browser.navigate(users('?page=two'))).status, 'a malformed page number').to.equal(400);
    });

    it('creates a user, audited with the acting administrator', async () => {
      const form = await browser.navigate(users('/new'));
      const created = await browser.submit(form, '/admin/users', { username: `made-${stamp}`, password: 'made user pw', email: `made-${stamp}@example.test`, name: 'Made Here', roles: 'staff' });
      expect(created.status).to.equal(200);
      expect(created.html).to.include('User created.').and.include('Made Here').and.include('staff');
      const account = await server.services.accounts.show(`made-${stamp}`);
      expect(account.roles).to.deep.equal(['staff']);
      expect(await server.services.accounts.authenticate(`made-${stamp}`, 'made user pw')).to.not.equal(undefined);
      const [event] = await auditOf('account.created', account.id);
      expect(event?.actor).to.equal(`user:${adminId}`);
    });

    it('answers bad input with an error next to each field it concerns, and creates nothing', async () => {
      const form = await browser.navigate(users('/new'));
      const refused = await browser.submit(form, '/admin/users', { username: 'no spaces allowed', password: 'short', email: 'not-an-email', roles: 'emperor' });
      expect(refused.status).to.equal(422);
      for (const field of ['username', 'password', 'email']) {
        expect(refused.html, field).to.match(new RegExp(`id="${field}"[^>]*aria-invalid="true"[^>]*aria-describedby="${field}-error`));
        expect(refused.html, field).to.match(new RegExp(`id="${field}-error" role="alert"`));
      }
      expect(refused.html).to.include('&quot;emperor&quot; is not a role').and.include('id="roles-error"');
      expect(refused.html, 'what was typed is kept, except the password').to.include('value="no spaces allowed"').and.not.include('value="short"');
      expect((await server.services.accounts.list({ search: 'no spaces allowed' })).total).to.equal(0);

      const taken = await browser.submit(await browser.navigate(users('/new')), '/admin/users', { username: admin.username.toUpperCase(), password: 'long enough pw' });
      expect(taken.status).to.equal(422);
      expect(taken.html).to.match(/id="username-error" role="alert">username &quot;[^&]+&quot; is already taken/);
    });

    it('edits email, name and roles, and refuses a bad email without saving anything', async () => {
      const account = await server.services.accounts.create({ username: `edit-${stamp}`, password: 'edit user pw', name: 'Before' });
      const form = await browser.navigate(users(`/${account.id}/edit`));
      expect(form.html).to.include('value="Before"');
      const bad = await browser.submit(form, `/admin/users/${account.id}`, { name: 'After', email: 'nope', roles: 'admin' });
      expect(bad.status).to.equal(422);
      expect(bad.html).to.include('id="email-error" role="alert">is not an email address');
      expect((await server.services.accounts.show(account.id)).name, 'nothing changed').to.equal('Before');
      const saved = await browser.submit(form, `/admin/users/${account.id}`, { name: 'After', email: `after-${stamp}@example.test`, roles: 'admin' });
      expect(saved.html).to.include('Changes saved.');
      const changed = await server.services.accounts.show(account.id);
      expect(changed).to.include({ name: 'After', email: `after-${stamp}@example.test` });
      expect(changed.roles).to.deep.equal(['admin']);
      expect((await auditOf('account.updated', account.id))[0]?.actor).to.equal(`user:${adminId}`);
    });

    it('disables a user, who is signed out everywhere and cannot sign in, then enables them again', async () => {
      const { user, account, browser: theirs } = await userWithGrant(`disable-${stamp}`);
      expect((await server.services.accounts.grants(account.id)).grants).to.have.length(1);
      const page = await browser.navigate(users(`/${account.id}`));
      const disabled = await browser.submit(page, `/admin/users/${account.id}/status`);
      expect(disabled.html).to.include('User disabled').and.include('Enable user');
      expect((await server.services.accounts.grants(account.id)).grants, 'their grants are revoked').to.deep.equal([]);
      expect(await server.services.accounts.authenticate(user.username, user.password)).to.equal(undefined);
      expect((await theirs.request(`${server.issuer}/admin`)).status, 'their console session ended').to.equal(303);
      const again = await theirs.navigate(`${server.issuer}/admin`);
      expect(again.status, 'their Gatehouse sign-in ended too: the login page, not an error').to.equal(200);
      expect(again.html).to.include('name="password"');
      const refused = await theirs.submit(again, '/login', user);
      expect(refused.html).to.include('Wrong username or password.');
      const enabled = await browser.submit(disabled, `/admin/users/${account.id}/status`);
      expect(enabled.html).to.include('User enabled');
      expect(await server.services.accounts.authenticate(user.username, user.password)).to.not.equal(undefined);
      const events = await auditOf('account.updated', account.id);
      expect(events.map((event) => event.actor)).to.deep.equal([`user:${adminId}`, `user:${adminId}`]);
    });

    it('refuses (422) a status form that says neither true nor false, and changes nothing', async () => {
      const { account } = await userWithGrant(`status-${stamp}`);
      const page = await browser.navigate(users(`/${account.id}`));
      const form = FormBrowser.forms(page).find((f) => f.action.endsWith(`/admin/users/${account.id}/status`))!;
      for (const body of [[['csrf', form.fields.csrf ?? '']], [['csrf', form.fields.csrf ?? ''], ['active[]', 'true']], [['csrf', form.fields.csrf ?? ''], ['active', 'yes']]]) {
        const refused = await browser.navigate(form.action, { method: 'POST', body: new URLSearchParams(body) });
        expect(refused.status, JSON.stringify(body)).to.equal(422);
        expect(refused.html).to.include('nothing was changed');
      }
      expect((await server.services.accounts.show(account.id)).active).to.equal(true);
      expect((await server.services.accounts.grants(account.id)).grants, 'their grants live on').to.have.length(1);
    });

    it('sets a new password, and refuses one too short with the old one still working', async () => {
      const account = await server.services.accounts.create({ username: `password-${stamp}`, password: 'first password' });
      const form = await browser.navigate(users(`/${account.id}/password`));
      const short = await browser.submit(form, '/password', { password: 'tiny' });
      expect(short.status).to.equal(422);
      expect(short.html).to.include('id="password-error" role="alert">must be 8 to 1024 characters');
      expect(await server.services.accounts.authenticate(account.username, 'first password')).to.not.equal(undefined);
      const set = await browser.submit(form, '/password', { password: 'second password' });
      expect(set.html).to.include('New password set.');
      expect(set.html, 'the password is never shown back').not.to.include('second password');
      expect(await server.services.accounts.authenticate(account.username, 'second password')).to.not.equal(undefined);
      expect((await auditOf('account.password_set', account.id))[0]?.actor).to.equal(`user:${adminId}`);
    });

    it('lists a user’s grants per client and revokes one: the grant and its tokens die, the user’s session with it', async () => {
      const { account, browser: theirs } = await userWithGrant(`grants-${stamp}`);
      const page = await browser.navigate(users(`/${account.id}`));
      expect(page.html).to.include('Access granted to applications').and.include('Gatehouse dashboard').and.include('openid profile');
      const [grant] = (await server.services.accounts.grants(account.id)).grants;
      const revoked = await browser.submit(page, `/grants/${grant!.grantId}/revoke`);
      expect(revoked.html).to.include('Access revoked').and.include('No active grants.');
      expect(await server.services.provider.Grant.find(grant!.grantId)).to.equal(undefined);
      expect((await theirs.request(`${server.issuer}/admin`)).status, 'the session built on it ended').to.equal(303);
      const [event] = await auditOf('account.grant_revoked', account.id);
      expect(event).to.include({ actor: `user:${adminId}`, clientId: 'gatehouse-dashboard' });
      const other = await server.services.accounts.create({ username: `grants-other-${stamp}`, password: 'grants other pw' });
      const { account: third } = await userWithGrant(`grants-third-${stamp}`);
      const [theirGrant] = (await server.services.accounts.grants(third.id)).grants;
      const csrf = FormBrowser.forms(page).find((form) => form.action.includes('/revoke'))!.fields.csrf!;
      const crossed = await browser.navigate(users(`/${other.id}/grants/${theirGrant!.grantId}/revoke`), { method: 'POST', body: new URLSearchParams({ csrf }) });
      expect(crossed.status, 'another user’s grant is not found through this one').to.equal(404);
      expect(await server.services.provider.Grant.find(theirGrant!.grantId)).to.not.equal(undefined);
    });

    it('deletes a user only after a confirmation that names their grants and tokens', async () => {
      const { account } = await userWithGrant(`delete-${stamp}`);
      const page = await browser.navigate(users(`/${account.id}/delete`));
      expect(page.html).to.include('1 grant to').and.include('Gatehouse dashboard').and.include('every access and refresh token issued under them');
      const unconfirmed = await browser.submit(page, '/delete', { confirm: 'someone else' });
      expect(unconfirmed.status).to.equal(422);
      expect(unconfirmed.html).to.include('id="confirm-error" role="alert">type the username');
      expect(await server.services.accounts.findById(account.id), 'nothing deleted').to.not.equal(undefined);
      const csrfless = await browser.request(users(`/${account.id}/delete`), { method: 'POST', body: new URLSearchParams({ confirm: account.username }) });
      expect(csrfless.status).to.equal(403);
      const deleted = await browser.submit(page, '/delete', { confirm: account.username });
      expect(deleted.url).to.equal(users('?done=deleted'));
      expect(deleted.html).to.include('User deleted, with their grants and tokens.');
      expect(await server.services.accounts.findById(account.id)).to.equal(undefined);
      const [event] = await auditOf('account.deleted', account.id);
      expect(event).to.deep.include({ actor: `user:${adminId}` });
      expect(event!.detail.revoked_grants).to.equal(1);
    });

    it('keeps administrators from locking themselves out: no disabling, deleting or demoting oneself here', async () => {
      const own = await browser.navigate(users(`/${adminId}`));
      const disable = await browser.submit(own, `/admin/users/${adminId}/status`);
      expect(disable.status).to.equal(422);
      expect(disable.html).to.include('id="status-error" role="alert">You cannot disable your own account here');
      const demote = await browser.submit(await browser.navigate(users(`/${adminId}/edit`)), `/admin/users/${adminId}`, { roles: 'staff' });
      expect(demote.status).to.equal(422);
      expect(demote.html).to.include('id="roles-error" role="alert">You cannot remove your own admin role here');
      const confirm = await browser.navigate(users(`/${adminId}/delete`));
      expect(confirm.html).to.include('You cannot delete your own account here').and.not.include('name="confirm"');
      const account = await server.services.accounts.show(adminId);
      expect(account).to.include({ active: true });
      expect(account.roles).to.deep.equal(['admin']);
    });

    it('answers an unknown user with a not-found page', async () => {
      const missing: FormPage = await browser.navigate(users('/00000000-0000-0000-0000-000000000000'));
      expect(missing.status).to.equal(404);
      expect(missing.html).to.include('Not found').and.include('Back to the console');
    });

    it('says not found in its own words: no text of the URL reaches the page', async () => {
      const words = 'Your session expired: sign in again at evil.example';
      for (const path of [users(`/${encodeURIComponent(words)}`), `${server.issuer}/admin/clients/${encodeURIComponent(words)}`, `${server.issuer}/admin/scopes/${encodeURIComponent(words)}/edit`]) {
        const page: FormPage = await browser.navigate(path);
        expect(page.status, path).to.equal(404);
        expect(page.html, path).to.include('Not found').and.not.include('evil.example');
      }
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    // Each page is screenshot and checked by axe-core at two widths: slower than a click.
    this.timeout(60_000);
    const chromium = chromiumSignedIn(() => server, () => admin, '/admin/users');
    let page: Page;
    before(() => { page = chromium.page(); });

    it('finds users, and creates one after correcting the errors shown next to each field', async () => {
      const username = `chromium-${stamp}`;
      await page.goto(`${server.issuer}/admin/users`);
      await checkPage(page, 'users-list');
      await page.getByRole('link', { name: 'New user' }).click();
      await page.getByRole('heading', { name: 'New user' }).waitFor();
      await checkPage(page, 'users-new');
      await page.getByLabel('Username').fill('has a space');
      await page.getByLabel('Password').fill('short');
      await page.getByLabel('Email').fill('nope');
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.locator('#username-error').waitFor();
      expect(await page.getByLabel('Username').getAttribute('aria-invalid')).to.equal('true');
      await checkPage(page, 'users-new-errors');

      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill('chromium user pw');
      await page.getByLabel('Email').fill(`${username}@example.test`);
      await page.getByLabel('Name', { exact: true }).fill('Chromium User');
      await page.getByRole('checkbox', { name: 'staff' }).check();
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByText('User created.').waitFor();
      await checkPage(page, 'users-show');
      expect((await server.services.accounts.show(username)).roles).to.deep.equal(['staff']);
    });

    it('edits, disables, enables and re-passwords a user', async () => {
      const account = await server.services.accounts.create({ username: `chromium-edit-${stamp}`, password: 'chromium edit pw' });
      await page.goto(`${server.issuer}/admin/users/${account.id}`);
      await page.getByRole('link', { name: 'Edit' }).click();
      await page.getByLabel('Name', { exact: true }).fill('Chromium User Renamed');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Changes saved.').waitFor();
      expect((await server.services.accounts.show(account.id)).name).to.equal('Chromium User Renamed');

      await page.getByRole('button', { name: 'Disable user' }).click();
      await page.getByText('User disabled').waitFor();
      expect((await server.services.accounts.show(account.id)).active).to.equal(false);
      await page.getByRole('button', { name: 'Enable user' }).click();
      await page.getByText('User enabled').waitFor();

      await page.getByRole('link', { name: 'Set a new password' }).click();
      await page.getByRole('heading', { name: `New password for ${account.username}` }).waitFor();
      await checkPage(page, 'users-password');
      await page.getByLabel('New password').fill('chromium second pw');
      await page.keyboard.press('Enter');
      await page.getByText('New password set.').waitFor();
      expect(await server.services.accounts.authenticate(account.username, 'chromium second pw')).to.not.equal(undefined);
    });

    it('deletes a user after typing their username, and no longer finds them', async () => {
      const account = await server.services.accounts.create({ username: `chromium-delete-${stamp}`, password: 'chromium delete pw' });
      await page.goto(`${server.issuer}/admin/users/${account.id}`);
      await page.getByRole('link', { name: 'Delete user…' }).click();
      await page.getByRole('heading', { name: `Delete ${account.username}` }).waitFor();
      await checkPage(page, 'users-delete');
      await page.getByLabel(/Type the username/).fill(account.username);
      await page.getByRole('button', { name: `Delete ${account.username}` }).click();
      await page.getByText('User deleted, with their grants and tokens.').waitFor();
      expect(await server.services.accounts.findById(account.id)).to.equal(undefined);

      await page.getByLabel('Search users by username, email or name').fill(account.username);
      await page.keyboard.press('Enter');
      await page.getByText(`No user matches “${account.username}”.`).waitFor();
      await checkPage(page, 'users-search-empty');
    });

    it('shows a user’s grants and revokes one with the keyboard alone', async () => {
      const { account } = await userWithGrant(`chromium-grants-${stamp}`);
      await page.goto(`${server.issuer}/admin/users/${account.id}`);
      await page.getByRole('heading', { name: 'Access granted to applications' }).waitFor();
      await checkPage(page, 'users-grants');
      await page.getByRole('button', { name: /Revoke Gatehouse dashboard/ }).focus();
      await page.keyboard.press('Enter');
      await page.getByText('Access revoked').waitFor();
      expect((await server.services.accounts.grants(account.id)).grants).to.deep.equal([]);
    });
  });
});
