import { expect } from 'chai';
import { basicAuth, postForm, send } from '../support/http.js';
import { REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The spellings oidc-provider routes like the canonical path: any letter case, a trailing slash. */
function spellings(path: string): string[] {
  const capitalised = path.replace(/\/([a-z])/g, (_, letter: string) => `/${letter.toUpperCase()}`);
  return [path, path.toUpperCase(), capitalised, `${path}/`, `${capitalised}/`];
}

/**
 * Issue 15 M1: every extension Gatehouse puts on a provider endpoint (the
 * client-authentication throttle, JWT introspection and revocation, device
 * polling) sees exactly the requests the provider routes to that endpoint,
 * in every spelling the provider accepts.
 */
describe('provider extensions follow the provider’s own route resolution', () => {
  let server: TestServer;
  let address = 0;
  // Each test its own client address (TRUST_PROXY), so limits do not couple tests.
  const from = () => ({ 'x-forwarded-for': `198.51.100.${(address += 1)}` });

  before(async () => {
    server = await startTestServer({ TRUST_PROXY: 'true', CLIENT_FAILURE_LIMIT: '3', IP_FAILURE_LIMIT: '1000', MAX_BACKOFF: '60', DEVICE_POLL_INTERVAL: '5' });
  });

  after(() => server.stop());

  async function machine(tokenFormat: 'opaque' | 'jwt' = 'opaque') {
    const { client, clientSecret } = await server.services.clients.create({
      name: 'spelling client', grantTypes: ['client_credentials', 'authorization_code', DEVICE_GRANT], redirectUris: [REDIRECT_URI], scope: ['read', 'openid'], tokenFormat,
    });
    return { id: client.clientId, secret: clientSecret! };
  }

  const CLIENT_AUTH_ROUTES: Array<[string, Record<string, string>]> = [
    ['/token', { grant_type: 'client_credentials', scope: 'read' }],
    ['/token/introspection', { token: 'unknown-token-value' }],
    ['/token/revocation', { token: 'unknown-token-value' }],
    ['/request', { response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }],
    ['/device/auth', { scope: 'openid' }],
  ];

  for (const [path, form] of CLIENT_AUTH_ROUTES) {
    it(`${path}: failed client authentication counts in every spelling, and a locked client is refused in every spelling`, async () => {
      const client = await machine();
      const headers = from();
      const variants = spellings(path);
      let failures = 0;
      let status = 401;
      while (status === 401 && failures < 20) {
        const reply = await postForm(`${server.url}${variants[failures % variants.length]}`, form, { ...headers, authorization: basicAuth(client.id, 'wrong secret') });
        status = reply.status;
        if (status === 401) failures += 1;
      }
      expect(status, `no lock after ${failures} failures spread over ${variants.join(' ')}`).to.equal(429);
      expect(failures).to.be.at.most(3);
      for (const variant of variants) {
        const reply = await postForm(`${server.url}${variant}`, form, { ...headers, authorization: basicAuth(client.id, client.secret) });
        expect(reply.status, `${variant}: ${reply.text}`).to.equal(429);
      }
    });
  }

  it('introspects and revokes a JWT access token at every spelling of the endpoints', async () => {
    const client = await machine('jwt');
    const auth = { ...from(), authorization: basicAuth(client.id, client.secret) };
    const issue = async () => (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth)).json.access_token as string;
    for (const variant of spellings('/token/introspection')) {
      const reply = await postForm(`${server.url}${variant}`, { token: await issue() }, auth);
      expect(reply.status, variant).to.equal(200);
      expect(reply.json.active, variant).to.equal(true);
    }
    for (const variant of spellings('/token/revocation')) {
      const token = await issue();
      const reply = await postForm(`${server.url}${variant}`, { token }, auth);
      expect(reply.status, `${variant}: ${reply.text}`).to.equal(200);
      const whoami = await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
      expect(whoami.status, `${variant} left the JWT valid`).to.equal(401);
    }
  });

  it('announces the polling interval and answers slow_down at every spelling', async () => {
    const client = await machine();
    const auth = { ...from(), authorization: basicAuth(client.id, client.secret) };
    const tokenSpellings = spellings('/token');
    for (const [index, variant] of spellings('/device/auth').entries()) {
      const started = await postForm(`${server.url}${variant}`, { scope: 'openid' }, auth);
      expect(started.status, variant).to.equal(200);
      expect(started.json.interval, variant).to.equal(5);
      const poll = () => postForm(`${server.url}${tokenSpellings[index]}`, { grant_type: DEVICE_GRANT, device_code: started.json.device_code as string }, auth);
      expect((await poll()).json.error).to.equal('authorization_pending');
      expect((await poll()).json.error, tokenSpellings[index]).to.equal('slow_down');
    }
  });

  it('answers a code form posted without its session with the "start again" page at every spelling, never a 500', async () => {
    for (const variant of spellings('/device')) {
      const reply = await postForm(`${server.url}${variant}`, { xsrf: 'stale', user_code: 'BCDF-GHJK' });
      expect(reply.status, variant).to.equal(400);
      expect(reply.text, variant).to.include('This page has expired');
    }
  });
});
