import type { FindAccount } from 'oidc-provider';
import type { AccountService } from './service.js';

/**
 * oidc-provider's `findAccount`: the account's claims. oidc-provider filters
 * them by the granted scopes and the `claims` configuration, so this returns
 * everything it may disclose.
 */
export function accountFinder(accounts: AccountService): FindAccount {
  return async (_ctx, sub) => {
    const account = await accounts.findById(sub);
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
