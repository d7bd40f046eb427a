import { createHash, randomUUID } from 'node:crypto';
import {
  AccountChangedError, type AccountChanges, type AccountExpectation, type AccountGrant, type AccountRecord, type AccountsStore, type AccountTokenStore, DuplicateUsernameError, type NewAccount as NewAccountRecord,
  NoAdminLeftError, type SourceFingerprint,
} from '../../adapters/contract.js';
import { AppError, changedSinceSeen, ConflictError, type FieldProblem, NotFoundError, StaleWriteError, ValidationError } from '../errors/app-error.js';
import type { Actor, AuditEvent, AuditLog } from '../audit/log.js';
import { clampedPaging } from '../paging/parameters.js';
import { hashFormat, isVerifiableHash } from './password-hashes.js';
import { burnVerification, hashPassword, isCurrentHash, verifyPassword } from './passwords.js';
import { usernameKey, usernameProblem } from './usernames.js';
import { ROLES } from './roles.js';
import type { SignInSessionService } from '../sessions/service.js';
import { displayTextProblems } from '../security/display-text.js';
import { changedAtSource, type ImportOptions, UNNAMED_SOURCE } from '../import/source-changes.js';

export interface NewAccount {
  username: string;
  password: string;
  roles?: string[];
  email?: string;
  name?: string;
}

export type { AccountGrant };

export type Account = Omit<AccountRecord, 'passwordHash' | 'importedPasswordHash' | 'usernameKey'>;

/** An account as another system (Django, Laravel, …) had it, password hash included. */
export interface ImportedAccount {
  /**
   * The account's id where it came from, when that was a Gatehouse (an
   * `export` file): kept, so that its `sub` (OIDC Core §5.7: never
   * reassigned) is the same after a move. Absent: a new id.
   */
  id?: string;
  username: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  /** The display name; when absent, first and last name joined. */
  name?: string | null;
  active: boolean;
  roles: string[];
  /** As the source stored it, in a format password-hashes.ts verifies. */
  passwordHash: string;
}

export interface AccountImportOptions extends ImportOptions {
  /** An unverifiable hash: `true` answers outcome `skipped`; otherwise UnverifiableHashError. */
  skipUnverifiable?: boolean;
}

export type ImportOutcome<T> =
  | { account: T; outcome: 'created' | 'updated' | 'unchanged' }
  | { account?: undefined; outcome: 'skipped'; reason: string };

/** One row of importAccounts: an outcome, or the error that refused it. */
export type AccountImportResult = ImportOutcome<Account> | { account?: undefined; outcome: 'refused'; error: AppError };

/** What an administrator may change about an account. */
export interface AccountPatch {
  email?: string | null;
  name?: string | null;
  roles?: string[];
  active?: boolean;
}

/** A password hash Gatehouse cannot verify was offered for import (see password-hashes.ts). */
export class UnverifiableHashError extends AppError {
  override name = 'UnverifiableHashError';

