import pg from 'pg';
import { AppError } from '../../errors/app-error.js';

/** A source that cannot be read: unreachable, or not a django-oauth-toolkit database. */
export class DotSourceError extends AppError {
  override name = 'DotSourceError';

  constructor(message: string) {
    super(422, 'invalid_source', message);
  }
}

export interface DotApplication {
  id: string;
  clientId: string;
  clientSecret: string;
  clientType: string;
  grantType: string;
  redirectUris: string;
  name: string;
  skipAuthorization: boolean;
}

export interface DotUser {
  id: string;
  username: string;
  password: string;
  email: string;
  firstName: string;
  lastName: string;
  isActive: boolean;
  isSuperuser: boolean;
}

export interface DotAccessToken {
  id: string;
  token: string;
  /** Null for a client_credentials token. */
  userId: string | null;
  clientId: string;
  grantType: string;
  scope: string;
  created: Date;
  expires: Date;
  /** The refresh token issued with it, if any. */
  refreshToken: string | null;
}

export interface DotRefreshToken {
  id: string;
  token: string;
  userId: string;
  clientId: string;
  grantType: string;
  /**
   * Its access token's scope (DOT keeps none on the refresh token); `null`
   * once that access token is gone, when DOT itself refuses the token.
   */
  scope: string | null;
  created: Date;
  revoked: Date | null;
}

// The tables and columns DOT 1.x's migrations (and Django's auth) create that
// the import reads; a database without them is not a DOT database.
const REQUIRED_COLUMNS: Record<string, string[]> = {
  auth_user: ['id', 'username', 'password', 'email', 'first_name', 'last_name', 'is_active', 'is_superuser'],
  oauth2_provider_application: ['id', 'client_id', 'client_secret', 'client_type', 'authorization_grant_type', 'redirect_uris', 'name', 'skip_authorization'],
  oauth2_provider_accesstoken: ['id', 'token', 'user_id', 'application_id', 'expires', 'scope', 'created'],
  oauth2_provider_refreshtoken: ['id', 'token', 'user_id', 'application_id', 'access_token_id', 'created', 'revoked'],
};

const PAGE = 2000;

// A row as pg returns it; each reader names the columns its query selects.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SourceRow = Record<string, any>;

const QUERIES = {
  applications: `SELECT id, client_id, client_secret, client_type, authorization_grant_type, redirect_uris, name, skip_authorization
    FROM oauth2_provider_application WHERE id > $1 ORDER BY id LIMIT $2`,
  users: `SELECT id, username, password, email, first_name, last_name, is_active, is_superuser
    FROM auth_user WHERE id > $1 ORDER BY id LIMIT $2`,
  // Tokens are read by their users (the users of one page: every user with
  // an id from $3 to $4), through the user_id indexes Django makes for
  // foreign keys. A range, not a list: with "user_id = ANY(ids)" PostgreSQL
  // walks the primary key from the start for every page (measured: 1.1 s a
  // page at 100,000 tokens, against 16 ms for the range), which made the
  // import quadratic. client_credentials tokens (no user) by a query of their own.
  accessTokens: `SELECT a.id, a.token, a.user_id, app.client_id, app.authorization_grant_type, a.scope, a.created, a.expires, r.token AS refresh_token
    FROM oauth2_provider_accesstoken a
    JOIN oauth2_provider_application app ON app.id = a.application_id
    LEFT JOIN oauth2_provider_refreshtoken r ON r.access_token_id = a.id
    WHERE a.id > $1 AND a.user_id BETWEEN $3::bigint AND $4::bigint ORDER BY a.id LIMIT $2`,
  clientTokens: `SELECT a.id, a.token, a.user_id, app.client_id, app.authorization_grant_type, a.scope, a.created, a.expires, NULL AS refresh_token
    FROM oauth2_provider_accesstoken a
    JOIN oauth2_provider_application app ON app.id = a.application_id
    WHERE a.id > $1 AND a.user_id IS NULL ORDER BY a.id LIMIT $2`,
  // DOT reads a refresh token's scope from its access token, or, once that
  // is gone, from the access token it was refreshed into
  // (oauth2_validators.get_original_scopes).
  refreshTokens: `SELECT r.id, r.token, r.user_id, app.client_id, app.authorization_grant_type, COALESCE(a.scope, s.scope) AS scope, r.created, r.revoked
    FROM oauth2_provider_refreshtoken r
    JOIN oauth2_provider_application app ON app.id = r.application_id
    LEFT JOIN oauth2_provider_accesstoken a ON a.id = r.access_token_id
    LEFT JOIN oauth2_provider_accesstoken s ON s.source_refresh_token_id = r.id
    WHERE r.id > $1 AND r.user_id BETWEEN $3::bigint AND $4::bigint ORDER BY r.id LIMIT $2`,
} as const;

