import { expect } from 'chai';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { FormBrowser, type Page as FormPage } from '../support/form-browser.js';
import { chromiumSignedIn, consolePeople, consoleSignIn, lastAudit, postWithCsrf, postWithoutCsrf } from '../support/console.js';
import { send } from '../support/http.js';
import { discover, oauthError, REDIRECT_URI } from '../support/oidc.js';
import { checkPage } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from '../support/waiting.js';

describe('the admin console’s Scopes and Resource servers sections', () => {
  let server: TestServer;
  let people: Awaited<ReturnType<typeof consolePeople>>;
  let browser: FormBrowser;
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer();
    people = await consolePeople(server, 'scopes');
    ({ browser } = await consoleSignIn(server, people.admin, '/admin/scopes'));
  });

  after(() => server?.stop());

  const url = (path: string) => `${server.issuer}/admin${path}`;

  describe('Scopes (/admin/scopes), over HTTP as a browser without JavaScript', () => {
    let page: FormPage;

    before(async () => {
      page = await browser.navigate(url('/scopes'));
    });

    it('lists the registry with each scope’s description and warning', async () => {
      expect(page.status).to.equal(200);
      for (const scope of await server.services.scopes.list()) expect(page.html).to.include(`<code>${scope.name}</code>`);
      expect(page.html).to.include('<span class="badge admin">warning</span>');
    });

    it('adds a scope, served at /v2/scopes at once and audited under the administrator', async () => {
      const name = `reports:read-${stamp}`;
      const added = await postWithCsrf(browser, page, '/admin/scopes', [['name', name], ['description', 'Read your reports'], ['warning', 'true']]);
      expect(added.status).to.equal(200);
      expect(added.html).to.include('Scope added.').and.include(`<code>${name}</code>`);
      expect((await server.services.scopes.show(name))).to.deep.equal({ name, description: 'Read your reports', warning: true });
      const published = (await send(`${server.url}/v2/scopes`, { method: 'GET' })).json;
      expect(published[name]).to.deep.equal({ description: 'Read your reports', warning: true });
      expect((await lastAudit(server, 'scope.added', (detail) => detail.name === name))?.actor).to.equal(`user:${people.admin.id}`);
    });

    it('answers bad input next to each field and adds nothing', async () => {
      const before = (await server.services.scopes.list()).length;
      const badName = await postWithCsrf(browser, page, '/admin/scopes', [['name', 'has space'], ['description', 'Something']]);
      expect(badName.status).to.equal(422);
      expect(badName.html).to.match(/id="name"[^>]*aria-invalid="true"[^>]*aria-describedby="name-error name-hint"/);
      expect(badName.html).to.include('id="name-error" role="alert">must be 1-64 printable characters without spaces');
      expect(badName.html, 'what was typed is kept').to.include('value="has space"');
      const noDescription = await postWithCsrf(browser, page, '/admin/scopes', [['name', `nodesc-${stamp}`], ['description', '  ']]);
      expect(noDescription.html).to.include('id="description-error" role="alert">is required');
      const taken = await postWithCsrf(browser, page, '/admin/scopes', [['name', 'openid'], ['description', 'Another openid']]);
      expect(taken.status).to.equal(422);
      expect(taken.html).to.include('id="name-error" role="alert">scope &quot;openid&quot; exists already');
      expect((await server.services.scopes.list()).length).to.equal(before);
      expect((await server.services.scopes.show('openid')).description).not.to.equal('Another openid');
    });

    it('edits a scope’s description and warning: the consent page shows the new description', async () => {
      const edit = await browser.navigate(url('/scopes/profile/edit'));
      expect(edit.status).to.equal(200);
      const empty = await postWithCsrf(browser, edit, '/admin/scopes/profile', [['description', '']]);
      expect(empty.status).to.equal(422);
      expect(empty.html).to.include('id="description-error" role="alert">is required');
      const description = `Your name and picture (${stamp})`;
      const saved = await postWithCsrf(browser, edit, '/admin/scopes/profile', [['description', description]]);
      expect(saved.html).to.include('Scope saved.').and.include(description);
      const event = await lastAudit(server, 'scope.updated', (detail) => detail.name === 'profile');
      expect(event?.actor).to.equal(`user:${people.admin.id}`);

      const { client } = await server.services.clients.create({ name: `consent-${stamp}`, grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid', 'profile'], public: true });
      const config = await discover(server, client.clientId);
      const authorization = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI, scope: 'openid profile', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
      });
      const person = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
      const login = await person.navigate(authorization.href);
      const consent = await person.submit(login, '/login', { username: people.user.username, password: people.user.password });
      expect(consent.html).to.include(`<span class="scope-description">${description}</span>`);
    });

    it('answers an unknown scope with a not-found page', async () => {
      expect((await browser.navigate(url('/scopes/no-such-scope/edit'))).status).to.equal(404);
    });

    it('refuses a form without its CSRF token, and a user without the admin role', async () => {
      const refused = await postWithoutCsrf(browser, url('/scopes'), [['name', `csrf-${stamp}`], ['description', 'No token']]);
      expect(refused.status).to.equal(403);
      const { browser: theirs, page: landed } = await consoleSignIn(server, people.user, '/admin/scopes');
      expect(landed.status).to.equal(403);
      const csrf = FormBrowser.forms(landed).find((form) => form.action.endsWith('/logout'))!.fields.csrf!;
      const notAdmin = await theirs.request(url('/scopes'), { method: 'POST', body: new URLSearchParams({ csrf, name: `user-${stamp}`, description: 'By a user' }) });
      expect(notAdmin.status).to.equal(403);
      expect((await server.services.scopes.names())).not.to.include(`csrf-${stamp}`).and.not.to.include(`user-${stamp}`);
    });
  });

  describe('Resource servers (/admin/resource-servers), over HTTP as a browser without JavaScript', () => {
    const uri = `https://ledger-${stamp}.example.test/`;
    let m2m: oidc.Configuration;

    before(async () => {
      const { client, clientSecret } = await server.services.clients.create({ name: `rs-${stamp}`, grantTypes: ['client_credentials'], scope: ['read', 'write'] });
      m2m = await discover(server, client.clientId, clientSecret);
    });

    it('registers a resource server: tokens asked for it carry its audience and lifetime', async () => {
      const form = await browser.navigate(url('/resource-servers/new'));
      const registered = await postWithCsrf(browser, form, '/admin/resource-servers', [
        ['uri', uri], ['scope', 'read'], ['token_format', 'jwt'], ['access_token_ttl', '120'], ['signing_alg', 'ES256'],
      ]);
      expect(registered.status).to.equal(200);
      expect(registered.html).to.include('Resource server registered').and.include(uri).and.include('JWT (ES256)').and.include('120 s');
      const token = await oidc.clientCredentialsGrant(m2m, { scope: 'read', resource: uri });
      const claims = decodeJwt(token.access_token);
      expect(claims.aud).to.equal(uri);
      expect(claims.exp! - claims.iat!).to.equal(120);
      expect((await lastAudit(server, 'resource_server.saved', (detail) => detail.uri === uri))?.actor).to.equal(`user:${people.admin.id}`);
    });

    it('answers bad input next to each field and registers nothing', async () => {
      const form = await browser.navigate(url('/resource-servers/new'));
      const refused = await postWithCsrf(browser, form, '/admin/resource-servers', [
        ['uri', 'https://bad.example.test/#frag'], ['scope', ''], ['token_format', 'paper'], ['access_token_ttl', 'soon'], ['signing_alg', 'HS256'],
      ]);
      expect(refused.status).to.equal(422);
      expect(refused.html).to.include('id="uri-error" role="alert">must not contain a query or fragment');
      expect(refused.html).to.include('id="scope-error" role="alert">at least one is required');
      expect(refused.html).to.include('id="token_format-error" role="alert">must be opaque or jwt');
      expect(refused.html).to.include('id="access_token_ttl-error" role="alert">must be 1 to 86400 seconds');
      expect(refused.html).to.include('id="signing_alg-error" role="alert">must be one of RS256, ES256, EdDSA');
      expect(refused.html).to.match(/id="access_token_ttl"[^>]*aria-invalid="true"[^>]*aria-describedby="access_token_ttl-error access_token_ttl-hint"/);
      const unknownScope = await postWithCsrf(browser, form, '/admin/resource-servers', [['uri', `https://other-${stamp}.example.test/`], ['scope', 'nonsense'], ['token_format', 'jwt']]);
      expect(unknownScope.html).to.include('id="scope-error" role="alert">unknown scope: nonsense');
      const again = await postWithCsrf(browser, form, '/admin/resource-servers', [['uri', uri], ['scope', 'write'], ['token_format', 'opaque']]);
      expect(again.html).to.include(`id="uri-error" role="alert">${uri} is registered already`);
      expect((await server.services.resourceServers.list()).map((server) => server.uri)).to.deep.equal([uri]);
      expect((await server.services.resourceServers.show(uri)).scope, 'unchanged').to.equal('read');
    });

    it('edits its settings: new tokens follow them', async () => {
      const form = await browser.navigate(url(`/resource-servers/edit?uri=${encodeURIComponent(uri)}`));
      expect(form.html).to.include('value="120"');
      const bad = await postWithCsrf(browser, form, '/admin/resource-servers/edit', [['uri', uri], ['scope', 'read write'], ['token_format', 'jwt'], ['access_token_ttl', '0']]);
      expect(bad.status).to.equal(422);
      expect((await server.services.resourceServers.show(uri)).scope).to.equal('read');
      const saved = await postWithCsrf(browser, form, '/admin/resource-servers/edit', [['uri', uri], ['scope', 'read write'], ['token_format', 'jwt'], ['access_token_ttl', '300'], ['signing_alg', 'RS256']]);
      expect(saved.html).to.include('Changes saved');
      await sleep(1100); // the registry's one-second cache
      const claims = decodeJwt((await oidc.clientCredentialsGrant(m2m, { scope: 'read write', resource: uri })).access_token);
      expect(claims.exp! - claims.iat!).to.equal(300);
      expect(claims.scope).to.equal('read write');
    });

    it('removes it after a confirmation page: no token can be asked for it any more', async () => {
      const confirm = await browser.navigate(url(`/resource-servers/remove?uri=${encodeURIComponent(uri)}`));
      expect(confirm.html).to.include('stops Gatehouse issuing tokens for it');
      expect((await postWithoutCsrf(browser, url('/resource-servers/remove'), [['uri', uri]])).status).to.equal(403);
      expect(await server.services.resourceServers.find(uri)).to.not.equal(undefined);
      const removed = await postWithCsrf(browser, confirm, '/admin/resource-servers/remove', [['uri', uri]]);
      expect(removed.html).to.include('Resource server removed').and.include('No resource server registered yet.');
      await sleep(1100);
      expect((await oauthError(oidc.clientCredentialsGrant(m2m, { scope: 'read', resource: uri }))).error).to.equal('invalid_target');
      expect((await lastAudit(server, 'resource_server.removed', (detail) => detail.uri === uri))?.actor).to.equal(`user:${people.admin.id}`);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    this.timeout(60_000);
    const chromium = chromiumSignedIn(() => server, () => people.admin, '/admin/scopes');

    it('adds a scope after correcting an error, edits it, and registers a resource server', async () => {
      const page = chromium.page();
      await checkPage(page, 'scopes-list');
      await page.getByLabel('Name', { exact: true }).fill('bad name');
      await page.getByLabel('Description').fill('Chromium scope');
      await page.getByRole('button', { name: 'Add scope' }).click();
      await page.locator('#name-error').waitFor();
      await checkPage(page, 'scopes-errors');
      await page.getByLabel('Name', { exact: true }).fill(`chromium-${stamp}`);
      await page.getByRole('button', { name: 'Add scope' }).click();
      await page.getByText('Scope added.').waitFor();
      await page.getByRole('link', { name: `Edit chromium-${stamp}` }).click();
      await checkPage(page, 'scopes-edit');
      await page.getByLabel('Description').fill('Chromium scope, edited');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Scope saved.').waitFor();
      expect((await server.services.scopes.show(`chromium-${stamp}`)).description).to.equal('Chromium scope, edited');

      await page.getByRole('link', { name: 'Resource servers' }).click();
      await page.getByRole('link', { name: 'Register a resource server' }).click();
      await checkPage(page, 'resource-servers-new');
      await page.getByLabel('URI').fill(`https://chromium-${stamp}.example.test/`);
      await page.getByLabel('Scopes').fill('read');
      await page.getByLabel('Token format').selectOption('opaque');
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByText('Resource server registered').waitFor();
      await checkPage(page, 'resource-servers-list');
      await page.getByRole('link', { name: `Remove https://chromium-${stamp}.example.test/` }).click();
      await checkPage(page, 'resource-servers-remove');
      await page.getByRole('button', { name: /^Remove/ }).click();
      await page.getByText('Resource server removed').waitFor();
    });
  });
});
