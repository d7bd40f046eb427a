/**
 * The storage contract behind oidc-provider's adapter interface.
 *
 * oidc-provider hands every artifact it persists (codes, tokens, sessions,
 * grants, interactions, …) to an adapter as a JSON payload. Gatehouse routes
 * each model to a tier (see `tiers.ts`) and each tier implements this
 * `PayloadStore`. The rules every implementation keeps:
 *
 * - `upsert` replaces the payload but never clears a `consumed` mark: a spent
 *   code or rotated refresh token stays spent.
 * - `find`, `findByUid` and `findByUserCode` return `undefined` for a missing
 *   *or expired* artifact, and report consumption as `payload.consumed`
 *   (epoch seconds) so oidc-provider can detect reuse (RFC 6749 §4.1.2,
 *   RFC 9700 §4.14). A consumed artifact stays findable until it expires.
 * - `consume` is one atomic step and answers whether *this* call consumed it:
 *   of many concurrent callers exactly one gets `true`.
 * - A store that cannot be reached throws `StorageUnavailableError`
 *   (`unavailable.ts`), never a driver's own connection error, so every
 *   surface can answer 503 `temporarily_unavailable`.
 * - `revokeByGrantId` removes every artifact of that model issued under the
 *   grant; lookups by grant id, uid and user code use an index, never a scan.
 * - `expiries` reads through the same indexes; it lists what a revocation is
 *   about to remove, so the removal can be announced first.
 */
export interface AdapterPayload {
  [key: string]: unknown;
  grantId?: string;
  userCode?: string;
  uid?: string;
  clientId?: string;
  consumed?: number;
}

