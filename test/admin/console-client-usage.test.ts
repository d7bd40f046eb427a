import { expect } from 'chai';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm, postJson } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('the console’s client page: live access tokens and dialects (/admin/clients/ID)', () => {
  let server: TestServer;
  const stamp = Date.now();
  const admin = { username: `usage-admin-${stamp}`, password: 'usage admin pw' };

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
  });

  after(() => server?.stop());

  it('counts the client’s live access tokens and names the dialects they were obtained through', async () => {
    const { client, clientSecret } = await server.services.clients.create({ name: `Usage ${stamp}`, grantTypes: ['client_credentials'], scope: ['read'] });
    const standard = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(client.clientId, clientSecret!) });
    expect(standard.status).to.equal(200);
    const los = await postJson(`${server.url}/api/v1.1/oauth/token`, JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret, scope: '*' }));
    expect(los.status).to.equal(200);
    expect(await server.services.clients.accessTokenCount(client.clientId)).to.equal(2);

    const browser = new FormBrowser();
    await browser.submit(await browser.navigate(`${server.issuer}/admin`), '/login', admin);
    const page = await browser.navigate(`${server.issuer}/admin/clients/${client.clientId}`);
    expect(page.html).to.match(/<dt>Live access tokens<\/dt>\s*<dd>2<\/dd>/);
    expect(page.html).to.include('LOS API: last token').and.include('the standard endpoints (OAuth 2.0 / OpenID Connect): last token');

    await server.services.clients.delete(client.clientId);
    expect(await server.services.clients.accessTokenCount(client.clientId), 'gone with the client').to.equal(0);
  });
});
