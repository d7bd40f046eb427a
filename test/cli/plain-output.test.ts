import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { type CliResult, runCli } from '../support/built-cli.js';
import { FormBrowser } from '../support/form-browser.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';

// What a terminal acts on rather than shows: C0 and C1 controls, DEL, line
// and paragraph separators, bidi marks, embeddings, overrides and isolates.
const TERMINAL_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Text someone else chose, built to forge a line, hide what follows, set the clipboard (OSC 52) and reverse what is read. */
const FORGED_LINE = 'Nice app\nclient_id: gatehouse-dashboard\u001b[8m';
const CLIPBOARD = 'Mallory\u001b]52;c;cm0gLXJmIH4=\u0007\u202eevil\u2066';

describe('CLI plain-text output', function () {
  this.timeout(60_000);
  let server: TestServer;
  const stamp = Date.now();
  const cli = (...args: string[]): Promise<CliResult> => runCli(server, ...args);
  const plain = async (...args: string[]): Promise<string> => {
    const result = await cli(...args);
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(0);
    return result.stdout;
  };

  before(async () => { server = await startTestServer(); });
  after(() => server.stop());

  it('shows what others wrote (client names, user names, User-Agents) with every control and bidi character escaped: no forged line, nothing hidden', async () => {
    // Stored as another surface may have stored them (dynamic registration,
    // the account page, a sign-in): whatever is stored, the CLI must show it safely.
    const { client } = await server.services.clients.create({ name: 'Plain', clientId: `hostile-${stamp}`, grantTypes: ['client_credentials'], scope: ['read'] });
    const metadata = (await server.services.storage.clients.find(client.clientId))!.metadata;
    await server.services.storage.clients.replace({ ...metadata, client_name: FORGED_LINE, description: CLIPBOARD });
    const user = { username: `hostile-${stamp}`, password: 'hostile user password' };
    const account = await server.services.accounts.create(user);
    await server.services.storage.accounts.update(account.id, { name: CLIPBOARD, email: `\u001b[2J${stamp}@example.test` });
    // HTTP clients send no C0 control in a header; C1 ones (CSI, NEL) are bytes 0x80-0x9f, which they do send.
    const browser = new FormBrowser(() => false, { headers: { 'user-agent': 'Browser\u009b8m hidden\u0085client_id: x' } });
    await browser.submit(await browser.navigate(`${server.issuer}/account`), '/login', user);

    const screens = {
      'client list': await plain('client', 'list', '--name', 'nice app'),
      'client show': await plain('client', 'show', client.clientId),
      'user list': await plain('user', 'list', '--search', `hostile-${stamp}`),
      'user show': await plain('user', 'show', user.username),
      'session list': await plain('session', 'list', '--user', user.username),
      audit: await plain('audit', '--client', client.clientId),
    };
    for (const [command, screen] of Object.entries(screens)) {
      expect(screen, command).not.to.match(TERMINAL_CONTROLS);
      expect(screen.split('\n').filter((line) => line.startsWith('client_id: gatehouse-dashboard')), `${command}: a forged line`).to.deep.equal([]);
    }
    expect(screens['client show']).to.include('client_name: Nice app\\nclient_id: gatehouse-dashboard\\u001b[8m\n')
      .and.include('description: Mallory\\u001b]52;c;cm0gLXJmIH4=\\u0007\\u202eevil\\u2066\n');
    expect(screens['user show']).to.include('name: Mallory\\u001b]52;c;cm0gLXJmIH4=\\u0007\\u202eevil\\u2066\n')
      .and.include(`email: \\u001b[2J${stamp}@example.test\n`);
    expect(screens['session list']).to.include('user_agent: Browser\\u009b8m hidden\\u0085client_id: x\n');

    // --json is JSON: the text as it is stored, its escaping JSON's own.
    const shown = JSON.parse((await cli('client', 'show', client.clientId, '--json')).stdout) as Record<string, unknown>;
    expect(shown).to.include({ client_name: FORGED_LINE, description: CLIPBOARD });
  });

  it('escapes third-party text in refusals too: an import file’s duplicate username cannot forge a line of the error', async () => {
    const dir = await tempDir('gh-plain-');
    try {
      const row = JSON.stringify({ username: `dup\n  ${stamp}\u001b[8m`, password_hash: 'md5$salt$1f3870be274f6c49b3e31a0c6728957f' });
      const path = join(dir, 'users.jsonl');
      await writeFile(path, `${row}\n${row}\n`);
      const refused = await cli('import', 'users', '--file', path);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).not.to.match(TERMINAL_CONTROLS);
      expect(refused.stderr).to.include(`username "dup\\n  ${stamp}\\u001b[8m" already appears on line 1`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints nested results readably: an import summary’s counts and skip reasons, an audit event’s detail', async () => {
    const dir = await tempDir('gh-plain-');
    try {
      const clientId = `summary-${stamp}`;
      const row = JSON.stringify({ client_id: clientId, client_secret: 'summary-secret-0123456789-0123456789', name: 'Summary', grant_types: 'client_credentials', scope: 'read' });
      const path = join(dir, 'clients.jsonl');
      await writeFile(path, `${row}\n`);
      const imported = await plain('import', 'clients', '--file', path);
      expect(imported).not.to.include('[object Object]');
      expect(imported).to.include('clients:\n  created: 1\n  updated: 0\n  unchanged: 0\n  skipped: 0\n');

      // A client deleted since it was imported is skipped by a re-import, with the reason.
      await server.services.clients.delete(clientId);
      const skipped = await plain('import', 'clients', '--file', path);
      expect(skipped).to.match(new RegExp(`clients:\\n  created: 0\\n  updated: 0\\n  unchanged: 0\\n  skipped: 1\\n  skips:\\n    - id: ${clientId}\\n      reason: \\S.*\\n`));

      const audit = await plain('audit', '--client', clientId, '--limit', '5');
      expect(audit).not.to.include('[object Object]').and.not.to.match(/detail: \{/);
      expect(audit).to.match(/event: client\.imported\n(.*\n)*detail:\n {2}\S+: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('audit --json gives each event’s detail as an object, as /v2/audit does', async () => {
    const clientId = `audited-${stamp}`;
    await server.services.clients.create({ name: 'Audited', clientId, grantTypes: ['client_credentials'], scope: ['read'] }, { actor: 'cli' });
    const events = JSON.parse((await cli('audit', '--client', clientId, '--json')).stdout) as Array<{ event: string; detail: unknown }>;
    const created = events.find((event) => event.event === 'client.created');
    expect(created?.detail).to.be.an('object').that.deep.includes({ name: 'Audited' });
  });
});
