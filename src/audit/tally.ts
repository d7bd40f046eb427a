import { createHash } from 'node:crypto';
import { type AuditEvent, type AuditStore, type AuditTally, OVERFLOW_TALLY } from '../../adapters/contract.js';

/** How events that unauthenticated callers can cause are tallied instead of stored one by one. */
export interface TallyPolicy {
  /** Length of a tally's window, in seconds. */
  windowSeconds: number;
  /** Distinct sources (tally rows) per event name and window; further ones share one overflow row. */
  maxPerWindow: number;
}

// Distinct keys waiting in this process at once; further ones wait as one
// overflow tally, so a flood from many addresses cannot grow memory either.
const MAX_PENDING = 1000;

interface Pending {
  tally: AuditTally;
  settled: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * What makes two events the same for a tally: who and where (address, actor,
 * client, surface and reason), never what varies with each request (path,
 * status), which the row keeps from the first event of its window.
 */
export function tallyKey(event: AuditEvent): string {
  const { surface, reason } = event.detail ?? {};
  const identity = JSON.stringify([event.ip ?? null, event.actor ?? null, event.clientId ?? null, surface ?? null, reason ?? null]);
  return createHash('sha256').update(identity).digest('base64url').slice(0, 22);
}

/**
 * Tallies events into the store one write at a time per process. Events of
 * one key that arrive while a write is under way wait together and are added
 * in the next one, so a flood costs a write per key per round trip, not one
 * per request; each caller is answered once its own event is counted.
 */
export class EventTally {
  private readonly pending = new Map<string, Pending>();
  private draining = false;

  constructor(private readonly store: AuditStore, private readonly policy: TallyPolicy) {}

  add(event: AuditEvent): Promise<void> {
    let key = tallyKey(event);
    let pendingKey = `${event.event} ${key}`;
    if (!this.pending.has(pendingKey) && this.pending.size >= MAX_PENDING) {
      key = OVERFLOW_TALLY;
      pendingKey = `${event.event} ${key}`;
      event = { event: event.event, detail: { overflow: true } };
    }
    let entry = this.pending.get(pendingKey);
    if (entry) {
      entry.tally.count += 1;
    } else {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const settled = new Promise<void>((done, fail) => { resolve = done; reject = fail; });
      entry = { tally: { event, key, count: 1, ...this.policy }, settled, resolve, reject };
      this.pending.set(pendingKey, entry);
    }
    void this.drain();
    return entry.settled;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (const [pendingKey, entry] of this.pending) {
        // Taken out before the write: events arriving meanwhile start the next batch.
        this.pending.delete(pendingKey);
        try {
          await this.store.tally(entry.tally);
          entry.resolve();
        } catch (error) {
          entry.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
