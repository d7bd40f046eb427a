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

// oidc-provider looks the client up on every request. Caching the row for at
// most this long removes that database round trip from the hot path; a change
// made in this process is seen at once, one made in another within this time.
const CACHE_MS = 1000;
const CACHE_MAX = 10_000;

/** Registered clients, keyed by client_id. */
export class ClientsStore {
  private readonly cache = new Map<string, { at: number; metadata: Promise<ClientMetadata | undefined> }>();

  constructor(private readonly db: SqlExecutor) {}

  /** Runs a write and drops the cached row both before and after it, so no stale read outlives the write. */
  private async invalidating<T>(clientId: string, write: () => Promise<T>): Promise<T> {
    this.cache.delete(clientId);
    try {
      return await write();
    } finally {
      this.cache.delete(clientId);
    }
  }

  /** The client's metadata, at most a second old (for the protocol's hot path). */
  findCached(clientId: string): Promise<ClientMetadata | undefined> {
    const now = Date.now();
    const hit = this.cache.get(clientId);
    if (hit && now - hit.at < CACHE_MS) return hit.metadata;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    const metadata = this.find(clientId).then((record) => record?.metadata);
    this.cache.set(clientId, { at: now, metadata });
    metadata.catch(() => this.cache.delete(clientId));
    return metadata;
  }

  async find(clientId: string): Promise<ClientRecord | undefined> {
    const { rows } = await this.db.query<ClientRow>('SELECT * FROM clients WHERE client_id = $1', [clientId]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Inserts a new client; never overwrites an existing one. */
  async insert(metadata: ClientMetadata): Promise<ClientRecord> {
    return this.invalidating(metadata.client_id, async () => {
      const { rows } = await this.db.query<ClientRow>(
        `INSERT INTO clients (client_id, metadata) VALUES ($1, $2::jsonb)
         ON CONFLICT (client_id) DO NOTHING RETURNING *`,
        [metadata.client_id, JSON.stringify(metadata)],
      );
      if (!rows[0]) throw new DuplicateClientIdError(`client_id ${metadata.client_id} is already registered`);
      return toRecord(rows[0]);
    });
  }

  /** Replaces a client's metadata; `undefined` when there is no such client. */
  async replace(metadata: ClientMetadata): Promise<ClientRecord | undefined> {
    return this.invalidating(metadata.client_id, async () => {
      const { rows } = await this.db.query<ClientRow>(
        'UPDATE clients SET metadata = $2::jsonb, updated_at = now() WHERE client_id = $1 RETURNING *',
        [metadata.client_id, JSON.stringify(metadata)],
      );
      return rows[0] ? toRecord(rows[0]) : undefined;
    });
  }

  /** Inserts or replaces (dynamic registration through oidc-provider). */
  async save(metadata: ClientMetadata): Promise<void> {
    return this.invalidating(metadata.client_id, async () => {
      await this.db.query(
        `INSERT INTO clients (client_id, metadata) VALUES ($1, $2::jsonb)
         ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, updated_at = now()`,
        [metadata.client_id, JSON.stringify(metadata)],
      );
    });
  }

  async delete(clientId: string): Promise<boolean> {
    return this.invalidating(clientId, async () => {
      const { rowCount } = await this.db.query('DELETE FROM clients WHERE client_id = $1', [clientId]);
      return rowCount === 1;
    });
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
