import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { pgbouncerBinary, startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { freePort, skipBecause, tempDir } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { sleep } from '../support/waiting.js';
import { serverNodeOptions } from '../../src/supported-runtime.js';

// The server of this build (dist/src/server.js in CI), whatever folder the tests were compiled into.
const SERVER_ENTRY = fileURLToPath(new URL('../../src/server.js', import.meta.url));

interface Running {
  child: ChildProcess;
  url: string;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  exited: Promise<number | string>;
}

function spawnServer(env: Record<string, string>): Running {
  const port = Number(env.PORT);
  const child = spawn(process.execPath, [...serverNodeOptions(), SERVER_ENTRY], {
    env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ISSUER: `http://localhost:${port}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

async function status(url: string): Promise<number | undefined> {
  try { return (await fetch(url)).status; } catch { return undefined; }
}

async function readyWithin(server: Running, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`exited (${server.child.exitCode ?? server.child.signalCode}):\n${server.output()}`);
    if (await status(`${server.url}/readyz`) === 200) return;
    await sleep(100);
  }
  throw new Error(`not ready within ${ms} ms:\n${server.output()}`);
}

function linesMatching(output: string, pattern: RegExp): string[] {
  return output.split('\n').filter((line) => pattern.test(line));
}

/** Waits until the server has logged a line matching `pattern` (log lines go out at least once a second). */
async function loggedWithin(server: Running, pattern: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (linesMatching(server.output(), pattern).length === 0) {
    if (server.child.exitCode !== null) throw new Error(`exited with ${server.child.exitCode} instead:\n${server.output()}`);
    if (Date.now() > deadline) throw new Error(`not logged within ${ms} ms: ${pattern}\n${server.output()}`);
    await sleep(100);
  }
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function stopServer(server: Running | undefined): Promise<number | string | undefined> {
  if (!server) return undefined;
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM');
  const outcome = await Promise.race([server.exited, sleep(20_000).then(() => 'timeout' as const)]);
  if (outcome === 'timeout') {
    for (const pid of [server.child.pid!, ...childrenOf(server.child.pid!)]) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  return outcome;
}

/**
 * A store that is down when Gatehouse starts is an outage, not a broken
 * configuration: the server waits for it (answering 503), says so once, and
 * starts when it answers, so a supervisor's restart limit is never spent on
 * it. A multi-worker server replaces a worker that died during an outage
 * without taking the others down.
 */
describe('operations: starting while a store is down', function () {
  this.timeout(120_000);
  let dataDir: string;
  const running: Running[] = [];

  beforeEach(async () => { dataDir = await tempDir(); });
  afterEach(async () => {
    for (const server of running.splice(0)) await stopServer(server);
    await rm(dataDir, { recursive: true, force: true });
  });

  const STORES = [
    { name: 'PostgreSQL', setting: 'DATABASE_URL', defaultPort: 5432 },
    { name: 'Redis', setting: 'REDIS_URL', defaultPort: 6379 },
  ] as const;

  for (const store of STORES) {
    it(`waits for a ${store.name} that cannot be reached at start, logs it once, and serves when it answers`, async function () {
      const url = process.env[store.setting];
      if (!url) skipBecause(this, `${store.setting} is unset`);
      const proxy = TcpProxy.forUrl(url, store.defaultPort);
      await proxy.start();
      await proxy.stop();
      try {
        const port = await freePort();
        const server = spawnServer({ [store.setting]: proxy.rewrite(url), PORT: String(port), GATEHOUSE_DATA_DIR: dataDir, WEB_CONCURRENCY: '1' });
        running.push(server);
        await loggedWithin(server, /cannot be reached at start: waiting for it/, 30_000);
        // Several attempts later, still waiting, still one line.
        await sleep(3000);
        expect(server.child.exitCode, `still running:\n${server.output()}`).to.equal(null);
        expect(await status(`${server.url}/readyz`), `answers 503 meanwhile:\n${server.output()}`).to.equal(503);
        const waiting = linesMatching(server.output(), /cannot be reached at start: waiting for it/);
        expect(waiting, server.output()).to.have.length(1);
        expect(JSON.parse(waiting[0]!)).to.include({ store: store.name, level: 40 });

        await proxy.start();
        await readyWithin(server, 20_000);
        await loggedWithin(server, new RegExp(`${store.name} answers: starting`), 5000);
        expect(linesMatching(server.output(), /cannot be reached at start/), 'still once').to.have.length(1);
        expect(await stopServer(server)).to.equal(0);
      } finally {
        await proxy.stop();
      }
    });
  }

  it('a worker killed while the database is down behind its pooler is replaced when it returns; the other worker serves on', async function () {
    const binary = pgbouncerBinary();
    if (!process.env.DATABASE_URL) skipBecause(this, 'DATABASE_URL is unset: the embedded database runs one worker');
    if (!binary) skipBecause(this, 'pgbouncer is not installed');
    let bouncer: PgBouncer | undefined;
    // The pooler behind a relay that can be taken away and brought back on the same port.
    let relay: TcpProxy | undefined;
    try {
      bouncer = await startPgBouncer(binary, { url: process.env.DATABASE_URL! });
      relay = TcpProxy.forUrl(bouncer.url, 6432);
      await relay.start();
      const port = await freePort();
      const server = spawnServer({ DATABASE_URL: relay.rewrite(bouncer.url), PORT: String(port), WEB_CONCURRENCY: '2' });
      running.push(server);
      await readyWithin(server, 30_000);
      // Both workers have started (each says so); one is then killed during the outage.
      const deadline = Date.now() + 20_000;
      while (linesMatching(server.output(), /gatehouse listening on port/).length < 2) {
        if (Date.now() > deadline) throw new Error(`two workers did not start:\n${server.output()}`);
        await sleep(100);
      }
      const workers = childrenOf(server.child.pid!);
      expect(workers).to.have.length(2);

      await relay.stop();
      expect(await status(`${server.url}/readyz`)).to.equal(503);
      process.kill(workers[0]!, 'SIGKILL');
      await sleep(5000);
      expect(server.child.exitCode, `the primary is still running:\n${server.output()}`).to.equal(null);
      expect(childrenOf(server.child.pid!), 'the healthy worker is still running').to.include(workers[1]);
      expect(server.output()).not.to.include('a worker failed to start; stopping');

      await relay.start();
      await readyWithin(server, 30_000);
      const replacements = childrenOf(server.child.pid!).filter((pid) => pid !== workers[1]);
      expect(replacements, 'a replacement serves beside the worker that stayed').to.have.length(1);
      expect(await stopServer(server)).to.equal(0);
    } finally {
      await relay?.stop();
      await bouncer?.stop();
    }
  });

  for (const workers of ['1', '2']) {
    it(`a database that does not exist still stops start-up at once with exit code 1 (${workers} worker(s)): settings that can never work are not waited for`, async function () {
      if (!process.env.DATABASE_URL) skipBecause(this, 'DATABASE_URL is unset');
      const missing = new URL(process.env.DATABASE_URL);
      missing.pathname = `/gh_missing_${Date.now()}`;
      const server = spawnServer({ DATABASE_URL: missing.toString(), PORT: String(await freePort()), WEB_CONCURRENCY: workers });
      running.push(server);
      const outcome = await Promise.race([server.exited, sleep(15_000).then(() => 'still running')]);
      expect(outcome, server.output()).to.equal(1);
      expect(server.output()).to.include('does not exist').and.not.include('waiting for it');
    });
  }

  it('a Redis that refuses the credentials stops start-up at once with exit code 1, naming REDIS_URL: a wrong password is not an outage', async function () {
    if (!process.env.REDIS_URL) skipBecause(this, 'REDIS_URL is unset');
    const refused = new URL(process.env.REDIS_URL);
    refused.username = `gh-nobody-${Date.now()}`;
    refused.password = 'not-the-password';
    const server = spawnServer({ REDIS_URL: refused.toString(), PORT: String(await freePort()) });
    running.push(server);
    const outcome = await Promise.race([server.exited, sleep(15_000).then(() => 'still running')]);
    expect(outcome, server.output()).to.equal(1);
    expect(server.output()).to.include('REDIS_URL').and.include('authentication failed').and.not.include('waiting for it');
  });
});
