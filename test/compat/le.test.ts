import { expect } from 'chai';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('LE Enterprise dialect: POST /liveexpert/oauth/authorize', () => {
  let server: TestServer;
  let url: string;
  let clientId: string;
  let clientSecret: string;

  before(async () => {
    server = await startTestServer({ LE_ACCESS_TOKEN_TTL: '2' });
    url = `${server.url}/liveexpert/oauth/authorize`;
    const created = await server.services.clients.create({ name: 'ClairVista service', grantTypes: ['client_credentials'], scope: ['read', 'write', 'user'] });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
  });

  after(() => server.stop());

  it('issues an LEAccess token with a semicolon-separated scope for the documented form request', async () => {
    const reply = await postForm(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expect(reply.status).to.equal(200);
    expect(Object.keys(reply.json).sort()).to.deep.equal(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(reply.json).to.include({ token_type: 'LEAccess', scope: 'read;write;user', expires_in: 2 });
  });

  it('accepts JSON, HTTP Basic, and a requested subset of scopes in either separator', async () => {
    const json = await postJson(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'read;user' });
    expect(json.json.scope).to.equal('read;user');
    const basic = await postForm(url, { grant_type: 'client_credentials', scope: 'write' }, { authorization: basicAuth(clientId, clientSecret) });
    expect(basic.json).to.include({ token_type: 'LEAccess', scope: 'write' });
  });

  it('lets the token be presented as "LEAccess <token>", and answers 401 once it has expired', async () => {
    const { json } = await postForm(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    const use = () => send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `LEAccess ${json.access_token as string}` } });
    const ok = await use();
    expect(ok.status).to.equal(200);
    expect(ok.json).to.include({ client_id: clientId, token_type: 'LEAccess' });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await use();
    expect(expired.status).to.equal(401);
    expect(expired.headers.get('www-authenticate')).to.match(/^LEAccess .*error="invalid_token"/);
  });

  it('refuses every other grant with 400 unsupported_grant_type', async () => {
    for (const grant of ['password', 'authorization_code', 'refresh_token']) {
      const reply = await postForm(url, { grant_type: grant, client_id: clientId, client_secret: clientSecret });
      expect(reply.status).to.equal(400);
      expect(reply.json).to.deep.equal({ error: 'unsupported_grant_type', error_description: 'only client_credentials is supported' });
    }
  });

  it('answers a bad client with 401, WWW-Authenticate and {error, error_description}', async () => {
    for (const body of <Array<Record<string, string>>>[
      { grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong' },
      { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'wrong' },
      { grant_type: 'client_credentials', client_id: clientId },
    ]) {
      const reply = await postForm(url, body);
      expect(reply.status).to.equal(401);
      expect(reply.json.error).to.equal('invalid_client');
      expect(reply.json.error_description).to.be.a('string');
      expect(reply.headers.get('www-authenticate')).to.match(/^Basic /);
    }
  });

  it('answers a missing grant_type, malformed JSON or an unknown scope with a 400', async () => {
    expect((await postForm(url, { client_id: clientId, client_secret: clientSecret })).json.error).to.equal('invalid_request');
    expect((await postJson(url, '{"grant_type":')).json.error).to.equal('invalid_request');
    const scope = await postForm(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'admin' });
    expect(scope.status).to.equal(400);
    expect(scope.json.error).to.equal('invalid_scope');
  });
});
