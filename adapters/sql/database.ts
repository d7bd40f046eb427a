/**
 * The durable tier's one interface. Both drivers (node-postgres against a
 * PostgreSQL server, PGlite embedded in the process) implement it, so every
 * store above it runs the same SQL and the same migrations on either.
 */
export interface QueryResult<Row> {
  rows: Row[];
  /** Rows inserted, updated or deleted by the statement. */
  rowCount: number;
}

export interface SqlExecutor {
  /** One parameterised statement ($1, $2, …). Values are never interpolated. */
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /** Several statements without parameters (migrations only). */
  exec(sql: string): Promise<void>;
}

export interface SqlDatabase extends SqlExecutor {
  /** `postgres`: a server through `pg`; `embedded`: PGlite in this process; `embedded-shared`: the embedded database of a running Gatehouse, through its local socket. */
  readonly kind: 'postgres' | 'embedded' | 'embedded-shared';
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial query (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A LIKE pattern that matches `text` anywhere, its wildcards taken literally (lower-cased, for lower(column) LIKE). */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A value PostgreSQL text cannot hold was offered for writing. */
export class UnstorableTextError extends Error {
  override name = 'UnstorableTextError';
  // Koa-style fields: the caller sent it, so it is the caller's 400.
  readonly status = 400;
  readonly expose = true;

  constructor() {
    super('a text value contains a NUL character');
  }
}

const holdsNul = (params: unknown[]) => params.some((p) => typeof p === 'string' && p.includes('\u0000'));
const isRead = (text: string) => /^\s*(SELECT|WITH)\b/i.test(text);

/**
 * PostgreSQL text can never contain NUL, so no stored value equals one that
 * does: a read with such a parameter finds nothing (instead of the driver's
 * encoding error, which would be a 500), and a write is refused.
 */
export async function guardText<Row>(text: string, params: unknown[], run: () => Promise<QueryResult<Row>>): Promise<QueryResult<Row>> {
  if (!holdsNul(params)) return run();
  if (isRead(text)) return { rows: [], rowCount: 0 };
  throw new UnstorableTextError();
}
