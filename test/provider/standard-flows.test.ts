import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { authorize, discover, oauthError, REDIRECT_URI, redeem } from '../support/oidc.js';
import { startTestServer, storageMode, type TestServer } from '../support/server.js';

describe('standard flows, with openid-client as the relying party', () => {
  let server: TestServer;
  let config: oidc.Configuration;
  let userId: string;
  const user = { username: `alice-${Date.now()}`, password: 'correct horse battery' };

  before(async () => {
    server = await startTestServer();
    const { client, clientSecret } = await server.services.clients.create({
      name: 'Relying Party',
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      redirectUris: [REDIRECT_URI],
      scope: ['openid', 'profile', 'email', 'read', 'write'],
    });
    userId = (await server.services.accounts.create({ ...user, email: 'alice@example.test', name: 'Alice Liddell' })).id;
    config = await discover(server, client.clientId, clientSecret);
  });

  after(() => server.stop());

  it('publishes discovery metadata for the code flow with S256 PKCE only', () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).to.equal(server.issuer);
    expect(metadata.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(metadata.response_types_supported).to.deep.equal(['code']);
    for (const endpoint of ['token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint'] as const) {
      expect(metadata[endpoint], endpoint).to.be.a('string');
    }
  });

  it('advertises how clients authenticate at introspection and revocation (RFC 8414 §2), the token endpoint’s', () => {
    const metadata = config.serverMetadata();
    for (const endpoint of ['introspection', 'revocation'] as const) {
      expect(metadata[`${endpoint}_endpoint_auth_methods_supported`], endpoint).to.deep.equal(metadata.token_endpoint_auth_methods_supported);
    }
    // The lists are the token endpoint's: the provider authenticates a client there as at /token, by its registered method.
    expect(metadata.introspection_endpoint_auth_signing_alg_values_supported).to.deep.equal(metadata.token_endpoint_auth_signing_alg_values_supported);
  });

  it('issues an opaque access token for client_credentials, which introspection describes', async () => {
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.token_type.toLowerCase()).to.equal('bearer');
    expect(tokens.access_token.split('.')).to.have.length(1);
    expect(tokens.expires_in).to.equal(server.config.clientCredentialsTtl);
    const info = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(info.active).to.equal(true);
    expect(info.client_id).to.equal(config.clientMetadata().client_id);
    expect(info.scope).to.equal('read');
  });

  it('refuses client_credentials for a scope the client was not given', async () => {
    const { error } = await oauthError(oidc.clientCredentialsGrant(config, { scope: 'admin' }));
    expect(error).to.equal('invalid_scope');
  });

  it('issues RFC 9068 JWT access tokens signed RS256 to clients configured for them', async () => {
    const { client, clientSecret } = await server.services.clients.create({
      name: 'JWT API client', grantTypes: ['client_credentials'], scope: ['read'], tokenFormat: 'jwt',
    });
    const jwtConfig = await discover(server, client.clientId, clientSecret);
    const tokens = await oidc.clientCredentialsGrant(jwtConfig, { scope: 'read' });
    const jwks = createRemoteJWKSet(new URL(jwtConfig.serverMetadata().jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.issuer, audience: `${server.issuer}/api`, typ: 'at+jwt',
    });
    expect(protectedHeader.alg).to.equal('RS256');
    expect(payload.client_id).to.equal(client.clientId);
    expect(payload.scope).to.equal('read');
  });

  it("puts the user's highest role in an RFC 9068 access token issued through the code flow", async () => {
    const staff = { username: `sam-${Date.now()}`, password: 'staff member password' };
    await server.services.accounts.create({ ...staff, roles: ['user', 'staff'] });
    const { client, clientSecret } = await server.services.clients.create({
      name: 'JWT relying party', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read'], tokenFormat: 'jwt',
    });
    const jwtConfig = await discover(server, client.clientId, clientSecret);
    const tokens = await redeem(jwtConfig, await authorize(jwtConfig, staff, { scope: 'openid read' }));
    const jwks = createRemoteJWKSet(new URL(jwtConfig.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: `${server.issuer}/api`, typ: 'at+jwt' });
    expect(payload.role).to.equal('staff');
    expect(payload.client_id).to.equal(client.clientId);
  });

  it('gives a JWT client that asks for the user\'s identity alone a token UserInfo takes, and one for the API when it asks for the API', async () => {
    const { client, clientSecret } = await server.services.clients.create({
      name: 'JWT relying party at UserInfo', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scope: ['openid', 'profile', 'read', 'offline_access'], tokenFormat: 'jwt',
    });
    const jwtConfig = await discover(server, client.clientId, clientSecret);
    const identity = await redeem(jwtConfig, await authorize(jwtConfig, user, { scope: 'openid profile' }));
    const info = await oidc.fetchUserInfo(jwtConfig, identity.access_token, userId);
    expect(info).to.include({ sub: userId, name: 'Alice Liddell' });
    const api = await redeem(jwtConfig, await authorize(jwtConfig, user, { scope: 'openid read' }));
    expect(decodeJwt(api.access_token).aud).to.equal(`${server.issuer}/api`);
  });

  it('runs the code flow with PKCE through the login and consent forms, with an id_token verified against JWKS', async () => {
    const flow = await authorize(config, user);
    expect(flow.callback.searchParams.get('state')).to.equal(flow.state);
    const tokens = await redeem(config, flow);
    expect(tokens.id_token).to.be.a('string');
    expect(decodeProtectedHeader(tokens.id_token!).alg).to.equal('RS256');
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(tokens.id_token!, jwks, {
      issuer: server.issuer, audience: config.clientMetadata().client_id,
    });
    expect(payload.sub).to.equal(userId);
    expect(payload.nonce).to.equal(flow.nonce);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId);
    expect(info).to.include({ sub: userId, email: 'alice@example.test', name: 'Alice Liddell', preferred_username: user.username });
  });

  it('rotates refresh tokens: the previous one is rejected once used', async () => {
    const tokens = await redeem(config, await authorize(config, user));
    const first = tokens.refresh_token!;
    expect(first).to.be.a('string');
    const rotated = await oidc.refreshTokenGrant(config, first);
    expect(rotated.refresh_token).to.be.a('string').and.not.equal(first);
    expect((await oidc.tokenIntrospection(config, rotated.access_token)).active).to.equal(true);

    const { error } = await oauthError(oidc.refreshTokenGrant(config, first));
    expect(error).to.equal('invalid_grant');
  });

  it('tells access tokens (44 characters) from refresh tokens (43) by length, so introspecting an access token queries no refresh-token store', async () => {
    const durableFinds = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('gatehouse_storage_duration_seconds_count') && l.includes('tier="durable"') && l.includes('operation="find"'));
      return Number(line?.split(' ').pop() ?? 0);
    };
    const tokens = await redeem(config, await authorize(config, user));
    const machine = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.access_token).to.have.length(44);
    expect(machine.access_token).to.have.length(44);
    expect(tokens.refresh_token).to.have.length(43);

    // (A user's access token still has its grant looked up, as it should.)
    const before = await durableFinds();
    for (let i = 0; i < 3; i += 1) expect((await oidc.tokenIntrospection(config, machine.access_token)).active).to.equal(true);
    // Without Redis the access-token models share the database: two lookups
    // per introspection (access token, client-credentials token), and none
    // for a refresh token; with Redis, none at all.
    const expected = storageMode.redis ? 0 : 3 * 2;
    expect(await durableFinds() - before, 'durable-store lookups while introspecting a client_credentials token').to.equal(expected);
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active, 'a refresh token is still found').to.equal(true);
    expect(await durableFinds()).to.be.above(before);
  });

  it('revokes a refresh token (RFC 7009), after which introspection says it is inactive', async () => {
    const tokens = await redeem(config, await authorize(config, user));
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active).to.equal(true);
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active).to.equal(false);
    const { error } = await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!));
    expect(error).to.equal('invalid_grant');
  });

  it('revokes an access token, after which introspection and userinfo refuse it', async () => {
    const tokens = await redeem(config, await authorize(config, user));
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
    const response = await fetch(config.serverMetadata().userinfo_endpoint!, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(response.status).to.equal(401);
    expect(response.headers.get('www-authenticate')).to.match(/invalid_token/);
  });

  it('answers a second redemption of the same code with invalid_grant', async () => {
    const flow = await authorize(config, user);
    await redeem(config, flow);
    const { error } = await oauthError(redeem(config, flow));
    expect(error).to.equal('invalid_grant');
  });

  it('signs the user out through RP-initiated logout', async () => {
    const flow = await authorize(config, user);
    const tokens = await redeem(config, flow);
    const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! });
    const page = await flow.browser.navigate(logoutUrl.href);
    expect(page.status).to.equal(200);
    const done = await flow.browser.submit(page, '/session/end/confirm', { logout: 'yes' });
    expect(done.html).to.include('Signed out');
  });
});
