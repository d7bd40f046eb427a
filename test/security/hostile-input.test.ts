import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { basicAuth, postForm, send, type Reply } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { issueInitialAccessToken } from '../../src/provider/registration.js';

/** One hostile body: what is sent, and with which content type. */
interface Payload {
  name: string;
  contentType: string | undefined;
  body: string;
}

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const megabyte = 'x'.repeat(1024 * 1024);

/** The matrix's rows: issue 6 item 17, each aimed at a field every endpoint reads. */
const PAYLOADS: Payload[] = [
  { name: 'empty JSON body', contentType: 'application/json', body: '' },
  { name: 'truncated JSON', contentType: 'application/json', body: '{"grant_type": "client_credentials", "client_id": ' },
  { name: 'JSON nested 10,000 deep', contentType: 'application/json', body: nested(10_000) },
  { name: 'an array where an object belongs', contentType: 'application/json', body: '[{"grant_type":"client_credentials"}]' },
  { name: 'a bare JSON string', contentType: 'application/json', body: '"grant_type"' },
  { name: 'wrong types', contentType: 'application/json', body: '{"grant_type": 5, "client_id": {"$ne": null}, "client_secret": [1], "title": 7, "scope": {"x": 1}, "token": true, "client_name": 3}' },
  { name: 'NUL bytes', contentType: 'application/json', body: '{"grant_type": "client_credentials\\u0000", "client_id": "a\\u0000b", "client_secret": "\\u0000", "token": "\\u0000", "client_name": "\\u0000"}' },
  { name: 'NUL bytes in a form', contentType: 'application/x-www-form-urlencoded', body: 'grant_type=client_credentials&client_id=a%00b&client_secret=%00&token=%00&resource=https%3A%2F%2Fx%00&client_name=%00' },
  { name: 'invalid percent-encoding', contentType: 'application/x-www-form-urlencoded', body: 'grant_type=%E0%A4%A&client_id=%ZZ%&client_secret=%C0%AF&token=%FF' },
  { name: 'a megabyte string', contentType: 'application/json', body: JSON.stringify({ grant_type: 'client_credentials', client_id: megabyte, title: megabyte }) },
  { name: '__proto__ and constructor keys', contentType: 'application/json', body: '{"__proto__": {"admin": true, "scope": "admin"}, "constructor": {"prototype": {"admin": true}}, "client_id": "x", "client_secret": "y"}' },
  { name: 'SQL metacharacters in identifiers', contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: "x' OR '1'='1'; DROP TABLE clients; --", client_secret: "' OR 1=1 --", token: "'; DELETE FROM oidc_payloads; --", client_name: "%' OR name LIKE '%" }).toString() },
  { name: 'a wrong content type', contentType: 'text/xml', body: '<grant_type>client_credentials</grant_type>' },
  { name: 'no content type', contentType: undefined, body: 'grant_type=client_credentials' },
];

type Shape = (reply: Reply) => void;
const oauthShape: Shape = (r) => expect(r.json.error, r.text.slice(0, 200)).to.be.a('string');
const losShape: Shape = (r) => expect(r.json.meta, r.text.slice(0, 200)).to.include({ success: false, responseCode: r.status });
const northstarShape: Shape = (r) => expect((r.json.error as { code?: number } | undefined)?.code, r.text.slice(0, 200)).to.equal(r.status);
const pageShape: Shape = (r) => expect(r.headers.get('content-type'), r.text.slice(0, 200)).to.match(/text\/html/);

