import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { freePort, tempDir } from '../support/server.js';
import { sleep } from '../support/waiting.js';
import { serverNodeOptions } from '../../src/supported-runtime.js';

// The server of this build (dist/src/server.js in CI), whatever folder the tests were compiled into.
const SERVER_ENTRY = fileURLToPath(new URL('../../src/server.js', import.meta.url));

interface Running {
  child: ChildProcess;
  port: number;
  output: () => string;
  /** The exit code, or the signal's name when killed by one. */
  exited: Promise<number | string>;
}

async function startServer(dataDir: string, workers: string): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [...serverNodeOptions(), SERVER_ENTRY], {
    env: { ...process.env, PORT: String(port), ISSUER: `http://localhost:${port}`, GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'info', LOG_FORMAT: 'json', WEB_CONCURRENCY: workers },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  for (let i = 0; ; i += 1) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output}`);
    try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break; } catch { /* not listening yet */ }
    if (i > 600) throw new Error(`not ready:\n${output}`);
    await sleep(100);
  }
  // Every worker has started (each says so), so each has its signal handlers.
  for (let i = 0; output.split('gatehouse listening on port').length - 1 < Number(workers); i += 1) {
    if (i > 300) throw new Error(`the workers did not all start:\n${output}`);
    await sleep(100);
  }
  return { child, port, output: () => output, exited };
}

/** A request that stays in flight: its headers promise a body that never comes. */
async function requestNeverFinished(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.on('error', () => {});
  socket.write(['POST /token HTTP/1.1', `Host: localhost:${port}`, 'Content-Type: application/x-www-form-urlencoded', 'Content-Length: 1000', '', 'grant_type='].join('\r\n'));
  return socket;
}

function logLines(output: string): Array<Record<string, unknown>> {
  return output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * docs/operations/systemd.md: a stop exits 0 once the requests in flight are
 * answered, and 1 when the grace period had to cut them off, whether one
 * process serves or a primary and its workers; the log says which. SIGHUP
 * (a terminal or SSH session that closes) stops the server like SIGTERM.
 */
describe('shutdown: the exit status and the log say how the stop went', function () {
  this.timeout(90_000);
  let dataDir: string;
  const running: Running[] = [];
  const multiWorker = process.env.DATABASE_URL ? ['1', '2'] : ['1'];

  beforeEach(async () => { dataDir = await tempDir(); });
  afterEach(async () => {
    for (const server of running.splice(0)) {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      await server.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  for (const workers of multiWorker) {
    it(`SIGHUP stops a server of ${workers} worker(s) gracefully, logged, with exit code 0`, async () => {
      const server = await startServer(dataDir, workers);
      running.push(server);
      server.child.kill('SIGHUP');
      expect(await server.exited, server.output()).to.equal(0);
      const lines = logLines(server.output());
      expect(lines.some((line) => line.signal === 'SIGHUP' && /shutting down/.test(String(line.msg))), server.output()).to.equal(true);
    });

    it(`a stop whose grace period cuts a request off exits 1 and logs it (${workers} worker(s))`, async () => {
      const server = await startServer(dataDir, workers);
      running.push(server);
      const socket = await requestNeverFinished(server.port);
      try {
        await sleep(300);
        server.child.kill('SIGTERM');
        expect(await server.exited, server.output()).to.equal(1);
      } finally {
        socket.destroy();
      }
      const cutOff = logLines(server.output()).filter((line) => /grace period is over/.test(String(line.msg)));
      expect(cutOff, server.output()).to.have.length.of.at.least(1);
    });
  }
});
