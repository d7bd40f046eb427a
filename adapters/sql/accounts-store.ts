import type { SqlExecutor } from './database.js';

export interface AccountRecord {
  id: string;
  /** As it was typed at creation; shown in claims. */
  username: string;
  /** What identifies the account at sign-in (unique); the caller derives it. */
  usernameKey: string;
  passwordHash: string;
  roles: string[];
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface AccountRow {
  id: string;
  username: string;
  username_key: string;
  password_hash: string;
  roles: string[];
  email: string | null;
  email_verified: boolean;
  name: string | null;
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
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export class DuplicateUsernameError extends Error {
  override name = 'DuplicateUsernameError';
}

/**
 * End-user accounts. Usernames are unique by `usernameKey`, which the domain
 * derives (src/accounts/usernames.ts); SQL only compares it for equality, so
 * no database collation or `lower()` takes part in the rule.
 */
export class AccountsStore {
  constructor(private readonly db: SqlExecutor) {}

  async findById(id: string): Promise<AccountRecord | undefined> {
    const { rows } = await this.db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async findByUsernameKey(usernameKey: string): Promise<AccountRecord | undefined> {
    const { rows } = await this.db.query<AccountRow>('SELECT * FROM accounts WHERE username_key = $1', [usernameKey]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async insert(account: Omit<AccountRecord, 'createdAt' | 'updatedAt'>): Promise<AccountRecord> {
    const { rows } = await this.db.query<AccountRow>(
      `INSERT INTO accounts (id, username, username_key, password_hash, roles, email, email_verified, name)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)
       ON CONFLICT DO NOTHING RETURNING *`,
      [account.id, account.username, account.usernameKey, account.passwordHash, JSON.stringify(account.roles),
        account.email, account.emailVerified, account.name],
    );
    if (!rows[0]) throw new DuplicateUsernameError(`username ${account.username} is taken`);
    return toRecord(rows[0]);
  }
}
