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

async function readyWithin(url: string, child: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    try { if ((await fetch(`${url}/readyz`)).ok) return; } catch { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error('not ready');
}

/** What came back on `socket` until the server closed it (or `ms` passed). */
function everythingUntilClosed(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const done = () => { clearTimeout(timer); resolve(received); };
    const timer = setTimeout(() => { socket.destroy(); resolve(received); }, ms);
    socket.setEncoding('utf8').on('data', (chunk: string) => { received += chunk; });
    socket.once('close', done);
  });
}

/**
 * docs/operations/README.md: once a stop begins, every answer says
 * `Connection: close` (RFC 9112 §9.6). That includes the answer of a request
 * already being worked on when the signal came: answered with keep-alive,
 * its client would send its next request on a connection the server is
 * about to close, and get no answer at all.
 */
describe('shutdown: a request in flight when the stop begins is answered with Connection: close', function () {
  this.timeout(60_000);
  let dataDir: string;
  let child: ChildProcess | undefined;

  beforeEach(async () => { dataDir = await tempDir(); });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('says Connection: close to the request in flight and closes its connection once answered', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [...serverNodeOptions(), SERVER_ENTRY], {
      env: { ...process.env, PORT: String(port), ISSUER: `http://localhost:${port}`, GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', WEB_CONCURRENCY: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    await readyWithin(url, child, 60_000);

    // A keep-alive request whose body is still on its way: the server is working on it.
    const body = 'grant_type=client_credentials&scope=read';
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const received = everythingUntilClosed(socket, 15_000);
    socket.write([
      'POST /token HTTP/1.1', `Host: localhost:${port}`, 'Connection: keep-alive',
      'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`, '', body.slice(0, 5),
    ].join('\r\n'));
    await sleep(300);
    child.kill('SIGTERM');
    await sleep(300);
    socket.write(body.slice(5));

    const answer = await received;
    const head = answer.split('\r\n\r\n')[0] ?? '';
    expect(head, answer).to.match(/^HTTP\/1\.1 \d{3} /);
    expect(head, 'the answer ends keep-alive').to.match(/^connection: close$/im);
    expect(head).not.to.match(/^connection: keep-alive$/im);
    expect(await exited, 'a clean stop').to.equal(0);
  });
});
