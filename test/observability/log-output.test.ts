import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { freePort } from '../support/server.js';
import { sleep } from '../support/waiting.js';
import { isoTime } from '../../src/observability/logger.js';
import { embeddedDataDir } from '../support/embedded-data.js';
import { SERVER_ARGUMENTS } from '../support/process.js';

/**
 * Starts a server whose stdout the test reads, waits until `until` matches
 * it, runs `meanwhile` against the server's port, then stops the server
 * (SIGTERM) and resolves with everything it wrote, and how long the match
 * took.
 */
async function serverOutput(env: Record<string, string>, until: RegExp, meanwhile?: (port: number) => Promise<void>, withinMs = 20_000): Promise<{ text: string; ms: number }> {
  const dataDir = await embeddedDataDir();
  const port = await freePort();
  const child = spawn(process.execPath, SERVER_ARGUMENTS, {
    env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', PORT: String(port), GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  const started = Date.now();
  let ms: number;
  try {
    while (!until.test(text)) {
      if (Date.now() - started > withinMs) throw new Error(`no match for ${until} within ${withinMs} ms; got:\n${text}`);
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${text}`);
      await sleep(50);
    }
    ms = Date.now() - started;
    await meanwhile?.(port);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  }
  return { text, ms };
}

/** Issue 17: a first start shows its log at once, in the form the reader needs. */
describe('log output', function () {
  this.timeout(60_000);

  it('JSON (stdout not a terminal): the start line appears without waiting for a full buffer, with an ISO time, the URL and the next step', async () => {
    const { text } = await serverOutput({}, /gatehouse listening/);
    const line = JSON.parse(text.split('\n').find((l) => l.includes('gatehouse listening'))!) as Record<string, unknown>;
    expect(line.time).to.be.a('string').and.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(String(line.msg)).to.match(/^gatehouse listening on port \d+ as http:\/\/localhost:\d+$/);
    expect(String(line.next)).to.include('user create').and.include('/admin');
  });

  it('warns at start when ISSUER is http on a host other than this machine, and not for localhost', async () => {
    const insecure = await serverOutput({ ISSUER: 'http://id.example.test' }, /gatehouse listening/);
    const warning = insecure.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 40 && String(l.msg).includes('ISSUER'));
    expect(warning?.msg, insecure.text).to.match(/ISSUER is http/);
    const local = await serverOutput({}, /gatehouse listening/);
    expect(local.text).not.to.include('ISSUER is http');
  });

  it('LOG_FORMAT=pretty: readable lines, not JSON', async () => {
    const { text } = await serverOutput({ LOG_FORMAT: 'pretty' }, /gatehouse listening on port/);
    const line = text.split('\n').find((l) => l.includes('gatehouse listening on port'))!;
    expect(line).to.match(/^\[\d\d:\d\d:\d\d\] INFO: gatehouse listening on port \d+ as http:\/\/localhost:\d+/);
    expect(() => JSON.parse(line)).to.throw();
  });

  it('JSON: every request’s line reaches stdout whole and in order, and the last ones are written when the server stops', async () => {
    // Enough lines for several batches, and a last batch well short of one.
    const ids = Array.from({ length: 253 }, (_, i) => `line-${i}`);
    const { text } = await serverOutput({}, /gatehouse listening/, async (port) => {
      for (let i = 0; i < ids.length; i += 25) {
        await Promise.all(ids.slice(i, i + 25).map((id) => fetch(`http://127.0.0.1:${port}/healthz`, { headers: { 'X-Request-Id': id } }).then((r) => r.arrayBuffer())));
      }
    });
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const logged = lines.filter((l) => typeof l.req_id === 'string' && l.req_id.startsWith('line-')).map((l) => l.req_id);
    expect(logged).to.have.length(ids.length);
    expect(new Set(logged)).to.deep.equal(new Set(ids));
    // Each group of concurrent requests is logged after the one before it.
    expect(logged.map((id) => Math.floor(Number(String(id).slice(5)) / 25))).to.deep.equal(ids.map((_, i) => Math.floor(i / 25)));
  });

  it('JSON times are what Date#toISOString writes, across second boundaries', () => {
    const start = Date.UTC(2026, 10, 30, 23, 59, 58, 990);
    for (let t = start; t < start + 2_100; t += 7) {
      expect(isoTime(t)).to.equal(`,"time":"${new Date(t).toISOString()}"`);
    }
    // A clock stepped back is written as it reads.
    expect(isoTime(start - 5_000)).to.equal(`,"time":"${new Date(start - 5_000).toISOString()}"`);
  });

  it('JSON: lines logged just before process.exit (a failed start, a crash) are written, not lost with the process', async () => {
    // The real logger in a process of its own, which logs and exits at once.
    const script = `
      const { createLogger } = await import(${JSON.stringify(new URL('../../src/observability/logger.js', import.meta.url).href)});
      const logger = createLogger('info');
      for (let i = 0; i < 40; i++) logger.info({ n: i }, 'before exit');
      process.exit(3);
    `;
    for (let attempt = 0; attempt < 5; attempt++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
      const [code] = await new Promise<[number | null]>((resolve) => child.once('close', (exitCode) => resolve([exitCode])));
      expect(code).to.equal(3);
      const numbers = text.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { n: number }).n);
      expect(numbers, `attempt ${attempt}`).to.deep.equal(Array.from({ length: 40 }, (_, i) => i));
    }
  });
});
