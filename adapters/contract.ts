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
   * Optional: tells `onHit` the key of every hit any process makes, so a
   * reader can skip `peek` for keys it knows have none. `live()` is false
   * while that knowledge may be incomplete (starting, reconnecting).
   */
  watch?(onHit: (key: string) => void): { live(): boolean };
  close?(): Promise<void>;
}
