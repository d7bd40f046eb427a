import { expect } from 'chai';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { authorize, discover, oauthError, REDIRECT_URI, redeem } from '../support/oidc.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const FORMATS = ['opaque', 'jwt'] as const;
type Format = typeof FORMATS[number];
const A_TOKEN_OF: Record<Format, string> = { opaque: 'an opaque token', jwt: 'a JWT' };

/**
 * Introspection (RFC 7662) and revocation (RFC 7009) of JWT access tokens,
 * which Gatehouse answers itself (src/http/jwt-token-endpoints.ts), give the
 * answers the provider gives for opaque tokens of the same kind.
 */
describe('JWT access tokens at the introspection and revocation endpoints, answered as opaque ones are', () => {
  let server: TestServer;
  const user = { username: `jo-${Date.now()}`, password: 'endpoint password' };
  const apps = {} as Record<Format, { id: string; secret: string; config: oidc.Configuration }>;

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create(user);
    for (const format of FORMATS) {
      const made = await server.services.clients.create({
        name: `${format} relying party`,
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', EXCHANGE],
        redirectUris: [REDIRECT_URI],
        scope: ['openid', 'read', 'offline_access'],
        tokenFormat: format,
      });
      apps[format] = { id: made.client.clientId, secret: made.clientSecret!, config: await discover(server, made.client.clientId, made.clientSecret) };
    }
  });

  after(() => server.stop());

  const auth = (format: Format) => ({ authorization: basicAuth(apps[format].id, apps[format].secret) });
  const whoami = (token: string) => send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
  const revoke = (format: Format, token: string) => postForm(`${server.url}/token/revocation`, { token, token_type_hint: 'access_token' }, auth(format));

  async function signIn(format: Format) {
    const tokens = await redeem(apps[format].config, await authorize(apps[format].config, user, { scope: 'openid read offline_access' }));
    expect(tokens.access_token.split('.'), 'the token format').to.have.length(format === 'jwt' ? 3 : 1);
    expect(tokens.refresh_token).to.be.a('string');
    return tokens as typeof tokens & { refresh_token: string };
  }

  async function exchange(format: Format, subjectToken: string): Promise<string> {
    const reply = await postForm(`${server.url}/token`, { grant_type: EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, scope: 'read' }, auth(format));
    expect(reply.status, reply.text).to.equal(200);
    return reply.json.access_token as string;
  }

  /** A user's tokens: from the code flow, exchanged, and that exchanged again; all alive. */
  async function grantChain(format: Format) {
    const tokens = await signIn(format);
    const exchanged = await exchange(format, tokens.access_token);
    const exchangedAgain = await exchange(format, exchanged);
    for (const token of [tokens.access_token, exchanged, exchangedAgain]) expect((await whoami(token)).status, `${format}: before revocation`).to.equal(200);
    return { ...tokens, exchanged, exchangedAgain };
  }

  async function expectGrantEnded(format: Format, chain: Awaited<ReturnType<typeof grantChain>>): Promise<void> {
    for (const [name, token] of Object.entries({ subject: chain.access_token, exchanged: chain.exchanged, 'exchanged again': chain.exchangedAgain })) {
      expect((await whoami(token)).status, `${format}: the ${name} token`).to.equal(401);
    }
    expect(await oauthError(oidc.refreshTokenGrant(apps[format].config, chain.refresh_token)), `${format}: the refresh token`).to.include({ error: 'invalid_grant' });
  }

  for (const format of FORMATS) {
    it(`revoking a user’s access token, ${A_TOKEN_OF[format]}, ends its grant: its refresh token and every token exchanged from it`, async () => {
      const chain = await grantChain(format);
      expect((await revoke(format, chain.access_token)).status).to.equal(200);
      await expectGrantEnded(format, chain);
    });

    it(`revoking ${A_TOKEN_OF[format]} exchanged from a user’s token ends the grant it shares with that token`, async () => {
      const chain = await grantChain(format);
      expect((await revoke(format, chain.exchanged)).status).to.equal(200);
      await expectGrantEnded(format, chain);
    });
  }

  it('revoking a client_credentials token revokes that token alone, whatever its format', async () => {
    for (const format of FORMATS) {
      const [revoked, kept] = await Promise.all([1, 2].map(() => oidc.clientCredentialsGrant(apps[format].config, { scope: 'read' })));
      expect(revoked!.access_token.split('.'), 'the token format').to.have.length(format === 'jwt' ? 3 : 1);
      expect((await revoke(format, revoked!.access_token)).status).to.equal(200);
      expect((await whoami(revoked!.access_token)).status, `${format}: the revoked token`).to.equal(401);
      expect((await whoami(kept!.access_token)).status, `${format}: another token of the same client`).to.equal(200);
    }
  });

  it('a revocation is in the audit trail, whatever the token’s format', async () => {
    for (const format of FORMATS) {
      const { access_token: token } = await oidc.clientCredentialsGrant(apps[format].config, { scope: 'read' });
      expect((await revoke(format, token)).status).to.equal(200);
      const { items } = await server.services.audit.list({ clientId: apps[format].id, perPage: 100 });
      expect(items.filter((event) => event.event === 'token.revoked').map((event) => event.detail), format).to.deep.include({ type: 'client_credentials' });
    }
  });

  it('introspection calls a DPoP-bound token a DPoP token and a bearer token a Bearer one, whatever its format (RFC 9449 §6.2)', async () => {
    const keys = await generateKeyPair('ES256');
    const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey));
    const answers = {} as Record<Format, Array<{ token_type?: unknown; cnf?: unknown }>>;
    for (const format of FORMATS) {
      const { config } = apps[format];
      const bound = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: oidc.getDPoPHandle(config, keys) });
      const bearer = await oidc.clientCredentialsGrant(config, { scope: 'read' });
      expect(bound.access_token.split('.'), 'the token format').to.have.length(format === 'jwt' ? 3 : 1);
      answers[format] = [];
      for (const token of [bound.access_token, bearer.access_token]) {
        const reply = await postForm(`${server.url}/token/introspection`, { token }, auth(format));
        expect(reply.status, reply.text).to.equal(200);
        expect(reply.json.active, `${format}: active`).to.equal(true);
        answers[format].push({ token_type: reply.json.token_type, cnf: reply.json.cnf });
      }
    }
    const expected = [{ token_type: 'DPoP', cnf: { jkt } }, { token_type: 'Bearer', cnf: undefined }];
    expect(answers.opaque, 'the provider’s own answers').to.deep.equal(expected);
    expect(answers.jwt, 'the JWT answers').to.deep.equal(answers.opaque);
  });

  it('introspects a JWT whatever the caller prefers (Accept: text/html): the provider’s refusal it answers for is JSON too', async () => {
    const { access_token: token } = await oidc.clientCredentialsGrant(apps.jwt.config, { scope: 'read' });
    const reply = await postForm(`${server.url}/token/introspection`, { token }, { ...auth('jwt'), accept: 'text/html' });
    expect([reply.status, reply.json.active], reply.text).to.deep.equal([200, true]);
  });
});
