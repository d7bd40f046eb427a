import type { SqlExecutor } from './database.js';

export interface AuditEvent {
  event: string;
  actor?: string | null;
  clientId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEvent, 'detail'>> {
  id: string;
  at: Date;
  detail: Record<string, unknown>;
}

interface AuditRow {
  id: string | number;
  at: Date | string;
  event: string;
  actor: string | null;
  client_id: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

/** The audit trail: insert and read, never update or delete. */
export class AuditStore {
  constructor(private readonly db: SqlExecutor) {}

  async append(event: AuditEvent): Promise<void> {
    await this.db.query(
      'INSERT INTO audit_events (event, actor, client_id, ip, detail) VALUES ($1, $2, $3, $4, $5::jsonb)',
      [event.event, event.actor ?? null, event.clientId ?? null, event.ip ?? null, JSON.stringify(event.detail ?? {})],
    );
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
      items: rows.map((row) => ({
        id: String(row.id), at: new Date(row.at), event: row.event, actor: row.actor, clientId: row.client_id, ip: row.ip, detail: row.detail,
      })),
    };
  }
}
