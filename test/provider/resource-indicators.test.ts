import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { authorize, discover, oauthError, REDIRECT_URI } from '../support/oidc.js';
import { basicAuth, postForm } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);

describe('resource indicators (RFC 8707): per-resource audience, scopes, format and lifetime', () => {
  let server: TestServer;
  let config: oidc.Configuration;
  const stamp = Date.now();
  const reports = `https://reports-${stamp}.example.test/`;
  const ledger = `https://ledger-${stamp}.example.test/v1`;

  before(async () => {
    server = await startTestServer();
    await server.services.resourceServers.save({ uri: reports, scope: ['read'], tokenFormat: 'jwt', accessTokenTtl: 120 });
    // Registered through the CLI, beside the running server, as an operator would.
    const env = { ...process.env, GATEHOUSE_DATA_DIR: server.config.dataDir, DATABASE_URL: process.env.DATABASE_URL ?? '', REDIS_URL: process.env.REDIS_URL ?? '' };
    const cli = await run(process.execPath, ['dist/src/cli/main.js', 'resource', 'add', '--uri', ledger, '--scope', 'write', '--token-format', 'opaque', '--json'], { env });
    expect(JSON.parse(cli.stdout)).to.deep.include({ uri: ledger, token_format: 'opaque' });
    const { client, clientSecret } = await server.services.clients.create({ name: 'Multi-API job', grantTypes: ['client_credentials'], scope: ['read', 'write'] });
    config = await discover(server, client.clientId, clientSecret);
  });

  after(() => server.stop());

  it('issues a JWT for a JWT resource server: its audience, its scopes only, its lifetime', async () => {
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read', resource: reports });
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), {
      issuer: server.issuer, audience: reports, typ: 'at+jwt',
    });
    expect(protectedHeader.alg).to.equal('RS256');
    expect(payload.scope).to.equal('read');
    expect(payload.exp! - payload.iat!).to.equal(120);
  });

  it('signs each resource server\'s JWTs with its own algorithm (ES256, EdDSA), verifiable with the published JWKS alone', async () => {
    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const uri = `https://${alg.toLowerCase()}-${stamp}.example.test/`;
      await server.services.resourceServers.save({ uri, scope: ['read'], tokenFormat: 'jwt', signingAlg: alg });
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read', resource: uri });
      const { protectedHeader, payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: uri, typ: 'at+jwt' });
      expect(protectedHeader.alg).to.equal(alg);
      expect(payload.scope).to.equal('read');
    }
    const listed = await server.services.keys.list();
    expect(listed.filter((key) => key.active).map((key) => key.alg).sort()).to.deep.equal(['ES256', 'EdDSA', 'RS256']);
    const refused = await server.services.resourceServers.save({ uri: `https://hs-${stamp}.example.test/`, scope: ['read'], signingAlg: 'HS256' })
      .then(() => undefined, (error: unknown) => error as { fields?: Array<{ field: string }> });
    expect(refused?.fields?.map((f) => f.field)).to.include('signing_alg');
  });

  it('issues an opaque token for an opaque resource server, whose introspection names the audience', async () => {
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'write', resource: ledger });
    expect(tokens.access_token.split('.')).to.have.length(1);
    const introspection = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspection).to.include({ active: true, scope: 'write', aud: ledger });
  });

  it('keeps each audience to its own scopes: a scope the resource server does not understand is not in its token', async () => {
    const outcome = await oidc.clientCredentialsGrant(config, { scope: 'read write', resource: reports }).then(
      (tokens) => ({ scope: decodeJwt(tokens.access_token).scope }),
      (error: unknown) => ({ error: (error as { error?: string }).error }),
    );
    // oidc-provider either narrows the token or refuses; either way "write" never reaches the reports API.
    if ('scope' in outcome) expect(outcome.scope).to.equal('read');
    else expect(outcome.error).to.equal('invalid_scope');
  });

  it('refuses an unregistered resource with invalid_target', async () => {
    expect((await oauthError(oidc.clientCredentialsGrant(config, { scope: 'read', resource: 'https://unknown.example.test/' }))).error).to.equal('invalid_target');
  });

  it('the password grant issues only for the API: a registered resource server or an unknown resource is invalid_target, the API itself an API token', async () => {
    const { client, clientSecret } = await server.services.clients.create({ name: 'Legacy password app', grantTypes: ['password'], scope: ['read'] });
    const user = { username: `pw-${stamp}`, password: 'password grant user' };
    await server.services.accounts.create(user);
    const ask = (resource?: string) => postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'read', ...(resource ? { resource } : {}) }, { authorization: basicAuth(client.clientId, clientSecret!) });
    for (const resource of [reports, 'https://unknown.example.test/']) {
      const reply = await ask(resource);
      expect([reply.status, reply.json.error], `${resource}: ${reply.text}`).to.deep.equal([400, 'invalid_target']);
    }
    for (const resource of [`${server.issuer}/api`, undefined]) {
      const reply = await ask(resource);
      expect(reply.status, reply.text).to.equal(200);
      const whoami = await fetch(`${server.url}/api/whoami`, { headers: { authorization: `Bearer ${reply.json.access_token as string}` } });
      expect(whoami.status, `${resource ?? 'no resource'}: the API accepts it`).to.equal(200);
    }
  });

  it('validates registrations: absolute URIs without query or fragment, registered scopes, not Gatehouse\'s own API', async () => {
    for (const [input, field] of [
      [{ uri: 'not a uri', scope: ['read'] }, 'uri'],
      [{ uri: 'https://api.example.test/#frag', scope: ['read'] }, 'uri'],
      [{ uri: 'https://api.example.test/?tenant=1', scope: ['read'] }, 'uri'],
      [{ uri: `${server.issuer}/api`, scope: ['read'] }, 'uri'],
      [{ uri: 'https://api.example.test/', scope: [] }, 'scope'],
      [{ uri: 'https://api.example.test/', scope: ['no-such-scope'] }, 'scope'],
    ] as const) {
      const refused = await server.services.resourceServers.save({ ...input, scope: [...input.scope] }).then(() => undefined, (error: unknown) => error as { fields?: Array<{ field: string }> });
      expect(refused?.fields?.map((f) => f.field), JSON.stringify(input)).to.include(field);
    }
    expect((await server.services.resourceServers.list()).map((r) => r.uri)).not.to.include('https://api.example.test/');
  });

  it('grants a resource server’s scopes only to clients registered for them, a scope registered while the server runs included', async () => {
    const refund = `refund-${stamp}`;
    const payments = `https://payments-${stamp}.example.test/`;
    await server.services.scopes.add({ name: refund, description: 'Issue refunds', warning: false });
    await server.services.resourceServers.save({ uri: payments, scope: [refund], tokenFormat: 'jwt', accessTokenTtl: 300 });
    // Before: any client naming the resource got the new scope (the provider checks a client's scope only for scopes it knew at start-up).
    const outsider = await oidc.clientCredentialsGrant(config, { scope: refund, resource: payments }).then((t) => t.scope ?? '', (error: { error?: string }) => error.error);
    expect(outsider, 'a client not registered for it').to.be.oneOf(['invalid_scope', '']);
    // The resource's other scopes still go to clients registered for them.
    await server.services.resourceServers.save({ uri: payments, scope: [refund, 'read'], tokenFormat: 'jwt', accessTokenTtl: 300 });
    const tokens = await oidc.clientCredentialsGrant(config, { scope: `read ${refund}`, resource: payments });
    expect(decodeJwt(tokens.access_token)).to.include({ scope: 'read', aud: payments });
  });

  it('caps a dialect’s lifetime by the resource server’s own: a refresh through django-oauth-toolkit’s token/ too', async () => {
    const short = `https://short-${stamp}.example.test/`;
    await server.services.resourceServers.save({ uri: short, scope: ['read'], tokenFormat: 'jwt', accessTokenTtl: 90 });
    const { client, clientSecret } = await server.services.clients.create({
      name: 'RP of a short-lived API', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read', 'offline_access'],
    });
    const user = { username: `short-${stamp}`, password: 'short-lived api user' };
    await server.services.accounts.create(user);
    const rp = await discover(server, client.clientId, clientSecret);
    const flow = await authorize(rp, user, { scope: 'openid read offline_access', parameters: { resource: short, prompt: 'consent' } });
    const tokens = await oidc.authorizationCodeGrant(rp, flow.callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce }, { resource: short });
    expect(decodeJwt(tokens.access_token).aud).to.equal(short);
    const reply = await fetch(`${server.url}/auth/oauth2/token/`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(clientSecret!)}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    });
    const body = await reply.json() as { access_token: string; expires_in: number };
    expect(reply.status, JSON.stringify(body)).to.equal(200);
    const claims = decodeJwt(body.access_token);
    expect(claims.aud).to.equal(short);
    // Before: the dialect's 10 minutes replaced the resource server's 90 seconds.
    expect(claims.exp! - claims.iat!).to.equal(90);
    expect(body.expires_in).to.be.at.most(90);
  });

  it('stops issuing for a removed resource server within a second', async () => {
    const uri = `https://gone-${stamp}.example.test/`;
    await server.services.resourceServers.save({ uri, scope: ['read'], tokenFormat: 'opaque' });
    expect((await oidc.clientCredentialsGrant(config, { scope: 'read', resource: uri })).access_token).to.be.a('string');
    await server.services.resourceServers.remove(uri);
    expect((await oauthError(oidc.clientCredentialsGrant(config, { scope: 'read', resource: uri }))).error).to.equal('invalid_target');
  });
});
