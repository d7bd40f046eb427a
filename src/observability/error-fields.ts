/**
 * What of an error reaches the log: an allow-list, not pino's default of
 * every enumerable property. Drivers hang the request that failed on their
 * errors (ioredis a `command` with its arguments, such as
 * `gatehouse:AuthorizationCode:<code>`; node-postgres and PGlite the
 * `query`, its `params` and a `detail` quoting the offending row), so an
 * outage or a full disk would otherwise write live codes and tokens into an
 * error line. Whatever a library adds next stays out the same way.
 */
export interface LoggedError {
  type: string;
  message: string;
  stack?: string;
  /** A driver's or the system's code (SQLSTATE, ECONNREFUSED): a name, never a value. */
  code?: string | number;
  /** The HTTP status an error carries (oidc-provider's, Koa's, AppError). */
  status?: number;
  /** oidc-provider's OAuth error code and its log-only detail (Gatehouse writes the detail of its StorageUnavailableError). */
  error?: string;
  error_detail?: string;
  cause?: LoggedError | string;
  /** An AggregateError's errors. */
  errors?: (LoggedError | string)[];
}

// Deep enough for StorageUnavailableError → driver error → socket error.
const MAX_DEPTH = 3;
const MAX_AGGREGATED = 10;

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function loggedError(value: unknown, depth: number): LoggedError | string {
  // A thrown string or number is what the code threw, not a driver's attachment.
  if (typeof value !== 'object' || value === null) return String(value);
  const source = value as Record<string, unknown>;
  const named = text(source.name);
  const type = value instanceof Error ? (value.constructor?.name || named || 'Error') : (named ?? 'Object');
  const logged: LoggedError = { type, message: text(source.message) ?? '' };
  const stack = text(source.stack);
  if (stack) logged.stack = stack;
  const { code, status, statusCode, error, error_detail: detail } = source;
  if (typeof code === 'string' || typeof code === 'number') logged.code = code;
  const shownStatus = typeof status === 'number' ? status : statusCode;
  if (typeof shownStatus === 'number') logged.status = shownStatus;
  if (typeof error === 'string') logged.error = error;
  if (typeof detail === 'string') logged.error_detail = detail;
  if (depth < MAX_DEPTH && source.cause !== undefined) logged.cause = loggedError(source.cause, depth + 1);
  if (depth < MAX_DEPTH && Array.isArray(source.errors)) {
    logged.errors = source.errors.slice(0, MAX_AGGREGATED).map((each) => loggedError(each, depth + 1));
  }
  return logged;
}

/** pino's `err` serializer: the allow-listed fields of an error and of its causes. */
export function serializeError(value: unknown): LoggedError | string {
  return loggedError(value, 0);
}
