import type { AdapterPayload, PayloadStore } from '../contract.js';
import type { SqlExecutor } from './database.js';

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | string | null;
}

const LIVE = '(expires_at IS NULL OR expires_at > now())';

function toPayload(row: PayloadRow | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  const payload = { ...row.payload };
  if (row.consumed_at) payload.consumed = Math.floor(new Date(row.consumed_at).getTime() / 1000);
  return payload;
}

/** oidc-provider artifacts in the `oidc_payloads` table (PostgreSQL or PGlite). */
export class SqlPayloadStore implements PayloadStore {
  constructor(private readonly db: SqlExecutor & { ping(): Promise<void> }) {}

  async upsert(model: string, id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000).toISOString() : null;
    await this.db.query(
      `INSERT INTO oidc_payloads (model, id, payload, grant_id, client_id, uid, user_code, expires_at)
       VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8::timestamptz)
       ON CONFLICT (model, id) DO UPDATE SET
         payload = excluded.payload, grant_id = excluded.grant_id, client_id = excluded.client_id,
         uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`,
      [model, id, JSON.stringify(payload), payload.grantId ?? null, payload.clientId ?? null,
        payload.uid ?? null, payload.userCode ?? null, expiresAt],
    );
  }

  /** One INSERT for the whole batch (unnest of parallel arrays); `consumed_at` untouched, as in upsert. */
  async upsertMany(model: string, entries: Array<{ id: string; payload: AdapterPayload; expiresIn?: number }>): Promise<void> {
    if (!entries.length) return;
    const now = Date.now();
    const column = (pick: (entry: (typeof entries)[number]) => unknown) => entries.map((entry) => (pick(entry) ?? null) as string | null);
    await this.db.query(
      `INSERT INTO oidc_payloads (model, id, payload, grant_id, client_id, uid, user_code, expires_at)
       SELECT $1, e.id, e.payload::jsonb, e.grant_id, e.client_id, e.uid, e.user_code, e.expires_at::timestamptz
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
           AS e(id, payload, grant_id, client_id, uid, user_code, expires_at)
       ON CONFLICT (model, id) DO UPDATE SET
         payload = excluded.payload, grant_id = excluded.grant_id, client_id = excluded.client_id,
         uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`,
      [model, column((e) => e.id), column((e) => JSON.stringify(e.payload)), column((e) => e.payload.grantId),
        column((e) => e.payload.clientId), column((e) => e.payload.uid), column((e) => e.payload.userCode),
        column((e) => (e.expiresIn ? new Date(now + e.expiresIn * 1000).toISOString() : null))],
    );
  }

  async findMany(model: string, ids: string[]): Promise<Map<string, AdapterPayload>> {
    const found = new Map<string, AdapterPayload>();
    if (!ids.length) return found;
    const { rows } = await this.db.query<PayloadRow & { id: string }>(
      `SELECT id, payload, consumed_at FROM oidc_payloads WHERE model = $1 AND id = ANY($2::text[]) AND ${LIVE}`,
      [model, ids],
    );
    for (const row of rows) found.set(row.id, toPayload(row)!);
    return found;
  }

  private async findBy(model: string, column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const { rows } = await this.db.query<PayloadRow>(
      `SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND ${column} = $2 AND ${LIVE}`,
      [model, value],
    );
    return toPayload(rows[0]);
  }

  find(model: string, id: string): Promise<AdapterPayload | undefined> {
    return this.findBy(model, 'id', id);
  }

  findByUid(model: string, uid: string): Promise<AdapterPayload | undefined> {
    return this.findBy(model, 'uid', uid);
  }

  findByUserCode(model: string, userCode: string): Promise<AdapterPayload | undefined> {
    return this.findBy(model, 'user_code', userCode);
  }

  async consume(model: string, id: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE oidc_payloads SET consumed_at = now()
       WHERE model = $1 AND id = $2 AND consumed_at IS NULL AND ${LIVE}`,
      [model, id],
    );
    return rowCount === 1;
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.db.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id]);
  }

  async revokeByGrantId(model: string, grantId: string): Promise<void> {
    await this.db.query('DELETE FROM oidc_payloads WHERE grant_id = $1 AND model = $2', [grantId, model]);
  }

  /**
   * The grants an account holds (an administrator's removal of the account;
   * rare enough that reading the payloads, not an index, is the right cost).
   */
  async grantIdsOfAccount(accountId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      "SELECT id FROM oidc_payloads WHERE model = 'Grant' AND payload->>'accountId' = $1", [accountId],
    );
    return rows.map((row) => row.id);
  }

  /**
   * The live grants an account holds, newest first, through the index of
   * migration 0011 (an account's pages list them).
   */
  async grantsOfAccount(accountId: string): Promise<Array<{ id: string; payload: AdapterPayload }>> {
    const { rows } = await this.db.query<{ id: string; payload: AdapterPayload }>(
      `SELECT id, payload FROM oidc_payloads WHERE model = 'Grant' AND payload->>'accountId' = $1 AND ${LIVE}
       ORDER BY (payload->>'iat')::bigint DESC NULLS LAST, id`, [accountId],
    );
    return rows;
  }

  async revokeByClientId(clientId: string): Promise<void> {
    await this.db.query('DELETE FROM oidc_payloads WHERE client_id = $1', [clientId]);
  }

  async expiries(model: string, owner: { id: string } | { grantId: string } | { clientId: string }): Promise<Map<string, number | undefined>> {
    const [column, value] = 'id' in owner ? ['id', owner.id] : 'grantId' in owner ? ['grant_id', owner.grantId] : ['client_id', owner.clientId];
    const { rows } = await this.db.query<{ id: string; expires_at: Date | string | null }>(
      `SELECT id, expires_at FROM oidc_payloads WHERE model = $1 AND ${column} = $2 AND ${LIVE}`,
      [model, value],
    );
    return new Map(rows.map((row) => [row.id, row.expires_at === null ? undefined : Math.ceil(new Date(row.expires_at).getTime() / 1000)]));
  }

  async countByClient(model: string, clientId: string): Promise<number> {
    const { rows } = await this.db.query<{ count: number | string }>(
      `SELECT count(*)::int AS count FROM oidc_payloads
       WHERE model = $1 AND client_id = $2 AND consumed_at IS NULL AND ${LIVE}`,
      [model, clientId],
    );
    return Number(rows[0]?.count ?? 0);
  }

  /** Deletes up to `limit` expired artifacts; returns how many went. */
  async sweep(limit = 1000): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM oidc_payloads WHERE (model, id) IN (
         SELECT model, id FROM oidc_payloads WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    );
    return rowCount;
  }

  ping(): Promise<void> {
    return this.db.ping();
  }
}
