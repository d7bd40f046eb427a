import { pbkdf2Sync } from 'node:crypto';
import { expect } from 'chai';
import { ValidationError } from '../../src/errors/app-error.js';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { displayTextProblem, displayTextProblems } from '../../src/security/display-text.js';
import { adminApiHeaders } from '../support/admin.js';
import { DASHBOARD, dashboardSignIn, postDashboardForm } from '../support/dashboard.js';
import type { FormBrowser } from '../support/form-browser.js';
import { postJson, send } from '../support/http.js';
import { REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** The reviewers' reproduction: a name that forges a line of the CLI's output and hides what follows in a terminal. */
const FORGED_LINE = 'Nice app\nclient_id: gatehouse-dashboard\u001b[8m';
/** OSC 52: a terminal that shows this writes "evil" to the clipboard. */
const CLIPBOARD_WRITE = 'Nice app \u001b]52;c;ZXZpbA==\u0007';

/** Text no surface may store as something shown to people, each with the code point the refusal must name. */
const NOT_TEXT: Array<{ what: string; text: string; codePoint: string }> = [
  { what: 'a line feed (a forged line of output)', text: FORGED_LINE, codePoint: 'U+000A' },
  { what: 'ESC (a terminal escape sequence)', text: 'App \u001b[2J', codePoint: 'U+001B' },
  { what: 'an OSC 52 clipboard write', text: CLIPBOARD_WRITE, codePoint: 'U+001B' },
  { what: 'a carriage return', text: 'App\rAdmin', codePoint: 'U+000D' },
  { what: 'a tab', text: 'App\tAdmin', codePoint: 'U+0009' },
  { what: 'DEL', text: 'App\u007f', codePoint: 'U+007F' },
  { what: 'a C1 control (CSI, U+009B)', text: 'App\u009b8m', codePoint: 'U+009B' },
  { what: 'LINE SEPARATOR', text: 'App\u2028client_id: x', codePoint: 'U+2028' },
  { what: 'PARAGRAPH SEPARATOR', text: 'App\u2029client_id: x', codePoint: 'U+2029' },
  { what: 'a right-to-left override (Trojan Source)', text: 'App \u202Egnp.exe', codePoint: 'U+202E' },
  { what: 'a left-to-right embedding', text: 'App \u202Ax', codePoint: 'U+202A' },
  { what: 'a first-strong isolate', text: 'App \u2068x\u2069', codePoint: 'U+2068' },
  { what: 'a pop directional isolate', text: 'App \u2069', codePoint: 'U+2069' },
  { what: 'a zero-width space', text: 'Gate\u200bkeeper', codePoint: 'U+200B' },
  { what: 'a byte order mark', text: '\ufeffApp', codePoint: 'U+FEFF' },
  { what: 'a soft hyphen', text: 'Ap\u00adp', codePoint: 'U+00AD' },
  { what: 'a tag character (invisible text)', text: 'App\u{E0041}\u{E0042}', codePoint: 'U+E0041' },
  { what: 'half of a surrogate pair', text: 'App \ud800', codePoint: 'U+D800' },
];

/** Ordinary text of every script, with the joiners and marks ordinary writing needs. */
const TEXT: Array<{ what: string; text: string }> = [
  { what: 'accented Latin', text: 'Café Crème Ünïcödé' },
  { what: 'CJK', text: '日本語のアプリ 应用' },
  { what: 'Arabic and Hebrew (right to left)', text: 'تطبيق مرحبا עברית' },
  { what: 'Persian with ZERO WIDTH NON-JOINER', text: 'می\u200cخواهم' },
  { what: 'an emoji ZWJ sequence and a variation selector', text: 'Team 👩\u200d👩\u200d👧 ☕\ufe0f' },
  { what: 'a right-to-left mark between mixed-direction words', text: 'App \u200fعربي\u200e 2' },
  { what: 'combining marks', text: 'Cafe\u0301 Zalgo̷' },
  { what: 'punctuation, symbols and non-breaking spaces', text: 'A & B — «quoted» 50\u00a0€ ©' },
];

/** A value as a test title can show it: anything but printable ASCII as a \u escape. */
const escaped = (value: unknown) => JSON.stringify(value).replace(/[^\x20-\x7e]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);

describe('display text: control, line-separator and invisible formatting characters are never stored as text shown to people', () => {
  describe('the rule (src/security/display-text.ts)', () => {
    for (const row of NOT_TEXT) {
      it(`refuses ${row.what}, naming ${row.codePoint} without printing it`, () => {
        const problem = displayTextProblem(row.text);
        expect(problem, row.what).to.be.a('string').and.include(`(found ${row.codePoint},`);
        expect(displayTextProblem(problem!), 'the message is itself plain text').to.equal(undefined);
      });
    }

    for (const row of TEXT) {
      it(`accepts ${row.what}`, () => {
        expect(displayTextProblem(row.text)).to.equal(undefined);
      });
    }

    it('checks named fields, lists of strings included, one problem per field (what the account service calls for name and email)', () => {
      expect(displayTextProblems({ name: 'Ada\u001b[8m', email: 'ada@example.test', contacts: ['ok@example.test', 'x\n@example.test'], age: 3, none: null }))
        .to.deep.equal([
          { field: 'name', message: displayTextProblem('\u001b') },
          { field: 'contacts', message: displayTextProblem('\n') },
        ]);
    });
  });

  describe('every surface that writes a client (one rule, through src/clients/metadata-rules.ts)', () => {
    let server: TestServer;
    let admin: Record<string, string>;
    let dashboard: FormBrowser;
    let targetId: string;
    const stamp = Date.now();
    const dashboardAdmin = { username: `display-admin-${stamp}`, password: 'display admin password' };

    const clientCount = async () => (await server.services.clients.list({ perPage: 1 })).total;
    const register = async (metadata: Record<string, unknown>) => {
      const { token } = await issueInitialAccessToken(server.services.provider, 600);
      return postJson(`${server.url}/reg`, { redirect_uris: [REDIRECT_URI], scope: 'openid', ...metadata }, { authorization: `Bearer ${token}` });
    };
    /** No answer may carry the refused characters back (an error message quoting the value would print them). */
    const expectPlainText = (text: string) => expect(displayTextProblem(text.replace(/\n$/, '')), text).to.equal(undefined);

    before(async () => {
      server = await startTestServer();
      admin = await adminApiHeaders(server, 'Display text admin job');
      await server.services.accounts.create({ ...dashboardAdmin, roles: ['admin'] });
      dashboard = await dashboardSignIn(server, dashboardAdmin);
      targetId = (await server.services.clients.create({ name: 'Display target', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] })).client.clientId;
    });

    after(() => server?.stop());

    describe('RFC 7591 dynamic registration (POST /reg): 400 invalid_client_metadata naming the field', () => {
      const fields: Array<{ field: string; value: unknown; error?: string }> = [
        { field: 'client_name', value: FORGED_LINE },
        { field: 'client_name', value: CLIPBOARD_WRITE },
        { field: 'client_name', value: 'Nice app \u202Egnp.exe' },
        { field: 'description', value: 'Line one\n\u001b[8mhidden' },
        { field: 'contacts', value: ['ops@example.test', 'x\u001b[8m@example.test'] },
        { field: 'logo_uri', value: 'https://rp.example.test/logo.png\u001b[8m' },
        { field: 'client_uri', value: 'https://rp.example.test/\u009b8m' },
        { field: 'policy_uri', value: 'https://rp.example.test/policy\u2028' },
        { field: 'tos_uri', value: 'https://rp.example.test/tos\u200b' },
        { field: 'redirect_uris', value: [`${REDIRECT_URI}?\u001b[8m`], error: 'invalid_redirect_uri' },
      ];
      for (const { field, value, error } of fields) {
        it(`refuses ${field} ${escaped(value)} and stores nothing`, async () => {
          const before = await clientCount();
          const reply = await register({ [field]: value });
          expect(reply.status, reply.text).to.equal(400);
          expect(reply.json.error).to.equal(error ?? 'invalid_client_metadata');
          expect(reply.json.error_description).to.match(new RegExp(`^${field}: must not contain control`));
          expectPlainText(reply.text);
          expect(await clientCount()).to.equal(before);
        });
      }

      it('accepts a description in paragraphs: line breaks and tabs, as a textarea sends them', async () => {
        const reply = await register({ description: 'Paragraph one.\r\n\r\nParagraph two.\tIndented.' });
        expect(reply.status, reply.text).to.equal(201);
      });

      it('accepts names, descriptions and contacts in every script (the control)', async () => {
        for (const { text } of TEXT) {
          const reply = await register({ client_name: text.slice(0, 100), description: text });
          expect(reply.status, `${text}: ${reply.text}`).to.equal(201);
          expect(reply.json.client_name).to.equal(text.slice(0, 100));
        }
      });
    });

    it('RFC 7592 update (PUT /reg/:id) refuses a control character in client_name and keeps the stored name', async () => {
      const registered = await register({ client_name: 'Self-registered' });
      expect(registered.status, registered.text).to.equal(201);
      const uri = (registered.json.registration_client_uri as string).replace(server.issuer, server.url);
      const reply = await send(uri, {
        method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${registered.json.registration_access_token as string}` },
        body: JSON.stringify({ client_id: registered.json.client_id, redirect_uris: [REDIRECT_URI], scope: 'openid', client_name: FORGED_LINE }),
      });
      expect(reply.status, reply.text).to.equal(400);
      expect(reply.json).to.include({ error: 'invalid_client_metadata' });
      expect(reply.json.error_description).to.match(/^client_name: must not contain control/);
      expect((await server.services.clients.show(registered.json.client_id as string)).name).to.equal('Self-registered');
    });

    it('Northstar POST /v2/clients: 422 with the field error under title (and description)', async () => {
      const before = await clientCount();
      const reply = await postJson(`${server.url}/v2/clients`, { title: CLIPBOARD_WRITE, description: 'a\u202Eb', scope: ['openid'], redirect_uris: [REDIRECT_URI] }, admin);
      expect(reply.status, reply.text).to.equal(422);
      const fields = (reply.json.error as { fields: Record<string, string[]> }).fields;
      expect(Object.keys(fields).sort()).to.deep.equal(['description', 'title']);
      expect(fields.title![0]).to.include('U+001B');
      expect(fields.description![0]).to.include('U+202E');
      expectPlainText(reply.text);
      expect(await clientCount()).to.equal(before);
    });

    it('Northstar PUT /v2/clients/:id: 422 under title, the client unchanged', async () => {
      const reply = await send(`${server.url}/v2/clients/${targetId}`, {
        method: 'PUT', headers: { 'content-type': 'application/json', ...admin }, body: JSON.stringify({ title: FORGED_LINE }),
      });
      expect(reply.status, reply.text).to.equal(422);
      expect((reply.json.error as { fields: Record<string, string[]> }).fields).to.have.keys('title');
      expect((await server.services.clients.show(targetId)).name).to.equal('Display target');
    });

    for (const mode of ['create', 'update'] as const) {
      it(`Lux adjust/ (${mode}): 422 invalid_input naming the field, nothing written`, async () => {
        const before = { count: await clientCount(), target: await server.services.clients.show(targetId) };
        const reply = await postJson(`${server.url}/Lux/OAuth2/adjust/`, {
          ...(mode === 'update' ? { client_id: targetId } : {}), client_name: FORGED_LINE, redirect_uri: REDIRECT_URI, description: 'ok',
        }, admin);
        expect(reply.status, reply.text).to.equal(422);
        expect(reply.json.error).to.equal('invalid_input');
        expect(reply.json.error_description).to.match(/^name: must not contain control,.*U\+000A/);
        expectPlainText(reply.text);
        expect(await clientCount()).to.equal(before.count);
        expect(await server.services.clients.show(targetId)).to.deep.equal(before.target);
      });
    }

    it('the dashboard form: 422, the error shown next to the name field', async () => {
      const before = await clientCount();
      const form = await dashboard.navigate(`${server.issuer}${DASHBOARD}/clients/new`);
      const page = await postDashboardForm(dashboard, form, '/clients', [
        ['name', 'Nice app \u001b]52;c;ZXZpbA==\u0007 tail'], ['description', 'Two\u001blines'], ['redirect_uris', REDIRECT_URI], ['scope', 'openid'], ['grant_types', 'authorization_code'],
      ]);
      expect(page.status).to.equal(422);
      expect(page.html).to.match(/id="name-error"[^>]*>[^<]*U\+001B/);
      expect(page.html).to.match(/id="description-error"[^>]*>[^<]*U\+001B/);
      expect(await clientCount()).to.equal(before);
    });

    it('the client service (what the CLI and imports call): a ValidationError naming `name`, for creation, update and import', async () => {
      const { clients } = server.services;
      const attempts: Array<() => Promise<unknown>> = [
        () => clients.create({ name: FORGED_LINE, grantTypes: ['client_credentials'], scope: ['read'] }),
        () => clients.update(targetId, { name: CLIPBOARD_WRITE }),
        () => clients.importClient({ clientId: `imported-${stamp}`, name: 'Imported\u2028client_id: x', clientSecret: 's'.repeat(40), public: false, grantTypes: ['client_credentials'], redirectUris: [], scope: ['read'] }),
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(() => undefined, (thrown: unknown) => thrown);
        expect(error).to.be.instanceOf(ValidationError);
        expect((error as ValidationError).fields.map((problem) => problem.field)).to.deep.equal(['name']);
      }
      expect((await clients.show(targetId)).name).to.equal('Display target');
    });

    it('the account service (console, /v2, CLI, imports): a ValidationError naming the field, for a name or an email, created, changed or imported', async () => {
      const { accounts } = server.services;
      const account = await accounts.create({ username: `display-${stamp}`, password: 'display text password', name: 'Eve' });
      const attempts: Array<[() => Promise<unknown>, string]> = [
        [() => accounts.create({ username: `display-new-${stamp}`, password: 'display text password', name: CLIPBOARD_WRITE }), 'name'],
        [() => accounts.update(account.id, { name: `Eve${FORGED_LINE}` }), 'name'],
        [() => accounts.update(account.id, { email: 'eve\u001b[8m@example.test' }), 'email'],
      ];
      for (const [attempt, field] of attempts) {
        const error = await attempt().then(() => undefined, (thrown: unknown) => thrown);
        expect(error, field).to.be.instanceOf(ValidationError);
        expect((error as ValidationError).fields.map((problem) => problem.field)).to.deep.equal([field]);
      }
      // A password hash as django-oauth-toolkit's Django stores one, so only the name can be what is refused.
      const passwordHash = `pbkdf2_sha256$1000$salt$${pbkdf2Sync('display text password', 'salt', 1000, 32, 'sha256').toString('base64')}`;
      const [imported] = await accounts.importAccounts([{ username: `display-imported-${stamp}`, passwordHash, firstName: 'Eve', lastName: '\u202Eevil', roles: [], active: true }]);
      expect(imported?.outcome).to.equal('refused');
      expect(((imported as { error: unknown }).error as ValidationError).fields.map((problem) => problem.field)).to.deep.equal(['name']);
      expect((await accounts.findById(account.id))?.name).to.equal('Eve');
    });

    it('a client stored before the rule keeps working (the rule is for what is written, not what is read)', async () => {
      const { client } = await server.services.clients.create({ name: 'Old client', grantTypes: ['client_credentials'], scope: ['read'] });
      const record = (await server.services.storage.clients.find(client.clientId))!;
      await server.services.storage.clients.replace({ ...record.metadata, client_name: 'Old\nclient' }, { ifStill: record.metadata });
      const found = await server.services.provider.Client.find(client.clientId);
      expect(found?.clientName).to.equal('Old\nclient');
    });
  });
});
