import type { ImportedAccount } from '../accounts/service.js';
import type { ImportedClient } from '../clients/service.js';

/**
 * What an importer asks of Gatehouse's domain services. Importers read a
 * replaced system and hand each row here; the services decide what a row
 * becomes and store it (dependency rule: import layer → domain → storage).
 */
export type RowOutcome = 'created' | 'updated' | 'unchanged';

export type TargetOutcome = { outcome: RowOutcome } | { outcome: 'skipped'; reason: string };

export interface ImportTargets {
  /** Whether Gatehouse can verify a password hash in this format. */
  passwordHashVerifiable(hash: string): boolean;
  /** The name of a hash's format, for messages. */
  hashFormat(hash: string): string;
  /** A page of accounts, answered row by row in order (a refused row is `skipped` with the domain's reason). */
  importAccounts(accounts: ImportedAccount[], options: { dryRun: boolean }): Promise<Array<TargetOutcome & { accountId?: string }>>;
  importClient(client: ImportedClient, options: { dryRun: boolean }): Promise<TargetOutcome>;
}
