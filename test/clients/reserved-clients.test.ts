import { expect } from 'chai';
import { adminApiHeaders } from '../support/admin.js';
import { runCli } from '../support/cli.js';
import { postJson, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { DASHBOARD_CLIENT_ID } from '../../src/clients/reserved-clients.js';

/**
 * Issue 17: the dashboard's own client cannot be broken from any surface
 * (the dashboard's own guard is tested in test/admin/), and no admin surface
 * shows its secret.
 */
describe('reserved clients: the dashboard’s own client on every admin surface', () => {
  let server: TestServer;
  let admin: Record<string, string>;
  let before: string;

  beforeEach(async () => {
    server ??= await startTestServer();
    admin ??= await adminApiHeaders(server, 'reserved admin');
    before = JSON.stringify((await server.services.clients.show(DASHBOARD_CLIENT_ID)));
  });

  after(() => server.stop());

  const unchanged = async () => expect(JSON.stringify(await server.services.clients.show(DASHBOARD_CLIENT_ID))).to.equal(before);

  const ATTEMPTS: Array<[string, () => Promise<{ status: number; text: string }>]> = [
    ['Northstar PUT', () => send(`${server.url}/v2/clients/${DASHBOARD_CLIENT_ID}`, { method: 'PUT', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ scope: ['user'] }) })],
    ['Northstar DELETE', () => send(`${server.url}/v2/clients/${DASHBOARD_CLIENT_ID}`, { method: 'DELETE', headers: admin })],
    ['Northstar POST with its id', () => postJson(`${server.url}/v2/clients`, { title: 'Impostor', client_id: DASHBOARD_CLIENT_ID, scope: ['user'] }, admin)],
    ['Lux adjust/', () => postJson(`${server.url}/Lux/OAuth2/adjust/`, { client_id: DASHBOARD_CLIENT_ID, client_name: 'Hijacked', redirect_uri: 'https://evil.example.test/cb' }, admin)],
  ];

  for (const [surface, attempt] of ATTEMPTS) {
    it(`${surface}: refused with 403, nothing changed`, async () => {
      const reply = await attempt();
      expect(reply.status, reply.text).to.equal(403);
      expect(reply.text, 'in the surface’s own error shape').to.include('managed by Gatehouse itself');
      await unchanged();
    });
  }

  it('CLI client create --client-id: refused, nothing changed', async () => {
    const result = await runCli(server, 'client', 'create', '--name', 'Impostor', '--client-id', DASHBOARD_CLIENT_ID, '--grant-types', 'client_credentials', '--scope', 'read', '--json');
    expect(result.code).to.equal(1);
    expect(result.stderr + result.stdout).to.include('managed by Gatehouse itself');
    await unchanged();
  });

  it('Northstar and Lux list it without its secret', async () => {
    const northstar = await send(`${server.url}/v2/clients/${DASHBOARD_CLIENT_ID}`, { method: 'GET', headers: admin });
    expect(northstar.status).to.equal(200);
    expect(northstar.json.data?.client_secret).to.equal(null);
    const lux = await send(`${server.url}/Lux/OAuth2/query/`, { method: 'GET', headers: admin });
    const doc = (lux.json.doc as Array<Record<string, unknown>>).find((client) => client.client_id === DASHBOARD_CLIENT_ID);
    expect(doc?.client_secret).to.equal(null);
  });
});