export type DotTable = Exclude<keyof typeof QUERIES, 'clientTokens'>;
export const DOT_TABLES: Record<DotTable, string> = {
  applications: 'oauth2_provider_application',
  users: 'auth_user',
  accessTokens: 'oauth2_provider_accesstoken',
  refreshTokens: 'oauth2_provider_refreshtoken',
};

/**
 * A page as users() yields it: every user whose id lies between its first
 * and last (keyset pages by id hold consecutive rows), so its tokens are
 * those whose user_id lies in that range.
 */
export type UserPage = ReadonlyArray<Pick<DotUser, 'id'>>;

function idRange(users: UserPage): [string, string] {
  return [users[0]!.id, users[users.length - 1]!.id];
}

/**
 * A django-oauth-toolkit service's PostgreSQL database, read only. Rows are
 * streamed a page at a time by primary key (keyset pagination), so memory
 * stays flat whatever the table's size.
 */
export class DotSource {
  private constructor(private readonly client: pg.Client) {}

  /** Connects and checks the schema is DOT's; throws DotSourceError otherwise. */
  static async open(databaseUrl: string): Promise<DotSource> {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
    try {
      await client.connect();
    } catch (error) {
      throw new DotSourceError(`cannot reach the django-oauth-toolkit database: ${(error as Error).message}`);
    }
    const source = new DotSource(client);
    try {
      await source.checkSchema();
      // One consistent view of the source for the whole import.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return source;
  }

  private async checkSchema(): Promise<void> {
    const { rows } = await this.client.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = ANY($1)`,
      [Object.keys(REQUIRED_COLUMNS)],
    );
    const present = new Set(rows.map((row) => `${row.table_name}.${row.column_name}`));
    const missing = Object.entries(REQUIRED_COLUMNS)
      .flatMap(([table, columns]) => columns.map((column) => `${table}.${column}`))
      .filter((column) => !present.has(column));
    if (missing.length) {
      throw new DotSourceError(`not a django-oauth-toolkit database (run DOT's migrations there first): missing ${missing.join(', ')}`);
    }
  }

  /** How many rows a table has (for progress). */
  async count(table: DotTable): Promise<number> {
    const { rows } = await this.client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${DOT_TABLES[table]}`);
    return Number(rows[0]!.n);
  }

  /** Which of these client ids (applications) or usernames (users) the source has. */
  async existing(table: 'applications' | 'users', keys: string[]): Promise<Set<string>> {
    const column = table === 'applications' ? 'client_id' : 'username';
    const { rows } = await this.client.query<{ key: string }>(`SELECT ${column} AS key FROM ${DOT_TABLES[table]} WHERE ${column} = ANY($1)`, [keys]);
    return new Set(rows.map((row) => row.key));
  }

  applications(): AsyncGenerator<DotApplication[]> {
    return this.pages('applications', [], (r) => ({
      id: r.id, clientId: r.client_id, clientSecret: r.client_secret, clientType: r.client_type, grantType: r.authorization_grant_type,
      redirectUris: r.redirect_uris, name: r.name, skipAuthorization: r.skip_authorization,
    }));
  }

  users(): AsyncGenerator<DotUser[]> {
    return this.pages('users', [], (r) => ({
      id: r.id, username: r.username, password: r.password, email: r.email, firstName: r.first_name, lastName: r.last_name,
      isActive: r.is_active, isSuperuser: r.is_superuser,
    }));
  }

  /** The access tokens of a page of users, or with `null` those of no user (client_credentials). */
  accessTokens(users: UserPage | null): AsyncGenerator<DotAccessToken[]> {
    return this.pages(users ? 'accessTokens' : 'clientTokens', users ? idRange(users) : [], (r) => ({
      id: r.id, token: r.token, userId: r.user_id, clientId: r.client_id, grantType: r.authorization_grant_type, scope: r.scope,
      created: r.created, expires: r.expires, refreshToken: r.refresh_token,
    }));
  }

  /** The refresh tokens of a page of users. */
  refreshTokens(users: UserPage): AsyncGenerator<DotRefreshToken[]> {
    return this.pages('refreshTokens', idRange(users), (r) => ({
      id: r.id, token: r.token, userId: r.user_id, clientId: r.client_id, grantType: r.authorization_grant_type, scope: r.scope,
      created: r.created, revoked: r.revoked,
    }));
  }

  // Ids are bigints, which pg hands over as strings; compared as numbers in SQL.
  private async *pages<T extends { id: string }>(table: keyof typeof QUERIES, params: unknown[], map: (row: SourceRow) => T): AsyncGenerator<T[]> {
    let after = '0';
    for (;;) {
      const { rows } = await this.client.query(QUERIES[table], [after, PAGE, ...params]);
      if (!rows.length) return;
      const page = rows.map((row) => map(row as SourceRow));
      after = page[page.length - 1]!.id;
      yield page;
      if (rows.length < PAGE) return;
    }
  }

  async close(): Promise<void> {
    await this.client.query('ROLLBACK').catch(() => undefined);
    await this.client.end();
  }
}
