import { expect } from 'chai';
import { FormBrowser } from '../support/form-browser.js';
import { authorizationUrl, signInAndConsent } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Any request without cookies to a page that keeps a form secret (the
 * device code form, a logout confirmation) makes the provider store a
 * session. Stored for SESSION_TTL (14 days), such records piled up at the
 * rate anyone cared to send requests; one nobody signed in to now lives as
 * long as an interaction.
 */
describe('sessions nobody has signed in to', () => {
  let server: TestServer;
  const interactionTtl = 600;
  const sessionTtl = 86_400;

  before(async () => {
    server = await startTestServer({ INTERACTION_TTL: String(interactionTtl), SESSION_TTL: String(sessionTtl) });
  });

  after(() => server?.stop());

  const storedLifetime = async (sessionId: string) => {
    const session = await server.services.provider.Session.find(sessionId);
    expect(session, 'the session is stored').to.not.equal(undefined);
    return session!.exp! - Math.floor(Date.now() / 1000);
  };
  const sessionCookie = (browser: FormBrowser) => {
    const line = browser.history.flatMap((exchange) => exchange.setCookies).reverse().find((cookie) => cookie.startsWith('_session='));
    expect(line, 'a session cookie was set').to.be.a('string');
    return { id: line!.slice('_session='.length).split(';')[0]!, expires: /expires=([^;]+)/i.exec(line!)?.[1] };
  };

  it('live no longer than an interaction, in the store and in the cookie, for the device form and the logout page alike', async () => {
    for (const path of ['/device', '/device?user_code=ABCD-EFGH', '/session/end']) {
      const browser = new FormBrowser();
      const page = await browser.navigate(`${server.issuer}${path}`);
      expect(page.status, path).to.equal(200);
      const { id, expires } = sessionCookie(browser);
      expect(await storedLifetime(id), path).to.be.within(interactionTtl - 5, interactionTtl);
      expect(new Date(expires!).getTime() - Date.now(), `${path}: cookie expiry`).to.be.within((interactionTtl - 5) * 1000, (interactionTtl + 1) * 1000);
    }
  });

  it('live SESSION_TTL once someone signs in to them', async () => {
    const redirectUri = 'https://rp.example.test/cb';
    const { client } = await server.services.clients.create({ name: 'Anonymous sessions RP', grantTypes: ['authorization_code'], redirectUris: [redirectUri], scope: ['openid'] });
    const user = { username: `anon-${Date.now()}`, password: 'anonymous sessions password' };
    await server.services.accounts.create(user);
    const browser = new FormBrowser((next) => next.href.startsWith(redirectUri));
    const url = authorizationUrl(server, {
      client_id: client.clientId, response_type: 'code', redirect_uri: redirectUri, scope: 'openid', state: 'st',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    });
    await signInAndConsent(browser, url, user, redirectUri);
    const { id, expires } = sessionCookie(browser);
    expect(await storedLifetime(id)).to.be.within(sessionTtl - 5, sessionTtl);
    expect(new Date(expires!).getTime() - Date.now(), 'cookie expiry').to.be.within((sessionTtl - 5) * 1000, (sessionTtl + 1) * 1000);
  });
});
