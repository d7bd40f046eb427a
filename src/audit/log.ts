import type { AuditEvent, AuditFilter, AuditRecord, AuditStore } from '../../adapters/contract.js';
import { clampedPaging } from '../paging/parameters.js';
import { boundEvent } from './bounds.js';
import { EventTally, type TallyPolicy } from './tally.js';

export type { AuditEvent, AuditFilter, AuditRecord };

/**
 * The years, in UTC, an audit filter's `since` and `until` may fall in. The
 * stores send them as ISO 8601, and PostgreSQL reads neither year 0 (nor any
 * before it) nor a year of more than four digits (+010000).
 */
const AUDIT_FILTER_YEARS = { first: 1, last: 9999 } as const;

/** Whether an audit filter may name `at`: a valid Date within AUDIT_FILTER_YEARS. */
export function isAuditFilterInstant(at: Date): boolean {
  // NaN for an invalid Date, which fails both comparisons.
  const year = at.getUTCFullYear();
  return year >= AUDIT_FILTER_YEARS.first && year <= AUDIT_FILTER_YEARS.last;
}

/** Who did something: an account, a client, the CLI or the system itself. */
export interface Actor {
  actor?: string | null;
  ip?: string | null;
}

/**
 * The actor of a failed sign-in or password grant: the username as it was
 * typed, cut to 64 characters, under a prefix of its own. It names no
 * account (it may name none at all), and `user:` holds account ids only: a
 * failed attempt whose username is typed as another account's id must not
 * read as that account's.
 */
export function typedUsernameActor(username: string): string {
  return `username:${username.slice(0, 64)}`;
}

/**
 * The events anyone can cause without credentials (a refused admin call, a
 * failed sign-in or password grant, a lockout they provoke). Stored one by
 * one, a flood of them would grow the trail without limit, so each is
 * tallied: one row per source (address, actor, client, surface, reason) and
 * window, with a count, the first event's details and time, and the latest
 * time. An event that only an authenticated actor can cause is stored on its own.
 */
export const TALLIED_EVENTS: ReadonlySet<string> = new Set(['admin.denied', 'login.failed', 'password_grant.failed', 'rate_limit.engaged']);

/**
 * The tally's window and its bound: with four tallied event names, callers
 * without credentials add at most 4 × (50 + 1) rows an hour, however many
 * requests or addresses they use.
 */
export const DEFAULT_TALLY_POLICY: TallyPolicy = { windowSeconds: 3600, maxPerWindow: 50 };

/**
 * The security audit trail. Every event is bounded (src/audit/bounds.ts)
 * before it is stored, whoever wrote it, and those in TALLIED_EVENTS are
 * tallied. `record` never throws: losing the ability to audit is logged
 * loudly, but it must not turn a successful revocation or login into an
 * error for the user.
 */
export class AuditLog {
  private readonly tally: EventTally;

  constructor(
    private readonly store: AuditStore,
    private readonly onError: (error: unknown, event: AuditEvent) => void,
    tallyPolicy: TallyPolicy = DEFAULT_TALLY_POLICY,
  ) {
    this.tally = new EventTally(store, tallyPolicy);
  }

  async record(event: AuditEvent): Promise<void> {
    try {
      const bounded = boundEvent(event);
      await (TALLIED_EVENTS.has(bounded.event) ? this.tally.add(bounded) : this.store.append(bounded));
    } catch (error) {
      this.onError(error, event);
    }
  }

  /** Many events an authenticated actor caused at once (an import's page), stored in one write. */
  async recordMany(events: AuditEvent[]): Promise<void> {
    const tallied = events.filter((event) => TALLIED_EVENTS.has(event.event));
    for (const event of tallied) await this.record(event);
    const stored = events.filter((event) => !TALLIED_EVENTS.has(event.event));
    try {
      await this.store.appendMany(stored.map(boundEvent));
    } catch (error) {
      // One loud report for the batch, naming its size, rather than one per row.
      if (stored.length) this.onError(error, { ...stored[0]!, detail: { ...stored[0]!.detail, batch_of: stored.length } });
    }
  }

  list(filter: { since?: Date; clientId?: string; page?: number; perPage?: number }) {
    const perPage = Math.min(Math.max(filter.perPage ?? 50, 1), 500);
    const page = Math.max(filter.page ?? 1, 1);
    return this.store.list({ since: filter.since, clientId: filter.clientId, limit: perPage, offset: (page - 1) * perPage });
  }

  /** Searches the trail (see AuditStore.search), paged by the one paging rule. */
  search(filter: AuditFilter & { page?: number; perPage?: number }) {
    const { page, perPage } = clampedPaging(filter, { defaultPerPage: 50, maxPerPage: 500 });
    return this.store.search({ ...filter, limit: perPage, offset: (page - 1) * perPage });
  }

  /** Every event a search finds, newest first, a page at a time (an export). */
  async *searchAll(filter: AuditFilter): AsyncGenerator<AuditRecord> {
    for (let offset = 0; ; offset += 500) {
      const { items } = await this.store.search({ ...filter, limit: 500, offset });
      yield* items;
      if (items.length < 500) return;
    }
  }

  find(id: string): Promise<AuditRecord | undefined> {
    return this.store.find(id);
  }

  /** Deletes the events older than `days` days (retention); returns how many. */
  prune(days: number): Promise<number> {
    return this.store.prune(new Date(Date.now() - days * 86_400_000));
  }
}
