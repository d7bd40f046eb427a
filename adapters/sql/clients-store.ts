import type { SqlExecutor } from './database.js';

export type ClientMetadata = Record<string, unknown> & { client_id: string };

export interface ClientRecord {
  clientId: string;
  metadata: ClientMetadata;
  createdAt: Date;
  updatedAt: Date;
}

interface ClientRow {
  client_id: string;
  metadata: ClientMetadata;
  created_at: Date | string;
  updated_at: Date | string;
}

function toRecord(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    metadata: row.metadata,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Thrown by `insert` when the client_id is already registered. */
export class DuplicateClientIdError extends Error {
  override name = 'DuplicateClientIdError';
}

/** Registered clients, keyed by client_id. */
export class ClientsStore {
  constructor(private readonly db: SqlExecutor) {}

  async find(clientId: string): Promise<ClientRecord | undefined> {
    const { rows } = await this.db.query<ClientRow>('SELECT * FROM clients WHERE client_id = $1', [clientId]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Inserts a new client; never overwrites an existing one. */
  async insert(metadata: ClientMetadata): Promise<ClientRecord> {
    const { rows } = await this.db.query<ClientRow>(
      `INSERT INTO clients (client_id, metadata) VALUES ($1, $2::jsonb)
       ON CONFLICT (client_id) DO NOTHING RETURNING *`,
      [metadata.client_id, JSON.stringify(metadata)],
    );
    if (!rows[0]) throw new DuplicateClientIdError(`client_id ${metadata.client_id} is already registered`);
    return toRecord(rows[0]);
  }

  /** Replaces a client's metadata; `undefined` when there is no such client. */
  async replace(metadata: ClientMetadata): Promise<ClientRecord | undefined> {
    const { rows } = await this.db.query<ClientRow>(
      'UPDATE clients SET metadata = $2::jsonb, updated_at = now() WHERE client_id = $1 RETURNING *',
      [metadata.client_id, JSON.stringify(metadata)],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Inserts or replaces (dynamic registration through oidc-provider). */
  async save(metadata: ClientMetadata): Promise<void> {
    await this.db.query(
      `INSERT INTO clients (client_id, metadata) VALUES ($1, $2::jsonb)
       ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, updated_at = now()`,
      [metadata.client_id, JSON.stringify(metadata)],
    );
  }

  async delete(clientId: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM clients WHERE client_id = $1', [clientId]);
    return rowCount === 1;
  }

  /** A page of clients, oldest first; `name` filters case-insensitively on client_name. */
  async list(options: { name?: string; limit: number; offset: number }): Promise<{ total: number; items: ClientRecord[] }> {
    const filter = options.name ? "WHERE lower(metadata->>'client_name') LIKE $1" : '';
    const pattern = options.name ? [`%${options.name.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`] : [];
    const count = await this.db.query<{ total: number }>(`SELECT count(*)::int AS total FROM clients ${filter}`, pattern);
    const n = pattern.length;
    const { rows } = await this.db.query<ClientRow>(
      `SELECT * FROM clients ${filter} ORDER BY created_at, client_id LIMIT $${n + 1} OFFSET $${n + 2}`,
      [...pattern, options.limit, options.offset],
    );
    return { total: Number(count.rows[0]?.total ?? 0), items: rows.map(toRecord) };
  }
}
