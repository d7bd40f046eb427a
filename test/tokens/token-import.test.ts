import { expect } from 'chai';
import { TokenImportService } from '../../src/tokens/import.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { send } from '../support/http.js';

describe('imported tokens and the scopes of their clients', () => {
  let server: TestServer;

  before(async () => { server = await startTestServer(); });
  after(() => server?.stop());

  it('skips, with the reason, a token whose scope its client could not obtain in Gatehouse (an admin scope among them), and imports the rest', async () => {
    const { services } = server;
    const { client } = await services.clients.create({ name: 'Imported reader', grantTypes: ['client_credentials'], scope: ['read'] });
    const importer = new TokenImportService(services.provider, { durable: services.storage.durable, ephemeral: services.storage.ephemeral });
    const now = Math.floor(Date.now() / 1000);
    const token = (value: string, scope: string) => ({ value, clientId: client.clientId, scope, issuedAt: now, expiresAt: now + 600, grantKey: value, grantType: 'client_credentials' });
    const [reader, escalated] = [token(`imported-reader-${now}-aaaaaaaaaaaa`, 'read'), token(`imported-admin-${now}-aaaaaaaaaaaaa`, 'read admin')];
    const outcomes = await importer.importAccessTokens([reader, escalated]);
    expect(outcomes[0]).to.deep.equal({ outcome: 'created' });
    expect(outcomes[1]).to.deep.equal({ outcome: 'skipped', reason: `scope admin is not among client ${client.clientId}'s scopes in Gatehouse` });
    const whoami = (value: string) => send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${value}` } });
    expect((await whoami(reader.value)).status).to.equal(200);
    expect((await whoami(escalated.value)).status, 'not brought across').to.equal(401);
    expect((await send(`${server.url}/v2/clients`, { method: 'GET', headers: { authorization: `Bearer ${escalated.value}` } })).status).to.equal(401);
  });
});
