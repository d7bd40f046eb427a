import { type AuditEvent, type AuditFilter, type AuditRecord, type AuditStore, type AuditTally, OVERFLOW_TALLY } from '../contract.js';
import { deleteInBatches, type SweepBound } from './batched-sweep.js';
import type { SqlDatabase, SqlExecutor } from './database.js';

interface AuditRow {
  id: string | number;
  at: Date | string;
  event: string;
  actor: string | null;
  client_id: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

function toAuditRecord(row: AuditRow): AuditRecord {
  return { id: String(row.id), at: new Date(row.at), event: row.event, actor: row.actor, clientId: row.client_id, ip: row.ip, detail: row.detail };
}

// Any constant works; it only has to be the same in every Gatehouse process
// (and differ from the migration lock's).
const TALLY_LOCK = 4_715_002;
const WINDOW_START = 'to_timestamp(floor(extract(epoch FROM now()) / $2::int) * $2::int)';

/**
 * The audit trail. Rows are inserted and read; a tally row's count grows
 * while its window lasts; rows are deleted only by retention (`prune`).
 */
export class SqlAuditStore implements AuditStore {
  constructor(private readonly db: SqlDatabase) {}

  async append(event: AuditEvent): Promise<void> {
    await this.db.query(
      'INSERT INTO audit_events (event, actor, client_id, ip, detail) VALUES ($1, $2, $3, $4, $5::jsonb)',
      [event.event, event.actor ?? null, event.clientId ?? null, event.ip ?? null, JSON.stringify(event.detail ?? {})],
    );
  }

  /** Many events in one statement (an import's rows). */
  async appendMany(events: AuditEvent[]): Promise<void> {
    if (!events.length) return;
    const rows = events.map((event) => ({
      event: event.event, actor: event.actor ?? null, client_id: event.clientId ?? null, ip: event.ip ?? null, detail: event.detail ?? {},
    }));
    await this.db.query(
      `INSERT INTO audit_events (event, actor, client_id, ip, detail)
       SELECT event, actor, client_id, ip, detail
       FROM jsonb_to_recordset($1::jsonb) AS r(event text, actor text, client_id text, ip text, detail jsonb)`,
      [JSON.stringify(rows)],
    );
  }

  /**
   * Adds `count` events to the tally row of `key` in the current window,
   * creating it if needed, so that however many such events come, a window
   * holds at most `maxPerWindow` + 1 rows per event name. A tally row's `at`
   * is its latest event (so the newest-first trail shows an ongoing flood at
   * the top, and retention keeps it while it lasts); `detail.first_at` is its
   * first. A transaction-scoped advisory lock per event name serialises
   * tallies across processes, so two processes never open two rows for one
   * key. The window follows the database's clock, the same for every process.
   */
  async tally(tally: AuditTally): Promise<void> {
    const { event, count, windowSeconds } = tally;
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [TALLY_LOCK, event.event]);
      if (await this.addToTally(tx, event.event, tally.key, count, windowSeconds)) return;
      const open = await tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_events WHERE at >= ${WINDOW_START} AND event = $1 AND detail ? 'tally'`,
        [event.event, windowSeconds],
      );
      const full = Number(open.rows[0]?.n ?? 0) >= tally.maxPerWindow;
      // Past the bound, every further source shares one row that only counts.
      if (full && await this.addToTally(tx, event.event, OVERFLOW_TALLY, count, windowSeconds)) return;
      const row = full ? { event: event.event, detail: { overflow: true } } : event;
      await tx.query(
        `INSERT INTO audit_events (event, actor, client_id, ip, detail)
         VALUES ($1, $2, $3, $4, $5::jsonb || jsonb_build_object('tally', $6::text, 'count', $7::int, 'first_at', now()))`,
        [row.event, row.actor ?? null, row.clientId ?? null, row.ip ?? null, JSON.stringify(row.detail ?? {}), full ? OVERFLOW_TALLY : tally.key, count],
      );
    });
  }

  private async addToTally(tx: SqlExecutor, event: string, key: string, count: number, windowSeconds: number): Promise<boolean> {
    const updated = await tx.query(
      `UPDATE audit_events SET at = now(), detail = detail || jsonb_build_object('count', (detail->>'count')::bigint + $4)
       WHERE at >= ${WINDOW_START} AND event = $1 AND detail->>'tally' = $3`,
      [event, windowSeconds, key, count],
    );
    return updated.rowCount > 0;
  }

  /**
   * Deletes the events recorded before `before` (retention), a batch at a
   * time so that no statement holds the table long, yielding between
   * batches; returns how many. All of them unless `limits` bounds the run
   * (the sweeper passes its SWEEP_BOUND, batched-sweep.ts: a backlog goes
   * over several sweeps).
   */
  prune(before: Date, batch = 1000, limits: Partial<Pick<SweepBound, 'maxBatches' | 'budgetMs'>> = {}): Promise<number> {
    return deleteInBatches(async (limit) => (await this.db.query(
      'DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1::timestamptz ORDER BY at LIMIT $2)',
      [before.toISOString(), limit],
    )).rowCount, { batchSize: batch, maxBatches: limits.maxBatches ?? Infinity, budgetMs: limits.budgetMs ?? Infinity });
  }

  /**
   * Newest first, by any of actor, client, event (each exact, each indexed)
   * and a time range (`since` inclusive, `until` exclusive).
   */
  async search(filter: AuditFilter & { limit: number; offset: number }): Promise<{ total: number; items: AuditRecord[] }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (n: number) => string, value: unknown) => { params.push(value); where.push(sql(params.length)); };
    if (filter.actor) add((n) => `actor = $${n}`, filter.actor);
    if (filter.clientId) add((n) => `client_id = $${n}`, filter.clientId);
    if (filter.event) add((n) => `event = $${n}`, filter.event);
    if (filter.since) add((n) => `at >= $${n}::timestamptz`, filter.since.toISOString());
    if (filter.until) add((n) => `at < $${n}::timestamptz`, filter.until.toISOString());
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = await this.db.query<{ total: number }>(`SELECT count(*)::int AS total FROM audit_events ${clause}`, params);
    const { rows } = await this.db.query<AuditRow>(
      `SELECT * FROM audit_events ${clause} ORDER BY at DESC, id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    );
    return { total: Number(count.rows[0]?.total ?? 0), items: rows.map(toAuditRecord) };
  }

  /** One event by its id. */
  async find(id: string): Promise<AuditRecord | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const { rows } = await this.db.query<AuditRow>('SELECT * FROM audit_events WHERE id = $1', [id]);
    return rows[0] ? toAuditRecord(rows[0]) : undefined;
  }

  /** Newest first. */
  async list(filter: { since?: Date; clientId?: string; limit: number; offset: number }): Promise<{ total: number; items: AuditRecord[] }> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.since) { params.push(filter.since.toISOString()); where.push(`at >= $${params.length}::timestamptz`); }
    if (filter.clientId) { params.push(filter.clientId); where.push(`client_id = $${params.length}`); }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const count = await this.db.query<{ total: number }>(`SELECT count(*)::int AS total FROM audit_events ${clause}`, params);
    const { rows } = await this.db.query<AuditRow>(
      `SELECT * FROM audit_events ${clause} ORDER BY at DESC, id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    );
    return {
      total: Number(count.rows[0]?.total ?? 0),
      items: rows.map(toAuditRecord),
    };
  }
}
