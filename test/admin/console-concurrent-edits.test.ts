import { expect } from 'chai';
import { StaleWriteError } from '../../src/errors/app-error.js';
import type { FormBrowser, Page } from '../support/form-browser.js';
import { consoleSignIn, lastAudit } from '../support/console.js';
import { DASHBOARD } from '../support/dashboard.js';
import { startTestServer, type TestServer } from '../support/server.js';

const STALE = 'changed by someone else since you opened this page';

function decode(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}(?:="([^"]*)")?(?=[\\s>/]|$)`, 'i').exec(tag);
  return match ? decode(match[1] ?? '') : undefined;
}

/**
 * What a browser sends for the form of `page` posting to …`actionSuffix`,
 * exactly as shown: hidden and text inputs, ticked checkboxes only,
 * textareas, and the selected option of each select.
 */
function formAsShown(page: Page, actionSuffix: string): { action: string; fields: Array<[string, string]> } {
  for (const [, attributes = '', inner = ''] of page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const action = new URL(attribute(` ${attributes}`, 'action') ?? page.url, page.url).href;
    if (!action.endsWith(actionSuffix)) continue;
    const fields: Array<[string, string]> = [];
    for (const [tag, selectInner] of inner.matchAll(/<input\b[^>]*>|<textarea\b[^>]*>[\s\S]*?<\/textarea>|<select\b[^>]*>([\s\S]*?)<\/select>/gi)) {
      const name = attribute(tag.slice(0, tag.indexOf('>') + 1), 'name');
      if (!name) continue;
      if (tag.startsWith('<textarea')) {
        fields.push([name, decode(/>([\s\S]*?)<\/textarea>/i.exec(tag)![1]!).replace(/^\n/, '')]);
      } else if (tag.startsWith('<select')) {
        const options = [...selectInner!.matchAll(/<option\b[^>]*>/gi)].map((option) => option[0]);
        const chosen = options.find((option) => attribute(option, 'selected') !== undefined) ?? options[0];
        if (chosen) fields.push([name, attribute(chosen, 'value') ?? '']);
      } else if (!/type="(checkbox|radio)"/i.test(tag) || attribute(tag, 'checked') !== undefined) {
        fields.push([name, attribute(tag, 'value') ?? '']);
      }
    }
    return { action, fields };
  }
  throw new Error(`no form posting to …${actionSuffix} on ${page.url}`);
}

/**
 * Saves the form of `page` as the administrator would after changing only
 * `changes` on it (a list replaces every value of a repeated field), with
 * everything else as the page showed it.
 */
function saveAsEdited(browser: FormBrowser, page: Page, actionSuffix: string, changes: Record<string, string | string[]>): Promise<Page> {
  const { action, fields } = formAsShown(page, actionSuffix);
  const kept = fields.filter(([name]) => !(name in changes));
  const changed = Object.entries(changes).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((item): [string, string] => [name, item]));
  return browser.navigate(action, { method: 'POST', body: new URLSearchParams([...kept, ...changed]) });
}

/** The same form with no version (a tab opened before versions existed, or a hand-made POST). */
function saveWithoutVersion(browser: FormBrowser, page: Page, actionSuffix: string, changes: Record<string, string>): Promise<Page> {
  const { action, fields } = formAsShown(page, actionSuffix);
  const body = new URLSearchParams([...fields.filter(([name]) => name !== 'form_version' && !(name in changes)), ...Object.entries(changes)]);
  return browser.navigate(action, { method: 'POST', body });
}

/**
 * Every edit form of the console and the Lux dashboard carries the version
 * of the record it was loaded from: saving it writes only what was changed
 * on it, so an administrator's form loaded before another's change never
 * undoes that change (docs/admin-console.md: "changes made at once by two
 * administrators to different fields both hold"); the same field changed
 * by both is refused (409) with nothing written.
 */
