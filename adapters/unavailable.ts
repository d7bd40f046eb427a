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
