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
  /** Removes every artifact (of any model in this store) issued to a client. */
  revokeByClientId(clientId: string): Promise<void>;
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
   * Adds `member` to the set at `key` (or renews it) and answers how many
   * members the set now holds. Each member lives for `windowSeconds` after
   * its latest add, on its own. Sets are a namespace apart from counters (the
   * same key names a counter and a set independently) and are not watched.
   * Of concurrent adds, each may miss another's member; the next add sees it.
   */
  addMember(key: string, member: string, windowSeconds: number): Promise<number>;
  /**
   * Optional: tells `onHit` the key of every hit any process makes, so a
   * reader can skip `peek` for keys it knows have none. `live()` is false
   * while that knowledge may be incomplete (starting, reconnecting).
   */
  watch?(onHit: (key: string) => void): { live(): boolean };
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
  /** Delivers every recorded revocation that has not lapsed, then each new one. */
  watch(onRevoked: (revocation: TokenRevocation) => void): RevocationWatch;
  close?(): Promise<void>;
}
