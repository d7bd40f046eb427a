import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * How far one sweep of one table goes. It deletes `batchSize` rows per
 * statement (each its own short transaction: no long lock, and on the
 * embedded database, which runs one query at a time in this thread, no long
 * wait for the queries queued behind it), yields to the event loop between
 * batches, and stops when a batch deletes fewer than `batchSize` (nothing
 * expired is left), or after `maxBatches` batches or `budgetMs` milliseconds,
 * whichever comes first: the rest goes at the next sweep.
 */
export interface SweepBound {
  batchSize: number;
  maxBatches: number;
  budgetMs: number;
}

/**
 * 1000 rows a statement, at most 100 statements or 5 s per table per sweep:
 * up to 100,000 rows a table per SWEEP_INTERVAL (1,666 a second at the
 * default 60 s), where a single batch kept up with 17 a second only.
 */
export const SWEEP_BOUND: Readonly<SweepBound> = { batchSize: 1000, maxBatches: 100, budgetMs: 5000 };

/**
 * Runs `deleteBatch` (which deletes at most `limit` rows and answers how many
 * it deleted) batch after batch within `bound` (defaults: SWEEP_BOUND);
 * answers how many rows went in all. A failing batch rejects, with what the
 * earlier batches deleted already gone.
 */
export async function deleteInBatches(deleteBatch: (limit: number) => Promise<number>, bound: Partial<SweepBound> = {}): Promise<number> {
  const batchSize = bound.batchSize ?? SWEEP_BOUND.batchSize;
  const maxBatches = bound.maxBatches ?? SWEEP_BOUND.maxBatches;
  const budgetMs = bound.budgetMs ?? SWEEP_BOUND.budgetMs;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new RangeError(`batchSize must be a positive integer, not ${batchSize}`);
  const started = performance.now();
  let deleted = 0;
  for (let batches = 1; ; batches++) {
    const count = await deleteBatch(batchSize);
    deleted += count;
    if (count < batchSize || batches >= maxBatches || performance.now() - started >= budgetMs) return deleted;
    // Let the requests that came in meanwhile queue their queries before the next batch.
    await nextTurn();
  }
}
