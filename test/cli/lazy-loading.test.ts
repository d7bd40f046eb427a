import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CLI_ENTRY } from '../support/built-cli.js';
import { tempDir } from '../support/server.js';

const run = promisify(execFile);
const RECORDER = new URL('../support/module-recorder.js', import.meta.url).href;

/** What the application is, to a module list: its composition root, the storage factory, the engine and the storage drivers. */
const APPLICATION = {
  'the composition root': /\/dist[^/]*\/src\/main\.js$/,
  'the storage factory': /\/dist[^/]*\/adapters\/factory\.js$/,
  'oidc-provider': /\/node_modules\/oidc-provider\//,
  pg: /\/node_modules\/pg\//,
  ioredis: /\/node_modules\/ioredis\//,
  PGlite: /\/node_modules\/@electric-sql\/pglite\//,
};

/** Runs the built CLI with the module recorder preloaded: its exit code and every module it loaded. */
async function cliLoading(folder: string, dataDir: string, ...args: string[]): Promise<{ code: number; modules: string[] }> {
  const record = join(folder, 'modules.txt');
  const env = { ...process.env, DATABASE_URL: '', REDIS_URL: '', GATEHOUSE_DATA_DIR: dataDir, MODULE_RECORD: record };
  const code = await run(process.execPath, ['--import', RECORDER, CLI_ENTRY, ...args], { env }).then(() => 0, (error: { code: number }) => error.code);
  const modules = (await readFile(record, 'utf8')).split('\n').filter(Boolean);
  await rm(record);
  return { code, modules };
}

function applicationIn(modules: string[]): string[] {
  return Object.entries(APPLICATION).filter(([, pattern]) => modules.some((url) => pattern.test(url))).map(([name]) => name);
}

/**
 * The CLI answers what its command table alone can answer without loading
 * the application (half a second of CPU a start): operators and scripts
 * asking for help, and tests that start it dozens of times, pay for the
 * engine and the storage drivers only when a command runs.
 */
describe('CLI start-up', function () {
  // The second test creates an embedded database (3 to 8 s alone).
  this.timeout(60_000);
  let folder: string;

  before(async () => { folder = await tempDir(); });
  after(() => rm(folder, { recursive: true, force: true }));

  it('--help, --version, a command\'s --help and usage errors load none of the application', async () => {
    const nowhere = join(folder, 'no-storage');
    for (const [args, exitCode] of [[['--help'], 0], [['--version'], 0], [['client', 'create', '--help'], 0], [['client', '--help'], 0], [['client'], 2], [['client', 'creat'], 2], [['client', 'list', '--nmae', 'x'], 2], [['client', 'list', '--limit', '3'], 2]] as const) {
      const { code, modules } = await cliLoading(folder, nowhere, ...args);
      expect(code, args.join(' ')).to.equal(exitCode);
      expect(modules.some((url) => url === new URL('../../src/cli/commands.js', import.meta.url).href), `${args.join(' ')}: the recorder saw the command table`).to.equal(true);
      expect(applicationIn(modules), args.join(' ')).to.deep.equal([]);
    }
  });

  it('a command that runs loads the application (the modules the answers above go without)', async () => {
    const { code, modules } = await cliLoading(folder, join(folder, 'store'), 'client', 'list', '--init');
    expect(code).to.equal(0);
    expect(applicationIn(modules)).to.deep.equal(Object.keys(APPLICATION));
  });
});
