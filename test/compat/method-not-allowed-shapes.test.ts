import { expect } from 'chai';
import { send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * A path a surface serves, asked with another method (405, with Allow), and a
 * path under a surface's prefix that it does not serve (404), are answered
 * in that surface's own error shape: the LOS envelope, Northstar's
 * `{error: {code, message}}`, RFC 6749 for the dialects that speak it and
 * for everything else.
 */
describe('404 and 405 answers take the shape of the surface that owns the path', () => {
  let server: TestServer;
  const call = (method: string, path: string) => send(`${server.url}${path}`, { method, headers: { accept: 'application/json' } });

  before(async () => {
    server = await startTestServer();
  });

  after(() => server.stop());

  describe('LOS (/api/v1.1/oauth/…): the {meta, data} envelope', () => {
    it('answers GET on the token path with 405 in the envelope, and Allow: POST', async () => {
      const reply = await call('GET', '/api/v1.1/oauth/token');
      expect(reply.status, reply.text).to.equal(405);
      expect(reply.headers.get('allow')).to.equal('POST');
      expect(reply.json.meta).to.include({ function: 'oauth', responseCode: 405, success: false });
      expect(reply.json.data).to.include({ error: 'method_not_allowed' });
    });

    it('answers an unknown path under the prefix with 404 in the envelope', async () => {
      const reply = await call('POST', '/api/v1.1/oauth/tokens');
      expect(reply.status, reply.text).to.equal(404);
      expect(reply.json.meta).to.include({ responseCode: 404, success: false });
      expect(reply.json.data).to.include({ error: 'not_found' });
    });
  });

  describe('a route asked in another letter case (routes match in any case): its errors keep the surface’s shape', () => {
    it('LOS: a bad request at /API/V1.1/OAUTH/TOKEN is in the envelope, as at /api/v1.1/oauth/token', async () => {
      for (const path of ['/api/v1.1/oauth/token', '/API/V1.1/OAUTH/TOKEN', '/Api/v1.1/OAuth/Token']) {
        const reply = await send(`${server.url}${path}`, { headers: { 'content-type': 'application/json' }, body: '{}' });
        expect(reply.status, `${path}: ${reply.text}`).to.equal(400);
        expect(reply.json.meta, path).to.include({ responseCode: 400, success: false });
      }
    });

    it('Northstar: a call without credentials at /V2/CLIENTS/… is refused in Northstar’s shape', async () => {
      const reply = await call('GET', '/V2/CLIENTS/no-such-client');
      expect(reply.status, reply.text).to.equal(401);
      expect(reply.json.error, reply.text).to.be.an('object').that.has.property('code', 401);
    });

    it('django-oauth-toolkit: /AUTH/OAUTH2/TOKEN/ answers a refusal with its challenge and no-store, as the lower-case path does', async () => {
      for (const path of ['/auth/oauth2/token/', '/AUTH/OAUTH2/TOKEN/']) {
        const reply = await send(`${server.url}${path}`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=u&password=p' });
        expect(reply.status, `${path}: ${reply.text}`).to.equal(401);
        expect(reply.headers.get('cache-control'), path).to.equal('no-store');
      }
    });
  });

  describe('Northstar (/v2/…): {error: {code, message}}', () => {
    it('answers PATCH on a client with 405 in Northstar’s shape, and the methods the path serves', async () => {
      const reply = await call('PATCH', '/v2/clients/web-app');
      expect(reply.status, reply.text).to.equal(405);
      expect(reply.json).to.have.all.keys('error');
      expect(reply.json.error).to.deep.equal({ code: 405, message: 'PATCH is not allowed here' });
      expect(reply.headers.get('allow')!.split(', ').sort()).to.deep.equal(['DELETE', 'GET', 'HEAD', 'PUT']);
    });

    it('answers a method no router knows as a 405 in Northstar’s shape too', async () => {
      const reply = await call('PROPFIND', '/v2/clients');
      expect(reply.status, reply.text).to.equal(405);
      expect(reply.json.error).to.deep.include({ code: 405 });
      expect(reply.headers.get('allow')!.split(', ').sort()).to.deep.equal(['GET', 'HEAD', 'POST']);
    });

    it('answers an unknown path under /v2 with 404 in Northstar’s shape', async () => {
      const reply = await call('GET', '/v2/users');
      expect(reply.status, reply.text).to.equal(404);
      expect(reply.json.error).to.deep.include({ code: 404 });
    });
  });

  describe('the dialects that speak RFC 6749, and the standard endpoints', () => {
    for (const [method, path, allow] of [
      ['GET', '/auth/oauth2/token/', 'POST'],
      ['PUT', '/auth/oauth2/revoke_token', 'POST'],
      ['GET', '/liveexpert/oauth/authorize', 'POST'],
      ['DELETE', '/Lux/OAuth2/access_token/', 'POST'],
    ] as const) {
      it(`answers ${method} ${path} with 405 {error, error_description} and Allow: ${allow}`, async () => {
        const reply = await call(method, path);
        expect(reply.status, reply.text).to.equal(405);
        expect(reply.headers.get('allow')).to.equal(allow);
        expect(reply.json).to.have.all.keys('error', 'error_description');
        expect(reply.json.error).to.equal('method_not_allowed');
      });
    }

    for (const path of ['/auth/oauth2/introspect/', '/liveexpert/oauth/token', '/no/such/path']) {
      it(`answers ${path} with 404 {error, error_description}`, async () => {
        const reply = await call('POST', path);
        expect(reply.status, reply.text).to.equal(404);
        expect(reply.json).to.have.all.keys('error', 'error_description');
        expect(reply.json.error).to.equal('not_found');
      });
    }
  });
});
