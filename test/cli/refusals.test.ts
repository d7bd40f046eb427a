import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { ROLES } from '../../src/accounts/roles.js';
import { type CliResult, cliEnvironment, runCli, runCliIn, runCliOnTerminal } from '../support/built-cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** A --json failure: nothing on stdout, one JSON error (RFC 6749 shape) on stderr. */
function jsonError(result: CliResult): { error: string; error_description: string } {
  expect(result.stdout, 'nothing on stdout').to.equal('');
  const body = JSON.parse(result.stderr) as { error: string; error_description: string };
  expect(body.error).to.be.a('string');
  expect(body.error_description).to.be.a('string');
  return body;
}

describe('CLI refusals: exit codes, --json errors, and input an operator types', function () {
  this.timeout(60_000);
  let server: TestServer;
  const stamp = Date.now();

  before(async () => { server = await startTestServer(); });
  after(() => server.stop());

  it('with --json, a usage error is a JSON error on stderr, exit 2, wherever the command line is wrong', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['client', 'lst'], /unknown command: client lst \(did you mean "client list"\?\)/],
      [['client', 'list', '--nmae', 'x'], /unknown option --nmae \(did you mean --name\?\)/],
      [['client', 'list', '--limit', '3'], /client list takes no --limit/],
      [[], /no command given/],
      [['client', 'show'], /client show needs a client id/],
      [['audit', '--limit', 'many'], /--limit must be a whole number, 1 to 500/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(server, ...args, '--json');
      expect(result.code, args.join(' ')).to.equal(2);
      const body = jsonError(result);
      expect(body.error, args.join(' ')).to.equal('invalid_usage');
      expect(body.error_description, args.join(' ')).to.match(message);
    }
    const plain = await runCli(server, 'client', 'list', '--nmae', 'x');
    expect(plain.code).to.equal(2);
    expect(plain.stderr, 'without --json, a sentence').to.match(/^gatehouse: unknown option --nmae/);
  });

  it('a value that begins with one dash (a random id such as -E3x…) is taken as the value it is, not as options', async () => {
    const id = `-E${stamp}-dashed`;
    const created = await runCli(server, 'client', 'create', '--name', 'Dashed id', '--grant-types', 'client_credentials', '--scope', 'read', '--client-id', id, '--json');
    expect(created.code, created.stderr).to.equal(0);
    expect((JSON.parse(created.stdout) as { client_id: string }).client_id).to.equal(id);
    const shown = await runCli(server, 'client', 'show', id, '--json');
    expect(shown.code, shown.stderr).to.equal(0);
    expect((JSON.parse(shown.stdout) as { client_id: string }).client_id).to.equal(id);
    // `--` still ends the options, and the id after it is the same id.
    const deleted = await runCli(server, 'client', 'delete', '--json', '--', id);
    expect(deleted.code, deleted.stderr).to.equal(0);
    expect((await server.services.clients.list({ name: 'Dashed id' })).clients.map((client) => client.clientId)).to.not.include(id);
    // Two dashes are still an option, and a mistyped one is still refused.
    const typo = await runCli(server, 'client', 'show', id, '--jsno');
    expect(typo.code).to.equal(2);
    expect(typo.stderr).to.match(/unknown option --jsno \(did you mean --json\?\)/);
  });

  it('with --json, a problem with the configuration or the storage is a JSON error on stderr, exit 1', async () => {
    const other = randomBytes(32).toString('base64');
    // A secret sealed under the server's key, so that another key is noticed.
    await server.services.clients.create({ name: 'Sealed', clientId: `sealed-${stamp}`, grantTypes: ['client_credentials'], scope: ['read'] });
    const cases: Array<[string, NodeJS.ProcessEnv, string, RegExp]> = [
      ['a SECRETS_KEY that is not the one in use', cliEnvironment(server, { SECRETS_KEY: other }), 'invalid_secrets_key', /SECRETS_KEY does not match/],
      ['a SECRETS_KEY that is no key', cliEnvironment(server, { SECRETS_KEY: 'short' }), 'invalid_configuration', /SECRETS_KEY must be 32 bytes/],
      ['a database that cannot be reached', cliEnvironment(server, { DATABASE_URL: 'postgres://gatehouse@127.0.0.1:1/none', SECRETS_KEY: other }), 'storage_unavailable', /cannot reach postgres:\/\/gatehouse@127\.0\.0\.1:1\/none/],
      ['no storage where the settings point', cliEnvironment(server, { DATABASE_URL: '', REDIS_URL: '', GATEHOUSE_DATA_DIR: `/nonexistent/gatehouse-${stamp}` }), 'invalid_configuration', /no Gatehouse storage in/],
    ];
    for (const [name, env, error, message] of cases) {
      const result = await runCliIn(env, ['client', 'list', '--json']);
      expect(result.code, `${name}: ${result.stderr}`).to.equal(1);
      const body = jsonError(result);
      expect(body, name).to.include({ error });
      expect(body.error_description, name).to.match(message);
      const plain = await runCliIn(env, ['client', 'list']);
      expect(plain.code, name).to.equal(1);
      expect(plain.stderr, `${name}, without --json`).to.match(/^gatehouse: /).and.match(message);
    }
  });

  it('audit --limit out of 1…500 is refused as a usage error, not quietly brought into range', async () => {
    for (const limit of ['0', '501', '100000000000000000000', '-1', '2.5']) {
      const result = await runCli(server, 'audit', `--limit=${limit}`);
      expect(result.code, `--limit ${limit}`).to.equal(2);
      expect(result.stderr, `--limit ${limit}`).to.include('--limit must be a whole number, 1 to 500');
    }
    expect((await runCli(server, 'audit', '--limit', '500')).code).to.equal(0);
  });

  it('user create without --role stores the default its help names', async () => {
    const help = (await runCli(server, 'user', 'create', '--help')).stdout;
    expect(help).to.include(`one of ${ROLES.join(', ')}; repeat for several (default: none;`);
    const username = `no-role-${stamp}`;
    const created = await runCli(server, 'user', 'create', '--username', username, '--password', 'a long enough password', '--json');
    expect(created.code, created.stderr).to.equal(0);
    expect((await server.services.accounts.show(username)).roles).to.deep.equal([]);
  });

  it('--password - on a terminal prompts on stderr and does not echo what is typed', async function () {
    const username = `typed-${stamp}`;
    const password = 'typed at the prompt, never shown';
    const terminal = await runCliOnTerminal(cliEnvironment(server), ['user', 'create', '--username', username, '--password', '-', '--json'], `${password}\r`, 'not shown as you type');
    if (!terminal) this.skip();
    expect(terminal.code, terminal.screen).to.equal(0);
    expect(terminal.screen).to.include('password (not shown as you type): ');
    expect(terminal.screen, 'the password on the screen').not.to.include(password);
    expect(await server.services.accounts.authenticate(username, password)).to.have.property('username', username);
  });
});
