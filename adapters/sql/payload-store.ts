import type { AdapterPayload, PayloadStore } from '../contract.js';
import { currentScope, forgetReadAhead, rememberReadAhead, takeReadAhead } from '../request-scope.js';
import { deleteInBatches, type SweepBound } from './batched-sweep.js';
import type { SqlExecutor } from './database.js';

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | string | null;
}

const LIVE = '(expires_at IS NULL OR expires_at > now())';

// One artifact's row, as upsert, upsertMany and consumeAndUpsert store it:
// `consumed_at` is never touched by a write of the payload.
const INSERT_INTO = 'INSERT INTO oidc_payloads (model, id, payload, grant_id, client_id, uid, user_code, expires_at)';
const ROW = '$1, $2, $3::jsonb, $4, $5, $6, $7, $8::timestamptz';
const REPLACING = `ON CONFLICT (model, id) DO UPDATE SET
    payload = excluded.payload, grant_id = excluded.grant_id, client_id = excluded.client_id,
    uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`;

function upsertParams(model: string, id: string, payload: AdapterPayload, expiresIn?: number): unknown[] {
  const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000).toISOString() : null;
  return [model, id, JSON.stringify(payload), payload.grantId ?? null, payload.clientId ?? null,
    payload.uid ?? null, payload.userCode ?? null, expiresAt];
}

// Within a request scope (request-scope.ts), an artifact is read with the
// grant it was issued under and the account it belongs to, in one snapshot:
// oidc-provider asks for both next (a refresh, a code redemption, userinfo).
const FIND_WITH_GRANT_AND_ACCOUNT = `
  SELECT t.payload, t.consumed_at, g.id AS grant_id, g.payload AS grant_payload, g.consumed_at AS grant_consumed_at,
         t.payload->>'accountId' AS account_id, to_jsonb(a) AS account
    FROM oidc_payloads t
    LEFT JOIN oidc_payloads g ON g.model = 'Grant' AND g.id = t.grant_id AND (g.expires_at IS NULL OR g.expires_at > now())
    LEFT JOIN accounts a ON a.id = t.payload->>'accountId'
   WHERE t.model = $1 AND t.id = $2 AND (t.expires_at IS NULL OR t.expires_at > now())`;

interface ReadAheadRow extends PayloadRow {
  grant_id: string | null;
  grant_payload: AdapterPayload | null;
  grant_consumed_at: Date | string | null;
  account_id: string | null;
  account: Record<string, unknown> | null;
}

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
    forgetReadAhead(`${model}:${id}`);
    await this.db.query(`${INSERT_INTO} VALUES (${ROW}) ${REPLACING}`, upsertParams(model, id, payload, expiresIn));
  }

  async consumeAndUpsert(consumed: { model: string; id: string }, model: string, id: string, payload: AdapterPayload, expiresIn?: number): Promise<boolean> {
    forgetReadAhead(`${model}:${id}`);
    // A data-modifying WITH runs once whatever reads it; the INSERT reads the
    // UPDATE's RETURNING, so the new artifact exists only if the old one was
    // consumed by this statement (not by a concurrent one).
    const { rows } = await this.db.query<{ consumed: boolean }>(
      `WITH consumed AS (
         UPDATE oidc_payloads SET consumed_at = now()
          WHERE model = $9 AND id = $10 AND consumed_at IS NULL AND ${LIVE}
         RETURNING 1
       ), stored AS (
         ${INSERT_INTO} SELECT ${ROW} WHERE EXISTS (SELECT 1 FROM consumed) ${REPLACING}
         RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM consumed) AS consumed`,
      [...upsertParams(model, id, payload, expiresIn), consumed.model, consumed.id],
    );
    return rows[0]?.consumed === true;
  }

  /** One INSERT for the whole batch (unnest of parallel arrays); `consumed_at` untouched, as in upsert. */
  async upsertMany(model: string, entries: Array<{ id: string; payload: AdapterPayload; expiresIn?: number }>): Promise<void> {
    if (!entries.length) return;
    const now = Date.now();
    const column = (pick: (entry: (typeof entries)[number]) => unknown) => entries.map((entry) => (pick(entry) ?? null) as string | null);
    await this.db.query(
      `${INSERT_INTO}
       SELECT $1, e.id, e.payload::jsonb, e.grant_id, e.client_id, e.uid, e.user_code, e.expires_at::timestamptz
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
           AS e(id, payload, grant_id, client_id, uid, user_code, expires_at)
       ${REPLACING}`,
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

  async find(model: string, id: string): Promise<AdapterPayload | undefined> {
    if (!currentScope()) return this.findBy(model, 'id', id);
    const readAhead = takeReadAhead<AdapterPayload>(`${model}:${id}`);
    if (readAhead !== undefined) return readAhead ?? undefined;
    const { rows } = await this.db.query<ReadAheadRow>(FIND_WITH_GRANT_AND_ACCOUNT, [model, id]);
    const row = rows[0];
    const payload = toPayload(row);
    if (row && payload?.grantId) {
      rememberReadAhead(`Grant:${payload.grantId}`, row.grant_id ? toPayload({ payload: row.grant_payload!, consumed_at: row.grant_consumed_at }) : null);
    }
    if (row?.account_id) rememberReadAhead(`account:${row.account_id}`, row.account);
    return payload;
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
    forgetReadAhead(`${model}:${id}`);
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

  async revokeByClientId(clientId: string, options: { keep?: readonly string[] } = {}): Promise<void> {
    if (!options.keep?.length) await this.db.query('DELETE FROM oidc_payloads WHERE client_id = $1', [clientId]);
    else await this.db.query('DELETE FROM oidc_payloads WHERE client_id = $1 AND model <> ALL($2::text[])', [clientId, options.keep]);
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

  /** Deletes expired artifacts, a batch at a time, within `bound` (batched-sweep.ts); returns how many went. */
  sweep(bound?: Partial<SweepBound>): Promise<number> {
    return deleteInBatches(async (limit) => (await this.db.query(
      `DELETE FROM oidc_payloads WHERE (model, id) IN (
         SELECT model, id FROM oidc_payloads WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    )).rowCount, bound);
  }

  ping(): Promise<void> {
    return this.db.ping();
  }
}
