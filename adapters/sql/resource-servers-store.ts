import type { ResourceServerRecord, ResourceServersStore, SourceFingerprintStore } from '../contract.js';
import type { SqlExecutor } from './database.js';
import { SqlSourceFingerprintStore } from './source-fingerprints-store.js';

interface Row {
  uri: string;
  scope: string;
  token_format: 'opaque' | 'jwt';
  access_token_ttl: number | null;
  signing_alg: ResourceServerRecord['signingAlg'];
}

const toRecord = (row: Row): ResourceServerRecord => ({
  uri: row.uri, scope: row.scope, tokenFormat: row.token_format, accessTokenTtl: row.access_token_ttl, signingAlg: row.signing_alg,
});

const COLUMNS = 'uri, scope, token_format, access_token_ttl, signing_alg';

/** Registered resource servers (RFC 8707 audiences). */
export class SqlResourceServersStore implements ResourceServersStore {
  constructor(
    private readonly db: SqlExecutor,
    readonly sourceFingerprints: SourceFingerprintStore = new SqlSourceFingerprintStore(db, 'resource_server'),
  ) {}

  async list(): Promise<ResourceServerRecord[]> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM resource_servers ORDER BY created_at, uri`);
    return rows.map(toRecord);
  }

  async find(uri: string): Promise<ResourceServerRecord | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM resource_servers WHERE uri = $1`, [uri]);
    return rows[0] && toRecord(rows[0]);
  }

  async save(record: ResourceServerRecord, options: { ifStill?: ResourceServerRecord } = {}): Promise<boolean> {
    const { ifStill } = options;
    if (ifStill) {
      const { rowCount } = await this.db.query(
        `UPDATE resource_servers SET scope = $2, token_format = $3, access_token_ttl = $4, signing_alg = $5
          WHERE uri = $1 AND scope = $6 AND token_format = $7 AND access_token_ttl IS NOT DISTINCT FROM $8 AND signing_alg = $9`,
        [record.uri, record.scope, record.tokenFormat, record.accessTokenTtl, record.signingAlg, ifStill.scope, ifStill.tokenFormat, ifStill.accessTokenTtl, ifStill.signingAlg],
      );
      return rowCount === 1;
    }
    await this.db.query(
      `INSERT INTO resource_servers (${COLUMNS}) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (uri) DO UPDATE SET scope = excluded.scope, token_format = excluded.token_format,
         access_token_ttl = excluded.access_token_ttl, signing_alg = excluded.signing_alg`,
      [record.uri, record.scope, record.tokenFormat, record.accessTokenTtl, record.signingAlg],
    );
    return true;
  }

  /** True when a row was deleted. */
  async remove(uri: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM resource_servers WHERE uri = $1', [uri]);
    return rowCount > 0;
  }
}
