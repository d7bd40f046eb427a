import { createHash } from 'node:crypto';
import type { SourceFingerprint, SourceFingerprintStore } from '../contract.js';
import type { SecretsAtRest } from '../secrets-at-rest.js';
import type { SqlExecutor } from './database.js';

/** The kinds of imported record, each a namespace of keys in the one table. */
export type ImportedKind = 'client' | 'account' | 'scope' | 'resource_server';

/**
 * Source fingerprints in SQL (the rules: SourceFingerprintStore in
 * contract.ts), one row per kind, source and key. Digests are HMACs under the
 * client-secret pepper of SECRETS_KEY, over a text that names this purpose,
 * the kind and the field, so no digest can stand for a client secret's
 * stored hash, nor for the same value in another field.
 */
export class SqlSourceFingerprintStore implements SourceFingerprintStore {
  /**
   * `secrets` is always given by openStorage; without it (a test's bare
   * store) digests are plain SHA-256.
   */
  constructor(private readonly db: SqlExecutor, private readonly kind: ImportedKind, private readonly secrets?: SecretsAtRest) {}

  digest(fields: Record<string, string>): SourceFingerprint {
    return Object.fromEntries(Object.entries(fields).map(([field, value]) => [field, this.digestOf(`gatehouse import fingerprint v1\n${this.kind}\n${field}\n${value}`)]));
  }

  private digestOf(text: string): string {
    // The stored form is `hmac-sha256.<key id>.<mac>`: the mac alone is kept.
    return this.secrets ? this.secrets.hashClientSecret(text).split('.').pop()! : createHash('sha256').update(text).digest('base64url');
  }

  async find(source: string, keys: string[]): Promise<Map<string, SourceFingerprint>> {
    if (!keys.length) return new Map();
    // The source's own row first; a row of no source (recorded before sources were told apart) otherwise.
    const { rows } = await this.db.query<{ key: string; fields: SourceFingerprint }>(
      `SELECT DISTINCT ON (key) key, fields FROM import_fingerprints
       WHERE kind = $1 AND source IN ($2, '') AND key = ANY($3::text[]) ORDER BY key, source = $2 DESC`,
      [this.kind, source, keys],
    );
    return new Map(rows.map((row) => [row.key, row.fields]));
  }

  async record(source: string, entries: Array<{ key: string; fingerprint: SourceFingerprint }>): Promise<void> {
    if (!entries.length) return;
    await this.db.query(
      `WITH entry AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS entry(key text, fields jsonb)),
       unsourced AS (DELETE FROM import_fingerprints WHERE kind = $1 AND source = '' AND $2 <> '' AND key IN (SELECT key FROM entry))
       INSERT INTO import_fingerprints (kind, source, key, fields)
       SELECT $1, $2, entry.key, entry.fields FROM entry
       ON CONFLICT (kind, source, key) DO UPDATE SET fields = excluded.fields, recorded_at = now()`,
      [this.kind, source, JSON.stringify(entries.map((entry) => ({ key: entry.key, fields: entry.fingerprint })))],
    );
  }
}
