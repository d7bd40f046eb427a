import { CLIENT_CACHE_MS, type ClientMetadata, type ClientRecord, type ClientsStore, ClientChangedError, DuplicateClientIdError, type PreviousSecret, type SourceFingerprintStore, type StoredSecret } from '../contract.js';
import type { SecretsAtRest } from '../secrets-at-rest.js';
import { containsPattern, type SqlDatabase } from './database.js';
import { SqlSourceFingerprintStore } from './source-fingerprints-store.js';

interface ClientRow {
  client_id: string;
  metadata: ClientMetadata;
  secret_hash: string | null;
  secret_sealed: string | null;
  previous_secret_hash: string | null;
  previous_secret_until: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

interface CachedClient {
  record: ClientRecord;
  sealedSecret: string | null;
  previousSecret?: PreviousSecret;
}

function previousOf(row: ClientRow): PreviousSecret | undefined {
  return row.previous_secret_hash && row.previous_secret_until
    ? { hash: row.previous_secret_hash, until: new Date(row.previous_secret_until) }
    : undefined;
}

/** What is stored for a client's secret, from the `client_secret` a write carries. */
interface SecretColumns {
  /** Keep the stored hash and sealed copy (the write carried the hash back, as read). */
  keep: boolean;
  hash: string | null;
  sealed: string | null;
}

function toRecord(row: ClientRow): ClientRecord {
  const metadata = { ...row.metadata };
  if (row.secret_hash) metadata.client_secret = row.secret_hash;
  return {
    clientId: row.client_id,
    metadata,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** The metadata document as stored: without the secret, which has columns of its own. */
function documentOf(metadata: ClientMetadata): string {
  const { client_secret: _secret, ...rest } = metadata;
  return JSON.stringify(rest);
}

function sealContext(clientId: string): string {
  return `client:${clientId}`;
}

const SECRETS_LOCK = 4_715_003;

// oidc-provider looks the client up on every request. Caching the row for at
// most this long removes that database round trip from the hot path; a change
// made in this process is seen at once, one made in another within this time.
const CACHE_MS = CLIENT_CACHE_MS;
const CACHE_MAX = 10_000;

/** Registered clients in SQL (the rules: ClientsStore in contract.ts). Secrets are stored only as a keyed hash and a sealed copy. */
export class SqlClientsStore implements ClientsStore {
  private readonly cache = new Map<string, { at: number; client: Promise<CachedClient | undefined> }>();

  constructor(
    private readonly db: SqlDatabase,
    private readonly secrets: SecretsAtRest,
    readonly sourceFingerprints: SourceFingerprintStore = new SqlSourceFingerprintStore(db, 'client', secrets),
  ) {}

  /** Runs a write and drops the cached row both before and after it, so no stale read outlives the write. */
  private async invalidating<T>(clientId: string, write: () => Promise<T>): Promise<T> {
    this.cache.delete(clientId);
    try {
      return await write();
    } finally {
      this.cache.delete(clientId);
    }
  }

  /** Splits the secret off a metadata document: the document is stored without it. */
  private atRest(metadata: ClientMetadata): { document: string; secret: SecretColumns } {
    const secret = metadata.client_secret;
    const document = documentOf(metadata);
    if (typeof secret !== 'string' || !secret) return { document, secret: { keep: false, hash: null, sealed: null } };
    if (this.secrets.isClientSecretHash(secret)) return { document, secret: { keep: true, hash: null, sealed: null } };
    return {
      document,
      secret: { keep: false, hash: this.secrets.hashClientSecret(secret), sealed: this.secrets.seal(secret, sealContext(metadata.client_id)) },
    };
  }

  private cached(clientId: string): Promise<CachedClient | undefined> {
    const now = Date.now();
    const hit = this.cache.get(clientId);
    if (hit && now - hit.at < CACHE_MS) return hit.client;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    const client = this.findRow(clientId).then((row) => row && { record: toRecord(row), sealedSecret: row.secret_sealed, previousSecret: previousOf(row) });
    const entry = { at: now, client };
    this.cache.set(clientId, entry);
    // Concurrent lookups share the one query, but an absence is not kept: a
    // client registered by another process (the CLI, an import, another
    // node) must work on its first request, not a second later.
    const forget = () => { if (this.cache.get(clientId) === entry) this.cache.delete(clientId); };
    client.then((found) => { if (!found) forget(); }, forget);
    return client;
  }

  /** The client's metadata, at most a second old (for the protocol's hot path). */
  async findCached(clientId: string): Promise<ClientMetadata | undefined> {
    return (await this.cached(clientId))?.record.metadata;
  }

  /**
   * The client's secret in the clear, opened from its sealed copy, for the
   * admin surfaces whose documents show it again. Secrets never change, so the
   * cached row (no extra query per listed client) is exact.
   */
  async revealSecret(clientId: string): Promise<string | undefined> {
    const sealed = (await this.cached(clientId))?.sealedSecret;
    return sealed ? this.secrets.open(sealed, sealContext(clientId)) : undefined;
  }

  private async findRow(clientId: string): Promise<ClientRow | undefined> {
    const { rows } = await this.db.query<ClientRow>('SELECT * FROM clients WHERE client_id = $1', [clientId]);
    return rows[0];
  }

  async find(clientId: string): Promise<ClientRecord | undefined> {
    const row = await this.findRow(clientId);
    return row ? toRecord(row) : undefined;
  }

  /** Inserts a new client; never overwrites an existing one. */
  async insert(metadata: ClientMetadata): Promise<ClientRecord> {
    const { document, secret } = this.atRest(metadata);
    return this.invalidating(metadata.client_id, async () => {
      const { rows } = await this.db.query<ClientRow>(
        `INSERT INTO clients (client_id, metadata, secret_hash, secret_sealed) VALUES ($1, $2::jsonb, $3, $4)
         ON CONFLICT (client_id) DO NOTHING RETURNING *`,
        [metadata.client_id, document, secret.hash, secret.sealed],
      );
      if (!rows[0]) throw new DuplicateClientIdError(`client_id ${metadata.client_id} is already registered`);
      return toRecord(rows[0]);
    });
  }

  async replace(metadata: ClientMetadata, options: { ifStill?: ClientMetadata; keepSecret?: boolean } = {}): Promise<ClientRecord | undefined> {
    // Kept whatever the document carries: nothing to hash or seal.
    const { document, secret } = options.keepSecret ? { document: documentOf(metadata), secret: { keep: true, hash: null, sealed: null } } : this.atRest(metadata);
    // jsonb equality: the same document whatever the order of its keys.
    const expected = options.ifStill ? this.atRest(options.ifStill).document : null;
    return this.invalidating(metadata.client_id, async () => {
      // $6: the document carried back the stored hash as read (also an
      // imported hash of another format, which isClientSecretHash does not know).
      const { rows } = await this.db.query<ClientRow>(
        `UPDATE clients SET metadata = $2::jsonb, updated_at = now(),
           secret_hash = CASE WHEN $5::boolean OR secret_hash = $6 THEN secret_hash ELSE $3 END,
           secret_sealed = CASE WHEN $5::boolean OR secret_hash = $6 THEN secret_sealed ELSE $4 END
         WHERE client_id = $1 AND ($7::jsonb IS NULL OR metadata = $7::jsonb) RETURNING *`,
        [metadata.client_id, document, secret.hash, secret.sealed, secret.keep, metadata.client_secret ?? null, expected],
      );
      if (rows[0]) return toRecord(rows[0]);
      if (expected !== null && await this.findRow(metadata.client_id)) throw new ClientChangedError(`client ${metadata.client_id} changed since it was read`);
      return undefined;
    });
  }

  /**
   * A client brought across from another system, inserted or replaced with
   * its secret as given: in the clear (hashed and sealed as any other), or as
   * a hash only (`secretHash`: another system's, verified by that format, or
   * this deployment's own from an export). `null` for a public client.
   */
  async putImported(metadata: ClientMetadata, secret: { plain: string } | { hash: string } | null): Promise<ClientRecord> {
    const columns = secret === null ? { hash: null, sealed: null }
      : 'plain' in secret ? { hash: this.secrets.hashClientSecret(secret.plain), sealed: this.secrets.seal(secret.plain, sealContext(metadata.client_id)) }
        : { hash: secret.hash, sealed: null };
    return this.invalidating(metadata.client_id, async () => {
      const { rows } = await this.db.query<ClientRow>(
        `INSERT INTO clients (client_id, metadata, secret_hash, secret_sealed) VALUES ($1, $2::jsonb, $3, $4)
         ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, updated_at = now(),
           secret_hash = excluded.secret_hash, secret_sealed = excluded.secret_sealed
         RETURNING *`,
        [metadata.client_id, documentOf(metadata), columns.hash, columns.sealed],
      );
      return toRecord(rows[0]!);
    });
  }

  /** Whether a hash is this deployment's own (same SECRETS_KEY), so it can be stored as it is. */
  isOwnSecretHash(hash: string): boolean {
    return this.secrets.isClientSecretHash(hash) && hash.split('.')[1] === this.secrets.keyId;
  }

  /** Whether `plain` is the client's current secret. */
  async hasSecret(clientId: string, plain: string): Promise<boolean> {
    const row = await this.findRow(clientId);
    return Boolean(row?.secret_hash && this.secrets.isClientSecretHash(row.secret_hash) && this.secrets.verifyClientSecret(plain, row.secret_hash));
  }

  async replaceImportedSecretHash(clientId: string, expectedHash: string, secret: string): Promise<boolean> {
    return this.invalidating(clientId, async () => {
      // updated_at stays: the secret an administrator knows did not change, only how it is kept.
      const { rowCount } = await this.db.query(
        'UPDATE clients SET secret_hash = $3 WHERE client_id = $1 AND secret_hash = $2 AND secret_sealed IS NULL',
        [clientId, expectedHash, this.secrets.hashClientSecret(secret)],
      );
      return rowCount === 1;
    });
  }

  /** The stored secret as `export` writes it. */
  async storedSecret(clientId: string): Promise<StoredSecret> {
    const row = await this.findRow(clientId);
    return { hash: row?.secret_hash ?? null, sealed: row?.secret_sealed ?? null };
  }

  /** Opens a sealed secret made for this client (an import of an export made with the same SECRETS_KEY). */
  openSealed(clientId: string, sealed: string): string {
    return this.secrets.open(sealed, sealContext(clientId));
  }

  /**
   * Gives the client a new secret. With `graceSeconds` > 0 the one replaced
   * keeps working until then; otherwise it stops at once (and any earlier
   * previous secret with it).
   */
  async rotateSecret(clientId: string, secret: string, graceSeconds: number): Promise<ClientRecord | undefined> {
    return this.invalidating(clientId, async () => {
      const { rows } = await this.db.query<ClientRow>(
        `UPDATE clients SET updated_at = now(),
           previous_secret_hash = CASE WHEN $4::int > 0 THEN secret_hash END,
           previous_secret_until = CASE WHEN $4::int > 0 THEN now() + make_interval(secs => $4::int) END,
           secret_hash = $2, secret_sealed = $3
         WHERE client_id = $1 RETURNING *`,
        [clientId, this.secrets.hashClientSecret(secret), this.secrets.seal(secret, sealContext(clientId)), graceSeconds],
      );
      return rows[0] ? toRecord(rows[0]) : undefined;
    });
  }

  /** The replaced secret still in its grace period, if any (at most a second old, like findCached). */
  async previousSecret(clientId: string): Promise<PreviousSecret | undefined> {
    return (await this.cached(clientId))?.previousSecret;
  }

  async delete(clientId: string): Promise<boolean> {
    return this.invalidating(clientId, async () => {
      const { rowCount } = await this.db.query('DELETE FROM clients WHERE client_id = $1', [clientId]);
      return rowCount === 1;
    });
  }

  /**
   * Start-up check: every stored hash and sealed secret was made with the
   * configured key. Throws a SecretsKeyError naming SECRETS_KEY otherwise.
   */
  async checkKey(): Promise<void> {
    const { rows } = await this.db.query<{ key_id: string }>(
      `SELECT DISTINCT split_part(secret_hash, '.', 2) AS key_id FROM clients WHERE secret_hash LIKE 'hmac-sha256.%'
       UNION SELECT DISTINCT split_part(previous_secret_hash, '.', 2) FROM clients WHERE previous_secret_hash LIKE 'hmac-sha256.%'
       UNION SELECT DISTINCT split_part(secret_sealed, '.', 2) FROM clients WHERE secret_sealed IS NOT NULL`,
    );
    this.secrets.assertKeyIds(rows.map((row) => row.key_id));
  }

  /**
   * Upgrade step: clients stored before secrets were kept at rest have their
   * secret in the metadata document; hash and seal it and take it out. Safe
   * with several processes starting together (advisory lock). Returns how
   * many rows it converted.
   */
  async sealLegacyRows(): Promise<number> {
    const converted = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SECRETS_LOCK]);
      const { rows } = await tx.query<{ client_id: string; secret: unknown }>(
        "SELECT client_id, metadata->'client_secret' AS secret FROM clients WHERE metadata ? 'client_secret'",
      );
      for (const row of rows) {
        const plain = typeof row.secret === 'string' && row.secret && !this.secrets.isClientSecretHash(row.secret) ? row.secret : undefined;
        await tx.query(
          `UPDATE clients SET metadata = metadata - 'client_secret',
             secret_hash = COALESCE($2, secret_hash), secret_sealed = COALESCE($3, secret_sealed)
           WHERE client_id = $1`,
          [row.client_id, plain ? this.secrets.hashClientSecret(plain) : null, plain ? this.secrets.seal(plain, sealContext(row.client_id)) : null],
        );
      }
      return rows.map((row) => row.client_id);
    });
    for (const clientId of converted) this.cache.delete(clientId);
    return converted.length;
  }

  async list(options: { name?: string; nameIs?: string; limit: number; offset: number }): Promise<{ total: number; items: ClientRecord[] }> {
    const conditions: string[] = [];
    const pattern: string[] = [];
    if (options.name) {
      pattern.push(containsPattern(options.name));
      conditions.push(`lower(metadata->>'client_name') LIKE $${pattern.length}`);
    }
    if (options.nameIs !== undefined) {
      pattern.push(options.nameIs);
      conditions.push(`metadata->>'client_name' = $${pattern.length}`);
    }
    const filter = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const count = await this.db.query<{ total: number }>(`SELECT count(*)::int AS total FROM clients ${filter}`, pattern);
    const n = pattern.length;
    const { rows } = await this.db.query<ClientRow>(
      `SELECT * FROM clients ${filter} ORDER BY created_at, client_id LIMIT $${n + 1} OFFSET $${n + 2}`,
      [...pattern, options.limit, options.offset],
    );
    return { total: Number(count.rows[0]?.total ?? 0), items: rows.map(toRecord) };
  }

  async largestMetadataNumber(property: string, keys: readonly string[]): Promise<number> {
    // jsonb_each refuses anything but an object, hence the CASE; the WHERE
    // skips the clients without the property before it is reached.
    const { rows } = await this.db.query<{ largest: string | null }>(
      `SELECT max(entry.value::numeric)::text AS largest
         FROM clients
         CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(metadata -> $1) = 'object' THEN metadata -> $1 ELSE '{}'::jsonb END) AS entry
        WHERE metadata ? $1 AND entry.key = ANY($2::text[]) AND jsonb_typeof(entry.value) = 'number'`,
      [property, [...keys]],
    );
    return Number(rows[0]?.largest ?? 0);
  }
}
