import { expect } from 'chai';
import * as oidc from 'openid-client';
import { FormBrowser } from '../support/form-browser.js';
import { discover, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('login and consent pages', () => {
  let server: TestServer;
  let config: oidc.Configuration;
  const user = { username: `erin-${Date.now()}`, password: 'pages are escaped' };

  before(async () => {
    server = await startTestServer();
    const { client, clientSecret } = await server.services.clients.create({
      name: '<script>alert("x")</script> & Co',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      scope: ['openid', 'email', 'read'],
    });
    await server.services.accounts.create(user);
    config = await discover(server, client.clientId, clientSecret);
  });

  after(() => server.stop());

  async function loginPage(browser: FormBrowser, scope = 'openid') {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope, state: 'st',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    return browser.navigate(url.href);
  }

  it('renders the login page with the client name escaped and with no script, inline or framed', async () => {
    const page = await loginPage(new FormBrowser());
    expect(page.status).to.equal(200);
    expect(page.html).to.include('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(page.html).not.to.match(/<script/i);
    expect(page.headers.get('content-security-policy')).to.include("default-src 'none'").and.include("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).to.equal('DENY');
    expect(page.html).to.match(/<label for="username">/).and.match(/<label for="password">/);
  });

  it('says "wrong username or password" for either mistake, without saying which', async () => {
    const browser = new FormBrowser();
    const page = await loginPage(browser);
    const wrongPassword = await browser.submit(page, '/login', { username: user.username, password: 'nope nope nope' });
    const unknownUser = await browser.submit(page, '/login', { username: 'nobody-at-all', password: 'nope nope nope' });
    for (const attempt of [wrongPassword, unknownUser]) {
      expect(attempt.status).to.equal(401);
      expect(attempt.html).to.include('Wrong username or password.');
    }
    expect(unknownUser.html.replace(/nobody-at-all/g, user.username).replace(/value="[^"]*"/g, ''))
      .to.equal(wrongPassword.html.replace(/value="[^"]*"/g, ''));
  });

  it('shows the requested scopes with their registry descriptions on the consent page', async () => {
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    const page = await loginPage(browser, 'openid email');
    const consent = await browser.submit(page, '/login', user);
    expect(consent.html).to.include('Allow access?');
    expect(consent.html).to.include('Read your email address.');
  });

  it('sends a request that asks for nothing grantable back at once with invalid_scope (RFC 6749 §3.3), before any sign-in', async () => {
    for (const scope of ['no-such-scope', 'offline_access', 'no-such-scope offline_access']) {
      const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
      const back = await loginPage(browser, scope);
      const location = new URL(back.url);
      expect(location.searchParams.get('error'), `${scope}: ${back.url}`).to.equal('invalid_scope');
      expect(location.searchParams.get('error_description'), scope).to.match(/no scope that can be granted/);
      expect(location.searchParams.get('state'), scope).to.equal('st');
      expect(browser.history.some((exchange) => exchange.url.includes('/interaction/')), `${scope}: no sign-in page on the way`).to.equal(false);
    }
    // A scope of Gatehouse's own API alone is something: on to the sign-in page.
    const page = await loginPage(new FormBrowser(), 'read');
    expect(page.html).to.include('/login"');
  });

  it('sends the user back with access_denied when they deny consent', async () => {
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    const consent = await browser.submit(await loginPage(browser, 'openid email'), '/login', user);
    const back = await browser.submit(consent, '/abort');
    const location = new URL(back.url);
    expect(location.searchParams.get('error')).to.equal('access_denied');
    expect(location.searchParams.get('state')).to.equal('st');
  });

  it('writes no grant when the client was deleted while its consent page was open', async () => {
    const { client, clientSecret } = await server.services.clients.create({ name: 'Deleted mid-consent', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid', 'email'] });
    const gone = await discover(server, client.clientId, clientSecret);
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    const url = oidc.buildAuthorizationUrl(gone, {
      redirect_uri: REDIRECT_URI, scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const consent = await browser.submit(await browser.navigate(url.href), '/login', user);
    expect(consent.html).to.include('Allow access?');
    await server.services.clients.delete(client.clientId);
    const answer = await browser.submit(consent, '/confirm');
    expect(new URL(answer.url).searchParams.get('code'), 'no code for a deleted client').to.equal(null);
    const account = (await server.services.accounts.show(user.username)).id;
    const grants = await server.services.storage.accountTokens.grantsOf(account);
    expect(grants.map((grant) => grant.clientId)).not.to.include(client.clientId);
  });

  it('explains an expired or foreign interaction instead of failing', async () => {
    const page = await new FormBrowser().navigate(`${server.url}/interaction/not-a-real-uid`);
    expect(page.status).to.equal(400);
    expect(page.html).to.include('no longer valid');
  });
});