  constructor(readonly username: string, readonly format: string) {
    super(422, 'unverifiable_hash', `user "${username}": password hash format ${format} cannot be verified by Gatehouse`);
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// Long enough to resist guessing; bounded so hashing cannot be used to burn CPU.
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 1024;

function publicView(record: AccountRecord): Account {
  const { passwordHash: _hidden, usernameKey: _internal, importedPasswordHash: _imported, ...account } = record;
  return account;
}

/**
 * Where among account ids an unknown username's decoy hash is taken
 * (AccountsStore.findForSignIn), from a keyed digest of the username: the
 * same place for every try of that username, so repeated tries see one
 * cost, as they would for a real account; spread as evenly as ids are
 * (random UUIDs), so unknown usernames cost what real accounts' hash formats
 * cost, in about the same proportions; and keyed (SECRETS_KEY), so no one
 * can work out offline which made-up usernames share a real account's
 * decoy and compare its time with that account's.
 */
function decoyPoint(digest: Buffer): string {
  const hex = digest.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * What passwordStamp answers for a hash: its SHA-256, so the hash itself
 * never leaves this service. Any new password (set, changed, reset,
 * imported, rehashed at sign-in) is a new hash, so a new stamp.
 */
function stampOf(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url');
}

/** What ends an account's sign-in sessions at the provider, telling their clients (src/sessions/service.ts). */
export type SessionEnder = Pick<SignInSessionService, 'revokeAllOf'>;

/**
 * The holder's sign-in sessions, which a new password of their own (a
 * change, a reset link) ends: whoever knew the old one, or holds a session
 * opened with it, is signed out (OWASP ASVS 4.0.3 §3.3.3 asks that this be
 * offered; here it is the rule). In a change, `keep` is the session of the
 * browser making it and `keepGrant` the grant of the page it is made on,
 * so the holder stays signed in there; a reset keeps nothing.
 */
export interface OtherSessions {
  keep: string | undefined;
  keepGrant?: string | undefined;
}

/** What an end of the account's access spares: the session and grant of the page the holder changed their password on. */
interface Kept {
  session?: string | undefined;
  grant?: string | undefined;
}

function displayName(input: ImportedAccount): string | null {
  if (input.name) return input.name;
  return [input.firstName, input.lastName].filter(Boolean).join(' ') || null;
}

function sameRoles(a: string[], b: string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
}

/**
 * Whether a change of roles takes one away: tokens name the account's role
 * (a JWT's `role`, introspection's `role`) and resource servers act on it, so
 * a token issued before must not outlive the role. Any role taken away
 * counts, even one below the role tokens name (what they carry is a rule of
 * the moment, primaryRole). A role only added does not: a token issued
 * before claims less than the account may now do, never more.
 */
function takesARoleAway(before: string[], after: string[] | undefined): boolean {
  return after !== undefined && before.some((role) => !after.includes(role));
}

/** What an imported row sets besides its username and hash. */
type ImportedFields = Pick<AccountRecord, 'email' | 'name' | 'roles' | 'active'>;

/** Each field an import sets, as the source gave it, in the form fingerprinted (roles as a set). */
function sourceFields(wanted: ImportedFields, passwordHash: string): Record<string, string> {
  return {
    email: JSON.stringify(wanted.email), name: JSON.stringify(wanted.name), roles: JSON.stringify([...wanted.roles].sort()),
    active: String(wanted.active), passwordHash,
  };
}

/**
 * The fields whose digest differs from the last import's. A field the last
 * import did not fingerprint (added by a later Gatehouse) counts as
 * unchanged: nothing is known of it, so nothing is undone.
 */
function fieldsChangedAtSource(previous: SourceFingerprint, current: SourceFingerprint): Set<string> {
  return new Set(Object.keys(current).filter((field) => changedAtSource(previous, current, field)));
}

/**
 * How an existing account changes on a re-run: only the fields that
 * `changed` at the source since the last import, where the account differs.
 * Any other difference is a change made in Gatehouse (a role taken away, a
 * deactivation, a new password) and stays.
 */
function importChanges(current: AccountRecord, wanted: ImportedFields, passwordHash: string, changed: Set<string>): AccountChanges {
  const changes: AccountChanges = {};
  if (changed.has('email') && current.email !== wanted.email) changes.email = wanted.email;
  if (changed.has('name') && current.name !== wanted.name) changes.name = wanted.name;
  if (changed.has('roles') && !sameRoles(current.roles, wanted.roles)) changes.roles = wanted.roles;
  if (changed.has('active') && current.active !== wanted.active) changes.active = wanted.active;
  // A new hash at the source is a new password there.
  if (changed.has('passwordHash') && passwordHash !== current.passwordHash) {
    changes.passwordHash = passwordHash;
    changes.importedPasswordHash = passwordHash;
  }
  return changes;
}

/** The fields where an account differs from what the source says (its password aside: see importAccounts). */
function differingFields(current: AccountRecord, wanted: ImportedFields): string[] {
  return [
    ...(current.email !== wanted.email ? ['email'] : []), ...(current.name !== wanted.name ? ['name'] : []),
    ...(!sameRoles(current.roles, wanted.roles) ? ['roles'] : []), ...(current.active !== wanted.active ? ['active'] : []),
  ];
}

/** Why an import leaves out an account it brought across before. */
export const DELETED_SINCE_IMPORT = 'deleted in Gatehouse after an earlier import: an import does not bring it back';

/** The fields an administrator's change is judged by (AccountService.update). */
const EXPECTED_FIELDS = ['email', 'name', 'roles', 'active'] as const satisfies ReadonlyArray<keyof AccountExpectation>;
/** Tries of a change whose account another writer changed in between (a different field each time, or the caller gave no asSeen). */
const UPDATE_ATTEMPTS = 5;

/** An imported row whose id (kept from an export) is another account's here. */
function idTaken(username: string, holder: Pick<AccountRecord, 'id' | 'username'>): ConflictError {
  return new ConflictError('id', `user "${username}": its id ${holder.id} belongs to the account "${holder.username}" here`);
}

/** The store's refusal to leave no administrator, as the conflict every surface renders. */
function asLastAdminConflict(error: unknown): never {
  if (error instanceof NoAdminLeftError) throw new ConflictError('role', 'no other active administrator would remain: make another account an administrator first');
  throw error;
}

/** End-user accounts: creation with argon2id hashes, imports of other systems' hashes, and sign-in checks. */
export class AccountService {
  /**
   * `sessions` ends the account's sign-in sessions at the provider, so that
   * the clients signed in through them get a back-channel logout token; the
   * token store only sweeps up after it (adapters/ cannot reach the
   * provider). The provider is built after this service (it signs people in
   * through it), so main.ts hands over a forwarder to the session service.
   */
  constructor(
    private readonly store: AccountsStore,
    private readonly tokens?: AccountTokenStore,
    private readonly audit?: AuditLog,
    private readonly sessions?: SessionEnder,
    /** A digest under a deployment secret (SecretsAtRest.keyedDigest); unkeyed SHA-256 where none is given (a test's bare service). */
    private readonly keyedDigest: (text: string) => Buffer = (text) => createHash('sha256').update(text).digest(),
  ) {}

  /**
   * The one write of an account's changed fields, from the account as it was
   * read (`current`). A new password hash (set, changed, imported anew), a
   * deactivation, or a role taken away (takesARoleAway; by the CLI, the
   * console or an import) ends the account's access here (see endAccess),
   * after the write, so that every token issued later is issued under the
   * change; no path that writes one can forget it. `tokensEnded` says whether
   * it did, for the caller's audit event. The two other writes of a hash: a
   * reset link's compare-and-set (resetPassword), which calls endAccess
   * itself, and a re-hash of the same password at sign-in (upgradeHash),
   * which is not a new password.
   */
  private async write(
    current: Pick<AccountRecord, 'id' | 'roles'>, changes: AccountChanges, by: Actor, kept?: Kept, keepAnAdmin = false, ifStill?: AccountExpectation,
  ): Promise<{ record: AccountRecord; tokensEnded: boolean } | undefined> {
    const record = await this.store.update(current.id, changes, { keepAnAdmin, ifStill }).catch(asLastAdminConflict);
    if (!record) return undefined;
    const tokensEnded = changes.passwordHash !== undefined || changes.active === false || takesARoleAway(current.roles, changes.roles);
    if (tokensEnded) await this.endAccess(current.id, by, kept);
    return { record, tokensEnded };
  }

  /**
   * Ends the account's access. A new password is a revocation trigger
   * (RFC 9700 §4.14.2), and after an account takeover it is the way back;
   * a deactivation or a deletion ends the account. So: every sign-in
   * session, ended at the provider so that each client that asked for it
   * gets a logout token (OpenID Connect Back-Channel Logout 1.0 §2.5), then
   * every grant and every token under it, the refresh tokens kept past
   * logout (offline_access) and the password grant's, which belong to no
   * session, included. Only a change by the holder keeps something
   * (`kept`). Answers how many grants the storage found still live after
   * the sessions (whose grants went with them).
   */
  private async endAccess(accountId: string, by: Actor, kept: Kept = {}): Promise<number> {
    await this.sessions?.revokeAllOf(accountId, by, kept.session);
    if (!this.tokens) return 0;
    if (kept.session === undefined && kept.grant === undefined) return this.tokens.revokeAll(accountId);
    let revoked = 0;
    for (const grant of await this.tokens.grantsOf(accountId)) {
      if (grant.grantId !== kept.grant && await this.tokens.revokeGrant(accountId, grant.grantId)) revoked += 1;
    }
    return revoked;
  }

  /** The one lookup by username, normalized as sign-in normalizes it. */
  private findRecordByUsername(username: string): Promise<AccountRecord | undefined> {
    return this.store.findByUsernameKey(usernameKey(username));
  }

  private fieldProblems(input: { roles?: string[]; email?: string | null; name?: string | null }): FieldProblem[] {
    // Shown in pages, the CLI and logs: the rule for text shown to people first (security/display-text.ts).
    const problems: FieldProblem[] = displayTextProblems({ name: input.name, email: input.email });
    for (const role of input.roles ?? []) {
      if (!ROLES.includes(role)) problems.push({ field: 'role', message: `"${role}" is not a role: use ${ROLES.join(', ')}` });
    }
    if (input.email !== undefined && input.email !== null && !problems.some((p) => p.field === 'email') && !EMAIL.test(input.email)) {
      problems.push({ field: 'email', message: 'is not an email address' });
    }
    return problems;
  }

  async create(input: NewAccount, by: Actor = {}): Promise<Account> {
    const problems: FieldProblem[] = [];
    const username = usernameProblem(input.username);
    if (username) problems.push({ field: 'username', message: username });
    if (typeof input.password !== 'string' || input.password.length < PASSWORD_MIN || input.password.length > PASSWORD_MAX) {
      problems.push({ field: 'password', message: `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters` });
    }
    problems.push(...this.fieldProblems(input));
    if (problems.length) throw new ValidationError(problems);

    try {
      const record = await this.store.insert({
        id: randomUUID(),
        username: input.username,
        usernameKey: usernameKey(input.username),
        passwordHash: await hashPassword(input.password),
        roles: [...new Set(input.roles ?? [])],
        email: input.email ?? null,
        emailVerified: false,
        name: input.name ?? null,
      });
      await this.audit?.record({ event: 'account.created', ...by, detail: { account_id: record.id, username: record.username, roles: record.roles } });
      return publicView(record);
    } catch (error) {
      // Also when only the spelling differs (`Alice` for `alice`): see usernameKey.
      if (error instanceof DuplicateUsernameError) throw new ConflictError('username', `username "${input.username}" is already taken`);
      throw error;
    }
  }

  /** The account when username and password match; `undefined` otherwise, in the same time either way. */
  async authenticate(username: string, password: string): Promise<Account | undefined> {
    if (!username || !password || password.length > PASSWORD_MAX || username.length > 256) {
      await burnVerification('x');
      return undefined;
    }
    const key = usernameKey(username);
    const { record, decoyHash } = await this.store.findForSignIn(key, decoyPoint(this.keyedDigest(`sign-in decoy\0${key}`)));
    if (!record) {
      await burnVerification(password, decoyHash);
      return undefined;
    }
    // Verified before the status is read, so an inactive account takes the same time as any other.
    if (!(await verifyPassword(record.passwordHash, password)) || !record.active) return undefined;
    if (!isCurrentHash(record.passwordHash)) await this.upgradeHash(record, password);
    return publicView(record);
  }

  /**
   * The lazy migration Django itself does when its hasher changes: at the
   * first successful sign-in with a hash from another system (or older
   * parameters), the password is at hand, so it is hashed again with
   * Gatehouse's argon2id. Only if the hash is still the one just verified.
   */
  private async upgradeHash(record: AccountRecord, password: string): Promise<void> {
    const upgraded = await this.store.replacePasswordHash(record.id, record.passwordHash, await hashPassword(password));
    if (upgraded) {
      await this.audit?.record({ event: 'account.password_rehashed', actor: `account:${record.id}`, detail: { from: hashFormat(record.passwordHash), to: 'argon2id' } });
    }
  }

  /**
   * Brings an account across from another system, by username (the same
   * normalization as sign-in). The password hash is kept as given (verified
   * at sign-in, then replaced by argon2id). What is written is decided
   * against what the source said at the last import
   * (AccountsStore.sourceFingerprints), never against the account as it is
   * now, so a change made in Gatehouse since (a deactivation, a role taken
   * away, a new password) is never undone by a re-run:
   *
   * - never imported: `created`;
   * - the source unchanged since the last import: `unchanged`, nothing written;
   * - changed at the source: only the fields that changed there are written (`updated`);
   * - imported before, deleted in Gatehouse since: `skipped`, not brought back;
   * - imported before fingerprints were kept: `unchanged`, except a password
   *   changed at the source (the account keeps the source hash it was last
   *   given, so that one change is known); the source as it is now is
   *   recorded, so that its later changes are imported.
   *
   * A row the rules refuse throws (see importAccounts for the batch form).
   */
  async importAccount(input: ImportedAccount, options: AccountImportOptions = {}, by: Actor = { actor: 'import' }): Promise<ImportOutcome<Account>> {
    const [result] = await this.importAccounts([input], options, by);
    if (result!.outcome === 'refused') throw result!.error;
    return result!;
  }

  /**
   * importAccount for a page of rows, answered row by row in order, with the
   * round trips of one: one lookup, one insert of all new accounts, one
   * audit write; only changed accounts are updated one by one. A row the
   * rules refuse is answered `refused` with the error importAccount would
   * throw; the others still go ahead.
   */
  async importAccounts(inputs: ImportedAccount[], options: AccountImportOptions = {}, by: Actor = { actor: 'import' }): Promise<AccountImportResult[]> {
    const results: AccountImportResult[] = new Array(inputs.length);
    const planned: Array<{ index: number; input: ImportedAccount; key: string; wanted: ImportedFields }> = [];
    const claimed = new Map<string, string>();
    inputs.forEach((input, index) => {
      const checked = this.checkImported(input);
      if ('outcome' in checked) {
        if (checked.outcome === 'refused' && checked.error instanceof UnverifiableHashError && options.skipUnverifiable) {
          results[index] = { outcome: 'skipped', reason: `password hash format ${checked.error.format} cannot be verified` };
        } else results[index] = checked;
        return;
      }
      const key = usernameKey(input.username);
      // Two source users that differ only in case or Unicode form would be one account here.
      const first = claimed.get(key);
      if (first !== undefined) {
        results[index] = { outcome: 'refused', error: new ConflictError('username', `username "${input.username}" is the same as "${first}" once normalized`) };
        return;
      }
      claimed.set(key, input.username);
      planned.push({ index, input, key, wanted: checked });
    });

    const keys = planned.map((row) => row.key);
    const sources = this.store.sourceFingerprints;
    const source = options.source ?? UNNAMED_SOURCE;
    const keptIds = planned.flatMap((row) => (row.input.id === undefined ? [] : [row.input.id]));
    const [found, previous, idHolders] = await Promise.all([this.store.findByUsernameKeys(keys), sources.find(source, keys), this.store.findByIds(keptIds)]);
    const existing = new Map(found.map((record) => [record.usernameKey, record]));
    const holders = new Map(idHolders.map((record) => [record.id, record]));
    const creations: Array<{ index: number; record: NewAccountRecord; fingerprint: SourceFingerprint }> = [];
    const events: AuditEvent[] = [];
    // Written after the accounts they describe (SourceFingerprintStore).
    const fingerprints: Array<{ key: string; fingerprint: SourceFingerprint }> = [];
    for (const { index, input, key, wanted } of planned) {
      const current = existing.get(key);
      const before = previous.get(key);
      const fingerprint = sources.digest(sourceFields(wanted, input.passwordHash));
      // Not the same user spelled differently: two identities are never merged silently.
      if (current && current.username !== input.username) {
        results[index] = { outcome: 'refused', error: new ConflictError('username', `username "${input.username}" is the same as the existing account "${current.username}" once normalized`) };
        continue;
      }
      // The same account, not a namesake: this deployment's own export read
      // back (a restore, a re-run), which has nothing to change.
      if (current && input.id !== undefined && current.id === input.id) {
        results[index] = { account: publicView(current), outcome: 'unchanged' };
        continue;
      }
      // Only what an import made can an import change: an account made in
      // Gatehouse (an administrator, say) that shares a username with the
      // source is another identity, not the source's to overwrite.
      if (current && current.importedPasswordHash === null) {
        results[index] = { outcome: 'refused', error: new ConflictError('username', `user "${current.username}" was made in Gatehouse, not by an import: an import does not change it (rename one of them)`) };
        continue;
      }
      if (!current) {
        if (before) { results[index] = { outcome: 'skipped', reason: DELETED_SINCE_IMPORT }; continue; }
        // An id kept from an export that another account holds here: refused now, so a dry run says so too.
        const holder = input.id === undefined ? undefined : holders.get(input.id);
        if (holder) { results[index] = { outcome: 'refused', error: idTaken(input.username, holder) }; continue; }
        const record = { id: input.id ?? randomUUID(), username: input.username, usernameKey: key, passwordHash: input.passwordHash, importedPasswordHash: input.passwordHash, emailVerified: false, ...wanted };
        if (options.dryRun) results[index] = { account: publicView({ ...record, id: '(new)', createdAt: new Date(), updatedAt: new Date() }), outcome: 'created' };
        else creations.push({ index, record, fingerprint });
        continue;
      }
      // Without a fingerprint only the password's last source value is known (the hash the last import gave).
      const changed = before ? fieldsChangedAtSource(before, fingerprint) : new Set(input.passwordHash !== current.importedPasswordHash ? ['passwordHash'] : []);
      if (!before || changed.size) fingerprints.push({ key, fingerprint });
      if (!before && !options.dryRun) {
        const kept = differingFields(current, wanted);
        if (kept.length) events.push({ event: 'account.import_adopted', ...by, detail: { account_id: current.id, username: current.username, kept } });
      }
      const changes = importChanges(current, wanted, input.passwordHash, changed);
      const fields = Object.keys(changes).filter((field) => field !== 'importedPasswordHash');
      if (!fields.length) { results[index] = { account: publicView(current), outcome: 'unchanged' }; continue; }
      if (options.dryRun) { results[index] = { account: publicView({ ...current, ...changes }), outcome: 'updated' }; continue; }
      // Deactivated at the source, a new password there, or a role taken away there: signed out here too (write ends its access).
      const written = await this.write(current, changes, by);
      if (!written) { results[index] = { outcome: 'refused', error: new NotFoundError(`account "${input.username}" was deleted during the import`) }; continue; }
      events.push({ event: 'account.imported', ...by, detail: {
        account_id: current.id, username: current.username, outcome: 'updated', fields, ...(written.tokensEnded ? { tokensEnded: true } : {}),
      } });
      results[index] = { account: publicView(written.record), outcome: 'updated' };
    }

    const inserted = new Map((await this.store.insertMany(creations.map((row) => row.record))).map((record) => [record.id, record]));
    for (const { index, record, fingerprint } of creations) {
      const stored = inserted.get(record.id);
      if (!stored) {
        // Taken between the lookup and the insert, by another process; or an
        // id kept from an export belongs to another account here.
        const holder = await this.store.findById(record.id);
        results[index] = holder && holder.usernameKey !== record.usernameKey
          ? { outcome: 'refused', error: idTaken(record.username, holder) }
          : { outcome: 'refused', error: new ConflictError('username', `username "${record.username}" is already taken`) };
        continue;
      }
      fingerprints.push({ key: record.usernameKey, fingerprint });
      events.push({ event: 'account.imported', ...by, detail: { account_id: stored.id, username: stored.username, outcome: 'created', hash_format: hashFormat(stored.passwordHash) } });
      results[index] = { account: publicView(stored), outcome: 'created' };
    }
    if (!options.dryRun) await sources.record(source, fingerprints);
    await this.audit?.recordMany(events);
    return results;
  }

  /** The fields an imported row asks for, or why it is refused. */
  private checkImported(input: ImportedAccount): ImportedFields | { outcome: 'refused'; error: AppError } {
    if (!isVerifiableHash(input.passwordHash)) {
      const format = typeof input.passwordHash === 'string' ? hashFormat(input.passwordHash) : 'missing';
      return { outcome: 'refused', error: new UnverifiableHashError(String(input.username), format) };
    }
    const email = input.email || null;
    const problems: FieldProblem[] = [];
    const username = usernameProblem(input.username);
    if (username) problems.push({ field: 'username', message: username });
    if (typeof input.active !== 'boolean') problems.push({ field: 'active', message: 'must be true or false' });
    problems.push(...this.fieldProblems({ roles: input.roles, email, name: displayName(input) }));
    if (problems.length) {
      return { outcome: 'refused', error: new ValidationError(problems.map((p) => ({ ...p, message: `${p.message} (user "${input.username}")` }))) };
    }
    return { email, name: displayName(input), roles: [...new Set(input.roles)], active: input.active };
  }

  /** The account with this id, or else this username (an id always wins: callers holding one, a session's `sub` or a page's, reach that account). */
  async show(idOrUsername: string): Promise<Account> {
    const record = (await this.store.findById(idOrUsername)) ?? (await this.findRecordByUsername(idOrUsername));
    if (!record) throw new NotFoundError(`no user with id or username "${idOrUsername}"`);
    return publicView(record);
  }

  /**
   * The account an operator named, by id or username (the CLI's `user`
   * commands). A text that is one account's id and another's username (a
   * username stored before such usernames were refused, usernameProblem)
   * names neither: refused, saying how to name each, rather than acting on
   * the one the operator may not have meant.
   */
  async named(idOrUsername: string): Promise<Account> {
    const [byId, byUsername] = await Promise.all([this.store.findById(idOrUsername), this.findRecordByUsername(idOrUsername)]);
    if (byId && byUsername && byId.id !== byUsername.id) {
      throw new ConflictError('user', `"${idOrUsername}" is the id of user "${byId.username}" and the username of another user (id ${byUsername.id}): name the first by its username, the second by its id`);
    }
    const record = byId ?? byUsername;
    if (!record) throw new NotFoundError(`no user with id or username "${idOrUsername}"`);
    return publicView(record);
  }

  async list(options: { search?: string; page?: number; perPage?: number } = {}): Promise<{ total: number; accounts: Account[] }> {
    const { page, perPage } = clampedPaging(options, { defaultPerPage: 100, maxPerPage: 1000 });
    const { total, items } = await this.store.list({ search: options.search, limit: perPage, offset: (page - 1) * perPage });
    return { total, accounts: items.map(publicView) };
  }

  /** Every account with its password hash, for `export` (a logical backup). */
  async *exportAll(): AsyncGenerator<AccountRecord> {
    for (let offset = 0; ; offset += 500) {
      const { items } = await this.store.list({ limit: 500, offset });
      yield* items;
      if (items.length < 500) return;
    }
  }

  /**
   * Changes email, name, roles or active. Deactivating, or taking a role
   * away, signs the account out everywhere: its sessions and grants, and
   * every token issued under them, are revoked (see write), so the next
   * token a client gets carries the roles the account has now. Adding a
   * role, or changing email or name, ends nothing.
   *
   * With `keepAnAdmin` (the console: no one may be left to undo it), a
   * change that takes the admin role or activity from an active
   * administrator is made only if another one remains, atomically
   * (ConflictError otherwise).
   *
   * Each field changed is written only while it still has the value the
   * change was judged against, atomically (AccountsStore.update `ifStill`):
   * with `asSeen` (an edit form), the account as the caller saw it, so that
   * of two administrators changing one field at once the second gets a
   * ConflictError rather than silently undoing the first; without it, the
   * account as read here, re-read and tried again if another writer came
   * between. Either way, whether a role was taken away is judged against the
   * roles the write replaced.
   */
  async update(idOrUsername: string, patch: AccountPatch, by: Actor = {}, { keepAnAdmin = false, asSeen }: { keepAnAdmin?: boolean; asSeen?: Account } = {}): Promise<Account> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.updateOnce(idOrUsername, patch, by, keepAnAdmin, asSeen);
      } catch (error) {
        if (!(error instanceof AccountChangedError)) throw error;
        if (attempt >= UPDATE_ATTEMPTS) throw new StaleWriteError('account', `user "${idOrUsername}" is being changed by someone else; try again`);
      }
    }
  }

