/**
 * What an importer asks of Gatehouse's domain services. Importers read a
 * replaced system and hand each row here; the services decide what a row
 * becomes and store it (dependency rule: import layer → domain → storage).
 */
export type RowOutcome = 'created' | 'updated' | 'unchanged';

export interface ForeignAccount {
  username: string;
  /** The password hash exactly as the source stored it (Django, bcrypt or PHC format). */
  passwordHash: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  active: boolean;
  roles: string[];
}

export interface ForeignClient {
  clientId: string;
  name: string;
  /** Exactly one for a confidential client: the secret in the clear, or its Django hash. */
  secret?: { plain: string } | { hash: string };
  public: boolean;
  grantTypes: string[];
  redirectUris: string[];
  scope: string[];
  /** The legacy dialect whose token lifetimes the client keeps (`dot`). */
  dialect: 'dot';
  /** The source let this client skip the consent screen. */
  skipConsent: boolean;
}

export interface ImportTargets {
  /** Whether Gatehouse can verify a password hash in this format. */
  passwordHashVerifiable(hash: string): boolean;
  importAccount(account: ForeignAccount, options: { dryRun: boolean }): Promise<{ outcome: RowOutcome; accountId?: string }>;
  /** The id of the account with this username (after its import). */
  accountIdOf(username: string): Promise<string | undefined>;
  importClient(client: ForeignClient, options: { dryRun: boolean }): Promise<{ outcome: RowOutcome }>;
}
