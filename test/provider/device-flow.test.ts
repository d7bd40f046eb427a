import { expect } from 'chai';
import * as oidc from 'openid-client';
import { FormBrowser, type Page } from '../support/form-browser.js';
import { discover, oauthError } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** One poll of the token endpoint through openid-client, without its waiting loop. */
function pollOnce(config: oidc.Configuration, deviceCode: string) {
  return oidc.genericGrantRequest(config, DEVICE_GRANT, { device_code: deviceCode });
}

describe('device authorization grant (RFC 8628), through openid-client', () => {
  let server: TestServer;
  let config: oidc.Configuration;
  const user = { username: `tv-${Date.now()}`, password: 'living room password' };

  before(async () => {
    server = await startTestServer({ DEVICE_POLL_INTERVAL: '1' });
    await server.services.accounts.create(user);
    const { client } = await server.services.clients.create({
      name: 'Living-room TV', grantTypes: [DEVICE_GRANT, 'refresh_token'], scope: ['openid', 'profile', 'read', 'offline_access'], public: true,
    });
    config = await discover(server, client.clientId);
  });

  after(() => server.stop());

  /** Types the user code on the verification page and confirms the device. */
  async function enterCode(browser: FormBrowser, verificationUri: string, userCode: string): Promise<Page> {
    const input = await browser.navigate(verificationUri);
    expect(input.status).to.equal(200);
    expect(input.html).to.include('Enter the code your device shows');
    expect(input.headers.get('content-security-policy')).to.include("frame-ancestors 'none'");
    return browser.submit(input, '/device', { user_code: userCode });
  }

  it('is advertised in discovery, with the polling interval in the authorization response', async () => {
    const metadata = config.serverMetadata();
    expect(metadata.device_authorization_endpoint).to.equal(`${server.issuer}/device/auth`);
    expect(metadata.grant_types_supported).to.include(DEVICE_GRANT);
    const response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    expect(response.interval).to.equal(1);
    expect(response.user_code).to.match(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(response.verification_uri).to.equal(`${server.issuer}/device`);
    expect(response.expires_in).to.be.within(590, 600);
  });

  it('answers authorization_pending, then slow_down to a device that polls too fast, then tokens once the user confirms', async () => {
    const response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid profile read offline_access' });
    expect((await oauthError(pollOnce(config, response.device_code))).error).to.equal('authorization_pending');
    expect((await oauthError(pollOnce(config, response.device_code))).error).to.equal('slow_down');

    const browser = new FormBrowser();
    let page = await enterCode(browser, response.verification_uri, response.user_code);
    expect(page.html).to.include('Is this your device?');
    expect(page.html).to.include(response.user_code);
    expect(page.html).to.include('Living-room TV');
    page = await browser.submit(page, '/device');
    page = await browser.submit(page, '/login', user);
    expect(page.html).to.include('Allow access?');
    page = await browser.submit(page, '/confirm');
    expect(page.status).to.equal(200);
    expect(page.html).to.include('Device connected');

    const tokens = await oidc.pollDeviceAuthorizationGrant(config, response);
    expect(tokens.access_token).to.be.a('string');
    expect(tokens.refresh_token).to.be.a('string');
    expect(tokens.claims()?.sub).to.be.a('string');
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.preferred_username).to.equal(user.username);

    // A device code is single-use: the same code again is refused.
    expect((await oauthError(pollOnce(config, response.device_code))).error).to.equal('invalid_grant');
  });

  it('gives exactly one of ten parallel polls of an approved device code the tokens; the rest get invalid_grant', async () => {
    const response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    const browser = new FormBrowser();
    let page = await enterCode(browser, response.verification_uri, response.user_code);
    page = await browser.submit(page, '/device');
    page = await browser.submit(page, '/login', user);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    expect(page.html).to.include('Device connected');
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => pollOnce(config, response.device_code).then(
      () => 'tokens',
      (error: unknown) => (error as { error?: string }).error ?? String(error),
    )));
    expect(outcomes.filter((o) => o === 'tokens'), outcomes.join(', ')).to.have.length(1);
    expect(outcomes.filter((o) => o === 'invalid_grant'), outcomes.join(', ')).to.have.length(9);
  });

  it('tells the device access_denied when the user cancels on the confirmation page', async () => {
    const response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    const browser = new FormBrowser();
    const confirm = await enterCode(browser, response.verification_uri, response.user_code);
    const cancelled = await browser.submit(confirm, '/device', { abort: 'yes' });
    expect(cancelled.html).to.include('You cancelled the sign-in');
    expect((await oauthError(oidc.pollDeviceAuthorizationGrant(config, response))).error).to.equal('access_denied');
  });

  it('re-renders the code page with a clear message for a wrong code, and refuses a form without its xsrf field', async () => {
    const browser = new FormBrowser();
    const wrong = await enterCode(browser, `${server.issuer}/device`, 'BBBB-BBBB');
    expect(wrong.html).to.include('That code is not right');
    expect(FormBrowser.forms(wrong).some((form) => form.action.endsWith('/device'))).to.equal(true);

    const forged = await fetch(`${server.issuer}/device`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: 'user_code=BBBB-BBBB',
    });
    expect(forged.status).to.equal(400);
    expect(await forged.text()).to.include('This page has expired');
  });

  it('is never stored by a cache: the code form, with and without a code in the link, and the page after it', async () => {
    const browser = new FormBrowser();
    // The provider itself sets no cache policy on the form (GET /device), which holds the user code and a form secret.
    for (const url of [`${server.issuer}/device`, `${server.issuer}/device?user_code=ABCD-EFGH`]) {
      const page = await browser.navigate(url);
      expect(page.status, url).to.equal(200);
      expect(page.headers.get('cache-control'), url).to.equal('no-store');
    }
    const wrong = await enterCode(browser, `${server.issuer}/device`, 'BBBB-BBBB');
    expect(wrong.headers.get('cache-control')).to.equal('no-store');
    const expired = await fetch(`${server.issuer}/device/whatever`, { headers: { accept: 'text/html' } });
    expect(expired.headers.get('cache-control')).to.equal('no-store');
  });

  it('a device page past the code form (/device/:uid) without its session is the same "page has expired", never a 500', async () => {
    // The device authorization endpoint's path too: a GET there lands on /device/:uid.
    for (const path of ['/device/whatever', '/device/auth', '/DEVICE/AUTH', '/device/auth/']) {
      for (const method of ['GET', 'HEAD']) {
        const reply = await fetch(`${server.issuer}${path}`, { method, headers: { accept: 'text/html' } });
        expect(reply.status, `${method} ${path}`).to.equal(400);
        if (method === 'GET') expect(await reply.text(), path).to.include('This page has expired');
      }
    }
  });

  it('refuses a client that is not registered for the device grant', async () => {
    const { client, clientSecret } = await server.services.clients.create({ name: 'No devices', grantTypes: ['client_credentials'], scope: ['read'] });
    const other = await discover(server, client.clientId, clientSecret);
    // RFC 8628 §3.2 (RFC 6749 §5.2): a grant the authenticated client lacks.
    const refused = await oauthError(oidc.initiateDeviceAuthorization(other, { scope: 'read' }));
    expect(refused).to.deep.equal({ error: 'unauthorized_client', status: 400 });
  });
});

