import { expect } from 'chai';
import { adminApiHeaders } from '../support/admin.js';
import { basicAuth, send, type Reply } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** The members of an error answer, names only: the shape a surface answers in. */
const shapeOf = (reply: Reply) => Object.keys(reply.json).sort();

/**
 * A JSON body means one thing to every reader, or it is refused: a name
 * given twice (JSON.parse keeps the last, a proxy may read the first) and a
 * string with half a surrogate pair ("\ud800", no text at all, which failed
 * as a 500 wherever it was encoded next) are 400s in each surface's own shape.
 */
describe('JSON request bodies: a name given twice, half a surrogate pair', () => {
  let server: TestServer;
  let clientId: string;
  let clientSecret: string;

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({ name: 'JSON body RP', grantTypes: ['client_credentials', 'password'], scope: ['read'] });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
  });

  after(() => server.stop());

  const json = (path: string, body: string, headers: Record<string, string> = {}, method = 'POST') =>
    send(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body });

  // Each legacy endpoint that reads JSON, with the request a client sends there; `%s` is where the hostile text goes.
  const endpoints = () => [
    { name: 'LOS token', path: '/api/v1.1/oauth/token', body: `{"grant_type":"client_credentials","client_id":"${clientId}","client_secret":"%s","scope":"*"}` },
    { name: 'LE token', path: '/liveexpert/oauth/authorize', body: `{"grant_type":"client_credentials","client_id":"${clientId}","client_secret":"%s"}` },
    { name: 'Lux access_token', path: '/Lux/OAuth2/access_token/', body: `{"grant_type":"authorization_code","client_id":"${clientId}","client_secret":"${clientSecret}","code":"%s"}` },
    { name: 'DOT revoke', path: '/auth/oauth2/revoke_token/', body: '{"token":"%s"}', headers: { authorization: basicAuth(clientId, clientSecret) } },
  ];

  it('half a surrogate pair in a string is a 400 in the endpoint’s own shape, never a 500', async () => {
    for (const endpoint of endpoints()) {
      const malformed = await json(endpoint.path, '{', endpoint.headers);
      const reply = await json(endpoint.path, endpoint.body.replace('%s', 'x\\ud800'), endpoint.headers);
      expect(reply.status, `${endpoint.name}: ${reply.text}`).to.equal(400);
      expect(shapeOf(reply), endpoint.name).to.deep.equal(shapeOf(malformed));
      // A lone low half, and one at the very end of a value, the same.
      for (const half of ['\\udc00', 'abc\\udbff']) {
        expect((await json(endpoint.path, endpoint.body.replace('%s', half), endpoint.headers)).status, `${endpoint.name} ${half}`).to.equal(400);
      }
    }
  });

  it('a body nesting deeper than 64 levels is a 400 in the endpoint’s own shape, however deep, with or without escapes', async () => {
    const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    for (const endpoint of endpoints()) {
      const malformed = await json(endpoint.path, '{', endpoint.headers);
      // 64 levels pass the parse (the endpoint then answers as it does to any unknown field).
      const shallow = await json(endpoint.path, `{"deep":${nested(63)}}`, endpoint.headers);
      expect(shallow.text, endpoint.name).to.not.include('nests deeper');
      for (const body of [`{"deep":${nested(64)}}`, `{"deep":${nested(2_000)}}`, `{"note":"\\n","deep":${nested(64)}}`]) {
        const reply = await json(endpoint.path, body, endpoint.headers);
        expect(reply.status, `${endpoint.name}: ${reply.text}`).to.equal(400);
        expect(shapeOf(reply), endpoint.name).to.deep.equal(shapeOf(malformed));
        expect(reply.text, endpoint.name).to.include('nests deeper than 64 levels');
      }
    }
  });

  it('a well-formed pair (an emoji written as two escapes) is text like any other', async () => {
    const reply = await json('/api/v1.1/oauth/token', `{"grant_type":"client_credentials","client_id":"${clientId}","client_secret":"${clientSecret}","scope":"*","note":"\\ud83d\\ude00"}`);
    expect(reply.status, reply.text).to.equal(200);
  });

  it('a name given twice is a 400 in the endpoint’s own shape, whichever value would have won', async () => {
    const malformed = await json('/auth/oauth2/token/', '{', { authorization: basicAuth(clientId, clientSecret) });
    const reply = await json('/auth/oauth2/token/', '{"grant_type":"client_credentials","scope":"read","scope":"read"}', { authorization: basicAuth(clientId, clientSecret) });
    expect(reply.status, reply.text).to.equal(400);
    expect(shapeOf(reply)).to.deep.equal(shapeOf(malformed));
    expect(reply.text).to.include('more than once');
    // Nested objects count their own names; the same name in two objects is no repeat.
    const nested = await json('/api/v1.1/oauth/token', `{"grant_type":"client_credentials","client_id":"${clientId}","client_secret":"${clientSecret}","scope":"*","a":{"x":1},"b":{"x":1}}`);
    expect(nested.status, nested.text).to.equal(200);
    // A name-like text inside a value is no name.
    const quoted = await json('/api/v1.1/oauth/token', `{"grant_type":"client_credentials","client_id":"${clientId}","client_secret":"${clientSecret}","scope":"*","note":"\\"scope\\": \\"x\\""}`);
    expect(quoted.status, quoted.text).to.equal(200);
  });

  it('Northstar: a field given twice in an update is refused in its own shape, and nothing is written', async () => {
    const headers = await adminApiHeaders(server, 'json-body');
    const before = await server.services.clients.show(clientId);
    const reply = await json(`/v2/clients/${clientId}`, '{"title":"first","title":"second"}', headers, 'PUT');
    expect(reply.status, reply.text).to.equal(400);
    expect(reply.json).to.have.property('error').that.is.an('object');
    expect((await server.services.clients.show(clientId)).name).to.equal(before.name);
  });

  it('a Content-Type that declares charset twice is refused: two readers could read two bodies', async () => {
    const reply = await send(`${server.url}/auth/oauth2/token/`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8; charset=iso-8859-1', authorization: basicAuth(clientId, clientSecret) },
      body: 'grant_type=client_credentials&scope=read',
    });
    expect(reply.status, reply.text).to.equal(400);
  });
});
