import type { FindAccount } from 'oidc-provider';
import type { AccountService } from './service.js';

/**
 * oidc-provider's `findAccount`: the account's claims. oidc-provider filters
 * them by the granted scopes and the `claims` configuration, so this returns
 * everything it may disclose.
 */
export function accountFinder(accounts: AccountService): FindAccount {
  // oidc-provider asks for the same account several times while answering
  // one request (the grant check, then the ID token's claims): one query per
  // request is enough.
  const perRequest = new WeakMap<object, Map<string, ReturnType<AccountService['findById']>>>();
  const find = (ctx: object | undefined, sub: string) => {
    if (!ctx) return accounts.findById(sub);
    let found = perRequest.get(ctx);
    if (!found) perRequest.set(ctx, (found = new Map()));
    let account = found.get(sub);
    if (!account) found.set(sub, (account = accounts.findById(sub)));
    return account;
  };
  return async (ctx, sub) => {
    const account = await find(ctx, sub);
    if (!account) return undefined;
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
