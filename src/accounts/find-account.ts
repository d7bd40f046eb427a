import type { FindAccount } from 'oidc-provider';
import type { Account, AccountService } from './service.js';

/** An account by id, looked up at most once per request (`ctx`); without a request, every time. */
export type AccountLookup = (ctx: object | undefined, accountId: string) => Promise<Account | undefined>;

/**
 * oidc-provider asks for the same account several times while answering one
 * request (the grant check, the ID token's claims, a JWT's role): one query
 * per request is enough. Keyed by the request context, so nothing outlives it.
 */
export function perRequestAccounts(accounts: AccountService): AccountLookup {
  const perRequest = new WeakMap<object, Map<string, Promise<Account | undefined>>>();
  return (ctx, accountId) => {
    if (!ctx) return accounts.findById(accountId);
    let found = perRequest.get(ctx);
    if (!found) perRequest.set(ctx, (found = new Map()));
    let account = found.get(accountId);
    if (!account) found.set(accountId, (account = accounts.findById(accountId)));
    return account;
  };
}

/**
 * oidc-provider's `findAccount`: the account's claims. oidc-provider filters
 * them by the granted scopes and the `claims` configuration, so this returns
 * everything it may disclose.
 */
export function accountFinder(find: AccountLookup): FindAccount {
  return async (ctx, sub) => {
    const account = await find(ctx, sub);
    // An inactive account is no account to the protocol: no refresh, no session, no claims.
    if (!account?.active) return undefined;
    return {
      accountId: account.id,
      async claims() {
        return {
          sub: account.id,
          preferred_username: account.username,
          name: account.name ?? account.username,
          updated_at: Math.floor(account.updatedAt.getTime() / 1000),
          ...(account.email ? { email: account.email, email_verified: account.emailVerified } : {}),
          roles: account.roles,
        };
      },
    };
  };
}
