import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm } from '../support/http.js';
import { checkPage, freshPagePerTest, signInWithChromium } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('the admin console’s client management (/admin/clients: rotate the secret, delete)', () => {
  let server: TestServer;
  let adminId: string;
  const stamp = Date.now();
  const admin = { username: `clients-admin-${stamp}`, password: 'clients admin pw' };

  before(async () => {
    server = await startTestServer();
    adminId = (await server.services.accounts.create({ ...admin, roles: ['admin'] })).id;
  });

  after(() => server?.stop());

  async function newClient(name: string, options: { public?: boolean } = {}) {
    const made = await server.services.clients.create({
      name: `${name} ${stamp}`, grantTypes: options.public ? ['authorization_code'] : ['client_credentials'], scope: ['read'],
      ...(options.public ? { public: true, redirectUris: ['https://rp.example.test/callback'] } : {}),
    });
    return { clientId: made.client.clientId, secret: made.clientSecret ?? '' };
  }

  /** A client_credentials token request with these credentials: its status. */
  async function tokenStatus(clientId: string, secret: string): Promise<number> {
    return (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(clientId, secret) })).status;
  }

  async function auditOf(event: string, clientId: string) {
    const { items } = await server.services.audit.list({ clientId, perPage: 100 });
    return items.filter((item) => item.event === event);
  }

  describe('over HTTP, as a browser without JavaScript', () => {
    let browser: FormBrowser;
    const clients = (path = '') => `${server.issuer}/admin/clients${path}`;

    before(async () => {
      browser = new FormBrowser();
      await browser.submit(await browser.navigate(`${server.issuer}/admin`), '/login', admin);
    });

    it('rotates a secret with a grace period: the new one shown once, the old one working until then', async () => {
      const { clientId, secret: old } = await newClient('Grace');
      const form = await browser.navigate(clients(`/${clientId}/rotate`));
      expect(form.html).to.include('Grace period for the old secret');
      const rotated = await browser.submit(form, '/rotate', { grace: '86400' });
      expect(rotated.status).to.equal(200);
      const secret = /id="client-secret">([^<]+)</.exec(rotated.html)![1]!;
      expect(await server.services.clients.secretOf(clientId)).to.equal(secret);
      expect(rotated.html).to.include('The old secret keeps working until');
      expect(await tokenStatus(clientId, secret)).to.equal(200);
      expect(await tokenStatus(clientId, old), 'the old secret, within its grace').to.equal(200);
      const shown = await browser.navigate(clients(`/${clientId}`));
      expect(shown.html, 'never shown again').not.to.include(secret);
      const [event] = await auditOf('client.secret_rotated', clientId);
      expect(event?.actor).to.equal(`user:${adminId}`);
      expect(event?.detail.grace_seconds).to.equal(86400);
    });

    it('rotates without grace: the old secret stops at once', async () => {
      const { clientId, secret: old } = await newClient('No grace');
      const rotated = await browser.submit(await browser.navigate(clients(`/${clientId}/rotate`)), '/rotate', { grace: '0' });
      expect(rotated.html).to.include('The old secret has stopped working.');
      expect(await tokenStatus(clientId, old)).to.equal(401);
    });

    it('refuses a grace period out of bounds next to its field, and keeps the secret', async () => {
      const { clientId, secret } = await newClient('Bad grace');
      for (const grace of ['99999999', 'a week', '']) {
        const refused = await browser.submit(await browser.navigate(clients(`/${clientId}/rotate`)), '/rotate', { grace });
        expect(refused.status, grace).to.equal(422);
        expect(refused.html).to.include('id="grace-error" role="alert">must be 0 to 2592000 seconds (30 days)');
        expect(refused.html).not.to.include('id="client-secret"');
      }
      expect(await server.services.clients.secretOf(clientId)).to.equal(secret);
    });

    it('says a public client has no secret to rotate, and rotates nothing', async () => {
      const { clientId } = await newClient('Public', { public: true });
      const page = await browser.navigate(clients(`/${clientId}/rotate`));
      expect(page.html).to.include('is a public client: it has no secret to rotate').and.not.include('Make a new secret');
      const csrf = FormBrowser.forms(page).find((form) => form.action.endsWith('/logout'))!.fields.csrf!;
      const posted = await browser.navigate(clients(`/${clientId}/rotate`), { method: 'POST', body: new URLSearchParams({ csrf, grace: '0' }) });
      expect(posted.status).to.equal(422);
      expect(posted.html).to.include('a public client has no secret');
    });

    it('deletes a client only after a confirmation naming what goes with it; its tokens die', async () => {
      const { clientId, secret } = await newClient('Doomed');
      const token = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(clientId, secret) })).json.access_token as string;
      const page = await browser.navigate(clients(`/${clientId}/delete`));
      expect(page.html).to.include('every grant users gave it').and.include('live refresh token').and.include(`Type the client ID, ${clientId}, to confirm`);
      const unconfirmed = await browser.submit(page, '/delete', { confirm: 'nope' });
      expect(unconfirmed.status).to.equal(422);
      expect(unconfirmed.html).to.include('id="confirm-error" role="alert">type the client ID');
      expect(await server.services.clients.exists(clientId)).to.equal(true);
      const deleted = await browser.submit(page, '/delete', { confirm: clientId });
      expect(deleted.url).to.equal(clients('?done=deleted'));
      expect(deleted.html).to.include('Client deleted, with its grants and tokens.');
      expect(await server.services.clients.show(clientId).then(() => 'found', () => 'gone')).to.equal('gone');
      const whoami = await fetch(`${server.url}/api/whoami`, { headers: { authorization: `Bearer ${token}` } });
      expect(whoami.status, 'its access token').to.equal(401);
      const [event] = await auditOf('client.deleted', clientId);
      expect(event?.actor).to.equal(`user:${adminId}`);
    });

    it('refuses to rotate or delete Gatehouse’s own client', async () => {
      for (const action of ['rotate', 'delete']) {
        expect((await browser.navigate(clients(`/gatehouse-dashboard/${action}`))).status, action).to.equal(403);
      }
      const shown = await browser.navigate(clients('/gatehouse-dashboard'));
      expect(shown.html).not.to.include('Delete client').and.not.include('Rotate secret');
    });

    it('offers neither on the Lux dashboard path, which Lux’s document gives no delete', async () => {
      const { clientId } = await newClient('Lux');
      const shown = await browser.navigate(`${server.issuer}/Lux/OAuth2/dashboard/clients/${clientId}`);
      expect(shown.status).to.equal(200);
      expect(shown.html).not.to.include('Delete client').and.not.include('Rotate secret');
      expect((await browser.request(`${server.issuer}/Lux/OAuth2/dashboard/clients/${clientId}/delete`)).status).to.equal(404);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    // Each page is screenshot and checked by axe-core at two widths: slower than a click.
    this.timeout(60_000);
    let page: Page;
    freshPagePerTest((opened) => { page = opened; });

    it('rotates a secret and deletes a client, every page accessible', async () => {
      const { clientId } = await newClient('Chromium');
      await signInWithChromium(page, `${server.issuer}/admin/clients/${clientId}`, admin);
      await page.getByRole('heading', { name: `Chromium ${stamp}` }).waitFor();
      await checkPage(page, 'clients-show');
      await page.getByRole('link', { name: 'Rotate secret…' }).click();
      await checkPage(page, 'clients-rotate');
      await page.getByRole('radio', { name: '7 days' }).check();
      await page.getByRole('button', { name: 'Make a new secret' }).click();
      await page.getByRole('heading', { name: 'New client secret' }).waitFor();
      await checkPage(page, 'clients-rotated');
      const secret = (await page.locator('#client-secret').textContent())!.trim();
      await page.getByRole('link', { name: 'I have copied it' }).click();
      expect(await page.content()).not.to.include(secret);

      await page.getByRole('link', { name: 'Delete client…' }).click();
      await checkPage(page, 'clients-delete');
      await page.getByLabel(/Type the client ID/).fill(clientId);
      await page.getByRole('button', { name: `Delete Chromium ${stamp}` }).click();
      await page.getByText('Client deleted, with its grants and tokens.').waitFor();
      expect(await server.services.clients.exists(clientId)).to.equal(false);
    });
  });
});
