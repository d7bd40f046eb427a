import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SqlAuditStore } from '../../adapters/sql/audit-store.js';
import { SqlCounterStore } from '../../adapters/sql/counter-store.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { migrate } from '../../adapters/sql/migrate.js';
import { SqlPasswordResetLinkStore } from '../../adapters/sql/password-reset-links-store.js';
import { SqlPayloadStore } from '../../adapters/sql/payload-store.js';
import { SqlSignInSessionStore } from '../../adapters/sql/sign-in-sessions-store.js';
import { sqlDatabasesUnderTest } from '../support/sql-databases.js';
import { sleep } from '../support/waiting.js';

/**
 * The sweeper's deletion of expired rows (adapters/factory.ts startSweeper):
 * one sweep deletes batch after batch until the table holds no expired row,
 * up to a bound per sweep, so rows created faster than one batch per
 * SWEEP_INTERVAL no longer pile up for good.
 */
for (const database of sqlDatabasesUnderTest()) {
  describe(`the sweep of expired rows (${database.name})`, function () {
    this.timeout(120_000);
    let db: SqlDatabase;
    let close: () => Promise<void>;

    beforeEach(async () => {
      ({ db, close } = await database.open());
      await migrate(db);
    });
    afterEach(() => close());

    /** `count` Interaction rows, as the server stores them (the payload store's upsert), expiring in a second. */
    async function expiredInteractions(payloads: SqlPayloadStore, count: number): Promise<string> {
      const prefix = `sweep-${randomUUID()}-`;
      const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
      for (let start = 0; start < ids.length; start += 100) {
        await Promise.all(ids.slice(start, start + 100).map((id) => payloads.upsert('Interaction', id, { jti: id, kind: 'Interaction' }, 1)));
      }
      await sleep(1200);
      return prefix;
    }

    /** How many of the rows named `prefix…` are still in the table (expired ones are never answered, so only SQL sees them). */
    async function left(prefix: string): Promise<number> {
      const { rows } = await db.query<{ count: number }>(
        "SELECT count(*)::int AS count FROM oidc_payloads WHERE model = 'Interaction' AND id LIKE $1", [`${prefix}%`],
      );
      return Number(rows[0]!.count);
    }

    it('deletes every expired payload in a single sweep when there are more than one batch (2500 rows, batches of 1000)', async () => {
      const payloads = new SqlPayloadStore(db);
      const prefix = await expiredInteractions(payloads, 2500);
      expect(await left(prefix)).to.equal(2500);
      const started = performance.now();
      const deleted = await payloads.sweep();
      const ms = performance.now() - started;
      console.log(`      (${database.name}: one sweep deleted ${deleted} expired rows in ${ms.toFixed(0)} ms)`);
      expect(await left(prefix), 'expired rows left after one sweep').to.equal(0);
      expect(deleted).to.equal(2500);
    });

    it('stops a sweep at its bound (batches per sweep, or its time budget) and leaves the rest to the next sweep', async () => {
      const payloads = new SqlPayloadStore(db);
      const prefix = await expiredInteractions(payloads, 1000);
      expect(await payloads.sweep({ batchSize: 100, maxBatches: 3 }), 'three batches of 100').to.equal(300);
      expect(await left(prefix)).to.equal(700);
      // A spent time budget ends the sweep after the batch under way.
      expect(await payloads.sweep({ batchSize: 100, budgetMs: 0 }), 'one batch, then the budget is spent').to.equal(100);
      expect(await left(prefix)).to.equal(600);
      expect(await payloads.sweep({ batchSize: 100 }), 'the next sweep takes the rest').to.equal(600);
      expect(await left(prefix)).to.equal(0);
    });

    it('applies the same batches and bound to every other table the sweeper covers', async () => {
      const counters = new SqlCounterStore(db);
      const sessions = new SqlSignInSessionStore(db);
      const links = new SqlPasswordResetLinkStore(db);
      const audit = new SqlAuditStore(db);
      const past = (ms: number) => new Date(Date.now() - ms);
      for (let i = 0; i < 25; i++) {
        await counters.hit(`sweep-counter-${i}`, 1);
        await counters.addMember('sweep-members', `member-${i}`, 1);
        await sessions.record({
          sessionUid: randomUUID(), accountId: 'sweep-account', signedInAt: past(7200_000), ip: null, userAgent: null,
          lastSeenAt: past(7200_000), expiresAt: past(3600_000),
        });
        // Links are kept a day past their expiry (a late use meets "expired"): these expired two days ago.
        await links.insert({ id: randomUUID(), accountId: 'sweep-account', secretHash: 'x', createdBy: null, expiresAt: past(2 * 86_400_000) });
        await audit.append({ event: 'sweep.probe' });
      }
      await sleep(1200);
      const bound = { batchSize: 10, maxBatches: 2 };
      // Counters are two tables (counters and set members), each under the bound.
      expect(await counters.sweep(bound), 'counters: 2 × 10 from each of two tables').to.equal(40);
      expect(await sessions.sweep(bound), 'sign-in sessions').to.equal(20);
      expect(await links.sweep(bound), 'password-reset links').to.equal(20);
      const before = new Date(Date.now() + 60_000);
      const events = (await audit.list({ limit: 1, offset: 0 })).total;
      expect(await audit.prune(before, 10, { maxBatches: 2 }), 'audit retention').to.equal(20);
      expect((await audit.list({ limit: 1, offset: 0 })).total).to.equal(events - 20);

      // The rest at the next sweep: ours, and whatever expired rows earlier tests left in a shared database.
      expect(await counters.sweep({ batchSize: 10 }), 'the rest of the counters').to.be.at.least(10);
      expect(await counters.peek(Array.from({ length: 25 }, (_, i) => `sweep-counter-${i}`))).to.deep.equal(Array(25).fill(undefined));
      expect(await sessions.sweep({ batchSize: 10 })).to.be.at.least(5);
      expect(await sessions.listByAccount('sweep-account')).to.deep.equal([]);
      expect(await links.sweep({ batchSize: 10 })).to.be.at.least(5);
      expect(await audit.prune(before, 10)).to.be.at.least(events - 20);
      expect((await audit.list({ limit: 1, offset: 0, since: new Date(0) })).total, 'nothing before the cut is left').to.equal(0);
    });
  });
}
