import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { adminApiHeaders } from '../support/admin.js';
import { basicAuth, send, type Reply } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** A POST whose body goes out chunked (no Content-Length), as a streaming client sends it. */
function postChunked(url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; }).on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 8192) req.write(body.subarray(i, i + 8192));
    req.end();
  });
}

const FORM = 'application/x-www-form-urlencoded';
const TOO_LARGE = { error: 'invalid_request', error_description: 'request body too large' };

/** The security review's finding 3: every refusal of a method or a body comes out in the surface's JSON error shape, with the right status. */
describe('method and body errors', () => {
  let server: TestServer;
  let basic: string;
  let clientId: string;
  let clientSecret: string;

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({ name: 'Body RP', grantTypes: ['client_credentials', 'password'], scope: ['read'] });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
    basic = basicAuth(clientId, clientSecret);
  });

  after(() => server.stop());

  const expectJsonError = (reply: Reply, status: number) => {
    expect(reply.status, reply.text).to.equal(status);
    expect(reply.headers.get('content-type')).to.match(/^application\/json/);
  };

  describe('a method a path does not serve', () => {
    // Each in its surface's own error shape: RFC 6749's at /api, Northstar's at /v2.
    it('POST /api/whoami and PUT /v2/key: 405 in JSON with the Allow header, not Koa’s text/plain', async () => {
      const whoami = await send(`${server.url}/api/whoami`, { method: 'POST' });
      expectJsonError(whoami, 405);
      expect(whoami.json).to.include({ error: 'method_not_allowed' });
      expect(whoami.headers.get('allow')).to.include('GET');
      const key = await send(`${server.url}/v2/key`, { method: 'PUT', body: '{}' });
      expectJsonError(key, 405);
      expect(key.json.error).to.deep.include({ code: 405 });
      expect(key.headers.get('allow')).to.include('GET');
    });

    it('a method no router knows is a 405 too, not a 501 counted among server errors', async () => {
      const reply = await send(`${server.url}/v2/key`, { method: 'PROPFIND' });
      expectJsonError(reply, 405);
      expect(reply.json.error).to.deep.include({ code: 405 });
    });
  });

  describe('a body larger than the reader takes', () => {
    const large = `grant_type=client_credentials&scope=read&padding=${'a'.repeat(200 * 1024)}`;

    it('200 KB at /token is a 413, whether oidc-provider (HTTP Basic) or the client-auth throttle (client_id in the body) reads it', async () => {
      const provider = await send(`${server.url}/token`, { headers: { 'content-type': FORM, authorization: basic }, body: large });
      expectJsonError(provider, 413);
      expect(provider.json).to.deep.equal(TOO_LARGE);
      const throttle = await send(`${server.url}/token`, { headers: { 'content-type': FORM }, body: `client_id=${clientId}&client_secret=${clientSecret}&${large}` });
      expectJsonError(throttle, 413);
      expect(throttle.json).to.deep.equal(TOO_LARGE);
    });

    it('200 KB sent chunked (no Content-Length) to oidc-provider is a 413 as well', async () => {
      const reply = await postChunked(`${server.url}/token`, { 'content-type': FORM, authorization: basic }, Buffer.from(large));
      expect(reply.status).to.equal(413);
      expect(reply.json).to.deep.equal(TOO_LARGE);
    });

    it('a body under the limit is still read (chunked too)', async () => {
      const reply = await postChunked(`${server.url}/token`, { 'content-type': FORM, authorization: basic }, Buffer.from('grant_type=client_credentials&scope=read'));
      expect(reply.status).to.equal(200);
      expect(reply.json.access_token).to.be.a('string');
    });
  });

  describe('a body with a Content-Encoding', () => {
    const form = 'grant_type=client_credentials&scope=read';

    it('gzip at /token is a 415, not read as an empty form ("missing grant_type"), by either reader', async () => {
      for (const headers of [{ authorization: basic }, {}] as Array<Record<string, string>>) {
        const body = headers.authorization ? form : `client_id=${clientId}&client_secret=${clientSecret}&${form}`;
        const response = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': FORM, 'content-encoding': 'gzip', ...headers }, body: gzipSync(body) });
        expect(response.status).to.equal(415);
        expect(await response.json()).to.include({ error: 'invalid_request' });
      }
    });

    it('a plain body labelled br is a 415, not accepted as it is', async () => {
      const reply = await send(`${server.url}/token`, { headers: { 'content-type': FORM, 'content-encoding': 'br', authorization: basic }, body: form });
      expectJsonError(reply, 415);
    });

    it('identity is no encoding: read as usual', async () => {
      const reply = await send(`${server.url}/token`, { headers: { 'content-type': FORM, 'content-encoding': 'identity', authorization: basic }, body: form });
      expect(reply.status).to.equal(200);
    });

    it('the dialects answer it in their own wire shape: DOT’s RFC 6749 body, the LOS envelope', async () => {
      const dot = await send(`${server.url}/auth/oauth2/token/`, { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: basic }, body: JSON.stringify({ grant_type: 'password', username: 'someone', password: 'a password' }) });
      expectJsonError(dot, 415);
      expect(dot.json).to.include({ error: 'invalid_request' });
      const los = await send(`${server.url}/api/v1.1/oauth/token`, { headers: { 'content-type': 'application/json', 'content-encoding': 'deflate' }, body: JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }) });
      expectJsonError(los, 415);
      expect(los.json.meta).to.include({ responseCode: 415, success: false });
      expect(los.json.data).to.include({ error: 'invalid_request' });
    });

    it('the signed-in pages’ forms refuse it too (415), before anything is read or done', async () => {
      for (const path of ['/account/logout', '/admin/logout', '/Lux/OAuth2/dashboard/logout']) {
        const response = await fetch(`${server.url}${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': FORM, 'content-encoding': 'gzip' }, body: gzipSync('csrf=x') });
        expect(response.status, path).to.equal(415);
      }
    });

    it('Northstar answers it in its own shape', async () => {
      const headers = await adminApiHeaders(server, 'encoding');
      const reply = await send(`${server.url}/v2/clients`, { headers: { ...headers, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: '{"title":"x"}' });
      expectJsonError(reply, 415);
      expect((reply.json.error as { code?: number }).code).to.equal(415);
    });
  });
});
