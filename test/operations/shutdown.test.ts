import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import { freePort, skipBecause, tempDir } from '../support/server.js';
import { sleep } from '../support/waiting.js';
import { embeddedDataDir } from '../support/embedded-data.js';
import { SERVER_ARGUMENTS } from '../support/process.js';

// The grace period in src/server.ts (10 s for in-flight requests, 2 s more for a primary), and a margin.
const EXIT_WITHIN_MS = 15_000;

/** Whether a process is alive (signal 0 tests for existence). */
function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** The PIDs of `pid`'s children (Linux /proc, through pgrep). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function ready(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before it was ready`);
    try { if ((await fetch(`${url}/readyz`)).ok) return; } catch { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error('not ready');
}

async function gone(pids: number[], withinMs: number): Promise<number> {
  const started = Date.now();
  while (pids.some(alive)) {
    if (Date.now() - started > withinMs) {
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
      throw new Error(`still running ${withinMs} ms after the signal: ${pids.join(', ')}`);
    }
    await sleep(50);
  }
  return Date.now() - started;
}

/**
 * Issue 17: a supervisor's SIGTERM stops Gatehouse within its grace period
 * in every case: sent to `npm start`, to the server, to the process group,
 * with the reader of its stdout gone.
 */
describe('shutdown: every stop signal ends every process within the grace period', function () {
  this.timeout(60_000);
  let dataDir: string;
  const started: ChildProcess[] = [];

  beforeEach(async () => { dataDir = await embeddedDataDir(); });
  afterEach(async () => {
    for (const child of started.splice(0)) if (child.pid && alive(child.pid)) process.kill(child.pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  function environment(port: number, extra: Record<string, string> = {}) {
    return { ...process.env, PORT: String(port), ISSUER: `http://localhost:${port}`, GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...extra };
  }

  it('SIGTERM to `npm start` stops the server it started (no orphan)', async () => {
    const port = await freePort();
    // --ignore-scripts skips only the prestart build (the suite has built already); the start script runs as a user's does.
    const npm = spawn('npm', ['start', '--ignore-scripts', '--silent'], { env: environment(port), stdio: ['ignore', 'ignore', 'inherit'] });
    started.push(npm);
    await ready(`http://127.0.0.1:${port}`, npm);
    const tree = [npm.pid!, ...childrenOf(npm.pid!)];
    const server = childrenOf(npm.pid!).flatMap((pid) => [pid, ...childrenOf(pid)]);
    expect(server.length, 'the server runs under npm').to.be.above(0);
    npm.kill('SIGTERM');
    const ms = await gone([...tree, ...server], EXIT_WITHIN_MS);
    expect(ms).to.be.below(EXIT_WITHIN_MS);
  });

  for (const workers of process.env.DATABASE_URL ? ['1', '2'] : ['1']) {
    it(`SIGTERM to the process group of ${workers} worker(s) whose stdout reader has gone: every process exits`, async () => {
      const port = await freePort();
      const server = spawn(process.execPath, SERVER_ARGUMENTS, {
        env: environment(port, { WEB_CONCURRENCY: workers }), stdio: ['ignore', 'pipe', 'inherit'], detached: true,
      });
      started.push(server);
      await ready(`http://127.0.0.1:${port}`, server);
      const processes = [server.pid!, ...childrenOf(server.pid!)];
      // The reader goes away: every later write to stdout fails with EPIPE.
      server.stdout!.destroy();
      await fetch(`http://127.0.0.1:${port}/healthz`);
      process.kill(-server.pid!, 'SIGTERM');
      await gone(processes, EXIT_WITHIN_MS);
    });
  }

  it('SIGTERM to a primary alone stops its workers too', async function () {
    if (!process.env.DATABASE_URL) skipBecause(this, 'DATABASE_URL is unset: the embedded database runs one worker');
    const port = await freePort();
    const server = spawn(process.execPath, SERVER_ARGUMENTS, { env: environment(port, { WEB_CONCURRENCY: '2' }), stdio: ['ignore', 'ignore', 'inherit'] });
    started.push(server);
    await ready(`http://127.0.0.1:${port}`, server);
    const processes = [server.pid!, ...childrenOf(server.pid!)];
    expect(processes).to.have.length(3);
    server.kill('SIGTERM');
    await gone(processes, EXIT_WITHIN_MS);
  });
});

interface Outcome { status?: number; connection?: string; body?: string; error?: string; reused: boolean }

/** One GET on `agent`, resolved with what came back or how it failed. */
function get(agent: Agent, url: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body, reused: req.reusedSocket }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, reused: req.reusedSocket }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, reused: req.reusedSocket }));
    req.end();
  });
}

/**
 * RFC 9112 §9.6: a server that is stopping says `Connection: close` and
 * closes each connection once its answer is out; clients on keep-alive
 * connections are not served on for the whole grace period and then cut off.
 */
