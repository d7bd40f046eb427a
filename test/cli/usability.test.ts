import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CLI_ENTRY, runCli } from '../support/built-cli.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';
import { COMMANDS } from '../../src/cli/commands.js';

const run = promisify(execFile);

/** Commands that need no storage: the CLI answers them before opening any. */
async function offline(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_ENTRY, ...args], { env: { ...process.env, GATEHOUSE_DATA_DIR: '/nonexistent/gatehouse' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return error as { code: number; stdout: string; stderr: string };
  }
}

/** Issue 17: a CLI an operator can find their way in. */
describe('CLI usability', function () {
  // Each test starts the CLI as a process, several times (the --help test
  // once per command, 32 of them). --help and usage errors load no more than
  // the command table (0.02 s of CPU a start; test/cli/lazy-loading.test.ts),
  // so the slowest test is the one that creates an embedded database: 5 s
  // alone, 14 s with three copies of this file on two cores (the whole file:
  // 14 s alone, 35 s so). A minute leaves room for a loaded CI machine.
  this.timeout(60_000);
  let server: TestServer;

  before(async () => { server = await startTestServer(); });
  after(() => server.stop());

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect((await offline('--version')).stdout.trim()).to.equal(version);
  });

  it('every command has its own --help, naming every flag it takes with what it means', async () => {
    for (const command of COMMANDS) {
      const help = await offline(...command.name.split(' '), '--help');
      expect(help.code, command.name).to.equal(0);
      expect(help.stdout, command.name).to.include(`Usage: gatehouse ${command.name}`);
      for (const [flag, { description }] of Object.entries(command.flags)) {
        expect(description, `${command.name} --${flag}`).to.have.length.above(5);
        expect(help.stdout, `${command.name} --${flag}`).to.include(`--${flag}`).and.include(description);
      }
    }
  });

  it('suggests the command or flag meant, and refuses a flag that belongs to another command', async () => {
    expect((await offline('client', 'creat')).stderr).to.include('did you mean "client create"?');
    expect((await offline('client', 'create', '--nmae', 'x')).stderr).to.include('did you mean --name?');
    const stray = await runCli(server, 'client', 'list', '--limit', '3');
    expect(stray.code).to.equal(2);
    expect(stray.stderr).to.include('client list takes no --limit');
  });

  it('a group of commands named alone (client, scope) says which commands it has, exit 2; with --help lists their usage, exit 0', async () => {
    const groups = [...new Set(COMMANDS.filter((command) => command.name.includes(' ')).map((command) => command.name.split(' ')[0]!))];
    // `audit` is a command of its own as well as the start of `audit prune`: it runs, as before.
    for (const group of groups.filter((word) => !COMMANDS.some((command) => command.name === word))) {
      const members = COMMANDS.filter((command) => command.name.startsWith(`${group} `));
      const alone = await offline(group);
      expect(alone.code, group).to.equal(2);
      expect(alone.stdout, group).to.equal('');
      expect(alone.stderr, group).to.equal(`gatehouse: which ${group} command? ${members.map((command) => command.name.slice(group.length + 1)).join(', ')} (gatehouse ${group} --help shows how each is used)\n`);
      expect(JSON.parse((await offline(group, '--json')).stderr), `${group} --json`).to.include({ error: 'invalid_usage' });
      const help = await offline(group, '--help');
      expect(help.code, `${group} --help`).to.equal(0);
      expect(help.stdout, `${group} --help`).to.include(`Usage: gatehouse ${group} <command>`);
      for (const command of members) expect(help.stdout, `${group} --help`).to.include(`${command.name} ${command.usage}`.trim()).and.include(command.summary);
      expect(help.stdout, `${group} --help: only its own commands`).to.not.include('migrate');
    }
    expect(groups).to.include.members(['client', 'scope']);
    // A command of a group that does not exist: its commands are named, never the group itself as a correction.
    const unknown = await offline('client', 'frobnicate');
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.match(/^gatehouse: unknown command: client frobnicate \(client has: create, list, show, update, delete, rotate-secret\)/);
  });

  it('creates no storage where none exists unless told to (--init or migrate), naming where it looked', async () => {
    const folder = await tempDir();
    const env = { ...process.env, DATABASE_URL: '', REDIS_URL: '', GATEHOUSE_DATA_DIR: join(folder, 'typo') };
    const cli = (...args: string[]) => run(process.execPath, [CLI_ENTRY, ...args], { env }).then(() => 0, (error: { code: number; stderr: string }) => error);
    try {
      const refused = await cli('client', 'list') as { code: number; stderr: string };
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.include(`no Gatehouse storage in the embedded database folder ${join(folder, 'typo')}`).and.include('--init');
      expect(existsSync(join(folder, 'typo', 'pgdata')), 'nothing was created').to.equal(false);
      expect(await cli('client', 'list', '--init')).to.equal(0);
      expect(existsSync(join(folder, 'typo', 'pgdata'))).to.equal(true);
      expect(await cli('client', 'list'), 'once it exists, no --init is needed').to.equal(0);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('refuses a role that does not exist, and a scope that would be overwritten without --replace', async () => {
    const role = await runCli(server, 'user', 'create', '--username', `role-${Date.now()}`, '--password', 'a long enough password', '--role', 'superuser', '--json');
    expect(role.code).to.equal(1);
    expect(role.stderr).to.match(/superuser.{0,4} is not a role: use admin, staff, user/);
    const name = `report-${Date.now()}`;
    expect((await runCli(server, 'scope', 'add', '--name', name, '--description', 'Read reports')).code).to.equal(0);
    const again = await runCli(server, 'scope', 'add', '--name', name, '--description', 'Something else');
    // A refusal (exit 1, docs/cli.md), as `client create` with a taken client_id: the command line was right.
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('exists already');
    const asJson = await runCli(server, 'scope', 'add', '--name', name, '--description', 'Something else', '--json');
    expect(JSON.parse(asJson.stderr).error).to.equal('conflict');
    expect((await server.services.scopes.list()).find((scope) => scope.name === name)?.description).to.equal('Read reports');
    expect((await runCli(server, 'scope', 'add', '--name', name, '--description', 'Something else', '--replace')).code).to.equal(0);
  });
});