  private async updateOnce(idOrUsername: string, patch: AccountPatch, by: Actor, keepAnAdmin: boolean, asSeen: Account | undefined): Promise<Account> {
    const account = await this.show(idOrUsername);
    const problems = this.fieldProblems({ roles: patch.roles, email: patch.email, name: patch.name });
    if (patch.active !== undefined && typeof patch.active !== 'boolean') problems.push({ field: 'active', message: 'must be true or false' });
    if (problems.length) throw new ValidationError(problems);
    const changes: AccountChanges = {};
    if (patch.email !== undefined && patch.email !== account.email) changes.email = patch.email || null;
    if (patch.name !== undefined && patch.name !== account.name) changes.name = patch.name || null;
    if (patch.roles !== undefined && !sameRoles(patch.roles, account.roles)) changes.roles = [...new Set(patch.roles)];
    if (patch.active !== undefined && patch.active !== account.active) changes.active = patch.active;
    // Deactivating an inactive account revokes again: a revocation that
    // failed after the account was made inactive is finished by running it again.
    if (patch.active === false && !account.active) await this.endAccess(account.id, by);
    if (!Object.keys(changes).length) return account;
    const changedFields = EXPECTED_FIELDS.filter((field) => changes[field] !== undefined);
    const changedSince = asSeen ? changedFields.filter((field) => JSON.stringify(asSeen[field]) !== JSON.stringify(account[field])) : [];
    if (changedSince.length) throw changedSinceSeen(changedSince);
    const demotes = account.active && account.roles.includes('admin') && ((changes.roles !== undefined && !changes.roles.includes('admin')) || changes.active === false);
    // Whether this demotes an administrator is judged on roles and active as read: they must still be so.
    const expected = keepAnAdmin ? [...new Set([...changedFields, 'roles', 'active'] as const)] : changedFields;
    const ifStill = Object.fromEntries(expected.map((field) => [field, account[field]])) as AccountExpectation;
    const written = await this.write(account, changes, by, undefined, keepAnAdmin && demotes, ifStill);
    if (!written) throw new NotFoundError(`no user with id "${account.id}"`);
    // What decides access is recorded before and after (granting admin is not a rename); personal data is named only.
    const decisive: Record<string, { from: unknown; to: unknown }> = {};
    if (changes.roles) decisive.roles = { from: account.roles, to: changes.roles };
    if (changes.active !== undefined) decisive.active = { from: account.active, to: changes.active };
    await this.audit?.record({ event: 'account.updated', ...by, detail: {
      account_id: account.id, username: account.username, fields: Object.keys(changes), changes: decisive, ...(written.tokensEnded ? { tokensEnded: true } : {}),
    } });
    return publicView(written.record);
  }

