import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { skipBecause, startTestServer, type TestServer } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { sleep } from '../support/waiting.js';

/** The JSON log lines written so far whose message matches `pattern`. */
function logged(lines: string[], pattern: RegExp): Array<Record<string, unknown>> {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => pattern.test(String(line.msg)));
}

/**
 * A PostgreSQL outage is logged as two lines per process, one when it begins
 * and one when it ends, like a lost Redis connection: not once per
 * background task per interval (the signing-key refresh reads every 2 s, the
 * sweeper runs five sweeps every SWEEP_INTERVAL), each with a stack.
 */
describe('faults: a PostgreSQL outage in the log', function () {
  this.timeout(60_000);
  let proxy: TcpProxy;
  let server: TestServer | undefined;
  const lines: string[] = [];

  before(async function () {
    const url = process.env.DATABASE_URL;
    if (!url) skipBecause(this, 'DATABASE_URL is unset: the embedded database has no outage');
    proxy = TcpProxy.forUrl(url, 5432);
    await proxy.start();
    const log = new PassThrough();
    let partial = '';
    log.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const complete = text.split('\n');
      partial = complete.pop() ?? '';
      lines.push(...complete.filter(Boolean));
    });
    server = await startTestServer({ DATABASE_URL: proxy.rewrite(url), LOG_LEVEL: 'info', SWEEP_INTERVAL: '1' }, { logTo: log });
  });

  after(async () => {
    await proxy?.start().catch(() => {});
    await server?.stop();
    await proxy?.stop();
  });

  it('says once that PostgreSQL is unavailable and once that it is back, with nothing per refresh or sweep', async () => {
    const before = lines.length;
    await proxy.stop();
    // Several key refreshes (every 2 s) and sweeps (every second) meet the outage.
    await sleep(7000);
    await proxy.start();
    await sleep(4000);
    const during = lines.slice(before);
    expect(logged(during, /^PostgreSQL unavailable/), during.join('\n')).to.have.length(1);
    expect(logged(during, /^PostgreSQL is back/), during.join('\n')).to.have.length(1);
    expect(logged(during, /signing keys could not be read|sweep failed/), 'no line per refresh or sweep').to.have.length(0);
    const [down] = logged(during, /^PostgreSQL unavailable/);
    expect(down).to.include({ level: 40, tier: 'PostgreSQL' });
    expect(String(down!.reason)).to.match(/PostgreSQL unavailable|ECONNREFUSED|Connection terminated|connect/);
    expect(down, 'no stack for an outage').not.to.have.property('err');
  });
});