describe('shutdown: keep-alive clients', function () {
  this.timeout(60_000);
  let dataDir: string;
  let server: ChildProcess | undefined;

  beforeEach(async () => { dataDir = await embeddedDataDir(); });
  afterEach(async () => {
    if (server?.pid && alive(server.pid)) process.kill(server.pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('SIGTERM while keep-alive clients keep sending: every answer is whole, the last ones say Connection: close, and the process exits 0 at once', async () => {
    const port = await freePort();
    server = spawn(process.execPath, SERVER_ARGUMENTS, {
      env: { ...process.env, PORT: String(port), ISSUER: `http://localhost:${port}`, GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', WEB_CONCURRENCY: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    await ready(url, server);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const outcomes: Outcome[] = [];
    let signalledAt = 0;
    // Eight clients, each sending its next request as soon as the last is
    // answered, on its kept-alive connection; each stops at its first
    // failure (a refused connection, once the server is gone) or after 30 s.
    const client = async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const outcome = await get(agent, `${url}/${outcomes.length % 2 ? 'readyz' : 'healthz'}`);
        outcomes.push(outcome);
        if (outcome.error) return;
      }
    };
    const clients = Promise.all(Array.from({ length: 8 }, client));
    await sleep(500);
    const answeredBefore = outcomes.length;
    signalledAt = Date.now();
    server.kill('SIGTERM');
    const code = await exited;
    const exitedAfterMs = Date.now() - signalledAt;
    await clients;
    agent.destroy();

    expect(code, 'a clean stop').to.equal(0);
    expect(exitedAfterMs, 'well within the 10 s grace period').to.be.below(3000);
    expect(answeredBefore, 'the clients were being served').to.be.above(8);
    const answered = outcomes.filter((outcome) => !outcome.error);
    for (const outcome of answered) {
      expect(outcome.status, outcome.body).to.equal(200);
      expect(() => JSON.parse(outcome.body!), 'a whole body').not.to.throw();
    }
    // Each client ends on a refused connection (the server is gone), never on a request cut off mid-way.
    const failures = outcomes.filter((outcome) => outcome.error);
    expect(failures.map((outcome) => outcome.error)).to.satisfy((codes: string[]) => codes.every((each) => each === 'ECONNREFUSED'), JSON.stringify(failures));
    expect(answered.some((outcome) => outcome.connection === 'close'), 'answers while stopping say Connection: close').to.equal(true);
  });
});

describe('start-up: a taken port', function () {
  this.timeout(30_000);

  it('is reported by name before any storage is created, without a stack trace', async () => {
    const dataDir = await tempDir();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const server = spawn(process.execPath, SERVER_ARGUMENTS, {
        env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', PORT: String(port), GATEHOUSE_DATA_DIR: join(dataDir, 'fresh'), LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      server.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
      server.stdout!.resume();
      const code = await new Promise<number | null>((resolve) => server.once('exit', resolve));
      expect(code).to.equal(1);
      expect(stderr).to.include(`PORT=${port}: the port is already in use`);
      expect(stderr).not.to.match(/\n\s+at /);
      expect(existsSync(join(dataDir, 'fresh')), 'no data folder was created').to.equal(false);
    } finally {
      blocker.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('start-up: one failure, one message; a store that cannot be reached is waited for', function () {
  this.timeout(60_000);

  /**
   * A server started with `env` while a store cannot be reached: it waits
   * for the store (docs/operations/systemd.md, "Starting during an
   * outage"). Answers its one "waiting" log line and everything it wrote,
   * once SIGTERM has ended the wait (exit 0: nothing was cut off).
   */
  async function waitingAtStart(env: Record<string, string>, dataDir: string): Promise<{ waiting: Record<string, unknown>; output: string }> {
    const server = spawn(process.execPath, SERVER_ARGUMENTS, {
      env: { ...process.env, ...env, PORT: String(await freePort()), GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.stdout!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    server.stderr!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    try {
      const deadline = Date.now() + 20_000;
      let waiting: Record<string, unknown> | undefined;
      while (!waiting) {
        if (Date.now() > deadline) throw new Error(`no "waiting" line: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        waiting = output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((line) => String(line.msg).includes('waiting for it'));
      }
      server.kill('SIGTERM');
      expect(await exited, output).to.equal(0);
      return { waiting, output };
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  }

  it('a Redis that refuses connections is waited for, named with the reason, not "Connection is closed."', async () => {
    const dataDir = await tempDir();
    const closed = await freePort();
    try {
      const { waiting } = await waitingAtStart({ DATABASE_URL: '', REDIS_URL: `redis://127.0.0.1:${closed}` }, dataDir);
      expect(waiting.reason).to.equal(`REDIS_URL: cannot reach redis://127.0.0.1:${closed}: connection refused (is Redis running and listening there?)`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a database and a Redis that cannot be reached are named without the passwords their URLs carry, in the user part or the query', async () => {
    const dataDir = await tempDir();
    const closed = await freePort();
    try {
      for (const env of [
        { DATABASE_URL: `postgres://gatehouse:UserInfoSecret@127.0.0.1:${closed}/gatehouse?password=QuerySecret&sslpassword=KeySecret`, REDIS_URL: '', SECRETS_KEY: Buffer.alloc(32, 9).toString('base64') },
        { DATABASE_URL: '', REDIS_URL: `redis://127.0.0.1:${closed}/2?password=QuerySecret` },
      ] as Array<Record<string, string>>) {
        const { waiting, output } = await waitingAtStart(env, dataDir);
        expect(String(waiting.reason)).to.include('cannot reach').and.include(`127.0.0.1:${closed}`);
        expect(output).not.to.match(/UserInfoSecret|QuerySecret|KeySecret/);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a wrong SECRETS_KEY with two workers is reported once, not once per worker', async function () {
    if (!process.env.DATABASE_URL) skipBecause(this, 'DATABASE_URL is unset: the embedded database runs one worker');
    const port = await freePort();
    const server = spawn(process.execPath, SERVER_ARGUMENTS, {
      // A well-formed key that is not the one the suite's database was sealed with.
      env: { ...process.env, PORT: String(port), WEB_CONCURRENCY: '2', SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const code = await new Promise<number | null>((resolve) => server.once('exit', resolve));
    expect(code).to.equal(1);
    expect(stderr.match(/^gatehouse: /gm), stderr).to.have.length(1);
    expect(stderr).to.match(/SECRETS_KEY/);
  });
});
