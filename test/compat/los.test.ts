import { expect } from 'chai';
import { postForm, postJson, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECOND_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe('LOS API dialect: POST /api/v1.1/oauth/token', () => {
  let server: TestServer;
  let url: string;
  let clientId: string;
  let clientSecret: string;

  before(async () => {
    server = await startTestServer();
    url = `${server.url}/api/v1.1/oauth/token`;
    const created = await server.services.clients.create({ name: 'EDR partner', grantTypes: ['client_credentials'], scope: ['read', 'write'] });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
  });

  after(() => server.stop());

  function expectEnvelope(reply: Awaited<ReturnType<typeof postJson>>, status: number) {
    expect(reply.status).to.equal(status);
    expect(Object.keys(reply.json)).to.deep.equal(['meta', 'data']);
    expect(reply.json.meta).to.include({ function: 'oauth', responseCode: status, success: status === 200 });
    expect(reply.json.meta!.date).to.match(SECOND_ISO);
    expect(reply.json.meta!.responseID).to.match(UUID);
  }

  it('answers the document’s example request with the documented envelope', async () => {
    // The seed's example body, with real credentials in place of the placeholders.
    const body = `{
  "grant_type": "client_credentials",
  "client_id": "${clientId}",
  "client_secret": "${clientSecret}",
  "scope": "*"
}`;
    const reply = await postJson(url, body);
    expectEnvelope(reply, 200);
    expect(Object.keys(reply.json.data!)).to.deep.equal(['token_type', 'expires_in', 'access_token']);
    expect(reply.json.data).to.include({ token_type: 'Bearer', expires_in: 3600 });
    expect(reply.json.data!.access_token).to.be.a('string').with.length.above(30);
    expect(client_id_of_uuid(clientId)).to.equal(true);
  });

  it('grants every scope the client is allowed for scope "*"', async () => {
    const reply = await postJson(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: '*' });
    const whoami = await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${reply.json.data!.access_token as string}` } });
    expect(whoami.json).to.include({ client_id: clientId, scope: 'read write' });
  });

  it('gives a fresh responseID to every response', async () => {
    const body = { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: '*' };
    const [a, b] = await Promise.all([postJson(url, body), postJson(url, body)]);
    expect(a.json.meta!.responseID).not.to.equal(b.json.meta!.responseID);
  });

  it('accepts the same request form-encoded', async () => {
    const reply = await postForm(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: '*' });
    expectEnvelope(reply, 200);
  });

  it('answers a wrong secret with 401 invalid_client inside the envelope', async () => {
    const reply = await postJson(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong', scope: '*' });
    expectEnvelope(reply, 401);
    expect(reply.json.data).to.include({ error: 'invalid_client' });
    expect(reply.headers.get('www-authenticate')).to.match(/invalid_client/);
  });

  it('answers an unknown client with 401 inside the envelope', async () => {
    const reply = await postJson(url, { grant_type: 'client_credentials', client_id: '00000000-0000-4000-8000-000000000000', client_secret: 'x', scope: '*' });
    expectEnvelope(reply, 401);
  });

  it('answers another grant type with 400 unsupported_grant_type', async () => {
    const reply = await postJson(url, { grant_type: 'password', client_id: clientId, client_secret: clientSecret, scope: '*' });
    expectEnvelope(reply, 400);
    expect(reply.json.data).to.include({ error: 'unsupported_grant_type' });
  });

  it('answers missing fields, wrong types, malformed JSON and a wrong content type with 400s in the envelope', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      [JSON.stringify({ grant_type: 'client_credentials', client_secret: clientSecret, scope: '*' }), {}],
      [JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, scope: '*' }), {}],
      [JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }), {}],
      [JSON.stringify({ grant_type: 'client_credentials', client_id: 42, client_secret: clientSecret, scope: '*' }), {}],
      [JSON.stringify({}), {}],
      ['{"grant_type": "client_credentials",', {}],
      ['[]', {}],
      ['"just a string"', {}],
    ];
    for (const [body, headers] of cases) {
      const reply = await postJson(url, body, headers);
      expectEnvelope(reply, 400);
      expect(reply.json.data!.error, body).to.equal('invalid_request');
    }
    const xml = await send(url, { headers: { 'content-type': 'text/xml' }, body: '<token/>' });
    expectEnvelope(xml, 415);
  });

  it('never answers an oversized body with a 5xx', async () => {
    const reply = await postJson(url, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'x'.repeat(100_000) });
    expectEnvelope(reply, 413);
  });
});

function client_id_of_uuid(id: string): boolean {
  return UUID.test(id);
}
