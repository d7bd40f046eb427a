import { expect } from 'chai';
import { adminApiHeaders } from '../support/admin.js';
import { send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Northstar's /v2 refuses what it cannot read instead of guessing: a `since`
 * that is not a date, a repeated filter, a field named after an object's
 * prototype, and a client_secret its document never lets a caller choose.
 */
describe('Northstar /v2 query and body checks', () => {
  let server: TestServer;
  let admin: Record<string, string>;
  const get = (path: string) => send(`${server.url}/v2${path}`, { method: 'GET', headers: admin });
  const post = (path: string, body: string) => send(`${server.url}/v2${path}`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body });

  before(async () => {
    server = await startTestServer();
    admin = await adminApiHeaders(server, 'Audit query admin');
    // One audited event to filter: a client made through /v2.
    const made = await post('/clients', JSON.stringify({ title: 'Audited app', scope: ['user'] }));
    expect(made.status, made.text).to.equal(200);
  });

  after(() => server?.stop());

  describe('GET /v2/audit', () => {
    it('refuses a since that is not an ISO 8601 date with 400 in Northstar’s shape, naming the parameter', async () => {
      for (const since of ['garbage', '2016-02-31', '2016-13-01', '07/07/2016', '1467906381', '2016-07-07T15:61Z']) {
        const reply = await get(`/audit?since=${encodeURIComponent(since)}`);
        expect(reply.status, `${since}: ${reply.text.slice(0, 200)}`).to.equal(400);
        expect(reply.json.error, since).to.deep.include({ code: 400 });
        expect((reply.json.error as { message: string }).message, since).to.include('since');
      }
    });

    it('refuses a repeated since or client_id rather than pick one', async () => {
      for (const query of ['since=2016-01-01&since=2017-01-01', 'client_id=a&client_id=b']) {
        const reply = await get(`/audit?${query}`);
        expect(reply.status, `${query}: ${reply.text.slice(0, 200)}`).to.equal(400);
        expect(reply.json.error, query).to.deep.include({ code: 400 });
      }
    });

    it('filters by a date, a date and time in Northstar’s own format (its + sent unencoded, or encoded), or UTC without a zone', async () => {
      const past = await get('/audit?since=2016-07-07');
      expect(past.status, past.text).to.equal(200);
      expect(past.json.data).to.be.an('array').that.is.not.empty;
      const at = (past.json.data as unknown as Array<{ at: string }>)[0]!.at;
      for (const since of [at.replace('+', '%2B'), at, at.replace('+0000', '')]) {
        const reply = await get(`/audit?since=${since}`);
        expect(reply.status, `${since}: ${reply.text.slice(0, 200)}`).to.equal(200);
        expect((reply.json.data as unknown as Array<{ at: string }>).map((item) => item.at), since).to.include(at);
      }
      const future = await get('/audit?since=2999-01-01T00:00:00Z');
      expect(future.status, future.text).to.equal(200);
      expect(future.json.data).to.deep.equal([]);
    });

    it('refuses a since in year 0000 with 400 in Northstar’s shape, not a 500 from the database', async () => {
      for (const since of ['0000-01-01', '0000-12-31T23:59:59Z']) {
        const reply = await get(`/audit?since=${encodeURIComponent(since)}`);
        expect(reply.status, `${since}: ${reply.text.slice(0, 200)}`).to.equal(400);
        expect(reply.json.error, since).to.deep.include({ code: 400 });
        expect((reply.json.error as { message: string }).message, since).to.include('since');
      }
    });

    it('refuses a since whose zone offset lands it in year 0, or past year 9999, with 400', async () => {
      for (const since of ['0001-01-01T00:00+05:00', '0001-01-01T04:59:59+0500', '9999-12-31T23:00:00-05:00']) {
        const reply = await get(`/audit?since=${encodeURIComponent(since)}`);
        expect(reply.status, `${since}: ${reply.text.slice(0, 200)}`).to.equal(400);
        expect(reply.json.error, since).to.deep.include({ code: 400 });
        expect((reply.json.error as { message: string }).message, since).to.include('since');
      }
    });

    it('accepts an early since still in year 0001 or later (0001-01-01T00:00Z, 0001-01-02, 1900-01-01) with 200', async () => {
      for (const since of ['0001-01-01T00:00:00Z', '0001-01-01T05:00+05:00', '0001-01-02', '1900-01-01']) {
        const reply = await get(`/audit?since=${encodeURIComponent(since)}`);
        expect(reply.status, `${since}: ${reply.text.slice(0, 200)}`).to.equal(200);
        expect(reply.json.data, since).to.be.an('array').that.is.not.empty;
      }
    });

    it('reads a blank since as no filter, as a blank client_id', async () => {
      const reply = await get('/audit?since=&client_id=');
      expect(reply.status, reply.text.slice(0, 200)).to.equal(200);
      expect(reply.json.data).to.be.an('array').that.is.not.empty;
    });
  });

  describe('POST /v2/clients', () => {
    it('names a field called __proto__ or constructor as itself in the 422 field list', async () => {
      for (const name of ['__proto__', 'constructor']) {
        const reply = await post('/clients', `{"title":"Proto","scope":["user"],"${name}":{"x":1}}`);
        expect(reply.status, reply.text).to.equal(422);
        expect(reply.text, name).not.to.include('[object Object]');
        const fields = (reply.json.error as { fields: Record<string, string[]> }).fields;
        expect(Object.hasOwn(fields, name), reply.text).to.equal(true);
        expect(fields[name]).to.deep.equal(['is not an allowed field name']);
      }
    });

    it('refuses a client_secret (the server generates it) with a 422 naming the field, and makes no client', async () => {
      const title = `Chosen secret ${Date.now()}`;
      const reply = await post('/clients', JSON.stringify({ title, scope: ['user'], client_secret: 'my own secret, please' }));
      expect(reply.status, reply.text).to.equal(422);
      expect((reply.json.error as { fields: Record<string, string[]> }).fields).to.have.property('client_secret');
      const list = await get('/clients?limit=100');
      expect((list.json.data as unknown as Array<{ title: string }>).map((client) => client.title)).not.to.include(title);
    });
  });
});
