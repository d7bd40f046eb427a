import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config/load.js';
import { StartAbandonedError, startGatehouse } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { freePort, tempDir } from '../support/server.js';
import { sleep } from '../support/waiting.js';

/**
 * A stop asked for while storage is still opening ends the start there: the
 * server never serves, so a slow start (a new embedded database on a busy
 * machine takes seconds) cannot finish inside the stop's grace period and be
 * cut off as if it had been serving (exit 1 instead of 0).
 */
describe('start-up: a stop asked for while storage opens', function () {
  this.timeout(60_000);

  it('abandons the start once storage has opened: nothing served, the storage closed, the port released', async () => {
    // An empty folder: PGlite makes a new cluster, a start-up window of seconds.
    const dataDir = await tempDir();
    const port = await freePort();
    const config = loadConfig({ DATABASE_URL: '', REDIS_URL: '', PORT: String(port), ISSUER: `http://localhost:${port}`, GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    const stop = new AbortController();
    const started = startGatehouse(config, createLogger('silent'), { stop: stop.signal });
    const outcome = started.then(() => 'served', (error: unknown) => error);
    try {
      // The port is bound first and answers 503 until storage is open.
      for (let starting = false; !starting; await sleep(20)) {
        starting = (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 503;
      }
      stop.abort();
      const result = await outcome;
      expect(result).to.be.instanceOf(StartAbandonedError);
      expect(await fetch(`http://127.0.0.1:${port}/readyz`).then(() => 'answered', () => 'refused')).to.equal('refused');
      // Closed cleanly: the embedded database's lock is gone, so the next start needs no stale-lock recovery.
      expect(existsSync(join(dataDir, 'gatehouse.lock'))).to.equal(false);
    } finally {
      if ((await outcome) === 'served') await (await started).close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
