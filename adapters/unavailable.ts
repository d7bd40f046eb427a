import { errors } from 'oidc-provider';

const DESCRIPTION = 'the service is temporarily unavailable; retry shortly';

/**
 * A storage tier could not be reached: at start-up (the detail names the
 * setting to check) or while serving, when PostgreSQL or Redis goes away.
 *
 * It is one of oidc-provider's own error classes so that wherever the
 * provider meets it (adapter calls, account lookups, registered grants) the
 * provider answers 503 `temporarily_unavailable` instead of a 500; Gatehouse's
 * error handler and the dialects' error mappers render it the same way. The
 * detail (which server, what failed) is for the log only, never sent.
 */
export class StorageUnavailableError extends errors.OIDCProviderError {
  override name = 'StorageUnavailableError';

  constructor(detail: string, cause?: unknown) {
    super(503, 'temporarily_unavailable', { detail, cause });
    // oidc-provider hides errors of status >= 500 behind server_error; this
    // one is safe and useful to show, since the client should retry.
    this.expose = true;
    this.error_description = DESCRIPTION;
  }

  /** What to tell an operator (the message itself is the OAuth error code). */
  get detail(): string {
    return this.error_detail ?? DESCRIPTION;
  }
}

/**
 * A store answered and refused what it was asked to be: a database role
 * without the privileges a server needs, a read-only or standby database, a
 * Redis replica behind REDIS_URL. A setting to change, not an outage to wait
 * out: start-up stops on it (src/main.ts) and says which setting, without a
 * stack trace, as it does for an outage. While serving it answers 503 like
 * any StorageUnavailableError.
 */
export class StorageRefusedError extends StorageUnavailableError {
  override name = 'StorageRefusedError';
}
