import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { authorize, discover, redeemCode, REDIRECT_URI } from '../support/oidc.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * RFC 8693 with the policy of issue 15 M3: only a subject token issued to
 * the exchanging client (or naming it in its audience), never outliving it,
 * and dying with its grant.
 */
describe('token exchange (RFC 8693)', () => {
  let server: TestServer;
  const user = { username: `pia-${Date.now()}`, password: 'exchange password' };
  const apps: Record<'front' | 'service' | 'stranger', { id: string; secret: string }> = {} as never;
  let exchanger: oidc.Configuration;

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create(user);
    for (const [name, format] of [['front', 'opaque'], ['service', 'jwt'], ['stranger', 'opaque']] as const) {
      const made = await server.services.clients.create({
        name, grantTypes: ['password', 'refresh_token', EXCHANGE], scope: ['read', 'write', 'user'], tokenFormat: format,
      });
      apps[name] = { id: made.client.clientId, secret: made.clientSecret! };
    }
    exchanger = await discover(server, apps.service.id, apps.service.secret);
  });

  after(() => server.stop());

  async function signIn(app: keyof typeof apps) {
    const reply = await postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'read write' }, { authorization: basicAuth(apps[app].id, apps[app].secret) });
    expect(reply.status, reply.text).to.equal(200);
    return reply.json as { access_token: string; refresh_token: string; expires_in: number };
  }

  const exchange = (app: keyof typeof apps, subjectToken: string, params: Record<string, string> = {}) => postForm(`${server.url}/token`, {
    grant_type: EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, scope: 'read', ...params,
  }, { authorization: basicAuth(apps[app].id, apps[app].secret) });

  const whoami = (token: string) => send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });

  it('exchanges a token the client holds for a narrower one for the API audience, acting for the same user', async () => {
    expect(exchanger.serverMetadata().grant_types_supported).to.include(EXCHANGE);
    const own = await signIn('service');
    const result = await oidc.genericGrantRequest(exchanger, EXCHANGE, { subject_token: own.access_token, subject_token_type: ACCESS_TOKEN, scope: 'read', audience: `${server.issuer}/api` });
    expect(result).to.include({ issued_token_type: ACCESS_TOKEN, scope: 'read' });
    const body = (await whoami(result.access_token)).json;
    expect(body).to.include({ client_id: apps.service.id, scope: 'read' });
    expect(body.sub).to.be.a('string');
  });

  it('refuses a subject token issued to an unrelated client, as if it did not exist', async () => {
    for (const subject of [(await signIn('front')).access_token, (await signIn('service')).access_token]) {
      const reply = await exchange('stranger', subject);
      expect(reply.status).to.equal(400);
      expect(reply.json).to.deep.equal({ error: 'invalid_grant', error_description: 'grant request is invalid' });
    }
  });

  /** A user's token through the django-oauth-toolkit dialect: 600 s, against the 3600 s default of the token it is exchanged for. */
  async function signInThroughDot(app: keyof typeof apps) {
    const reply = await send(`${server.url}/auth/oauth2/token/`, {
      headers: { 'content-type': 'application/json', authorization: basicAuth(apps[app].id, apps[app].secret) },
      body: JSON.stringify({ grant_type: 'password', ...user }),
    });
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.json.expires_in).to.equal(600);
    return reply.json as { access_token: string; refresh_token: string; expires_in: number };
  }

  it('never issues a token that outlives its subject token', async () => {
    for (const app of ['front', 'service'] as const) {
      const own = await signInThroughDot(app);
      const reply = await exchange(app, own.access_token);
      expect(reply.status, reply.text).to.equal(200);
      expect(reply.json.expires_in as number).to.be.at.most(own.expires_in).and.above(0);
      // And an exchanged token exchanged again: still no further than the original.
      const again = await exchange(app, reply.json.access_token as string);
      expect(again.status, again.text).to.equal(200);
      expect(again.json.expires_in as number).to.be.at.most(own.expires_in);
    }
  });

  it('revokes the exchanged token with its subject’s grant: revoking the subject or its refresh token ends the chain, whatever the token format', async () => {
    for (const [app, revoke] of [['front', 'access_token'], ['front', 'refresh_token'], ['service', 'access_token'], ['service', 'refresh_token']] as const) {
      const own = await signIn(app);
      const first = (await exchange(app, own.access_token)).json.access_token as string;
      const second = (await exchange(app, first)).json.access_token as string;
      for (const token of [first, second]) expect((await whoami(token)).status).to.equal(200);

      const revoked = await postForm(`${server.url}/token/revocation`, { token: own[revoke] }, { authorization: basicAuth(apps[app].id, apps[app].secret) });
      expect(revoked.status).to.equal(200);
      for (const token of [own.access_token, first, second]) {
        expect((await whoami(token)).status, `${app} ${revoke}`).to.equal(401);
        expect((await exchange(app, token)).json.error).to.equal('invalid_grant');
      }
      const refreshed = await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: own.refresh_token }, { authorization: basicAuth(apps[app].id, apps[app].secret) });
      expect([refreshed.status, refreshed.json.error], `${app} ${revoke}: the refresh token`).to.deep.equal([400, 'invalid_grant']);
    }
  });

  it('exchanges a machine token for the client’s own, which never outlives it and is revoked with its client or by itself, not with the subject', async () => {
    const made = await server.services.clients.create({ name: 'machine', grantTypes: ['client_credentials', EXCHANGE], scope: ['read', 'write'] });
    const auth = { authorization: basicAuth(made.client.clientId, made.clientSecret!) };
    const machineToken = async () => {
      const reply = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read write' }, auth);
      expect(reply.status, reply.text).to.equal(200);
      return reply.json as { access_token: string; expires_in: number };
    };
    const exchangeMachine = async (subject: string) => {
      const reply = await postForm(`${server.url}/token`, { grant_type: EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN, scope: 'read' }, auth);
      expect(reply.status, reply.text).to.equal(200);
      return reply.json as { access_token: string; expires_in: number };
    };
    const subject = await machineToken();
    const exchanged = await exchangeMachine(subject.access_token);
    expect(exchanged.expires_in).to.be.at.most(subject.expires_in);
    expect((await whoami(exchanged.access_token)).json).to.include({ client_id: made.client.clientId, sub: null, scope: 'read' });

    // A machine token has no grant for the exchanged one to share (SECURITY.md says so).
    expect((await postForm(`${server.url}/token/revocation`, { token: subject.access_token }, auth)).status).to.equal(200);
    expect((await whoami(subject.access_token)).status, 'the subject').to.equal(401);
    expect((await whoami(exchanged.access_token)).status, 'the exchanged token, until it expires').to.equal(200);
    expect((await postForm(`${server.url}/token/revocation`, { token: exchanged.access_token }, auth)).status).to.equal(200);
    expect((await whoami(exchanged.access_token)).status, 'revoked by itself').to.equal(401);

    const another = await exchangeMachine((await machineToken()).access_token);
    await server.services.clients.delete(made.client.clientId);
    expect((await whoami(another.access_token)).status, 'with its client').to.equal(401);
  });

  it('refuses a subject token issued for another resource server: an exchange never moves a token to the API', async () => {
    const resource = `https://rs-${Date.now()}.example.test/`;
    await server.services.resourceServers.save({ uri: resource, scope: ['read', 'write'] });
    const made = await server.services.clients.create({
      name: 'code app', grantTypes: ['authorization_code', EXCHANGE], redirectUris: [REDIRECT_URI], scope: ['openid', 'read', 'write'],
    });
    const auth = { authorization: basicAuth(made.client.clientId, made.clientSecret!) };
    const flow = await authorize(await discover(server, made.client.clientId, made.clientSecret), user, { scope: 'openid read write', parameters: { resource } });
    const issued = await redeemCode(server, flow, auth, { resource });
    expect(issued.status, issued.text).to.equal(200);
    const forResource = issued.json.access_token as string;
    expect((await whoami(forResource)).status, 'the API refuses it').to.equal(401);
    const exchanged = await postForm(`${server.url}/token`, { grant_type: EXCHANGE, subject_token: forResource, subject_token_type: ACCESS_TOKEN, scope: 'read' }, auth);
    expect([exchanged.status, exchanged.json.error], exchanged.text).to.deep.equal([400, 'invalid_target']);
    // Issued for the API, the same client's token is exchanged as before.
    const forApi = await redeemCode(server, await authorize(await discover(server, made.client.clientId, made.clientSecret), user, { scope: 'openid read' }), auth);
    const narrowed = await postForm(`${server.url}/token`, { grant_type: EXCHANGE, subject_token: forApi.json.access_token as string, subject_token_type: ACCESS_TOKEN, scope: 'read' }, auth);
    expect(narrowed.status, narrowed.text).to.equal(200);
  });

  it('refuses to widen the scope, another audience or resource, delegation, and an invalid subject token', async () => {
    const subject = (await signIn('service')).access_token;
    for (const [params, error] of [
      [{ scope: 'user' }, 'invalid_scope'],
      [{ scope: 'read', audience: 'https://elsewhere.example.test' }, 'invalid_target'],
      [{ scope: 'read', subject_token: 'forged-subject-token' }, 'invalid_grant'],
      // RFC 8693 §2.1 parameters with a meaning Gatehouse does not serve are refused, not dropped.
      [{ scope: 'read', resource: 'https://elsewhere.example.test' }, 'invalid_target'],
      [{ scope: 'read', actor_token: subject, actor_token_type: ACCESS_TOKEN }, 'invalid_request'],
      [{ scope: 'read', actor_token: 'garbage' }, 'invalid_request'],
    ] as Array<[Record<string, string>, string]>) {
      const failure = await exchange('service', subject, params);
      expect(failure.json.error, JSON.stringify(params)).to.equal(error);
    }
    const forTheApi = await exchange('service', subject, { scope: 'read', resource: `${server.issuer}/api` });
    expect(forTheApi.status, forTheApi.text).to.equal(200);
  });
});