describe('device authorization grant: an expired device code', () => {
  let server: TestServer;

  before(async () => { server = await startTestServer({ DEVICE_CODE_TTL: '1', DEVICE_POLL_INTERVAL: '1' }); });
  after(() => server.stop());

  it('answers expired_token, not "not found", after the code has expired', async () => {
    const { client } = await server.services.clients.create({ name: 'Slow TV', grantTypes: [DEVICE_GRANT], scope: ['openid'], public: true });
    const config = await discover(server, client.clientId);
    const response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await oauthError(pollOnce(config, response.device_code))).error).to.equal('expired_token');
  });
});

describe('device authorization grant: guessing user codes (RFC 8628 §5.1)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ TRUST_PROXY: 'true', IP_FAILURE_LIMIT: '3', MAX_BACKOFF: '2', FAILURE_WINDOW: '60' });
  });

  after(() => server.stop());

  const address = (n: number) => `2001:db8:${(Date.now() % 0xffff).toString(16)}:${n.toString(16)}::1`;
  const browserAt = (ip: string) => new FormBrowser(() => false, { headers: { 'x-forwarded-for': ip } });

  it('backs off an address that enters codes that are not right, one by one or all at once, and shows the wait', async () => {
    // Each form carries a fresh xsrf value: one by one, each code is entered on the page the last answered with.
    const guesser = browserAt(address(1));
    let page = await guesser.navigate(`${server.issuer}/device`);
    for (let i = 0; i < 3; i += 1) {
      page = await guesser.submit(page, '/device', { user_code: 'BBBB-BBBB' });
      expect(page.html, `guess ${i + 1}`).to.include('That code is not right');
    }
    const refused = await guesser.submit(page, '/device', { user_code: 'CCCC-CCCC' });
    expect(refused.status).to.equal(429);
    expect(refused.headers.get('retry-after')).to.match(/^[12]$/);
    expect(refused.html).to.include('Too many codes that were not right');

    // All at once, each from a page (and session) of its own, from one address.
    const burstAt = address(2);
    const pages = await Promise.all(Array.from({ length: 10 }, async () => {
      const browser = browserAt(burstAt);
      return { browser, page: await browser.navigate(`${server.issuer}/device`) };
    }));
    const burst = await Promise.all(pages.map(({ browser, page: form }) => browser.submit(form, '/device', { user_code: 'DDDD-DDDD' })));
    expect(burst.filter((reply) => reply.html.includes('That code is not right')).length, 'looked up: IP_FAILURE_LIMIT at most').to.be.at.most(3);
    expect(burst.filter((reply) => reply.status === 429).length).to.be.at.least(7);

    // Another address is not held back.
    const elsewhere = browserAt(address(3));
    expect((await elsewhere.submit(await elsewhere.navigate(`${server.issuer}/device`), '/device', { user_code: 'BBBB-BBBB' })).html).to.include('That code is not right');
  });
});
