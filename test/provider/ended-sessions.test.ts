import { connect } from 'node:net';
import { expect } from 'chai';
import { FormBrowser } from '../support/form-browser.js';
import { authorizationUrl, frontChannel, REDIRECT_URI, signInAndConsent } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from '../support/waiting.js';

/**
 * A request on a session, held open by a slow body: its headers now, its
 * body when `finish` is called. oidc-provider loads the session when the
 * request starts and saves it when it ends.
 */
async function slowRequest(url: string, path: string, cookie: string, body: string): Promise<{ finish(): Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answer = '';
  socket.on('data', (chunk) => { answer += String(chunk); });
  const closed = new Promise<void>((resolve) => { socket.once('close', () => resolve()); });
  socket.write(`POST ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncookie: ${cookie}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body.slice(0, 10)}`);
  return {
    async finish() {
      socket.end(body.slice(10));
      await closed;
      return answer;
    },
  };
}

/** RFC 9700 §4.14.2 and OpenID Connect RP-Initiated Logout: a session ended on the server stays ended. */
describe('a signed-in session, once ended, stays ended', () => {
  let server: TestServer;
  let clientId: string;

  before(async () => {
    server = await startTestServer();
    clientId = (await server.services.clients.create({ name: 'Ended RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'], public: true })).client.clientId;
  });

  after(() => server.stop());

  const authorizeWith = (browser: FormBrowser, prompt?: string) => {
    const params: Array<[string, string]> = [
      ['client_id', clientId], ['response_type', 'code'], ['redirect_uri', REDIRECT_URI], ['scope', 'openid'], ['state', 's'],
      ['code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'], ['code_challenge_method', 'S256'],
      ...(prompt ? [['prompt', prompt] as [string, string]] : []),
    ];
    return authorizationUrl(server, params);
  };

  for (const [path, body] of [
    ['/session/end/confirm', 'xsrf=not-the-right-one&logout=yes-please-now'],
    ['/device', 'xsrf=not-the-right-one&user_code=ABCD-EFGH'],
  ] as const) {
    it(`is not written back by a request on it still in flight (a slow body at ${path}) when it was revoked`, async () => {
      const user = { username: `ended-${Date.now()}`, password: 'ended session password' };
      const account = await server.services.accounts.create(user);
      const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
      await signInAndConsent(browser, authorizeWith(browser), user, REDIRECT_URI);
      const [session] = await server.services.sessions.ofAccount(account.id);
      expect(session, 'signed in').to.not.equal(undefined);

      const inFlight = await slowRequest(server.url, path, browser.cookieHeader(), body);
      // The request has its session loaded once its headers are in.
      await sleep(300);
      await server.services.sessions.revoke(session!.sessionUid);
      await inFlight.finish();

      const silent = await frontChannel(authorizeWith(browser, 'none'), { cookie: browser.cookieHeader() });
      expect(silent.location?.searchParams.get('error'), 'a silent authorization finds no session').to.equal('login_required');
      expect(await server.services.sessions.ofAccount(account.id)).to.deep.equal([]);
    });
  }

  it('is not written back by a request in flight on it after a sign-in gave the session a new id, and the session that lives on under its uid can still be ended', async () => {
    const user = { username: `rotated-${Date.now()}`, password: 'ended session password' };
    const account = await server.services.accounts.create(user);
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    await signInAndConsent(browser, authorizeWith(browser), user, REDIRECT_URI);
    const inFlight = await slowRequest(server.url, '/device', browser.cookieHeader(), 'xsrf=not-the-right-one&user_code=ABCD-EFGH');
    await sleep(300);
    // A sign-in on the same browser keeps the session's uid under a new id; the old id is ended.
    await signInAndConsent(browser, authorizeWith(browser, 'login'), user, REDIRECT_URI);
    await inFlight.finish();
    const [session] = await server.services.sessions.ofAccount(account.id);
    await server.services.sessions.revoke(session!.sessionUid);
    const silent = await frontChannel(authorizeWith(browser, 'none'), { cookie: browser.cookieHeader() });
    expect(silent.location?.searchParams.get('error'), 'the session that lived on was ended by its uid').to.equal('login_required');
  });

  it('is ended by a sign-out at the end-session endpoint as before, and a new sign-in starts a new one', async () => {
    const user = { username: `again-${Date.now()}`, password: 'ended session password' };
    await server.services.accounts.create(user);
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    await signInAndConsent(browser, authorizeWith(browser), user, REDIRECT_URI);
    const confirm = await browser.navigate(`${server.url}/session/end`);
    await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    const silent = await frontChannel(authorizeWith(browser, 'none'), { cookie: browser.cookieHeader() });
    expect(silent.location?.searchParams.get('error')).to.equal('login_required');
    const again = await signInAndConsent(browser, authorizeWith(browser), user, REDIRECT_URI);
    expect(again.searchParams.get('code')).to.be.a('string');
    const silentAgain = await frontChannel(authorizeWith(browser, 'none'), { cookie: browser.cookieHeader() });
    expect(silentAgain.location?.searchParams.get('code'), 'signed in again').to.be.a('string');
  });
});