describe('DPoP and the grants Gatehouse implements itself (password, token exchange)', () => {
  let server: TestServer;
  let app: { id: string; secret: string };
  const user = { username: `bound-${Date.now()}`, password: 'bound password' };

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create(user);
    const made = await server.services.clients.create({ name: 'bound', grantTypes: ['client_credentials', 'password', EXCHANGE], scope: ['read'] });
    app = { id: made.client.clientId, secret: made.clientSecret! };
  });

  after(() => server.stop());

  it('refuses to exchange a DPoP-bound token for a Bearer one, and refuses a DPoP proof it would not honour', async () => {
    const keys = await generateKeyPair('ES256');
    const config = await discover(server, app.id, app.secret);
    const bound = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: oidc.getDPoPHandle(config, keys) });
    expect(bound.token_type.toLowerCase()).to.equal('dpop');
    const auth = { authorization: basicAuth(app.id, app.secret) };
    const exchanged = await postForm(`${server.url}/token`, { grant_type: EXCHANGE, subject_token: bound.access_token, subject_token_type: ACCESS_TOKEN, scope: 'read' }, auth);
    expect([exchanged.status, exchanged.json.error], exchanged.text).to.deep.equal([400, 'invalid_grant']);

    // A proof sent to a grant that issues Bearer tokens only: refused, not silently ignored.
    const proof = await new SignJWT({ htm: 'POST', htu: `${server.issuer}/token`, jti: randomUUID() })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(keys.publicKey) }).setIssuedAt().sign(keys.privateKey);
    const password = await postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'read' }, { ...auth, dpop: proof });
    expect([password.status, password.json.error], password.text).to.deep.equal([400, 'invalid_dpop_proof']);
    expect((await postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'read' }, auth)).status, 'without the proof').to.equal(200);
  });
});
