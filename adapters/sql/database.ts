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
