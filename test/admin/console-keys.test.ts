import { expect } from 'chai';
import { decodeProtectedHeader } from 'jose';
import { FormBrowser, type Page as FormPage } from '../support/form-browser.js';
import { chromiumSignedIn, consolePeople, consoleSignIn, lastAudit, postWithCsrf, postWithoutCsrf } from '../support/console.js';
import { basicAuth, postForm } from '../support/http.js';
import { checkPage } from '../support/page-checks.js';
import { skipBecause, startTestServer, type TestServer } from '../support/server.js';
import { eventually, sleep } from '../support/waiting.js';

// Short enough that a replaced key becomes safe to retire within the test:
// signing starts 1 s after rotation, and no token lives longer than 3 s, nor
// a sign-in session (whose ID tokens are presented as logout hints).
const LIFETIMES = {
  SIGNING_KEY_ACTIVATION_DELAY: '1', ACCESS_TOKEN_TTL: '3', CLIENT_CREDENTIALS_TTL: '3', ID_TOKEN_TTL: '3',
  LOS_ACCESS_TOKEN_TTL: '3', LE_ACCESS_TOKEN_TTL: '3', DOT_ACCESS_TOKEN_TTL: '3', SESSION_TTL: '3',
};

describe('the admin console’s Keys section (/admin/keys)', () => {
  let server: TestServer;
  let people: Awaited<ReturnType<typeof consolePeople>>;

  before(async () => {
    server = await startTestServer(LIFETIMES);
    people = await consolePeople(server, 'keys');
  });

  after(() => server?.stop());

  const keysUrl = (path = '') => `${server.issuer}/admin/keys${path}`;
  const publishedKids = async () => ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
  const keyOf = async (kid: string) => (await server.services.keys.list()).find((key) => key.kid === kid)!;

  describe('over HTTP, as a browser without JavaScript', () => {
    let browser: FormBrowser;
    let page: FormPage;

    before(async () => {
      ({ browser } = await consoleSignIn(server, people.admin, '/admin/keys'));
      page = await browser.navigate(keysUrl());
    });

    it('lists the signing keys of each algorithm with their state and age', async () => {
      expect(page.status).to.equal(200);
      for (const alg of ['RS256', 'ES256', 'EdDSA']) expect(page.html).to.include(`<h2 id="alg-${alg}">${alg}</h2>`);
      for (const key of await server.services.keys.list()) {
        expect(page.html).to.include(key.kid);
        expect(page.html).to.include(`>${key.state}</span>`);
      }
      expect(page.html).to.match(/\(\d+ (second|minute)s? ago\)/);
    });

    it('rotates a key as the CLI does: published in /jwks at once, signing after the activation delay, audited under the administrator', async () => {
      const before = (await server.services.keys.list()).filter((key) => key.alg === 'RS256' && !key.retired).map((key) => key.kid);
      const rotated = await postWithCsrf(browser, page, '/admin/keys/rotate', [['alg', 'RS256']]);
      expect(rotated.status).to.equal(200);
      const fresh = (await server.services.keys.list()).find((key) => key.alg === 'RS256' && !before.includes(key.kid) && !key.retired)!;
      expect(rotated.url).to.equal(keysUrl(`?rotated=${fresh.kid}`));
      expect(rotated.html).to.include(`New RS256 key <code>${fresh.kid}</code> created`);
      expect(rotated.html, 'the new key waits for its activation delay').to.match(new RegExp(`${fresh.kid}</code></td><td data-label="State"><span class="badge"[^>]*>pending</span>`));
      await eventually(async () => (await publishedKids()).includes(fresh.kid));
      expect((await lastAudit(server, 'key.rotated', (detail) => detail.kid === fresh.kid))?.actor).to.equal(`user:${people.admin.id}`);

      await sleep(1500);
      const client = await server.services.clients.create({ name: 'keys console jwt', grantTypes: ['client_credentials'], scope: ['read'], tokenFormat: 'jwt' });
      await eventually(async () => {
        const token = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(client.client.clientId, client.clientSecret!) });
        return decodeProtectedHeader(token.json.access_token as string).kid === fresh.kid;
      });
      expect((await keyOf(fresh.kid)).state).to.equal('signing');
    });

    it('refuses an algorithm it does not sign with, next to the field, and makes no key', async () => {
      const count = (await server.services.keys.list()).length;
      const refused = await postWithCsrf(browser, page, '/admin/keys/rotate', [['alg', 'HS256']]);
      expect(refused.status).to.equal(422);
      expect(refused.html).to.match(/id="alg"[^>]*aria-invalid="true"[^>]*aria-describedby="alg-error alg-hint"/);
      expect(refused.html).to.include('id="alg-error" role="alert">must be one of RS256, ES256, EdDSA');
      expect((await server.services.keys.list()).length).to.equal(count);
    });

    it('retires a replaced key only once no token it signed can be valid, saying when that is, then stops publishing it', async function () {
      const [old] = (await server.services.keys.list()).filter((key) => key.alg === 'EdDSA' && key.state === 'signing');
      const listPage = await browser.navigate(keysUrl());
      await postWithCsrf(browser, listPage, '/admin/keys/rotate', [['alg', 'EdDSA']]);
      await sleep(1100);
      const replaced = await keyOf(old!.kid);
      expect(replaced.state).to.equal('retiring');

      const early = await browser.navigate(keysUrl(`/${old!.kid}/retire`));
      expect(early.html).to.include('Not yet safe: tokens it signed may still be valid, or an ID token it signed still be presented at a relying party\'s logout, until').and.include(replaced.retirableFrom!.slice(0, 16).replace('T', ' '));
      const refused = await postWithCsrf(browser, early, `/admin/keys/${old!.kid}/retire`, []);
      expect(refused.status).to.equal(422);
      expect(refused.html).to.include('id="kid-error" role="alert">may still have signed tokens that are valid until');
      expect((await keyOf(old!.kid)).retired, 'not retired').to.equal(false);

      // A shared database may hold resource servers or clients of other files whose tokens live longer (they count).
      const wait = Date.parse(replaced.retirableFrom!) - Date.now();
      if (wait > 20_000) skipBecause(this, `a token lifetime registered by another test holds the key until ${replaced.retirableFrom}`);
      await sleep(Math.max(0, wait) + 200);
      const ready = await browser.navigate(keysUrl(`/${old!.kid}/retire`));
      expect(ready.html).to.include('Once retired, the key is no longer published');
      const retired = await postWithCsrf(browser, ready, `/admin/keys/${old!.kid}/retire`, []);
      expect(retired.url).to.equal(keysUrl(`?retired=${old!.kid}`));
      expect(retired.html).to.include(`Key <code>${old!.kid}</code> retired`);
      expect((await keyOf(old!.kid)).state).to.equal('retired');
      await eventually(async () => !(await publishedKids()).includes(old!.kid));
      const event = await lastAudit(server, 'key.retired', (detail) => detail.kid === old!.kid);
      expect(event).to.deep.include({ actor: `user:${people.admin.id}` });
      expect(event!.detail.forced).to.equal(false);
    });

    it('never retires the key that signs: the page says why and a posted form is refused', async () => {
      const [signing] = (await server.services.keys.list()).filter((key) => key.alg === 'ES256' && key.state === 'signing');
      const confirm = await browser.navigate(keysUrl(`/${signing!.kid}/retire`));
      expect(confirm.html).to.include('This key cannot be retired: it is the ES256 key that signs new tokens').and.not.include('Retire this key');
      const csrf = FormBrowser.forms(page)[0]!.fields.csrf!;
      const refused = await browser.navigate(keysUrl(`/${signing!.kid}/retire`), { method: 'POST', body: new URLSearchParams({ csrf }) });
      expect(refused.status).to.equal(422);
      expect(refused.html).to.include('is the active ES256 signing key: rotate first');
      expect((await keyOf(signing!.kid)).retired).to.equal(false);
    });

    it('refuses a form without its CSRF token and changes nothing', async () => {
      const count = (await server.services.keys.list()).length;
      const refused = await postWithoutCsrf(browser, keysUrl('/rotate'), [['alg', 'RS256']]);
      expect(refused.status).to.equal(403);
      expect((await server.services.keys.list()).length).to.equal(count);
    });

    it('refuses a signed-in user without the admin role', async () => {
      const { browser: theirs, page: landed } = await consoleSignIn(server, people.user, '/admin/keys');
      expect(landed.status).to.equal(403);
      expect(landed.html).to.include('Administrators only');
      const csrf = FormBrowser.forms(landed).find((form) => form.action.endsWith('/logout'))!.fields.csrf!;
      const count = (await server.services.keys.list()).length;
      const refused = await theirs.request(keysUrl('/rotate'), { method: 'POST', body: new URLSearchParams({ csrf, alg: 'RS256' }) });
      expect(refused.status).to.equal(403);
      expect((await server.services.keys.list()).length).to.equal(count);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    this.timeout(60_000);
    const chromium = chromiumSignedIn(() => server, () => people.admin, '/admin/keys');

    it('shows the keys, rotates one with the form, and explains a retirement', async () => {
      const page = chromium.page();
      await checkPage(page, 'keys-list');
      await page.getByLabel('Algorithm').selectOption('ES256');
      await page.getByRole('button', { name: 'Rotate' }).click();
      await page.getByText('New ES256 key').waitFor();
      await checkPage(page, 'keys-rotated');
      await page.getByRole('link', { name: /^Retire key/ }).first().click();
      await page.getByRole('heading', { name: /Retire an/ }).waitFor();
      await checkPage(page, 'keys-retire');
    });
  });
});
