import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { FormBrowser } from '../support/form-browser.js';
import { authorize, REDIRECT_URI, redeem } from '../support/oidc.js';
import { freePort, startTestServer, type TestServer } from '../support/server.js';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** An RP's back-channel logout endpoint: every logout token POSTed to it, in order of arrival. */
class LogoutReceiver {
  readonly tokens: string[] = [];
  private readonly waiting: Array<() => void> = [];
  private server!: Server;
  uri = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => { body += String(chunk); });
      req.on('end', () => {
        this.tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.statusCode = 200;
        res.end();
        this.waiting.splice(0).forEach((wake) => wake());
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.uri = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/backchannel-logout`;
  }

  /** The tokens received since `from`, once there are `count` of them (at most 5 s). */
  async since(from: number, count = 1): Promise<string[]> {
    const deadline = Date.now() + 5000;
    while (this.tokens.length - from < count && Date.now() < deadline) {
      await new Promise<void>((resolve) => { this.waiting.push(resolve); setTimeout(resolve, 100); });
    }
    return this.tokens.slice(from);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * OpenID Connect Back-Channel Logout 1.0: a session Gatehouse ends on its
 * own side (an operator's revocation, a new password, a deactivated or
 * deleted account) is announced to every client signed in through it that
 * registered a backchannel_logout_uri, as the user's own logout is
 * (modern-standards.test.ts). Without it the RP's own session outlives the
 * one it was made from.
 */
describe('back-channel logout when Gatehouse ends a session itself', () => {
  let server: TestServer;
  const receiver = new LogoutReceiver();
  const logLines: string[] = [];
  let rp: { clientId: string; config: oidc.Configuration };
  const stamp = Date.now();
  let counter = 0;

  /** A client registered over RFC 7591 that asks for logout tokens carrying the session id (§2.4). */
  async function registerRp(backchannelLogoutUri: string): Promise<{ clientId: string; config: oidc.Configuration }> {
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const config = await oidc.dynamicClientRegistration(new URL(server.issuer), {
      redirect_uris: [REDIRECT_URI], client_name: `Back-channel RP ${stamp}`, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      scope: 'openid offline_access', backchannel_logout_uri: backchannelLogoutUri, backchannel_logout_session_required: true,
    }, undefined, { initialAccessToken: token, execute: [oidc.allowInsecureRequests] });
    return { clientId: config.clientMetadata().client_id, config };
  }

  before(async () => {
    // The RP listens on loopback, which oidc-provider's outgoing calls refuse without this.
    server = await startTestServer({ ALLOW_LOOPBACK_CALLBACKS: 'true', LOG_LEVEL: 'warn' }, {
      logTo: new Writable({ write(chunk, _encoding, done) { logLines.push(...String(chunk).split('\n').filter(Boolean)); done(); } }),
    });
    await receiver.start();
    rp = await registerRp(receiver.uri);
  });

  after(async () => {
    await receiver.stop();
    await server?.stop();
  });

  async function newUser() {
    counter += 1;
    const user = { username: `bcl-${stamp}-${counter}`, password: `back-channel ${counter} pw` };
    return { user, account: await server.services.accounts.create(user) };
  }

  /** The user signs in to the RP in a browser: the RP's view of that sign-in (its sub and sid) and the session's uid. */
  async function signInToRp(user: { username: string; password: string }, config = rp.config) {
    const flow = await authorize(config, user, { scope: 'openid' });
    const claims = (await redeem(config, flow)).claims()!;
    expect(claims.sid, 'the ID token names the session, as the client asked').to.be.a('string');
    return { sub: claims.sub, sid: claims.sid as string, browser: flow.browser };
  }

  async function sessionUidOf(accountId: string): Promise<string> {
    const [session] = await server.services.sessions.ofAccount(accountId);
    expect(session, 'the sign-in is listed').to.not.equal(undefined);
    return session!.sessionUid;
  }

  /** A logout token verified as an RP must (§2.6): signed with the issuer's published keys, for this client, a logout event and no nonce. */
  async function verifiedLogoutToken(token: string | undefined, clientId = rp.clientId): Promise<JWTPayload> {
    expect(token, 'a logout token was POSTed').to.be.a('string').and.not.equal('');
    const { payload } = await jwtVerify(token!, createRemoteJWKSet(new URL(`${server.url}/jwks`)), {
      issuer: server.issuer, audience: clientId, typ: 'logout+jwt',
    });
    expect(payload.events).to.deep.equal({ [BACKCHANNEL_LOGOUT_EVENT]: {} });
    expect(payload.jti).to.be.a('string');
    expect(payload, 'a logout token is not an ID token (§2.4)').not.to.have.property('nonce');
    return payload;
  }

  /** The token is a verified logout token about this sign-in: its subject and session. */
  async function expectLogoutToken(token: string | undefined, expected: { sub: string; sid: string }): Promise<void> {
    expect(await verifiedLogoutToken(token)).to.deep.include({ sub: expected.sub, sid: expected.sid });
  }

  /** Whether the browser is still signed in at Gatehouse: a new authorization request either goes straight back to the RP or asks for a password. */
  async function stillSignedIn(browser: FormBrowser, config = rp.config): Promise<boolean> {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const page = await browser.navigate(url.href);
    if (page.url.startsWith(REDIRECT_URI)) return true;
    expect(page.html, 'otherwise the login page').to.include('name="password"');
    return false;
  }

  it('an operator’s `session revoke` in the CLI sends the RP a valid logout token for that session', async () => {
    const { user, account } = await newUser();
    const signedIn = await signInToRp(user);
    const uid = await sessionUidOf(account.id);
    const from = receiver.tokens.length;
    // The CLI is its own process with its own provider: it signs with the same keys, as the same issuer.
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/src/cli/main.js', 'session', 'revoke', uid, '--json'], {
      env: {
        ...process.env,
        GATEHOUSE_DATA_DIR: server.config.dataDir,
        DATABASE_URL: process.env.DATABASE_URL ?? '',
        REDIS_URL: process.env.REDIS_URL ?? '',
        ISSUER: server.issuer,
        ALLOW_LOOPBACK_CALLBACKS: 'true',
      },
    });
    expect(JSON.parse(stdout)).to.deep.include({ revoked: uid });
    const [token] = await receiver.since(from);
    await expectLogoutToken(token, signedIn);
    expect(await stillSignedIn(signedIn.browser)).to.equal(false);
  });

  it('signing the other sessions out on /account sends a logout token for each of them, and none for this one', async () => {
    const { user, account } = await newUser();
    const elsewhere = await signInToRp(user);
    const here = new FormBrowser();
    const page = await here.submit(await here.navigate(`${server.issuer}/account`), '/login', user);
    expect(page.html).to.include('Your account');
    const from = receiver.tokens.length;
    await here.submit(page, '/account/sessions/sign-out-others');
    const [token, ...more] = await receiver.since(from);
    await expectLogoutToken(token, elsewhere);
    expect(more, 'this browser’s own session was not ended').to.deep.equal([]);
    expect(await server.services.sessions.ofAccount(account.id)).to.have.length(1);
  });

  for (const [path, newPassword] of [
    ['an administrator’s `user set-password`', (account: { id: string }) => server.services.accounts.setPassword(account.id, 'set by the operator pw', { actor: 'cli' })],
    ['a reset link', async (account: { id: string }) => {
      const { token } = await server.services.resetLinks.create(account.id, { actor: 'test' });
      await server.services.resetLinks.redeem(token, 'the reset password pw', 'the reset password pw');
    }],
  ] as const) {
    it(`a new password by ${path} sends the RP a logout token for every session it ends`, async () => {
      const { user, account } = await newUser();
      const first = await signInToRp(user);
      const second = await signInToRp(user);
      expect(second.sid, 'two browsers, two sessions').to.not.equal(first.sid);
      const from = receiver.tokens.length;
      await newPassword(account);
      const tokens = await receiver.since(from, 2);
      expect(tokens).to.have.length(2);
      const payloads = await Promise.all(tokens.map((token) => verifiedLogoutToken(token)));
      expect(payloads.map((payload) => payload.sub)).to.deep.equal([first.sub, first.sub]);
      expect(payloads.map((payload) => payload.sid).sort()).to.deep.equal([first.sid, second.sid].sort());
      expect(await stillSignedIn(first.browser)).to.equal(false);
    });
  }

  it('the holder’s own password change on /account sends a logout token for the other sessions, not for the page’s own', async () => {
    const { user } = await newUser();
    const elsewhere = await signInToRp(user);
    const here = new FormBrowser();
    const page = await here.submit(await here.navigate(`${server.issuer}/account`), '/login', user);
    const from = receiver.tokens.length;
    const changed = await here.submit(page, '/account/password', { current_password: user.password, new_password: 'the holder’s new pw' });
    expect(changed.html).to.include('Your password was changed.');
    const [token, ...more] = await receiver.since(from);
    await expectLogoutToken(token, elsewhere);
    expect(more).to.deep.equal([]);
  });

  for (const end of ['deactivated', 'deleted'] as const) {
    it(`an account ${end} by an administrator: the RP gets a logout token for its session`, async () => {
      const { user, account } = await newUser();
      const signedIn = await signInToRp(user);
      const from = receiver.tokens.length;
      if (end === 'deactivated') await server.services.accounts.update(account.id, { active: false }, { actor: 'cli' });
      else await server.services.accounts.delete(account.id, { actor: 'cli' });
      const [token, ...more] = await receiver.since(from);
      await expectLogoutToken(token, signedIn);
      expect(more, 'one session, one token').to.deep.equal([]);
      expect(await server.services.sessions.ofAccount(account.id)).to.deep.equal([]);
    });
  }

  it('an RP whose endpoint is down does not stop the revocation, nor the logout token of another RP of the same session', async () => {
    const down = await registerRp(`http://127.0.0.1:${await freePort()}/nobody-listens`);
    const { user, account } = await newUser();
    const live = await signInToRp(user);
    // The same browser signs in to the second RP: one session, two clients.
    const flow = await authorize(down.config, user, { scope: 'openid', browser: live.browser });
    const downTokens = await redeem(down.config, flow);
    expect(downTokens.claims()!.sid, 'one session').to.be.a('string');
    const uid = await sessionUidOf(account.id);
    const from = receiver.tokens.length;
    const revoked = await server.services.sessions.revoke(uid, { actor: 'cli' });
    expect(revoked.sessionUid).to.equal(uid);
    const [token] = await receiver.since(from);
    await expectLogoutToken(token, live);
    expect(await server.services.sessions.ofAccount(account.id)).to.deep.equal([]);
    expect(await stillSignedIn(live.browser)).to.equal(false);
    expect(await server.services.provider.Session.findByUid(uid)).to.equal(undefined);
    const warnings = logLines.map((line) => JSON.parse(line) as { level: number; client_id?: string; msg: string }).filter((line) => line.client_id === down.clientId);
    expect(warnings, 'the failure is logged as a warning, naming the client').to.have.length(1);
    expect(warnings[0]!.level).to.equal(40);
    expect(JSON.stringify(warnings), 'and no token').not.to.match(/eyJ[\w-]+\.[\w-]+\./);
  });
});