describe('edits made at once by two administrators (console and Lux dashboard)', () => {
  let server: TestServer;
  let first: FormBrowser;
  let second: FormBrowser;
  let secondId: string;
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer();
    const people = [1, 2].map((n) => ({ username: `concurrent-${n}-${stamp}`, password: `concurrent admin ${n} pw` }));
    await server.services.accounts.create({ ...people[0]!, roles: ['admin'] });
    secondId = (await server.services.accounts.create({ ...people[1]!, roles: ['admin'] })).id;
    ({ browser: first } = await consoleSignIn(server, people[0]!));
    ({ browser: second } = await consoleSignIn(server, people[1]!));
  });

  after(() => server?.stop());

  const admin = (path: string) => `${server.issuer}/admin${path}`;

  describe('Users (/admin/users/ID/edit)', () => {
    const userForm = (id: string) => `/admin/users/${id}`;

    it('a form loaded before a demotion keeps the user demoted when saved with a new email, and the audit names only the email', async () => {
      const bob = await server.services.accounts.create({ username: `bob-${stamp}`, password: 'bob user pw', roles: ['admin'] });
      const stale = await second.navigate(admin(`/users/${bob.id}/edit`));
      expect(stale.html).to.match(/name="roles" value="admin" checked/);

      const demoted = await saveAsEdited(first, await first.navigate(admin(`/users/${bob.id}/edit`)), userForm(bob.id), { roles: 'user' });
      expect(demoted.html).to.include('Changes saved.');
      const saved = await saveAsEdited(second, stale, userForm(bob.id), { email: `bob-${stamp}@example.test` });

      expect(saved.status).to.equal(200);
      expect(saved.html).to.include('Changes saved.');
      const account = await server.services.accounts.show(bob.id);
      expect(account.roles, 'the demotion holds').to.deep.equal(['user']);
      expect(account.email, 'and so does the new email').to.equal(`bob-${stamp}@example.test`);
      const event = await lastAudit(server, 'account.updated', (detail) => detail.account_id === bob.id);
      expect(event?.actor).to.equal(`user:${secondId}`);
      expect(event?.detail).to.deep.include({ fields: ['email'], changes: {} });
    });

    it('refuses (409) a form whose field someone else changed since it was loaded, writes nothing, and shows the current values', async () => {
      const carol = await server.services.accounts.create({ username: `carol-${stamp}`, password: 'carol user pw', name: 'Carol' });
      const stale = await second.navigate(admin(`/users/${carol.id}/edit`));
      await saveAsEdited(first, await first.navigate(admin(`/users/${carol.id}/edit`)), userForm(carol.id), { name: 'Carol First' });

      const refused = await saveAsEdited(second, stale, userForm(carol.id), { name: 'Carol Second', email: `carol-${stamp}@example.test` });
      expect(refused.status).to.equal(409);
      expect(refused.html).to.include(STALE).and.include('Nothing was saved');
      expect(refused.html).to.match(/id="name" name="name" value="Carol First"/);
      const account = await server.services.accounts.show(carol.id);
      expect(account).to.include({ name: 'Carol First', email: null });

      // The form that came back is of the current version: saved again, it holds.
      const again = await saveAsEdited(second, refused, userForm(carol.id), { name: 'Carol Second' });
      expect(again.html).to.include('Changes saved.');
      expect((await server.services.accounts.show(carol.id)).name).to.equal('Carol Second');
    });

    it('keeps the loaded version through a refused input: the corrected form still leaves others’ changes alone', async () => {
      const dave = await server.services.accounts.create({ username: `dave-${stamp}`, password: 'dave user pw', roles: ['staff'] });
      const stale = await second.navigate(admin(`/users/${dave.id}/edit`));
      await saveAsEdited(first, await first.navigate(admin(`/users/${dave.id}/edit`)), userForm(dave.id), { roles: ['staff', 'admin'] });

      const bad = await saveAsEdited(second, stale, userForm(dave.id), { email: 'not-an-email' });
      expect(bad.status).to.equal(422);
      expect(bad.html).to.include('id="email-error" role="alert">is not an email address');
      const fixed = await saveAsEdited(second, bad, userForm(dave.id), { email: `dave-${stamp}@example.test` });
      expect(fixed.html).to.include('Changes saved.');
      const account = await server.services.accounts.show(dave.id);
      expect(account.roles.sort()).to.deep.equal(['admin', 'staff']);
      expect(account.email).to.equal(`dave-${stamp}@example.test`);
    });

    it('refuses (409) a form without its version, whatever it changes, and writes nothing', async () => {
      const erin = await server.services.accounts.create({ username: `erin-${stamp}`, password: 'erin user pw', roles: ['admin'] });
      const stale = await second.navigate(admin(`/users/${erin.id}/edit`));
      await server.services.accounts.update(erin.id, { roles: ['user'] });

      const refused = await saveWithoutVersion(second, stale, userForm(erin.id), { email: `erin-${stamp}@example.test` });
      expect(refused.status).to.equal(409);
      expect(refused.html).to.include('does not say which version').and.include('Nothing was saved');
      expect(await server.services.accounts.show(erin.id)).to.deep.include({ roles: ['user'], email: null });
    });
  });

  describe('Clients (/admin/clients/ID and /Lux/OAuth2/dashboard/clients/ID)', () => {
    // The second administrator on the Lux dashboard: one session serves every signed-in surface.
    const dashboard = () => second;

    async function newClient(name: string) {
      const { client } = await server.services.clients.create({ name, grantTypes: ['authorization_code'], redirectUris: ['https://app.example.test/cb'], scope: ['openid'] });
      return client;
    }

    it('a dashboard form loaded before a rename adds a scope without undoing the rename', async () => {
      const client = await newClient(`Before ${stamp}`);
      const path = `/clients/${client.clientId}`;
      const stale = await dashboard().navigate(`${server.issuer}${DASHBOARD}${path}/edit`);
      expect(stale.status).to.equal(200);

      const renamed = await saveAsEdited(first, await first.navigate(admin(`${path}/edit`)), `/admin${path}`, { name: `Renamed ${stamp}` });
      expect(renamed.status).to.equal(200);
      const saved = await saveAsEdited(dashboard(), stale, `${DASHBOARD}${path}`, { scope: ['openid', 'profile'] });

      expect(saved.status).to.equal(200);
      const now = await server.services.clients.show(client.clientId);
      expect(now.name, 'the rename holds').to.equal(`Renamed ${stamp}`);
      expect(now.scope.sort(), 'and so does the new scope').to.deep.equal(['openid', 'profile']);
      const event = await lastAudit(server, 'client.updated', () => true);
      expect(event?.actor).to.equal(`user:${secondId}`);
      expect(event?.detail.fields).to.deep.equal(['scope']);
    });

    it('a console form loaded before a redirect URI change saves a new description without undoing it', async () => {
      const client = await newClient(`Redirects ${stamp}`);
      const path = `/admin/clients/${client.clientId}`;
      const stale = await second.navigate(`${server.issuer}${path}/edit`);
      await saveAsEdited(first, await first.navigate(`${server.issuer}${path}/edit`), path, { redirect_uris: 'https://app.example.test/cb\r\nhttps://app.example.test/other' });

      const saved = await saveAsEdited(second, stale, path, { description: 'Described later' });
      expect(saved.status).to.equal(200);
      const now = await server.services.clients.show(client.clientId);
      expect(now.redirectUris).to.deep.equal(['https://app.example.test/cb', 'https://app.example.test/other']);
      expect(now.description).to.equal('Described later');
    });

    it('refuses (409) the same field renamed on both, on the dashboard as in the console, writing nothing', async () => {
      const client = await newClient(`Contested ${stamp}`);
      const path = `/clients/${client.clientId}`;
      const staleDashboard = await dashboard().navigate(`${server.issuer}${DASHBOARD}${path}/edit`);
      const staleConsole = await second.navigate(admin(`${path}/edit`));
      await saveAsEdited(first, await first.navigate(admin(`${path}/edit`)), `/admin${path}`, { name: `First ${stamp}` });

      for (const [stale, action] of [[staleDashboard, `${DASHBOARD}${path}`], [staleConsole, `/admin${path}`]] as const) {
        const refused = await saveAsEdited(second, stale, action, { name: `Second ${stamp}`, scope: ['openid', 'email'] });
        expect(refused.status, action).to.equal(409);
        expect(refused.html).to.include(STALE);
        expect(refused.html).to.include(`value="First ${stamp}"`);
        const now = await server.services.clients.show(client.clientId);
        expect(now.name).to.equal(`First ${stamp}`);
        expect(now.scope, 'nothing written').to.deep.equal(['openid']);
      }
    });

    it('refuses (409) a client form without its version', async () => {
      const client = await newClient(`Unversioned ${stamp}`);
      const path = `/clients/${client.clientId}`;
      const stale = await dashboard().navigate(`${server.issuer}${DASHBOARD}${path}/edit`);
      await server.services.clients.update(client.clientId, { name: `Elsewhere ${stamp}` });
      const refused = await saveWithoutVersion(dashboard(), stale, `${DASHBOARD}${path}`, { description: 'From an old tab' });
      expect(refused.status).to.equal(409);
      expect(refused.html).to.include('does not say which version');
      expect(await server.services.clients.show(client.clientId)).to.include({ name: `Elsewhere ${stamp}`, description: null });
    });
  });

  describe('Scopes (/admin/scopes/NAME/edit)', () => {
    it('a form loaded before a new description marks the scope restricted without undoing the description', async () => {
      const name = `concurrent-${stamp}`;
      await server.services.scopes.add({ name, description: 'First words', warning: false });
      const stale = await second.navigate(admin(`/scopes/${name}/edit`));
      await saveAsEdited(first, await first.navigate(admin(`/scopes/${name}/edit`)), `/admin/scopes/${name}`, { description: 'Better words' });

      const saved = await saveAsEdited(second, stale, `/admin/scopes/${name}`, { warning: 'true' });
      expect(saved.html).to.include('Scope saved.');
      expect(await server.services.scopes.show(name)).to.deep.equal({ name, description: 'Better words', warning: true });
    });

    it('refuses (409) a description changed on both, and a form without its version', async () => {
      const name = `contested-${stamp}`;
      await server.services.scopes.add({ name, description: 'Original', warning: false });
      const stale = await second.navigate(admin(`/scopes/${name}/edit`));
      await saveAsEdited(first, await first.navigate(admin(`/scopes/${name}/edit`)), `/admin/scopes/${name}`, { description: 'From the first' });

      const refused = await saveAsEdited(second, stale, `/admin/scopes/${name}`, { description: 'From the second' });
      expect(refused.status).to.equal(409);
      expect(refused.html).to.include(STALE).and.include('value="From the first"');
      const unversioned = await saveWithoutVersion(second, stale, `/admin/scopes/${name}`, { description: 'From an old tab' });
      expect(unversioned.status).to.equal(409);
      expect(await server.services.scopes.show(name)).to.deep.include({ description: 'From the first', warning: false });
    });
  });

  describe('Resource servers (/admin/resource-servers/edit?uri=…)', () => {
    const uri = `https://api-${stamp}.example.test/`;
    const editPath = `/resource-servers/edit?uri=${encodeURIComponent(uri)}`;

    before(async () => {
      await server.services.resourceServers.save({ uri, scope: ['openid'], tokenFormat: 'jwt', accessTokenTtl: 120 });
    });

    // Other files count the resource servers registered in a shared database.
    after(() => server.services.resourceServers.remove(uri));

    it('a form loaded before a lifetime change adds a scope without undoing the lifetime', async () => {
      const stale = await second.navigate(admin(editPath));
      await saveAsEdited(first, await first.navigate(admin(editPath)), '/admin/resource-servers/edit', { access_token_ttl: '600' });

      const saved = await saveAsEdited(second, stale, '/admin/resource-servers/edit', { scope: 'openid profile' });
      expect(saved.html).to.include('Changes saved');
      expect(await server.services.resourceServers.show(uri)).to.deep.include({ scope: 'openid profile', accessTokenTtl: 600, tokenFormat: 'jwt' });
    });

    it('refuses (409) a lifetime changed on both, and a form without its version', async () => {
      const stale = await second.navigate(admin(editPath));
      await saveAsEdited(first, await first.navigate(admin(editPath)), '/admin/resource-servers/edit', { access_token_ttl: '900' });

      const refused = await saveAsEdited(second, stale, '/admin/resource-servers/edit', { access_token_ttl: '60', token_format: 'opaque' });
      expect(refused.status).to.equal(409);
      expect(refused.html).to.include(STALE).and.include('value="900"');
      const unversioned = await saveWithoutVersion(second, stale, '/admin/resource-servers/edit', { token_format: 'opaque' });
      expect(unversioned.status).to.equal(409);
      expect(await server.services.resourceServers.show(uri)).to.deep.include({ accessTokenTtl: 900, tokenFormat: 'jwt' });
    });
  });

  /**
   * The same field saved by both at the same moment, from forms of the same
   * version: each request's own check passes (neither has seen the other's
   * write), so only a write conditional on what it judged against keeps one
   * of them from silently undoing the other. Tried several times, as the
   * two requests interleave differently each time.
   */
  describe('the same field saved by both at the same moment', () => {
    const TRIES = 6;
    const outcome = (page: Page) => (page.status === 200 && /(Changes|Scope) saved/.test(page.html) ? 'saved' : page.status);

    it('users: one save holds, the other is refused (409), and the stored roles are the one that held', async () => {
      for (let trial = 0; trial < TRIES; trial += 1) {
        const target = await server.services.accounts.create({ username: `race-${stamp}-${trial}`, password: 'race user pw', roles: ['user'] });
        const path = `/users/${target.id}`;
        const [pageOne, pageTwo] = await Promise.all([first.navigate(admin(`${path}/edit`)), second.navigate(admin(`${path}/edit`))]);
        const [one, two] = await Promise.all([
          saveAsEdited(first, pageOne!, `/admin${path}`, { roles: 'staff' }),
          saveAsEdited(second, pageTwo!, `/admin${path}`, { roles: 'admin' }),
        ]);
        const outcomes = [outcome(one), outcome(two)];
        expect(outcomes.sort().join(' '), `trial ${trial}`).to.equal('409 saved');
        const held = outcome(one) === 'saved' ? ['staff'] : ['admin'];
        expect((await server.services.accounts.show(target.id)).roles, `trial ${trial}`).to.deep.equal(held);
      }
    });

    it('clients: one save holds, the other is refused (409), and the stored name is the one that held', async () => {
      for (let trial = 0; trial < TRIES; trial += 1) {
        const { client } = await server.services.clients.create({ name: `Race ${stamp} ${trial}`, grantTypes: ['client_credentials'], scope: ['read'] });
        const path = `/admin/clients/${client.clientId}`;
        const [pageOne, pageTwo] = await Promise.all([first.navigate(`${server.issuer}${path}/edit`), second.navigate(`${server.issuer}${path}/edit`)]);
        const [one, two] = await Promise.all([
          saveAsEdited(first, pageOne!, path, { name: `Name one ${trial}` }),
          saveAsEdited(second, pageTwo!, path, { name: `Name two ${trial}` }),
        ]);
        expect([outcome(one), outcome(two)].sort().join(' '), `trial ${trial}`).to.equal('409 saved');
        const held = outcome(one) === 'saved' ? `Name one ${trial}` : `Name two ${trial}`;
        expect((await server.services.clients.show(client.clientId)).name, `trial ${trial}`).to.equal(held);
      }
    });

    it('scopes and resource servers: one save holds, the other is refused (409), and the stored value is the one that held', async () => {
      for (let trial = 0; trial < TRIES; trial += 1) {
        const name = `race-${stamp}-${trial}`;
        await server.services.scopes.add({ name, description: 'Before', warning: false });
        const path = `/admin/scopes/${name}`;
        const [pageOne, pageTwo] = await Promise.all([first.navigate(admin(`/scopes/${name}/edit`)), second.navigate(admin(`/scopes/${name}/edit`))]);
        const [one, two] = await Promise.all([
          saveAsEdited(first, pageOne!, path, { description: `One ${trial}` }),
          saveAsEdited(second, pageTwo!, path, { description: `Two ${trial}` }),
        ]);
        expect([outcome(one), outcome(two)].sort().join(' '), `scope trial ${trial}`).to.equal('409 saved');
        expect((await server.services.scopes.show(name)).description).to.equal(outcome(one) === 'saved' ? `One ${trial}` : `Two ${trial}`);
      }
      const uri = `https://race-${stamp}.example.test/`;
      await server.services.resourceServers.save({ uri, scope: ['openid'], tokenFormat: 'jwt', accessTokenTtl: 120 });
      try {
        for (let trial = 0; trial < TRIES; trial += 1) {
          const editPath = admin(`/resource-servers/edit?uri=${encodeURIComponent(uri)}`);
          const [pageOne, pageTwo] = await Promise.all([first.navigate(editPath), second.navigate(editPath)]);
          const [one, two] = await Promise.all([
            saveAsEdited(first, pageOne!, '/admin/resource-servers/edit', { access_token_ttl: String(300 + trial) }),
            saveAsEdited(second, pageTwo!, '/admin/resource-servers/edit', { access_token_ttl: String(600 + trial) }),
          ]);
          expect([outcome(one), outcome(two)].sort().join(' '), `resource server trial ${trial}`).to.equal('409 saved');
          expect((await server.services.resourceServers.show(uri)).accessTokenTtl).to.equal(outcome(one) === 'saved' ? 300 + trial : 600 + trial);
        }
      } finally {
        // Other files count the resource servers registered in a shared database.
        await server.services.resourceServers.remove(uri);
      }
    });

    it('the scope and resource server stores write only while the record is still what the caller read', async () => {
      const name = `cas-${stamp}`;
      await server.services.scopes.add({ name, description: 'Read', warning: false });
      const read = await server.services.scopes.show(name);
      expect(await server.services.storage.scopes.save({ ...read, description: 'First' }, { ifStill: read })).to.equal(true);
      expect(await server.services.storage.scopes.save({ ...read, description: 'Second' }, { ifStill: read })).to.equal(false);
      expect((await server.services.scopes.show(name)).description).to.equal('First');
      // The registry says so as the lost race it is.
      const stale = await server.services.scopes.update(name, { description: 'Third', warning: false }, {}, { asSeen: read }).then(() => undefined, (error: unknown) => error);
      expect(stale).to.be.instanceOf(StaleWriteError);
      expect((await server.services.scopes.show(name)).description).to.equal('First');
      const uri = `https://cas-${stamp}.example.test/`;
      await server.services.resourceServers.save({ uri, scope: ['openid'], tokenFormat: 'jwt' });
      try {
        const seen = await server.services.resourceServers.show(uri);
        expect(await server.services.storage.resourceServers.save({ ...seen, accessTokenTtl: 60 }, { ifStill: seen })).to.equal(true);
        expect(await server.services.storage.resourceServers.save({ ...seen, accessTokenTtl: 90 }, { ifStill: seen })).to.equal(false);
        expect((await server.services.resourceServers.show(uri)).accessTokenTtl).to.equal(60);
        const stale = await server.services.resourceServers.save({ uri, scope: ['openid'], tokenFormat: 'jwt', accessTokenTtl: 120 }, {}, 'existing', { asSeen: seen })
          .then(() => undefined, (error: unknown) => error);
        expect(stale).to.be.instanceOf(StaleWriteError);
        expect((await server.services.resourceServers.show(uri)).accessTokenTtl).to.equal(60);
      } finally {
        await server.services.resourceServers.remove(uri);
      }
    });

    it('the services refuse a change judged against a version that is no longer stored (asSeen), and write nothing', async () => {
      const target = await server.services.accounts.create({ username: `seen-${stamp}`, password: 'seen user pw', roles: ['admin'] });
      const seen = await server.services.accounts.show(target.id);
      await server.services.accounts.update(target.id, { roles: ['user'] });
      const refused = await server.services.accounts.update(target.id, { roles: ['staff'] }, {}, { asSeen: seen }).then(() => undefined, (error: unknown) => error);
      // Its own class, which edit pages tell from a conflict about the change itself (the last administrator).
      expect(refused).to.be.instanceOf(StaleWriteError).and.to.have.property('status', 409);
      expect((await server.services.accounts.show(target.id)).roles).to.deep.equal(['user']);
      // A field nobody else changed is written from the same version.
      await server.services.accounts.update(target.id, { name: 'Seen Name' }, {}, { asSeen: seen });
      expect((await server.services.accounts.show(target.id)).name).to.equal('Seen Name');

      const { client } = await server.services.clients.create({ name: `Seen ${stamp}`, grantTypes: ['client_credentials'], scope: ['read'] });
      const seenClient = await server.services.clients.show(client.clientId);
      await server.services.clients.update(client.clientId, { name: `Seen renamed ${stamp}` });
      const refusedClient = await server.services.clients.update(client.clientId, { name: `Seen again ${stamp}` }, {}, { asSeen: seenClient }).then(() => undefined, (error: unknown) => error);
      expect(refusedClient).to.be.instanceOf(StaleWriteError).and.to.have.property('status', 409);
      expect((await server.services.clients.show(client.clientId)).name).to.equal(`Seen renamed ${stamp}`);
    });

    it('the account store writes only while the values it is told to expect still stand, atomically', async () => {
      const target = await server.services.accounts.create({ username: `store-${stamp}`, password: 'store user pw', roles: ['user'] });
      const store = server.services.storage.accounts;
      const tries = await Promise.allSettled([
        store.update(target.id, { roles: ['staff'] }, { ifStill: { roles: ['user'] } }),
        store.update(target.id, { roles: ['admin'] }, { ifStill: { roles: ['user'] } }),
      ]);
      expect(tries.map((outcome) => outcome.status).sort()).to.deep.equal(['fulfilled', 'rejected']);
      const lost = tries.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult;
      expect((lost.reason as Error).name).to.equal('AccountChangedError');
      const won = (tries.find((outcome) => outcome.status === 'fulfilled') as PromiseFulfilledResult<{ roles: string[] }>).value;
      expect((await store.findById(target.id))?.roles).to.deep.equal(won.roles);
    });
  });
});
