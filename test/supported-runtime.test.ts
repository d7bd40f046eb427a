import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CLI_ENTRY } from './support/built-cli.js';
import { SERVER_ENTRY } from './support/process.js';
import { restartableEnv, skipBecause, storageMode } from './support/server.js';
import { sleep } from './support/waiting.js';
import { missingServerNodeOptions, SERVER_NODE_OPTIONS, serverNodeOptions, unsupportedRuntime } from '../src/supported-runtime.js';

const run = promisify(execFile);

describe('the Node.js Gatehouse runs on', () => {
  it('is 22 or later: an older version is named, with what to run instead', () => {
    expect(unsupportedRuntime('20.20.2')).to.match(/Node\.js 20\.20\.2 is not supported: Gatehouse needs Node\.js 22 or later/);
    expect(unsupportedRuntime('22.0.0')).to.equal(undefined);
    expect(unsupportedRuntime('24.3.1')).to.equal(undefined);
  });

  it('the server and the CLI, started by an older Node, exit 1 saying so before they read any setting', async function () {
    // The machine's own Node, where it is older than 22 (this one's is 20).
    const older = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path));
    const version = older && (await run(older, ['--version'])).stdout.trim().slice(1);
    if (!older || !version || !unsupportedRuntime(version)) skipBecause(this, 'no Node.js older than 22 on this machine');
    for (const entry of [SERVER_ENTRY, CLI_ENTRY]) {
      const outcome = await run(older!, [entry, 'client', 'list'], { env: { ...process.env, PORT: 'not a port' } }).then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => error);
      expect(outcome.code, entry).to.equal(1);
      expect(outcome.stderr, entry).to.include(`gatehouse: Node.js ${version} is not supported`).and.not.include('PORT');
      // Before oidc-provider loads: its own warning came first, in other words.
      expect(outcome.stderr, entry).not.to.include('Unsupported runtime');
    }
  });
});

describe('the Node options the server runs with', () => {
  it('are given from Node 22.7 to 23 only: Node 24 has them by default and refuses them, 22.6 does not know them', () => {
    expect(serverNodeOptions('22.23.3')).to.deep.equal([...SERVER_NODE_OPTIONS]);
    expect(serverNodeOptions('22.7.0')).to.deep.equal([...SERVER_NODE_OPTIONS]);
    expect(serverNodeOptions('23.11.1')).to.deep.equal([...SERVER_NODE_OPTIONS]);
    expect(serverNodeOptions('22.6.0')).to.deep.equal([]);
    expect(serverNodeOptions('24.0.0')).to.deep.equal([]);
    expect(serverNodeOptions('25.2.1')).to.deep.equal([]);
  });

  it('are missing unless given, in either spelling Node reads; one turned off on purpose is not missing', () => {
    expect(missingServerNodeOptions('22.23.3', [])).to.deep.equal([...SERVER_NODE_OPTIONS]);
    expect(missingServerNodeOptions('23.1.0', ['--max-old-space-size=512'])).to.deep.equal([...SERVER_NODE_OPTIONS]);
    expect(missingServerNodeOptions('22.23.3', [...SERVER_NODE_OPTIONS])).to.deep.equal([]);
    expect(missingServerNodeOptions('22.23.3', ['--experimental_async_context_frame'])).to.deep.equal([]);
    expect(missingServerNodeOptions('22.23.3', SERVER_NODE_OPTIONS.map((option) => option.replace(/^--/, '--no-')))).to.deep.equal([]);
    expect(missingServerNodeOptions('22.23.3', ['--no_experimental_async_context_frame'])).to.deep.equal([]);
    expect(missingServerNodeOptions('24.0.0', [])).to.deep.equal([]);
  });

  it('are what the test process itself runs with (its in-process servers run as `npm start` does)', () => {
    expect(missingServerNodeOptions()).to.deep.equal([]);
  });

  it('are given to every server the suite spawns (only this file starts one without, on purpose)', async () => {
    const here = fileURLToPath(import.meta.url);
    const testRoot = dirname(here);
    const files = (await readdir(testRoot, { recursive: true })).filter((file) => file.endsWith('.test.js')).map((file) => join(testRoot, file));
    const bare = /spawn\((process\.execPath|NODE), \[(SERVER_ENTRY|'dist\/src\/server\.js')\]/;
    const offenders = [];
    for (const file of files) if (file !== here && bare.test(await readFile(file, 'utf8'))) offenders.push(file);
    expect(offenders, 'spawn the server with SERVER_ARGUMENTS (test/support/process.ts)').to.deep.equal([]);
  });

  /** `node dist/src/server.js` without the options (as a unit running /usr/bin/node does): its output, and its workers' command lines. */
  async function startedWithout(env: Record<string, string>, workers: number): Promise<{ output: string; workerArgs: string[][] }> {
    const { env: placed, dataDir } = await restartableEnv();
    const environment: NodeJS.ProcessEnv = { ...process.env, ...placed, ...env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', WEB_CONCURRENCY: String(workers) };
    delete environment.NODE_OPTIONS;
    const child = spawn(process.execPath, [SERVER_ENTRY], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    try {
      for (let i = 0; output.split('gatehouse listening on port').length - 1 < workers; i += 1) {
        if (child.exitCode !== null || i > 600) throw new Error(`did not start:\n${output}`);
        await sleep(100);
      }
      const children = (await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')).split(' ').filter(Boolean);
      const workerArgs = await Promise.all(children.map(async (pid) => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean)));
      return { output, workerArgs };
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  it('a server started without them on Node 22 says so in its log', async function () {
    if (!missingServerNodeOptions(process.versions.node, []).length) skipBecause(this, 'this Node.js has them by default');
    const { output, workerArgs } = await startedWithout({}, 1);
    expect(workerArgs).to.deep.equal([]);
    const said = output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg?: string; node_options?: string[] })
      .find((line) => line.msg?.startsWith('started without the Node options'));
    expect(said?.node_options).to.deep.equal([...SERVER_NODE_OPTIONS]);
  });

  it('a primary started without them gives them to its workers', async function () {
    if (!missingServerNodeOptions(process.versions.node, []).length) skipBecause(this, 'this Node.js has them by default');
    if (!storageMode.postgres) skipBecause(this, 'several workers need DATABASE_URL');
    const { output, workerArgs } = await startedWithout({}, 2);
    expect(workerArgs).to.have.length(2);
    for (const args of workerArgs) expect(args).to.include.members([...SERVER_NODE_OPTIONS]);
    expect(output).not.to.include('started without the Node options');
  });
});
