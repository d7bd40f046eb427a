import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { openEmbedded, type EmbeddedDatabase } from '../../adapters/embedded/pglite.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { embeddedDataDir } from '../support/embedded-data.js';

/**
 * The CLI next to a running embedded server: both use the one PGlite
 * session, the server in process and the CLI through the shared socket
 * (adapters/embedded/socket-bridge.ts). Neither may see the other's
 * statements or transactions.
 */
describe('the embedded database shared with the CLI through its socket', function () {
  this.timeout(120_000);
  let owner: EmbeddedDatabase;
  let guest: SqlDatabase;
  // Ends the owner's traffic even when a test fails half-way.
  let stop = false;
  let dataDir: string;

  before(async () => {
    dataDir = await embeddedDataDir('gh-socket-');
    owner = await openEmbedded(dataDir, 'owner') as EmbeddedDatabase;
    await owner.share();
    guest = await openEmbedded(dataDir, 'guest');
    await owner.exec('CREATE TABLE socket_rows (id int PRIMARY KEY, a text, b text, c text, d text, e text, f text, g text)');
  });

  after(async () => {
    stop = true;
    await guest?.close();
    await owner?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the guest\'s statements whole while the owner keeps querying (large ones arrive in several socket reads)', async () => {
    let ownerQueries = 0;
    // The owner's own traffic, as dense as it gets: one-parameter statements
    // (as its key poll makes) from four loops at once.
    const ownerLoop = async () => {
      while (!stop) {
        const n = ownerQueries++;
        const { rows } = await owner.query<{ n: number }>('SELECT $1::int AS n', [n]);
        expect(rows[0]!.n).to.equal(n);
        // Timers and socket reads must still get their turn.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const ownerTraffic = Promise.all([ownerLoop(), ownerLoop(), ownerLoop(), ownerLoop()]);
    try {
      const big = 'x'.repeat(100_000);
      for (let id = 0; id < 60; id += 1) {
        // Eight parameters, 100 kB each in half of them: several socket reads per statement.
        const values = [id, `a${id}`, id % 2 ? big : 'b', 'c', id % 2 ? big : 'd', 'e', 'f', 'g'];
        await guest.query('INSERT INTO socket_rows VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', values);
        const { rows } = await guest.query<{ a: string; length: number }>('SELECT a, length(c || e) AS length FROM socket_rows WHERE id = $1', [id]);
        expect(rows).to.deep.equal([{ a: `a${id}`, length: 2 }]);
      }
    } finally {
      stop = true;
      await ownerTraffic;
      stop = false;
    }
    expect(ownerQueries, 'the owner queried meanwhile').to.be.greaterThan(10);
    expect((await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM socket_rows')).rows[0]!.n).to.equal(60);
  });

  it('keeps the owner\'s statements out of a transaction the guest has open, and the guest\'s rollback away from the owner\'s writes', async () => {
    const writes: Array<Promise<unknown>> = [];
    await guest.transaction(async (tx) => {
      await tx.query('INSERT INTO socket_rows (id, a) VALUES ($1, $2)', [1000, 'guest']);
      // The owner writes while the guest's transaction is open: it waits for the session.
      writes.push(owner.query('INSERT INTO socket_rows (id, a) VALUES ($1, $2)', [1001, 'owner']));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await tx.query('SELECT 1');
    });
    await Promise.all(writes);
    const rolledBack = guest.transaction(async (tx) => {
      await tx.query('INSERT INTO socket_rows (id, a) VALUES ($1, $2)', [1002, 'guest, rolled back']);
      writes.push(owner.query('INSERT INTO socket_rows (id, a) VALUES ($1, $2)', [1003, 'owner, meanwhile']));
      await new Promise((resolve) => setTimeout(resolve, 100));
      throw new Error('the guest changes its mind');
    });
    expect(await rolledBack.then(() => 'committed', (error: Error) => error.message)).to.equal('the guest changes its mind');
    await Promise.all(writes);
    const { rows } = await owner.query<{ id: number; a: string }>('SELECT id, a FROM socket_rows WHERE id >= 1000 ORDER BY id');
    expect(rows).to.deep.equal([{ id: 1000, a: 'guest' }, { id: 1001, a: 'owner' }, { id: 1003, a: 'owner, meanwhile' }]);
  });
});