describe('hostile input: every endpoint of every surface answers 4xx in its own shape and changes nothing', function () {
  this.timeout(120_000);
  let server: TestServer;
  let clientAuth: string;
  let adminToken: string;
  let registrationToken: string;
  let existingId: string;

  before(async () => {
    server = await startTestServer({ CLIENT_FAILURE_LIMIT: '10000', USER_FAILURE_LIMIT: '10000' });
    const { client, clientSecret } = await server.services.clients.create({ name: 'Hostile-input target', grantTypes: ['client_credentials'], scope: ['read', 'admin'] });
    existingId = client.clientId;
    clientAuth = basicAuth(client.clientId, clientSecret!);
    adminToken = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: clientAuth })).json.access_token as string;
    registrationToken = (await issueInitialAccessToken(server.services.provider, 600)).token;
  });

  after(() => server.stop());

  // Reads may answer 200 to input that is odd but harmless (a name filter
  // that matches nothing; an update that changes nothing): named here.
  const harmless: Record<string, string[]> = {
    'Lux query': ['empty JSON body', 'invalid percent-encoding', 'SQL metacharacters in identifiers', 'a wrong content type', 'no content type', '__proto__ and constructor keys'],
    'Northstar update': ['empty JSON body'],
  };
  const endpoints = (): Array<{ name: string; path: string; method?: string; headers?: Record<string, string>; shape: Shape }> => [
    { name: 'standard token', path: '/token', shape: oauthShape },
    { name: 'standard token, authenticated', path: '/token', headers: { authorization: clientAuth }, shape: oauthShape },
    { name: 'introspection', path: '/token/introspection', headers: { authorization: clientAuth }, shape: oauthShape },
    { name: 'revocation', path: '/token/revocation', headers: { authorization: clientAuth }, shape: oauthShape },
    { name: 'pushed authorization request', path: '/request', headers: { authorization: clientAuth }, shape: oauthShape },
    { name: 'device authorization', path: '/device/auth', headers: { authorization: clientAuth }, shape: oauthShape },
    { name: 'dynamic registration', path: '/reg', headers: { authorization: `Bearer ${registrationToken}` }, shape: oauthShape },
    { name: 'LOS token', path: '/api/v1.1/oauth/token', shape: losShape },
    { name: 'LE token', path: '/liveexpert/oauth/authorize', shape: oauthShape },
    { name: 'django-oauth-toolkit token', path: '/auth/oauth2/token/', headers: { authorization: clientAuth }, shape: oauthShape },
    { name: 'django-oauth-toolkit revocation', path: '/auth/oauth2/revoke_token/', headers: { authorization: clientAuth }, shape: oauthShape },
    { name: 'Lux access_token', path: '/Lux/OAuth2/access_token/', shape: oauthShape },
    { name: 'Lux adjust', path: '/Lux/OAuth2/adjust/', headers: { authorization: `Bearer ${adminToken}` }, shape: oauthShape },
    { name: 'Lux query', path: '/Lux/OAuth2/query/', headers: { authorization: `Bearer ${adminToken}` }, shape: oauthShape },
    { name: 'Northstar create', path: '/v2/clients', headers: { authorization: `Bearer ${adminToken}` }, shape: northstarShape },
    { name: 'Northstar update', path: `/v2/clients/${existingId}`, method: 'PUT', headers: { authorization: `Bearer ${adminToken}` }, shape: northstarShape },
    { name: 'login page', path: '/interaction/not-a-real-uid/login', shape: pageShape },
  ];

  async function fingerprint(): Promise<string> {
    const { clients } = await server.services.clients.list({ perPage: 1000 });
    const resources = await server.services.resourceServers.list();
    return createHash('sha256').update(JSON.stringify([clients, resources])).digest('hex');
  }

  it('covers the whole matrix: no 5xx, no 2xx, each refusal in the surface\'s own shape', async () => {
    const before = await fingerprint();
    const failures: string[] = [];
    for (const endpoint of endpoints()) {
      for (const payload of PAYLOADS) {
        const label = `${endpoint.name} × ${payload.name}`;
        const reply = await send(`${server.url}${endpoint.path}`, {
          method: endpoint.method ?? 'POST',
          headers: { ...(payload.contentType ? { 'content-type': payload.contentType } : {}), ...endpoint.headers },
          body: payload.body,
        }).catch((error: unknown) => { throw new Error(`${label}: ${(error as Error).message} (${String((error as Error).cause)})`); });
        if (reply.status < 300 && harmless[endpoint.name]?.includes(payload.name)) continue;
        if (reply.status < 400 || reply.status >= 500) {
          failures.push(`${label}: ${reply.status} ${reply.text.slice(0, 160)}`);
          continue;
        }
        try {
          endpoint.shape(reply);
        } catch (error) {
          failures.push(`${label}: ${(error as Error).message}`);
        }
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(await fingerprint(), 'no client or resource server created or changed').to.equal(before);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status, 'still healthy').to.equal(200);
    // Nothing leaked into the prototype of plain objects.
    expect(({} as Record<string, unknown>).admin).to.equal(undefined);
  });

  it('refuses a username with a NUL in it at the password grant, the DOT token endpoint and sign-in, never a 500', async () => {
    const { client, clientSecret } = await server.services.clients.create({ name: 'Hostile usernames', grantTypes: ['password', 'refresh_token'], scope: ['read'] });
    const auth = { authorization: basicAuth(client.clientId, clientSecret!) };
    for (const username of ['a\u0000b', '\u0000', 'admin\u0000']) {
      const standard = await postForm(`${server.url}/token`, { grant_type: 'password', username, password: 'whatever it is', scope: 'read' }, auth);
      expect(standard.status, standard.text).to.equal(400);
      expect(standard.json.error).to.equal('invalid_grant');
      const dot = await send(`${server.url}/auth/oauth2/token/`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'password', username, password: 'whatever it is' }) });
      expect(dot.status, dot.text).to.be.within(400, 499);
      // The login page asks the same service.
      expect(await server.services.accounts.authenticate(username, 'whatever it is')).to.equal(undefined);
    }
  });

  it('answers hostile bearer tokens and paths at the resource and admin APIs with 401/404, not 500', async () => {
    for (const authorization of ['Bearer', `Bearer ${megabyte.slice(0, 8000)}`, "Bearer ' OR 1=1 --", 'Basic %%%', 'DPoP x.y.z', 'LEAccess']) {
      const reply = await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization } });
      // RFC 6750 §3.1: a malformed request may be 400, a bad token 401.
      expect(reply.status, authorization.slice(0, 20)).to.be.oneOf([400, 401]);
    }
    for (const id of ["x' OR '1'='1", '%00', '..%2F..%2Fetc%2Fpasswd', encodeURIComponent('a'.repeat(5000))]) {
      const reply = await send(`${server.url}/v2/clients/${id}`, { method: 'GET', headers: { authorization: `Bearer ${adminToken}` } });
      expect(reply.status, id.slice(0, 20)).to.be.oneOf([400, 404, 414]);
    }
  });
});