  /**
   * An administrator's new password for the account (the console, the CLI's
   * `user set-password`): like every new password, it ends the account's
   * sessions, grants and tokens (see endAccess), even when
   * the administrator sets their own, and voids the account's outstanding
   * reset links (see passwordStamp).
   */
  async setPassword(idOrUsername: string, password: string, by: Actor = {}): Promise<Account> {
    const account = await this.show(idOrUsername);
    this.checkNewPassword(password, 'password');
    if (!(await this.write(account, { passwordHash: await hashPassword(password) }, by))) throw new NotFoundError(`no user with id "${account.id}"`);
    await this.audit?.record({ event: 'account.password_set', ...by, detail: { account_id: account.id, username: account.username } });
    return account;
  }

  /**
   * The holder's new password through a reset link, written only if the
   * password is still the one of `stamp` (compare and set on the hash): of
   * two links redeemed at once, or a link racing a change elsewhere, the
   * later one writes nothing and answers `false`. Once written, every
   * session, grant and token of the account is ended (a reset keeps none).
   */
  async resetPassword(id: string, password: string, stamp: string, by: Actor = {}): Promise<boolean> {
    this.checkNewPassword(password, 'password');
    const record = await this.store.findById(id);
    if (!record || stampOf(record.passwordHash) !== stamp) return false;
    if (!(await this.store.replacePasswordHash(record.id, record.passwordHash, await hashPassword(password)))) return false;
    await this.audit?.record({ event: 'account.password_reset', ...by, detail: { account_id: record.id, username: record.username } });
    await this.endAccess(record.id, by);
    return true;
  }

