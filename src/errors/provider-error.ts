import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import type { AppError } from './app-error.js';

export interface ShownProviderError {
  status: number;
  code: string;
  description: string;
}

/**
 * An oidc-provider error that reached Gatehouse's own routes and may be shown
 * as it is: above all StorageUnavailableError (503 temporarily_unavailable),
 * which the storage layer throws on any surface. Others are hidden.
 */
export function shownProviderError(error: unknown): ShownProviderError | undefined {
  if (!(error instanceof errors.OIDCProviderError) || !error.expose) return undefined;
  return { status: error.status, code: error.error, description: error.error_description ?? '' };
}

/**
 * For a client looked up through the provider (`provider.Client.find(id)
 * .catch(absentIfRefusedMetadata)`): a client whose stored metadata the
 * provider refuses is as good as absent (it cannot authenticate either).
 * Anything else, above all a storage outage, is thrown on, never read as
 * "no such client" (which would turn an outage into a wrong answer).
 */
export function absentIfRefusedMetadata(error: unknown): undefined {
  if (error instanceof errors.InvalidClientMetadata) return undefined;
  throw error;
}

/** An AppError as oidc-provider's own error, with the same status, code and message. */
class AppErrorForProvider extends errors.OIDCProviderError {
  constructor(error: AppError) {
    super(error.status, error.code);
    this.error_description = error.message;
    this.expose = error.expose;
  }
}

/**
 * oidc-provider renders only its own error classes; anything else thrown in
 * its chain (a registered grant's AppError) would become a 500
 * server_error. This carries an AppError across, its headers set on `ctx`
 * first, since the provider's renderer keeps headers already set.
 */
export function throwInProvider(ctx: Context, error: AppError): never {
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  throw new AppErrorForProvider(error);
}
