import type { TokenCheck, TokenInfo } from './token-check.js';
import { TokenCheckError } from './token-check.js';

export type AdminDecision =
  | { allowed: true; token: TokenInfo }
  | { allowed: false; status: 400 | 401 | 403; error: string; message: string; challenge?: string };

/** Whatever can tell an account's roles. */
export type RolesOf = (accountId: string) => Promise<string[] | undefined>;

/**
 * The administrative rule shared by the admin surfaces (Northstar /v2, Lux
 * adjust/ and query/): a token with the `admin` scope, or a token with
 * `role:admin` issued on behalf of a user whose role is admin. `role:admin`
 * for anyone else grants nothing. No or bad token: 401; otherwise 403.
 *
 * An admin user's token without one of those scopes grants nothing either:
 * any application an administrator signs in to holds such a token, and the
 * administrator agreed to that application's scopes, not to administration
 * (the scopes that do carry a warning on the consent page).
 */
export async function authorizeAdmin(
  check: TokenCheck,
  rolesOf: RolesOf,
  authorization: string | undefined,
  { realm = 'gatehouse' }: { realm?: string } = {},
): Promise<AdminDecision> {
  let token: TokenInfo;
  try {
    token = await check(authorization);
  } catch (error) {
    if (!(error instanceof TokenCheckError)) throw error;
    return { allowed: false, status: error.status, error: error.error ?? 'invalid_token', message: error.message, challenge: error.challenge(realm) };
  }
  if (token.scope.includes('admin')) return { allowed: true, token };
  if (token.scope.includes('role:admin') && token.sub && (await rolesOf(token.sub))?.includes('admin')) {
    return { allowed: true, token };
  }
  return {
    allowed: false,
    status: 403,
    error: 'insufficient_scope',
    message: 'this requires the admin scope, or role:admin with an admin user',
    challenge: new TokenCheckError(403, 'insufficient_scope', 'admin required', { scheme: token.tokenType, requiredScope: ['admin'] }).challenge(realm),
  };
}