  /**
   * A value that changes whenever the account's password does, by whatever
   * path: a password-reset link is bound to it when created and is void once
   * it differs, so no writer of passwords has to remember the links (as
   * Django's reset tokens hash the user's password hash). `undefined` when
   * there is no such account. Not a secret, but never shown either.
   */
  async passwordStamp(id: string): Promise<string | undefined> {
    const record = await this.store.findById(id);
    return record && stampOf(record.passwordHash);
  }

  /** The one rule for a new password, whichever form or command sets it. */
  checkNewPassword(password: unknown, field: string): asserts password is string {
    if (typeof password !== 'string' || password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
      throw new ValidationError([{ field, message: `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters` }]);
    }
  }

  /**
   * The account holder's own change: the current password is required (so a
   * session left open is not enough to take the account over), then the new
   * one is set and every other sign-in session, grant and token of the
   * account is ended, as a reset link ends them (the caller names the session
   * and grant to keep: its own). Nothing changes when either password is wrong.
   */
  async changePassword(id: string, current: string, next: string, by: Actor, others: OtherSessions): Promise<Account> {
    const record = await this.store.findById(id);
    if (!record) throw new NotFoundError(`no user with id "${id}"`);
    const problems: FieldProblem[] = [];
    const currentMatches = typeof current === 'string' && current.length > 0 && current.length <= PASSWORD_MAX
      && await verifyPassword(record.passwordHash, current);
    if (!currentMatches) problems.push({ field: 'current_password', message: 'is not your current password' });
    try {
      this.checkNewPassword(next, 'new_password');
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      problems.push(...error.fields);
    }
    if (problems.length) throw new ValidationError(problems);
    const kept = { session: others.keep, grant: others.keepGrant };
    if (!(await this.write(record, { passwordHash: await hashPassword(next) }, by, kept))) throw new NotFoundError(`no user with id "${id}"`);
    await this.audit?.record({ event: 'account.password_changed', ...by, detail: { account_id: record.id, username: record.username } });
    return publicView(record);
  }

