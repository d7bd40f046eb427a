import { expect } from 'chai';
import { RecentCounts } from '../../src/observability/recent-counts.js';
import { FormBrowser } from '../support/form-browser.js';
import { chromiumSignedIn, consolePeople, consoleSignIn } from '../support/console.js';
import { basicAuth, postForm, postJson } from '../support/http.js';
import { checkPage } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** One sample of /metrics' text, e.g. `gatehouse_tokens_issued_total{grant_type="client_credentials",dialect="los"}`. */
async function metric(server: TestServer, sample: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

describe('the admin console’s Overview (/admin)', () => {
  let server: TestServer;
  let people: Awaited<ReturnType<typeof consolePeople>>;
  let browser: FormBrowser;

  before(async () => {
    server = await startTestServer();
    people = await consolePeople(server, 'overview');
    ({ browser } = await consoleSignIn(server, people.admin, '/admin'));
  });

  after(() => server?.stop());

  it('counts clients and users as their lists do', async () => {
    const page = await browser.navigate(`${server.issuer}/admin`);
    const { total: clients } = await server.services.clients.list({ perPage: 1 });
    const { total: users } = await server.services.accounts.list({ perPage: 1 });
    expect(page.html).to.include(`<span class="count">${clients}</span><span class="label">client${clients === 1 ? '' : 's'}</span>`);
    expect(page.html).to.include(`<span class="count">${users}</span><span class="label">users</span>`);
  });

  it('shows the last hour’s tokens by grant type and dialect and the failed sign-ins, the same figures /metrics exports, saying what they cover', async () => {
    const { client, clientSecret } = await server.services.clients.create({ name: 'overview m2m', grantTypes: ['client_credentials'], scope: ['read'] });
    for (let i = 0; i < 3; i += 1) {
      const standard = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(client.clientId, clientSecret!) });
      expect(standard.status).to.equal(200);
    }
    const los = await postJson(`${server.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret, scope: '*' });
    expect(los.status).to.equal(200);
    const stranger = new FormBrowser();
    const login = await stranger.navigate(`${server.issuer}/account`);
    expect((await stranger.submit(login, '/login', { username: people.user.username, password: 'not the password' })).status).to.equal(401);

    const page = await browser.navigate(`${server.issuer}/admin`);
    const standardCount = await metric(server, 'gatehouse_tokens_issued_total{grant_type="client_credentials",dialect="standard"}');
    const losCount = await metric(server, 'gatehouse_tokens_issued_total{grant_type="client_credentials",dialect="los"}');
    // This server started within the hour: its running totals are its last hour.
    expect(standardCount).to.be.at.least(3);
    expect(losCount).to.equal(1);
    expect(page.html).to.include(`<td data-label="Grant type"><code>client_credentials</code></td><td data-label="Dialect">standard</td><td data-label="Tokens">${standardCount}</td>`);
    expect(page.html).to.include('<td data-label="Grant type"><code>client_credentials</code></td><td data-label="Dialect">los</td><td data-label="Tokens">1</td>');
    expect(await metric(server, 'gatehouse_sign_in_failures_total{surface="login"}')).to.equal(1);
    expect(page.html).to.include('Failed sign-ins: 1').and.include('Login page: 1');
    expect(page.html).to.match(/This Gatehouse process since it started, \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+ (second|minute)s? ago\): less than an hour/);
  });

  it('shows the storage tiers as /readyz sees them', async () => {
    const page = await browser.navigate(`${server.issuer}/admin`);
    expect(page.html).to.match(/id="health-durable"><span class="badge admin">up/).and.match(/id="health-ephemeral"><span class="badge admin">up/);
    const { storage } = server.services;
    const readiness = storage.readiness.bind(storage);
    storage.readiness = async () => ({ ...(await readiness()), ephemeral: false });
    try {
      const down = await browser.navigate(`${server.issuer}/admin`);
      expect((await fetch(`${server.url}/readyz`)).status, 'the same probe').to.equal(503);
      expect(down.html).to.match(/id="health-ephemeral"><span class="badge off">down/);
    } finally {
      storage.readiness = readiness;
    }
  });

  it('refuses a signed-in user without the admin role', async () => {
    const { page } = await consoleSignIn(server, people.user, '/admin');
    expect(page.status).to.equal(403);
    expect(page.html).to.include('Administrators only').and.not.include('Tokens issued');
  });

  describe('the last hour, counted in whole minutes', () => {
    it('drops what is older than sixty minutes before the current one', () => {
      const recent = new RecentCounts(['grant_type', 'dialect']);
      const start = Date.UTC(2026, 0, 1, 10, 0, 30);
      recent.add({ grant_type: 'password', dialect: 'dot' }, start);
      recent.add({ grant_type: 'password', dialect: 'dot' }, start + 30 * 60_000);
      recent.add({ grant_type: 'client_credentials', dialect: 'le' }, start + 59 * 60_000);
      expect(recent.counts(start + 60 * 60_000)).to.deep.equal([
        { labels: { grant_type: 'password', dialect: 'dot' }, count: 2 },
        { labels: { grant_type: 'client_credentials', dialect: 'le' }, count: 1 },
      ]);
      expect(recent.total(start + 61 * 60_000), 'the first minute has left the window').to.equal(2);
      expect(recent.total(start + 120 * 60_000)).to.equal(0);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    this.timeout(60_000);
    const chromium = chromiumSignedIn(() => server, () => people.admin, '/admin');

    it('reads the overview with its sections in the navigation', async () => {
      const page = chromium.page();
      await page.getByRole('heading', { name: 'Last hour' }).waitFor();
      await checkPage(page, 'overview');
      for (const section of ['Keys', 'Scopes', 'Resource servers']) await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: section }).waitFor();
    });
  });
});
