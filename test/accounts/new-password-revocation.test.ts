import { pbkdf2Sync } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm } from '../support/http.js';
import { authorize, discover, redeem, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * A new password is a revocation trigger (RFC 9700 §4.14.2): after it, no
 * refresh token obtained before it works, whether it was kept past logout
 * (offline_access) or came from the password grant (which belongs to no
 * sign-in session). Only the holder's own page, where they changed it, stays.
 */
describe('a new password ends every grant and token of the account', () => {
  let server: TestServer;
  let app: { clientId: string; clientSecret: string };
  let counter = 0;
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer();
    const made = await server.services.clients.create({
      name: `Offline reader ${stamp}`,
      grantTypes: ['authorization_code', 'refresh_token', 'password'],
      redirectUris: [REDIRECT_URI],
      scope: ['openid', 'profile', 'offline_access'],
    });
    app = { clientId: made.client.clientId, clientSecret: made.clientSecret! };
  });

  after(() => server?.stop());

  async function newUser() {
    counter += 1;
    const user = { username: `renewed-${stamp}-${counter}`, password: `renewed ${counter} first pw` };
    return { user, account: await server.services.accounts.create(user) };
  }

  const refresh = (refreshToken: string) => postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: basicAuth(app.clientId, app.clientSecret) });

  /** A refresh token of each kind: the code flow's, kept past logout, and the password grant's. */
  async function refreshTokensOf(user: { username: string; password: string }): Promise<Record<'offline_access' | 'password grant', string>> {
    const config = await discover(server, app.clientId, app.clientSecret);
    const code = await redeem(config, await authorize(config, user, { scope: 'openid offline_access', parameters: { prompt: 'consent' } }));
    const password = await postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'openid' }, { authorization: basicAuth(app.clientId, app.clientSecret) });
    expect(password.status, password.text).to.equal(200);
    return { offline_access: code.refresh_token!, 'password grant': password.json.refresh_token as string };
  }

  /** Refreshes each token; answers the status of each, by kind. */
  async function statuses(tokens: Record<string, string>): Promise<Record<string, number>> {
    const answers: Record<string, number> = {};
    for (const [kind, token] of Object.entries(tokens)) answers[kind] = (await refresh(token)).status;
    return answers;
  }

  it('a change on /account refuses both kinds of refresh token, and keeps this page signed in', async () => {
    const { user, account } = await newUser();
    const tokens = await refreshTokensOf(user);
    const browser = new FormBrowser();
    const page = await browser.submit(await browser.navigate(`${server.issuer}/account`), '/login', user);
    expect(page.html).to.include('Your account');
    const changed = await browser.submit(page, '/account/password', { current_password: user.password, new_password: 'the changed password' });
    expect(changed.html).to.include('Your password was changed.').and.include('Every application’s access is withdrawn');
    expect(await statuses(tokens), 'after the change').to.deep.equal({ offline_access: 400, 'password grant': 400 });
    const again = await browser.navigate(`${server.issuer}/account`);
    expect(again.status, 'this page’s own sign-in stays').to.equal(200);
    expect(again.html).to.include('Your account');
    const { grants } = await server.services.accounts.grants(account.id);
    expect(grants, 'only the grant of the page the change was made on').to.have.length(1);
  });

  it('a reset link refuses both kinds of refresh token', async () => {
    const { user, account } = await newUser();
    const tokens = await refreshTokensOf(user);
    const { token } = await server.services.resetLinks.create(account.id, { actor: 'test' });
    await server.services.resetLinks.redeem(token, 'the reset password', 'the reset password');
    expect(await statuses(tokens)).to.deep.equal({ offline_access: 400, 'password grant': 400 });
    expect((await server.services.accounts.grants(account.id)).grants).to.have.length(0);
  });

  it('an administrator’s new password refuses both kinds of refresh token', async () => {
    const { user, account } = await newUser();
    const tokens = await refreshTokensOf(user);
    await server.services.accounts.setPassword(account.username, 'set by the admin pw', { actor: 'cli' });
    expect(await statuses(tokens)).to.deep.equal({ offline_access: 400, 'password grant': 400 });
    expect((await server.services.accounts.grants(account.id)).grants).to.have.length(0);
  });

  describe('by a re-import (import users, import gatehouse, import django-oauth-toolkit)', () => {
    /** A Django pbkdf2_sha256 hash, as the source system stored it: another salt is another hash, so a new password there. */
    const djangoHash = (password: string, salt: string) => `pbkdf2_sha256$1000$${salt}$${pbkdf2Sync(password, salt, 1000, 32, 'sha256').toString('base64')}`;

    /** An imported user signed in to the app in a browser (the session) with offline_access (a refresh token kept past logout). */
    async function importedAndSignedIn() {
      counter += 1;
      const user = { username: `reimported-${stamp}-${counter}`, password: `imported ${counter} pw` };
      const row = { username: user.username, active: true, roles: [], passwordHash: djangoHash(user.password, `salt${counter}`) };
      expect((await server.services.accounts.importAccount(row)).outcome).to.equal('created');
      const config = await discover(server, app.clientId, app.clientSecret);
      const flow = await authorize(config, user, { scope: 'openid offline_access', parameters: { prompt: 'consent' } });
      const { refresh_token: refreshToken } = await redeem(config, flow);
      return { user, row, config, browser: flow.browser, refreshToken: refreshToken! };
    }

    /** Whether the browser's session still signs the user in to the app without a password (prompt=none, OIDC Core §3.1.2.1). */
    async function signsInSilently(config: oidc.Configuration, browser: FormBrowser): Promise<boolean> {
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI, scope: 'openid', prompt: 'none',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
      });
      const page = await browser.navigate(url.href);
      expect(page.url.startsWith(REDIRECT_URI), `back at the app, with a code or login_required: ${page.url}`).to.equal(true);
      const answer = new URL(page.url).searchParams;
      if (!answer.has('code')) expect(answer.get('error')).to.equal('login_required');
      return answer.has('code');
    }

    it('a new hash at the source refuses the offline_access refresh token and signs the browser out', async () => {
      const { row, config, browser, refreshToken } = await importedAndSignedIn();
      expect(await signsInSilently(config, browser), 'signed in before the re-import').to.equal(true);
      const [result] = await server.services.accounts.importAccounts([{ ...row, passwordHash: djangoHash('changed at the source', 'newsalt') }]);
      expect(result!.outcome).to.equal('updated');
      expect((await refresh(refreshToken)).status, 'the refresh token kept past logout').to.equal(400);
      expect(await signsInSilently(config, browser), 'the browser must sign in again').to.equal(false);
    });

    it('the same hash again ends nothing', async () => {
      const { row, config, browser, refreshToken } = await importedAndSignedIn();
      const [result] = await server.services.accounts.importAccounts([row]);
      expect(result!.outcome).to.equal('unchanged');
      const refreshed = await refresh(refreshToken);
      expect(refreshed.status, refreshed.text).to.equal(200);
      expect(await signsInSilently(config, browser)).to.equal(true);
    });
  });
});