export interface PayloadStore {
  upsert(model: string, id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(model: string, id: string): Promise<AdapterPayload | undefined>;
  findByUid(model: string, uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(model: string, userCode: string): Promise<AdapterPayload | undefined>;
  consume(model: string, id: string): Promise<boolean>;
  destroy(model: string, id: string): Promise<void>;
  revokeByGrantId(model: string, grantId: string): Promise<void>;
  /** Removes every artifact (of any model in this store but those of `keep`) issued to a client. */
  revokeByClientId(clientId: string, options?: { keep?: readonly string[] }): Promise<void>;
  /**
   * When each live artifact of `model` expires (epoch seconds; `undefined`
   * for one stored without a lifetime), by id: the one with `id`, those
   * issued under `grantId`, or those issued to `clientId`.
   */
  expiries(model: string, owner: { id: string } | { grantId: string } | { clientId: string }): Promise<Map<string, number | undefined>>;
  /**
   * Bulk import (optional): many artifacts of one model, each stored exactly
   * as `upsert` stores it, in one round trip. No id may appear twice.
   */
  upsertMany?(model: string, entries: Array<{ id: string; payload: AdapterPayload; expiresIn?: number }>): Promise<void>;
  /** Bulk import (optional): the stored payloads of these ids, as `find` answers them, in one round trip. */
  findMany?(model: string, ids: string[]): Promise<Map<string, AdapterPayload>>;
  /** Live artifacts of `model` issued to a client (for per-client counts). */
  countByClient?(model: string, clientId: string): Promise<number>;
  /**
   * Optional: consumes `consumed` exactly as `consume` does and, only if that
   * succeeded, stores the artifact as `upsert` does, in one round trip and
   * one transaction. Answers whether the consumption succeeded (false: the
   * artifact was already consumed or gone, and nothing was stored).
   */
  consumeAndUpsert?(consumed: { model: string; id: string }, model: string, id: string, payload: AdapterPayload, expiresIn?: number): Promise<boolean>;
  /** Answers when the store is reachable (readiness). */
  ping(): Promise<void>;
  /** False when the store already knows it is disconnected (no round trip); absent when it cannot tell. */
  reachable?(): boolean;
}

/** One counter's state: how many hits in its window, and the last one (epoch ms). */
export interface CounterState {
  count: number;
  lastAt: number;
}

/**
 * Short-lived counters shared by every process: failed authentications for
 * the rate limiter, device-code polls for `slow_down`. A counter lives for
 * `windowSeconds` after its latest hit, then starts again from zero.
 */
export interface CounterStore {
  /** Counts one hit atomically and answers the state after it. */
  hit(key: string, windowSeconds: number): Promise<CounterState>;
  /** The live counters among `keys`, in order (`undefined` for none), in one round trip. */
  peek(keys: string[]): Promise<Array<CounterState | undefined>>;
  clear(key: string): Promise<void>;
  /**
   * Takes one hit back (an attempt counted before its outcome was known,
   * that did not fail): the count drops by one, never below zero, and
   * `lastAt` and the window stay as they are. A counter past its window
   * stays gone.
   */
  release(key: string): Promise<void>;
  /**
   * Adds `member` to the set at `key` (or renews it) and answers how many
   * members the set now holds. Each member lives for `windowSeconds` after
   * its latest add, on its own. Sets are a namespace apart from counters (the
   * same key names a counter and a set independently) and are not watched.
   * Of concurrent adds, each may miss another's member; the next add sees it.
   */
  addMember(key: string, member: string, windowSeconds: number): Promise<number>;
  /**
   * Optional: tells `onChange` of every change any process makes to a
   * counter (hit, release, clear) with the count it left, so a reader can
   * skip `peek` for keys it knows have none. A count of 0 means the key has
   * nothing to look up; an absent count means it may have (a process that
   * publishes keys only). News arrives in the order of the changes. Counters
   * live when watching starts are told once, with their counts. `live()` is
   * false while that knowledge may be incomplete (starting, reconnecting).
   */
  watch?(onChange: (key: string, count?: number) => void): { live(): boolean };
  close?(): Promise<void>;
}

/**
 * A revocation of JWT access tokens. A JWT verifies by its signature alone
 * until it expires, so every process's resource check must learn of it: one
 * token by `jti`, or every token a client was issued up to `issuedUntil`
 * (epoch seconds, compared with `iat`; a client re-registered under the same
 * id later gets tokens that are not affected). `until` (epoch seconds) is
 * when the last token it affects expires; after that it can be forgotten.
 */
export type TokenRevocation =
  | { kind: 'token'; jti: string; until: number }
  | { kind: 'client'; clientId: string; issuedUntil: number; until: number };

/** A process's subscription to the revocation feed. */
export interface RevocationWatch {
  /**
   * The `iat` (epoch seconds) from which the revocations delivered are
   * complete: every revocation of a token issued at or after it has been
   * delivered. `undefined` while that may not hold (starting, reconnecting,
   * or after the store lost its data): ask the token's record instead.
   */
  completeFrom(): number | undefined;
  /** Resolves once the view is complete (at once if it is), so a lookup can wait out a seed. */
  whenComplete(): Promise<void>;
}

/**
 * How long-lived a JWT access token may be and still go unrecorded, judged
 * by a persistent feed alone: a client's revocation is kept at least this
 * long, so it outlives every such token. Longer-lived tokens are recorded.
 */
export const UNRECORDED_JWT_MAX_LIFETIME = 24 * 60 * 60;

/**
 * Revocations shared by every process that serves the same storage: each is
 * kept until it lapses (`until`) and delivered to every watcher, so the
 * resource check can keep an in-process denylist instead of a lookup per
 * request.
 */
export interface RevocationFeed {
  /**
   * Whether revocations outlive the processes that made them: a watcher that
   * starts later (another process, or this one restarted) still receives each
   * one until it lapses. Only then can the feed alone judge a token that has
   * no record.
   */
  readonly persistent: boolean;
  /** Records revocations and delivers them to every watcher; to this process's before it resolves. */
  publish(revocations: TokenRevocation[]): Promise<void>;
  /**
   * Delivers every recorded revocation that has not lapsed, then each new one.
   * A revocation may arrive more than once (the publisher's own echo, or a
   * message that crosses the seed), so watchers must treat it as idempotent.
   */
  watch(onRevoked: (revocation: TokenRevocation) => void): RevocationWatch;
  close?(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Domain stores. Domain services (src/clients, src/accounts, src/keys,
// src/scopes, src/resources, src/audit) depend on these interfaces only;
// adapters/sql/ implements them (SqlClientsStore, …) for PostgreSQL and the
// embedded database alike, and adapters/factory.ts picks the implementation.
// Rules every implementation keeps:
// - A store that cannot be reached throws StorageUnavailableError, as above.
// - Lookups answer `undefined` for what does not exist; writes that need an
//   existing record answer `undefined` or `false` instead of throwing.
// - No record is half-written: each method is one atomic change.
// ---------------------------------------------------------------------------

/**
 * What an import source said about one record it brought across, at the last
 * import that wrote or checked it: a digest per field (field name → digest).
 */
export type SourceFingerprint = Record<string, string>;

/**
 * The source fingerprints of one kind of imported record (clients by
 * client_id, accounts by username key, scopes by name, resource servers by
 * URI). An import's re-run compares the source with what the source said
 * last time, not with the record as it is now, so it writes only the fields
 * that changed at the source and never undoes a change made in Gatehouse
 * since (a rotated secret, a deactivated user, a role taken away, a scope
 * made restricted, a shorter token lifetime). Rules every implementation keeps:
 *
 * - `digest` is deterministic and keyed (HMAC under the deployment's
 *   SECRETS_KEY, as openStorage builds it): the table holds no value, and a
 *   copy of it cannot test a guess at a client secret or an email address.
 * - Each import source keeps its own (`source`: the import's name,
 *   `django-oauth-toolkit`, `clients`, `gatehouse`, …): what one source
 *   said is never taken for what another says, so an `import gatehouse` of
 *   an export does not make the next run of the original import see
 *   "changed at the source" (and write its old values over changes made in
 *   Gatehouse since). Fingerprints recorded before sources were told apart
 *   have the source `''` and answer for any source until one records its own.
 * - `find` answers the source's fingerprints of the keys that have one, in
 *   one round trip; a key never imported by it is absent from the map.
 * - `record` inserts or replaces each key's whole fingerprint for the
 *   source, all in one statement (atomic), and removes that key's
 *   fingerprint of no source. No key may appear twice.
 * - A fingerprint outlives its record: deleting the client, the account or
 *   the resource server leaves it, so a re-run can tell "deleted in
 *   Gatehouse" from "never imported" and does not bring the record back.
 * - It is written after the record it describes, not in the same
 *   transaction: a run stopped between the two leaves the earlier
 *   fingerprint, so the next run writes the same source values again (the
 *   same write twice, nothing lost).
 */
export interface SourceFingerprintStore {
  digest(fields: Record<string, string>): SourceFingerprint;
  find(source: string, keys: string[]): Promise<Map<string, SourceFingerprint>>;
  record(source: string, entries: Array<{ key: string; fingerprint: SourceFingerprint }>): Promise<void>;
}

/** A client's metadata document, as oidc-provider reads it. */
export type ClientMetadata = Record<string, unknown> & { client_id: string };

export interface ClientRecord {
  clientId: string;
  /**
   * The metadata document as oidc-provider reads it. `client_secret`, when
   * the client has one, is its keyed hash, never the secret: oidc-provider
   * only compares it (Gatehouse's compareClientSecret), and a metadata write
   * that hands the hash back keeps the secret unchanged.
   */
  metadata: ClientMetadata;
  createdAt: Date;
  updatedAt: Date;
}

/** A replaced secret that keeps working until `until` (client rotate-secret --grace). */
export interface PreviousSecret {
  hash: string;
  until: Date;
}

/** A client's secret as `export` writes it: the stored hash and, when kept, the sealed copy. */
export interface StoredSecret {
  hash: string | null;
  sealed: string | null;
}

/** Thrown by `ClientsStore.insert` when the client_id is already registered. */
/** A conditional replace found the client changed since it was read (ClientsStore.replace `ifStill`). */
export class ClientChangedError extends Error {
  override name = 'ClientChangedError';
}

export class DuplicateClientIdError extends Error {
  override name = 'DuplicateClientIdError';
}

/**
 * Registered clients, keyed by client_id.
 *
 * - Secrets at rest (RFC 6819 §5.1.4.1.3): a plain `client_secret` in a
 *   written document is kept only as a keyed hash and a sealed copy; reads
 *   answer the hash in its place, and a write that carries the stored hash
 *   back (as read) leaves the secret unchanged.
 * - `findCached`, `revealSecret` and `previousSecret` answer from a cache at
 *   most a second old: a change made through this store is seen at once, one
 *   made by another process within that second. A client another process
 *   registers is seen at once (an absence is never cached). Every other read
 *   is exact.
 * - `insert` never overwrites: a taken client_id is a DuplicateClientIdError.
 */
export const CLIENT_CACHE_MS = 1000;

export interface ClientsStore {
  /** The client's metadata, at most a second old (for the protocol's hot path). */
  findCached(clientId: string): Promise<ClientMetadata | undefined>;
  /** The secret in the clear, opened from its sealed copy (for admin documents that show it again); cached like findCached. */
  revealSecret(clientId: string): Promise<string | undefined>;
  find(clientId: string): Promise<ClientRecord | undefined>;
  /** Inserts a new client; never overwrites an existing one (DuplicateClientIdError). */
  insert(metadata: ClientMetadata): Promise<ClientRecord>;
  /**
   * Replaces a client's metadata; `undefined` when there is no such client.
   * With `ifStill`, only while the stored metadata is still that (as read
   * before the change was made): otherwise a ClientChangedError, and nothing
   * is written. With `keepSecret`, the stored secret stays whatever the
   * document carries: a change that is not about the secret never writes
   * the secret it read back over one changed meanwhile (a rotation, or an
   * imported hash replaced by replaceImportedSecretHash, whose old form
   * would otherwise be taken for a new secret in the clear).
   */
  replace(metadata: ClientMetadata, options?: { ifStill?: ClientMetadata; keepSecret?: boolean }): Promise<ClientRecord | undefined>;
  /**
   * A client brought across from another system, inserted or replaced with
   * its secret as given: in the clear (hashed and sealed as any other), or as
   * a hash only (another system's, verified by that format, or this
   * deployment's own from an export). `null` for a public client.
   */
  putImported(metadata: ClientMetadata, secret: { plain: string } | { hash: string } | null): Promise<ClientRecord>;
  /** Whether a hash is this deployment's own (same SECRETS_KEY), so it can be stored as it is. */
  isOwnSecretHash(hash: string): boolean;
  /** Whether `plain` is the client's current secret. */
  hasSecret(clientId: string, plain: string): Promise<boolean>;
  /**
   * Replaces an imported secret hash by this deployment's own keyed hash of
   * `secret`, once it has proved `secret` right, and only if the stored hash
   * is still `expectedHash` (compare and set: never over a rotation made
   * meanwhile). No sealed copy is made: a secret that came as a hash stays
   * one an administrator cannot read back. True when it replaced it.
   */
  replaceImportedSecretHash(clientId: string, expectedHash: string, secret: string): Promise<boolean>;
  /** What import sources last said about each client, by client_id (an import's "unchanged" test). */
  readonly sourceFingerprints: SourceFingerprintStore;
  /** The stored secret as `export` writes it. */
  storedSecret(clientId: string): Promise<StoredSecret>;
  /** Opens a sealed secret made for this client (an import of an export made with the same SECRETS_KEY). */
  openSealed(clientId: string, sealed: string): string;
  /**
   * Gives the client a new secret. With `graceSeconds` > 0 the one replaced
   * keeps working until then; otherwise it stops at once (and any earlier
   * previous secret with it). `undefined` when there is no such client.
   */
  rotateSecret(clientId: string, secret: string, graceSeconds: number): Promise<ClientRecord | undefined>;
  /** The replaced secret still in its grace period, if any (cached like findCached). */
  previousSecret(clientId: string): Promise<PreviousSecret | undefined>;
  /** True when a client was deleted. Its tokens are the caller's to revoke (ClientTokenStore). */
  delete(clientId: string): Promise<boolean>;
  /**
   * A page of clients, oldest first. `name` keeps those whose client_name
   * contains it, case-insensitively (a search); `nameIs` those whose
   * client_name is exactly it (a lookup).
   */
  list(options: { name?: string; nameIs?: string; limit: number; offset: number }): Promise<{ total: number; items: ClientRecord[] }>;
  /**
   * The largest number any client's metadata holds under one of `keys` of
   * the object `metadata[property]`; 0 when none does. Values that are not
   * numbers are ignored. One aggregate query over every client, exact (not
   * cached): for rare administrative checks, not the hot path.
   */
  largestMetadataNumber(property: string, keys: readonly string[]): Promise<number>;
}

/** One grant an account gave a client: what it allowed and when. */
export interface AccountGrant {
  grantId: string;
  clientId: string;
  /** The OpenID scopes granted, then those granted per resource server (RFC 8707). */
  scope: string[];
  issuedAt?: Date;
  expiresAt?: Date;
}

/** Every grant of one account, with what was issued under it, across both tiers. */
export interface AccountTokenStore {
  /** Revokes them, and ends the account's sign-in sessions; answers how many grants there were. */
  revokeAll(accountId: string): Promise<number>;
  /** The account's live grants, newest first. */
  grantsOf(accountId: string): Promise<AccountGrant[]>;
  /**
   * Revokes one grant and every token issued under it, if it is the
   * account's (so no one withdraws another account's grant by its id);
   * answers whether it was.
   */
  revokeGrant(accountId: string, grantId: string): Promise<boolean>;
}

/** Every token, code and grant of one client, across both tiers. */
export interface ClientTokenStore {
  /**
   * Revokes them all; a JWT among them is announced on the revocation feed
   * first. With `keepRegistration`, the client's RFC 7592 registration
   * access token stays: it manages the client rather than acting for it
   * (a narrowed client's registrant can still manage it).
   */
  revokeAll(clientId: string, options?: { keepRegistration?: boolean }): Promise<void>;
  countRefreshTokens(clientId: string): Promise<number>;
  /**
   * Live access tokens (opaque, client credentials, and JWTs that have a
   * record: see docs/architecture.md for the one kind that may not).
   */
  countAccessTokens(clientId: string): Promise<number>;
}

/** A dialect a client has obtained tokens through, and when (see ClientDialectStore). */
export interface ClientDialectUse {
  dialect: string;
  firstUsedAt: Date;
  lastUsedAt: Date;
}

/**
 * Which dialects (the standard endpoints, or a legacy one) each client
 * obtains tokens through. Tokens do not record the dialect they were issued
 * through, so this is kept beside them, in the durable tier.
 */
export interface ClientDialectStore {
  /** Notes a use (inserting the dialect, or moving its lastUsedAt). */
  noteUse(clientId: string, dialect: string, at: Date): Promise<void>;
  /** The client's dialects, most recently used first. */
  usesOf(clientId: string): Promise<ClientDialectUse[]>;
}

export interface AccountRecord {
  id: string;
  /** As it was typed at creation; shown in claims. */
  username: string;
  /** What identifies the account at sign-in (unique); the caller derives it. */
  usernameKey: string;
  passwordHash: string;
  roles: string[];
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  /** An inactive account cannot sign in. */
  active: boolean;
  /** The hash another system gave at the last import (see migration 0010), if any. */
  importedPasswordHash: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The fields an administrator or an import may change. */
export interface AccountChanges {
  email?: string | null;
  emailVerified?: boolean;
  name?: string | null;
  roles?: string[];
  active?: boolean;
  passwordHash?: string;
  importedPasswordHash?: string | null;
}

/** What `AccountsStore.insert` needs: a new account's fields, `active` defaulting to true. */
export type NewAccount = Omit<AccountRecord, 'createdAt' | 'updatedAt' | 'active' | 'importedPasswordHash'>
  & Partial<Pick<AccountRecord, 'active' | 'importedPasswordHash'>>;

/** Thrown by `AccountsStore.update` with `keepAnAdmin` when no other active administrator would remain. */
export class NoAdminLeftError extends Error {
  override name = 'NoAdminLeftError';
}

/** The fields an update may be made conditional on (`AccountsStore.update` `ifStill`). */
export type AccountExpectation = Partial<Pick<AccountRecord, 'email' | 'name' | 'roles' | 'active'>>;

/** A conditional update found the account changed since it was read (`AccountsStore.update` `ifStill`). */
export class AccountChangedError extends Error {
  override name = 'AccountChangedError';
}

/** Thrown by `AccountsStore.insert` when the id or the username key is taken. */
export class DuplicateUsernameError extends Error {
  override name = 'DuplicateUsernameError';
}

/**
 * End-user accounts. Usernames are unique by `usernameKey`, which the domain
 * derives (src/accounts/usernames.ts); a store only compares it for equality,
 * so no database collation or `lower()` takes part in the rule.
 */
export interface AccountsStore {
  findById(id: string): Promise<AccountRecord | undefined>;
  findByUsernameKey(usernameKey: string): Promise<AccountRecord | undefined>;
  /**
   * Sign-in's lookup, in one round trip: the account of this username key,
   * or, when there is none, `decoyHash`: the password hash of the first
   * account whose id sorts at or after `decoyPoint` (wrapping round to the
   * first; none in an empty store). An unknown username's password is
   * verified against it, so it costs what a real account's hash format
   * costs, and the time of a wrong answer does not tell which usernames
   * exist, even where imported hashes are slower than Gatehouse's own.
   */
  findForSignIn(usernameKey: string, decoyPoint: string): Promise<{ record?: AccountRecord; decoyHash?: string }>;
  /** The accounts of these username keys, in any order (an import's page: one round trip). */
  findByUsernameKeys(usernameKeys: string[]): Promise<AccountRecord[]>;
  /** The accounts of these ids, in any order (an import's page: one round trip). */
  findByIds(ids: string[]): Promise<AccountRecord[]>;
  /** Never overwrites: a taken id or username key is a DuplicateUsernameError. */
  insert(account: NewAccount): Promise<AccountRecord>;
  /**
   * Inserts many at once (an import's page). Never overwrites: an account
   * whose id or username key is taken is left out of the answer, not thrown,
   * so the caller compares what came back with what it sent.
   */
  insertMany(accounts: NewAccount[]): Promise<AccountRecord[]>;
  /**
   * Changes the given fields (undefined ones are left alone); `undefined` when there is no such account.
   * With `keepAnAdmin`, only if another active account with the `admin` role
   * remains, decided atomically with the write (the admin rows are locked in
   * one order, so of two administrators demoting each other at once, the
   * second sees the first's change): otherwise NoAdminLeftError, nothing written.
   * With `ifStill`, only while each field it names still has that value
   * (roles in the same order), decided atomically with the write: otherwise
   * AccountChangedError, nothing written. A read-then-write without it can
   * lose a change made in between.
   */
  update(id: string, changes: AccountChanges, options?: { keepAnAdmin?: boolean; ifStill?: AccountExpectation }): Promise<AccountRecord | undefined>;
  /**
   * Replaces the password hash only if it is still `expected` (compare and
   * set): a rehash at sign-in never overwrites a password an administrator
   * set meanwhile. True when it replaced it.
   */
  replacePasswordHash(id: string, expected: string, passwordHash: string): Promise<boolean>;
  /** True when an account was deleted. Its grants are the caller's to revoke (AccountTokenStore). */
  delete(id: string): Promise<boolean>;
  /** A page of accounts by username; `search` matches username, email or name, case-insensitively. */
  list(options: { search?: string; limit: number; offset: number }): Promise<{ total: number; items: AccountRecord[] }>;
  /** What import sources last said about each account, by username key (an import's "unchanged" test). */
  readonly sourceFingerprints: SourceFingerprintStore;
}

export interface KeyRecord {
  kid: string;
  use: 'sig' | 'cookie';
  alg: string | null;
  /**
   * With `withSecrets`: a private JWK for `sig`, `{ secret }` for `cookie`,
   * opened from the sealed copy. Without: the public JWK, or `{}`.
   */
  material: Record<string, unknown>;
  createdAt: Date;
  retiredAt?: Date | null;
}

/**
 * Signing and cookie keys. Private material is kept sealed at rest and
 * opened only when a caller asks `withSecrets`; without it, only the public
 * part is ever read.
 */
export interface KeysStore {
  /** Keys of a use, newest first; retired ones, and private material, only when asked. */
  list(use: KeyRecord['use'], options?: { includeRetired?: boolean; withSecrets?: boolean }): Promise<KeyRecord[]>;
  /** Marks a key retired; false when there is no such unretired key. */
  retire(kid: string): Promise<boolean>;
  insert(key: Omit<KeyRecord, 'createdAt'>): Promise<void>;
  /**
   * Inserts `make()` only when no key of that use (and of `alg`, when given)
   * exists yet. Processes that start together serialise, so exactly one key
   * is made.
   */
  insertIfNone(use: KeyRecord['use'], make: () => Promise<Omit<KeyRecord, 'createdAt'>>, alg?: string): Promise<void>;
}

export interface ScopeRecord {
  name: string;
  description: string;
  warning: boolean;
}

/** The scope registry: every scope a client may be given, in the order they were added. */
export interface ScopesStore {
  list(): Promise<ScopeRecord[]>;
  /**
   * Adds a scope or changes its description and warning flag. With
   * `ifStill`, only while the stored scope is still that (as the caller
   * read it), decided atomically with the write. True when written.
   */
  save(scope: ScopeRecord, options?: { ifStill?: ScopeRecord }): Promise<boolean>;
  /** What import sources last said about each scope, by name (an import's "unchanged" test). */
  readonly sourceFingerprints: SourceFingerprintStore;
}

export interface ResourceServerRecord {
  /** The resource indicator (RFC 8707 §2): an absolute URI without a fragment; the tokens' audience. */
  uri: string;
  /** Scopes this resource server understands, space-separated. */
  scope: string;
  tokenFormat: 'opaque' | 'jwt';
  /** Access token lifetime for this audience; null: the server default. */
  accessTokenTtl: number | null;
  /** JWS algorithm of its JWT access tokens. */
  signingAlg: 'RS256' | 'ES256' | 'EdDSA';
}

/** Registered resource servers (RFC 8707 audiences), keyed by URI, in the order they were added. */
export interface ResourceServersStore {
  list(): Promise<ResourceServerRecord[]>;
  find(uri: string): Promise<ResourceServerRecord | undefined>;
  /**
   * Adds a resource server or replaces its settings. With `ifStill`, only
   * while the stored one is still that (as the caller read it), decided
   * atomically with the write. True when written.
   */
  save(record: ResourceServerRecord, options?: { ifStill?: ResourceServerRecord }): Promise<boolean>;
  /** True when one was removed. */
  remove(uri: string): Promise<boolean>;
  /** What import sources last said about each resource server, by URI (an import's "unchanged" test). */
  readonly sourceFingerprints: SourceFingerprintStore;
}

export interface AuditEvent {
  event: string;
  actor?: string | null;
  clientId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEvent, 'detail'>> {
  id: string;
  at: Date;
  detail: Record<string, unknown>;
}

/** One tally of events that unauthenticated callers can cause (see AuditStore.tally). */
export interface AuditTally {
  /** The event as first seen in the window (its fields already bounded). */
  event: AuditEvent;
  /** What makes events the same: a short stable id of who and where. */
  key: string;
  /** How many such events to add. */
  count: number;
  /** Length of a tally's window in seconds (windows start at multiples of it since the epoch). */
  windowSeconds: number;
  /** Tallies of one event name a window may hold before further sources share one `overflow` tally. */
  maxPerWindow: number;
}

/** The key of the tally every source shares once a window holds `maxPerWindow` tallies. */
export const OVERFLOW_TALLY = 'overflow';

/**
 * The audit trail. Events are appended and read, never changed, except that
 * a tally's count grows while its window lasts; they are deleted only by
 * retention (`prune`).
 */
/** What the audit trail can be searched by (all optional; together they narrow). */
export interface AuditFilter {
  actor?: string;
  clientId?: string;
  event?: string;
  since?: Date;
  until?: Date;
}

export interface AuditStore {
  append(event: AuditEvent): Promise<void>;
  /** Many events at once (an import's page), as append would store each. */
  appendMany(events: AuditEvent[]): Promise<void>;
  /**
   * Adds `count` events to the tally of `key` in the current window,
   * creating it if needed, so that however many such events come, a window
   * holds at most `maxPerWindow` + 1 tallies per event name (the last one
   * keyed OVERFLOW_TALLY). A tally's `at` is its latest event and
   * `detail.first_at` its first. Tallies of one event name are serialised
   * across processes, so two processes never open two tallies for one key;
   * windows follow one clock shared by every process (the database's).
   */
  tally(tally: AuditTally): Promise<void>;
  /** Deletes the events recorded before `before` (retention), a batch at a time; returns how many. */
  prune(before: Date, batch?: number): Promise<number>;
  /** Newest first. */
  list(filter: { since?: Date; clientId?: string; limit: number; offset: number }): Promise<{ total: number; items: AuditRecord[] }>;
  /** Newest first, narrowed by every field the filter sets. */
  search(filter: AuditFilter & { limit: number; offset: number }): Promise<{ total: number; items: AuditRecord[] }>;
  /** One event by its id; undefined when there is none (or the id is not one). */
  find(id: string): Promise<AuditRecord | undefined>;
}

/** One sign-in session of an account, as the session index keeps it. */
export interface SignInSessionRecord {
  /**
   * The provider session's `uid`: stable for the session's whole life
   * (oidc-provider gives the session a new id at every sign-in, RFC 9700
   * §4.8 fixation, but keeps its uid), and found by the payload store's uid index.
   */
  sessionUid: string;
  accountId: string;
  signedInAt: Date;
  /** Where the sign-in came from (the request's address and User-Agent), as seen then. */
  ip: string | null;
  userAgent: string | null;
  /** The last time the provider saved the session (each authorization request it served). */
  lastSeenAt: Date;
  /** When the provider session expires, as of its last save. */
  expiresAt: Date;
}

/**
 * Sign-in sessions by account. oidc-provider stores sessions by id only;
 * this index, kept in the tier that holds the sessions (Redis or the SQL
 * table with expiry), is what lets a person or an administrator see and end
 * them. Rules every implementation keeps:
 *
 * - Expiry is lazy and exact: an entry whose `expiresAt` has passed is never
 *   answered (nor counted), whether or not it has been deleted yet.
 * - `record` inserts or replaces one entry; `touch` changes the times of an
 *   existing entry only (a session ended meanwhile is not brought back).
 * - Lists are the most recently seen first (latest `expiresAt`, which moves
 *   with every save); ties keep one order of the store's own between pages.
 */
export interface SignInSessionStore {
  record(entry: SignInSessionRecord): Promise<void>;
  touch(sessionUid: string, accountId: string, lastSeenAt: Date, expiresAt: Date): Promise<void>;
  remove(sessionUid: string): Promise<void>;
  find(sessionUid: string): Promise<SignInSessionRecord | undefined>;
  listByAccount(accountId: string): Promise<SignInSessionRecord[]>;
  list(options: { limit: number; offset: number }): Promise<{ total: number; items: SignInSessionRecord[] }>;
}

/** A one-time password-reset link as stored: its secret only as a hash. */
export interface PasswordResetLinkRecord {
  /** The public half of the link's token, the lookup key. */
  id: string;
  accountId: string;
  /** SHA-256 of the secret half (base64url); the secret itself is never stored. */
  secretHash: string;
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

/**
 * One-time password-reset links, in the durable tier.
 *
 * - `consume` is one atomic step: it marks the link used only if it is
 *   unused and unexpired, and of concurrent callers exactly one gets `true`.
 */
export interface PasswordResetLinkStore {
  insert(link: Omit<PasswordResetLinkRecord, 'createdAt' | 'usedAt'>): Promise<void>;
  find(id: string): Promise<PasswordResetLinkRecord | undefined>;
  consume(id: string): Promise<boolean>;
  /** Spends every unused link of the account (a newer one replaces them); answers how many. */
  consumeAllOf(accountId: string): Promise<number>;
}
