import { hashFormat, isVerifiableHash } from '../accounts/password-hashes.js';
import type { Services } from '../main.js';
import type { ImportTargets } from './targets.js';

/** The domain services as import targets; `source` names the import in the audit trail and its fingerprints. */
export function serviceTargets(services: Services, source: string): ImportTargets {
  const by = { actor: `import:${source}` };
  return {
    passwordHashVerifiable: isVerifiableHash,
    hashFormat,
    async importAccounts(accounts, { dryRun }) {
      const results = await services.accounts.importAccounts(accounts, { dryRun, skipUnverifiable: true, source }, by);
      return results.map((result) => {
        if (result.outcome === 'skipped') return result;
        if (result.outcome === 'refused') return { outcome: 'skipped' as const, reason: result.error.message };
        // A dry run's new account has no id yet.
        return { outcome: result.outcome, accountId: result.outcome === 'created' && dryRun ? undefined : result.account.id };
      });
    },
    async importClient(client, { dryRun }) {
      const result = await services.clients.importClient(client, { dryRun, source }, by);
      return result.outcome === 'skipped' ? result : { outcome: result.outcome };
    },
  };
}
