import { expect } from 'chai';
import { exportJWK, generateKeyPair } from 'jose';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { basicAuth, send } from '../support/http.js';
import { authorizationUrl, authorize, discover, frontChannel, redeemCode, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** RFC 6749 §3.1 and §3.2: parameters must not repeat; unknown ones are ignored. */
describe('request parameters', () => {
  let server: TestServer;
  let clientId: string;
  let auth: Record<string, string>;
  const user = { username: `pat-${Date.now()}`, password: 'parameter password' };
  const base = (): Array<[string, string]> => [
    ['client_id', clientId], ['response_type', 'code'], ['redirect_uri', REDIRECT_URI], ['scope', 'openid'], ['state', 'st'],
    ['code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'], ['code_challenge_method', 'S256'],
  ];
  /** A form body with exactly these pairs, repeats included. */
  const formBody = (pairs: Array<[string, string]>) => new URLSearchParams(pairs).toString();
  const postPairs = (path: string, pairs: Array<[string, string]>) => send(`${server.url}${path}`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth }, body: formBody(pairs),
  });

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({ name: 'Param RP', grantTypes: ['authorization_code', 'client_credentials'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read'] });
    clientId = created.client.clientId;
    auth = { authorization: basicAuth(clientId, created.clientSecret!) };
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  describe('at the authorization endpoint', () => {
    it('accepts the request without repeats (the control)', async () => {
      const reply = await frontChannel(authorizationUrl(server, base()));
      expect(reply.location?.pathname).to.match(/^\/interaction\//);
    });

    for (const name of ['scope', 'state', 'response_type', 'code_challenge', 'client_id', 'redirect_uri']) {
      it(`answers a repeated ${name} with invalid_request, redirecting nowhere but the registered redirect_uri`, async () => {
        const pairs = base();
        pairs.push([name, name === 'redirect_uri' ? 'https://evil.example.test/cb' : pairs.find(([n]) => n === name)![1]]);
        const reply = await frontChannel(authorizationUrl(server, pairs));
        if (reply.location) {
          expect(`${reply.location.origin}${reply.location.pathname}`).to.equal(REDIRECT_URI);
          expect(reply.location.searchParams.get('error')).to.equal('invalid_request');
          expect(reply.location.searchParams.get('code')).to.equal(null);
        } else {
          expect(reply.status).to.equal(400);
          expect(reply.html).to.include('invalid_request');
        }
        expect(reply.location?.href ?? '').not.to.include('evil.example.test');
      });
    }

    it('ignores unknown parameters', async () => {
      const reply = await frontChannel(authorizationUrl(server, [...base(), ['utm_source', 'mail'], ['foo', 'bar'], ['x-unknown', '']]));
      expect(reply.location?.pathname).to.match(/^\/interaction\//);
    });

    it('answers prompt=none without a session with login_required at the client’s redirect_uri (OIDC Core §3.1.2.6)', async () => {
      const reply = await frontChannel(authorizationUrl(server, [...base(), ['prompt', 'none']]));
      expect(reply.location, reply.html.slice(0, 200)).not.to.equal(null);
      expect(`${reply.location!.origin}${reply.location!.pathname}`).to.equal(REDIRECT_URI);
      expect(reply.location!.searchParams.get('error')).to.equal('login_required');
      expect(reply.location!.searchParams.get('state')).to.equal('st');
      expect(reply.location!.searchParams.get('code')).to.equal(null);
    });
  });

  describe('at the token, introspection and revocation endpoints', () => {
    it('answers a repeated parameter of a code redemption with invalid_request, and the code is not spent', async () => {
      const flow = await authorize(await discover(server, clientId), user, { scope: 'openid' });
      const code = flow.callback.searchParams.get('code')!;
      const pairs: Array<[string, string]> = [['grant_type', 'authorization_code'], ['code', code], ['redirect_uri', REDIRECT_URI], ['code_verifier', flow.verifier]];
      for (const [name, value] of pairs) {
        const reply = await postPairs('/token', [...pairs, [name, value]]);
        expect([reply.status, reply.json.error], `repeated ${name}`).to.deep.equal([400, 'invalid_request']);
      }
      const repeatedClient = await postPairs('/token', [...pairs, ['client_id', clientId], ['client_id', clientId]]);
      expect([repeatedClient.status, repeatedClient.json.error]).to.deep.equal([400, 'invalid_request']);
      expect((await redeemCode(server, flow, auth)).status).to.equal(200);
    });

    it('answers a repeated token with invalid_request at introspection and revocation', async () => {
      const token = (await postPairs('/token', [['grant_type', 'client_credentials'], ['scope', 'read']])).json.access_token as string;
      for (const path of ['/token/introspection', '/token/revocation']) {
        const reply = await postPairs(path, [['token', token], ['token', token]]);
        expect([reply.status, reply.json.error], path).to.deep.equal([400, 'invalid_request']);
      }
      expect((await postPairs('/token/introspection', [['token', token]])).json.active).to.equal(true);
    });

    it('ignores unknown parameters', async () => {
      const flow = await authorize(await discover(server, clientId), user, { scope: 'openid' });
      const reply = await redeemCode(server, flow, auth, { foo: 'bar', utm_source: 'x', client_assertion_typo: 'y' });
      expect(reply.status, reply.text).to.equal(200);
      const cc = await postPairs('/token', [['grant_type', 'client_credentials'], ['scope', 'read'], ['audience_hint', 'x']]);
      expect(cc.status, cc.text).to.equal(200);
    });
  });

  describe('more pairs than the parser keeps (1000): refused whole, never read in part', () => {
    const filler = (n: number): Array<[string, string]> => Array.from({ length: n }, (_, i) => [`f${i}`, '1']);

    it('refuses a token request whose repeated grant_type and scope come past the 1000th pair', async () => {
      const reply = await postPairs('/token', [['grant_type', 'client_credentials'], ['scope', 'read'], ...filler(998), ['scope', 'openid'], ['grant_type', 'password']]);
      expect([reply.status, reply.json.error], reply.text).to.deep.equal([400, 'invalid_request']);
      expect(reply.json.error_description).to.include('1000');
    });

    it('refuses such a form with the client’s credentials in it (read by the client-auth throttle first) with a 400, not a hang-up', async () => {
      const credentials = { authorization: auth.authorization! };
      const [id, secret] = Buffer.from(credentials.authorization.slice(6), 'base64').toString().split(':');
      const reply = await send(`${server.url}/token`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: formBody([['grant_type', 'client_credentials'], ['client_id', id!], ['client_secret', secret!], ['scope', 'read'], ...filler(998)]),
      });
      expect([reply.status, reply.json.error], reply.text).to.deep.equal([400, 'invalid_request']);
    });

    it('still reads a form of exactly 1000 pairs', async () => {
      const reply = await postPairs('/token', [['grant_type', 'client_credentials'], ['scope', 'read'], ...filler(998)]);
      expect(reply.status, reply.text).to.equal(200);
    });

    it('refuses such a query at the authorization endpoint, redirecting nowhere', async () => {
      const reply = await frontChannel(authorizationUrl(server, [...base(), ...filler(995), ['redirect_uri', 'https://evil.example.test/cb']]));
      expect(reply.status).to.equal(400);
      expect(reply.location).to.equal(null);
    });

    it('refuses such a form at a dialect (django-oauth-toolkit), in its shape', async () => {
      const reply = await send(`${server.url}/auth/oauth2/token/`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth },
        body: formBody([['grant_type', 'client_credentials'], ['scope', 'read'], ...filler(998), ['scope', 'openid']]),
      });
      expect([reply.status, reply.json.error], reply.text).to.deep.equal([400, 'invalid_request']);
    });
  });

  describe('NUL, which no store can hold: invalid_request, never a 500', () => {
    const withNul = (name: string) => [...base().filter(([n]) => n !== name), [name, 'a\u0000b']] as Array<[string, string]>;

    for (const name of ['state', 'nonce', 'login_hint', 'ui_locales']) {
      it(`answers an authorization request whose ${name} holds NUL with invalid_request`, async () => {
        const reply = await frontChannel(authorizationUrl(server, withNul(name)));
        if (reply.location) {
          expect(`${reply.location.origin}${reply.location.pathname}`).to.equal(REDIRECT_URI);
          expect(reply.location.searchParams.get('error')).to.equal('invalid_request');
        } else {
          expect(reply.status, reply.html.slice(0, 300)).to.equal(400);
        }
      });
    }

    it('answers a pushed authorization request and an end-session request holding NUL with a 400', async () => {
      const par = await postPairs('/request', withNul('state').filter(([n]) => n !== 'client_id'));
      expect([par.status, par.json.error], par.text).to.deep.equal([400, 'invalid_request']);
      const end = await frontChannel(`${server.url}/session/end?state=a%00b`);
      expect(end.status, end.html.slice(0, 300)).to.equal(400);
    });

    it('refuses registration metadata holding NUL or half a surrogate pair at any depth (a JWK’s kid) with invalid_client_metadata, and registers nothing', async () => {
      const { publicKey } = await generateKeyPair('ES256');
      const jwk = await exportJWK(publicKey);
      const before = (await server.services.clients.list({ perPage: 1 })).total;
      for (const kid of ['a\u0000', 'a\ud800']) {
        const { token } = await issueInitialAccessToken(server.services.provider, 600);
        const reply = await send(`${server.url}/reg`, {
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          // JSON.stringify writes half a pair as its escape, which the server's parser reads back as it.
          body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...jwk, kid }] } }),
        });
        expect([reply.status, reply.json.error], `${JSON.stringify(kid)}: ${reply.text}`).to.deep.equal([400, 'invalid_client_metadata']);
      }
      expect((await server.services.clients.list({ perPage: 1 })).total).to.equal(before);
    });

    it('answers a device authorization request holding NUL with invalid_request', async () => {
      const device = await server.services.clients.create({ name: 'Param device', grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'], scope: ['openid'] });
      const reply = await send(`${server.url}/device/auth`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(device.client.clientId, device.clientSecret!) },
        body: formBody([['scope', 'openid'], ['login_hint', 'a\u0000b']]),
      });
      expect([reply.status, reply.json.error], reply.text).to.deep.equal([400, 'invalid_request']);
    });
  });
});