  /** The account's live grants (one per client it signed in to, or more), newest first. */
  async grants(idOrUsername: string): Promise<{ account: Account; grants: AccountGrant[] }> {
    const account = await this.show(idOrUsername);
    return { account, grants: (await this.tokens?.grantsOf(account.id)) ?? [] };
  }

  /**
   * Withdraws one of the account's grants: the grant and every token issued
   * under it are revoked at once (RFC 7009 §2.1: revoking a grant's tokens).
   * A grant of another account is not found, whatever its id.
   */
  async revokeGrant(idOrUsername: string, grantId: string, by: Actor = {}): Promise<{ account: Account; grant: AccountGrant }> {
    const { account, grants } = await this.grants(idOrUsername);
    const grant = grants.find((candidate) => candidate.grantId === grantId);
    if (!grant || !(await this.tokens?.revokeGrant(account.id, grantId))) {
      throw new NotFoundError(`no grant "${grantId}" of user "${account.username}"`);
    }
    await this.audit?.record({ event: 'account.grant_revoked', ...by, clientId: grant.clientId, detail: { account_id: account.id, username: account.username, grant_id: grantId } });
    return { account, grant };
  }

  /**
   * Revokes the account's grants and every token issued under them, then
   * deletes it. It is made inactive first, so no sign-in slips in between;
   * and a revocation that fails (storage unreachable) leaves the account,
   * inactive, for the delete to be run again, rather than gone with its
   * tokens still alive.
   */
  async delete(idOrUsername: string, by: Actor = {}, { keepAnAdmin = false } = {}): Promise<{ account: Account; revokedGrants: number }> {
    const account = await this.show(idOrUsername);
    const guard = { keepAnAdmin: keepAnAdmin && account.roles.includes('admin') };
    const deactivated = account.active && await this.store.update(account.id, { active: false }, guard).catch(asLastAdminConflict);
    if (account.active && !deactivated) throw new NotFoundError(`no user with id "${account.id}"`);
    // Counted first: the grants of its sessions end with them, before the sweep counts the rest.
    const held = (await this.tokens?.grantsOf(account.id))?.length ?? 0;
    const revokedGrants = Math.max(held, await this.endAccess(account.id, by));
    if (!(await this.store.delete(account.id))) throw new NotFoundError(`no user with id "${account.id}"`);
    await this.audit?.record({ event: 'account.deleted', ...by, detail: { account_id: account.id, username: account.username, revoked_grants: revokedGrants } });
    return { account, revokedGrants };
  }

  async findById(id: string): Promise<Account | undefined> {
    const record = await this.store.findById(id);
    return record ? publicView(record) : undefined;
  }
}
