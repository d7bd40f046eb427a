import { errors } from 'oidc-provider';

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
