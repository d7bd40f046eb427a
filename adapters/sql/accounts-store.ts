import { AccountChangedError, type AccountChanges, type AccountExpectation, type AccountRecord, type AccountsStore, DuplicateUsernameError, type NewAccount, NoAdminLeftError, type SourceFingerprintStore } from '../contract.js';
import { takeReadAhead } from '../request-scope.js';
import { containsPattern, type SqlExecutor } from './database.js';
import { SqlSourceFingerprintStore } from './source-fingerprints-store.js';

const COLUMNS: Record<keyof AccountChanges, string> = {
  email: 'email',
  emailVerified: 'email_verified',
  name: 'name',
  roles: 'roles',
  active: 'active',
  passwordHash: 'password_hash',
  importedPasswordHash: 'imported_password_hash',
};

interface AccountRow {
  id: string;
  username: string;
  username_key: string;
  password_hash: string;
  roles: string[];
  email: string | null;
  email_verified: boolean;
  name: string | null;
  active: boolean;
  imported_password_hash: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

function toRecord(row: AccountRow): AccountRecord {
  return {
    id: row.id,
    username: row.username,
    usernameKey: row.username_key,
    passwordHash: row.password_hash,
    roles: row.roles,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    active: row.active,
    importedPasswordHash: row.imported_password_hash,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/**
 * End-user accounts. Usernames are unique by `usernameKey`, which the domain
 * derives (src/accounts/usernames.ts); SQL only compares it for equality, so
 * no database collation or `lower()` takes part in the rule.
 */
export class SqlAccountsStore implements AccountsStore {
  constructor(
    private readonly db: SqlExecutor,
    readonly sourceFingerprints: SourceFingerprintStore = new SqlSourceFingerprintStore(db, 'account'),
  ) {}

  async findById(id: string): Promise<AccountRecord | undefined> {
    // Read with the token or grant that named it (payload-store.ts), in this request.
    const readAhead = takeReadAhead<AccountRow>(`account:${id}`);
    if (readAhead !== undefined) return readAhead ? toRecord(readAhead) : undefined;
    const { rows } = await this.db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async findByUsernameKey(usernameKey: string): Promise<AccountRecord | undefined> {
    const { rows } = await this.db.query<AccountRow>('SELECT * FROM accounts WHERE username_key = $1', [usernameKey]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async findForSignIn(usernameKey: string, decoyPoint: string): Promise<{ record?: AccountRecord; decoyHash?: string }> {
    // Always one row: the account's columns, or NULLs and the decoy. The
    // decoy's lookups are index seeks on the primary key.
    const { rows } = await this.db.query<AccountRow & { decoy_hash: string | null }>(
      `SELECT account.*, CASE WHEN account.id IS NULL THEN COALESCE(
           (SELECT password_hash FROM accounts WHERE id >= $2 ORDER BY id LIMIT 1),
           (SELECT password_hash FROM accounts ORDER BY id LIMIT 1)) END AS decoy_hash
         FROM (SELECT 1) AS one LEFT JOIN accounts AS account ON account.username_key = $1`,
      [usernameKey, decoyPoint],
    );
    // No row at all: a key no text column can hold (a NUL, refused unasked by guardText) names no account.
    const row = rows[0];
    if (!row) return {};
    if (row.id !== null) return { record: toRecord(row) };
    return row.decoy_hash === null ? {} : { decoyHash: row.decoy_hash };
  }

  /** The accounts of these username keys (any order; missing keys have none). */
  async findByUsernameKeys(usernameKeys: string[]): Promise<AccountRecord[]> {
    if (!usernameKeys.length) return [];
    const { rows } = await this.db.query<AccountRow>('SELECT * FROM accounts WHERE username_key = ANY($1::text[])', [usernameKeys]);
    return rows.map(toRecord);
  }

  async findByIds(ids: string[]): Promise<AccountRecord[]> {
    if (!ids.length) return [];
    const { rows } = await this.db.query<AccountRow>('SELECT * FROM accounts WHERE id = ANY($1::text[])', [ids]);
    return rows.map(toRecord);
  }

  /**
   * Inserts many accounts in one statement (imports). An account whose
   * username key is taken meanwhile is not inserted and not returned; the
   * caller compares what came back with what it sent.
   */
  async insertMany(accounts: NewAccount[]): Promise<AccountRecord[]> {
    if (!accounts.length) return [];
    const rows = accounts.map((account) => ({
      id: account.id, username: account.username, username_key: account.usernameKey, password_hash: account.passwordHash,
      roles: account.roles, email: account.email, email_verified: account.emailVerified, name: account.name,
      active: account.active ?? true, imported_password_hash: account.importedPasswordHash ?? null,
    }));
    const { rows: inserted } = await this.db.query<AccountRow>(
      `INSERT INTO accounts (id, username, username_key, password_hash, roles, email, email_verified, name, active, imported_password_hash)
       SELECT id, username, username_key, password_hash, roles, email, email_verified, name, active, imported_password_hash
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, username text, username_key text, password_hash text, roles jsonb,
         email text, email_verified boolean, name text, active boolean, imported_password_hash text)
       ON CONFLICT DO NOTHING RETURNING *`,
      [JSON.stringify(rows)],
    );
    return inserted.map(toRecord);
  }

  async insert(account: NewAccount): Promise<AccountRecord> {
    const { rows } = await this.db.query<AccountRow>(
      `INSERT INTO accounts (id, username, username_key, password_hash, roles, email, email_verified, name, active, imported_password_hash)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)
       ON CONFLICT DO NOTHING RETURNING *`,
      [account.id, account.username, account.usernameKey, account.passwordHash, JSON.stringify(account.roles),
        account.email, account.emailVerified, account.name, account.active ?? true, account.importedPasswordHash ?? null],
    );
    if (!rows[0]) throw new DuplicateUsernameError(`username ${account.username} is taken`);
    return toRecord(rows[0]);
  }

  /** Changes the given fields; `undefined` when there is no such account. */
  async update(id: string, changes: AccountChanges, options: { keepAnAdmin?: boolean; ifStill?: AccountExpectation } = {}): Promise<AccountRecord | undefined> {
    const entries = (Object.keys(changes) as Array<keyof AccountChanges>).filter((key) => changes[key] !== undefined);
    if (!entries.length) return this.findById(id);
    const values: unknown[] = [id];
    const parameter = (value: unknown) => `$${values.push(value)}`;
    const sets = entries.map((key) => `${COLUMNS[key]} = ${key === 'roles' ? `${parameter(JSON.stringify(changes.roles))}::jsonb` : parameter(changes[key])}`);
    const expected = Object.entries(options.ifStill ?? {}).filter(([, value]) => value !== undefined) as Array<[keyof AccountExpectation, unknown]>;
    // IS NOT DISTINCT FROM: an expected null (no email) matches a null column.
    const still = expected.map(([key, value]) => ` AND ${COLUMNS[key]} IS NOT DISTINCT FROM ${key === 'roles' ? `${parameter(JSON.stringify(value))}::jsonb` : parameter(value)}`).join('');
    // The active admins are locked in id order until this statement's
    // transaction ends; one waiting for them re-reads each row once it is
    // free, so it sees an admin another writer has just demoted as demoted.
    const { rows } = await this.db.query<AccountRow>(options.keepAnAdmin
      ? `WITH admins AS (SELECT id FROM accounts WHERE active AND roles ? 'admin' ORDER BY id FOR UPDATE)
         UPDATE accounts SET ${sets.join(', ')}, updated_at = now()
          WHERE id = $1${still} AND EXISTS (SELECT 1 FROM admins WHERE admins.id <> $1)
         RETURNING *`
      : `UPDATE accounts SET ${sets.join(', ')}, updated_at = now() WHERE id = $1${still} RETURNING *`, values);
    if (rows[0]) return toRecord(rows[0]);
    const now = await this.findById(id);
    if (!now) return undefined;
    if (expected.some(([key, value]) => JSON.stringify(now[key]) !== JSON.stringify(value))) throw new AccountChangedError(`account ${id} changed since it was read`);
    if (options.keepAnAdmin) throw new NoAdminLeftError(`no active administrator but ${id} would remain`);
    // Unreachable: the row exists and matched; kept so a change of the statement cannot return nothing silently.
    throw new AccountChangedError(`account ${id} was not updated`);
  }

  /**
   * Replaces the password hash only if it is still `expected`: a rehash at
   * sign-in never overwrites a password an administrator set meanwhile.
   */
  async replacePasswordHash(id: string, expected: string, passwordHash: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE accounts SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2', [id, expected, passwordHash],
    );
    return rowCount === 1;
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM accounts WHERE id = $1', [id]);
    return rowCount === 1;
  }

  /** A page of accounts by username; `search` matches username, email or name, case-insensitively. */
  async list(options: { search?: string; limit: number; offset: number }): Promise<{ total: number; items: AccountRecord[] }> {
    const filter = options.search ? "WHERE lower(username) LIKE $1 OR lower(coalesce(email, '')) LIKE $1 OR lower(coalesce(name, '')) LIKE $1" : '';
    const pattern = options.search ? [containsPattern(options.search)] : [];
    const count = await this.db.query<{ total: number }>(`SELECT count(*)::int AS total FROM accounts ${filter}`, pattern);
    const n = pattern.length;
    const { rows } = await this.db.query<AccountRow>(
      `SELECT * FROM accounts ${filter} ORDER BY username, id LIMIT $${n + 1} OFFSET $${n + 2}`,
      [...pattern, options.limit, options.offset],
    );
    return { total: Number(count.rows[0]?.total ?? 0), items: rows.map(toRecord) };
  }
}
