import { expect } from 'chai';
import * as oauth from 'oauth4webapi';
import { basicAuth, postForm, postJson } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('django-oauth-toolkit dialect: /auth/oauth2/token/ and /auth/oauth2/revoke_token/', () => {
  let server: TestServer;
  let tokenUrl: string;
  let revokeUrl: string;
  let clientId: string;
  let clientSecret: string;
  let auth: Record<string, string>;
  const user = { username: `grace-${Date.now()}`, password: 'translator password' };

  before(async () => {
    server = await startTestServer();
    tokenUrl = `${server.url}/auth/oauth2/token/`;
    revokeUrl = `${server.url}/auth/oauth2/revoke_token/`;
    const created = await server.services.clients.create({
      name: 'Community app', grantTypes: ['password', 'refresh_token'], scope: ['write', 'read'],
    });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
    auth = { authorization: basicAuth(clientId, clientSecret) };
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('answers the document’s password request (Basic auth, JSON) with the documented fields', async () => {
    const reply = await postJson(tokenUrl, `{
        "grant_type": "password",
        "username": "${user.username}",
        "password": "${user.password}"
    }`, auth);
    expect(reply.status).to.equal(200);
    expect(Object.keys(reply.json)).to.deep.equal(['access_token', 'refresh_token', 'token_type', 'expires_in', 'scope']);
    // Seconds, not the document's "milliseconds": the real service sends 600.
    expect(reply.json).to.include({ token_type: 'Bearer', expires_in: 600, scope: 'write read' });
  });

  it('refreshes with rotation: the new pair works, the old refresh token is dead', async () => {
    const first = await postJson(tokenUrl, { grant_type: 'password', ...user }, auth);
    const refreshed = await postJson(tokenUrl, `{
        "grant_type" : "refresh_token",
        "refresh_token" : "${first.json.refresh_token as string}"
    }`, auth);
    expect(refreshed.status).to.equal(200);
    expect(refreshed.json).to.include({ token_type: 'Bearer', expires_in: 600, scope: 'write read' });
    expect(refreshed.json.refresh_token).to.be.a('string').and.not.equal(first.json.refresh_token);
    const reused = await postJson(tokenUrl, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token }, auth);
    expect(reused.status).to.equal(400);
    expect(reused.json.error).to.equal('invalid_grant');
  });

  it('gives refresh tokens a one-day lifetime', async () => {
    const { json } = await postJson(tokenUrl, { grant_type: 'password', ...user }, auth);
    const info = await postForm(`${server.url}/token/introspection`, { token: json.refresh_token as string }, auth);
    expect(Number(info.json.exp) - Number(info.json.iat)).to.equal(86_400);
  });

  it('keeps the one-day lifetime for the family when a refresh token is rotated at the standard /token', async () => {
    const { json } = await postJson(tokenUrl, { grant_type: 'password', ...user }, auth);
    const rotated = await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: json.refresh_token as string }, auth);
    expect(rotated.status, rotated.text).to.equal(200);
    const info = await postForm(`${server.url}/token/introspection`, { token: rotated.json.refresh_token as string }, auth);
    expect(Number(info.json.exp) - Number(info.json.iat), 'not REFRESH_TOKEN_TTL (14 days)').to.equal(86_400);
  });

  it('accepts client credentials in the body and form-encoded requests', async () => {
    const reply = await postForm(tokenUrl, { grant_type: 'password', ...user, client_id: clientId, client_secret: clientSecret });
    expect(reply.status).to.equal(200);
  });

  it('answers a wrong password and an unknown user with the same 400 invalid_grant', async () => {
    const wrong = await postJson(tokenUrl, { grant_type: 'password', username: user.username, password: 'not it at all' }, auth);
    const unknown = await postJson(tokenUrl, { grant_type: 'password', username: 'nobody-here', password: 'not it at all' }, auth);
    expect(wrong.status).to.equal(400);
    expect(wrong.json).to.deep.equal(unknown.json);
    expect(wrong.json.error).to.equal('invalid_grant');
  });

  it('answers a bad client with 401, and other bad requests with 400', async () => {
    const badClient = await postJson(tokenUrl, { grant_type: 'password', ...user }, { authorization: basicAuth(clientId, 'nope') });
    expect(badClient.status).to.equal(401);
    expect(badClient.headers.get('www-authenticate')).to.match(/^Basic /);
    expect((await postJson(tokenUrl, { grant_type: 'password', ...user })).status, 'no client at all').to.equal(401);
    const cases: Array<[unknown, string]> = [
      [{ grant_type: 'client_credentials' }, 'unsupported_grant_type'],
      [{ username: user.username }, 'invalid_request'],
      [{ grant_type: 'password', username: user.username }, 'invalid_request'],
      [{ grant_type: 'password', username: 7, password: 'x' }, 'invalid_request'],
      ['{"grant_type":"password"', 'invalid_request'],
      [{ grant_type: 'refresh_token', refresh_token: 'forged' }, 'invalid_grant'],
      [{ grant_type: 'password', ...user, scope: 'admin' }, 'invalid_scope'],
    ];
    for (const [body, error] of cases) {
      const reply = await postJson(tokenUrl, body, auth);
      expect(reply.status, JSON.stringify(body)).to.equal(400);
      expect(reply.json.error, JSON.stringify(body)).to.equal(error);
    }
  });

  it('refuses the password grant to a client whose grant types do not list it', async () => {
    const other = await server.services.clients.create({ name: 'M2M', grantTypes: ['client_credentials'], scope: ['read'] });
    const reply = await postJson(tokenUrl, { grant_type: 'password', ...user }, { authorization: basicAuth(other.client.clientId, other.clientSecret!) });
    expect(reply.status).to.be.oneOf([400, 401]);
    expect(reply.json.error).to.be.oneOf(['unauthorized_client', 'invalid_request']);
  });

  it('revokes access and refresh tokens with the documented JSON body, and answers 200 for unknown tokens', async () => {
    const { json } = await postJson(tokenUrl, { grant_type: 'password', ...user }, auth);
    for (const token of [json.access_token, json.refresh_token]) {
      const reply = await postJson(revokeUrl, `{
        "token" : "${token as string}",
        "client_id" : "${clientId}",
        "client_secret" : "${clientSecret}"
    }`);
      expect(reply.status).to.equal(200);
      const info = await postForm(`${server.url}/token/introspection`, { token: token as string }, auth);
      expect(info.json.active).to.equal(false);
    }
    expect((await postJson(revokeUrl, { token: 'never-issued', client_id: clientId, client_secret: clientSecret })).status).to.equal(200);
  });

  it('answers a revocation with a bad client with 401, and without a token with 400', async () => {
    expect((await postJson(revokeUrl, { token: 'x', client_id: clientId, client_secret: 'wrong' })).status).to.equal(401);
    expect((await postJson(revokeUrl, { client_id: clientId, client_secret: clientSecret })).status).to.equal(400);
  });

  it('serves the password grant at the standard token endpoint too, to an independent client (oauth4webapi)', async () => {
    const issuer = new URL(server.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    expect(as.grant_types_supported).to.include('password');
    const client: oauth.Client = { client_id: clientId };
    const response = await oauth.genericTokenEndpointRequest(
      as, client, oauth.ClientSecretBasic(clientSecret), 'password',
      { username: user.username, password: user.password, scope: 'read' },
      { [oauth.allowInsecureRequests]: true },
    );
    const tokens = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(tokens.token_type).to.equal('bearer');
    expect(tokens.scope).to.equal('read');
    expect(tokens.expires_in, 'the standard endpoint keeps the standard lifetime').to.equal(server.config.accessTokenTtl);
    expect(tokens.refresh_token).to.be.a('string');
  });
});
