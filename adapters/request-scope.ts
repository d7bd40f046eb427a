import Provider from 'oidc-provider';

/**
 * What the storage layer keeps for the length of one request (a token or
 * userinfo request), so that the durable tier is asked as few times as the
 * request needs (issue 20: a PostgreSQL round trip is most of what a code
 * redemption or a refresh costs):
 *
 * - rows read ahead: when an artifact is read, the grant it was issued under
 *   and the account it belongs to are read in the same statement (one
 *   snapshot), because oidc-provider asks for both next. Each is taken once;
 *   a write to either within the request drops it.
 * - a consumption held back: a code's or refresh token's consumption, and
 *   the replacement it is exchanged for in the same store, are written when
 *   the request's work ends, by one statement (rotation is one round trip),
 *   and only if the answer is a success (adapters/oidc-adapter.ts). A request
 *   that fails after the provider spent its artifact (a store that stopped
 *   answering, a bad `resource`) spends nothing, so the client's retry is
 *   not taken for a replay.
 *
 * Nothing outlives the request: this is not a cache, and no other request,
 * process or node can see a row taken from it.
 */
export interface RequestScope {
  /** Rows read ahead, by `Grant:<id>` (a payload) / `account:<id>` (an accounts row); `null` when the read found none. */
  readonly readAhead: Map<string, unknown>;
  /** The single-use artifact whose consumption waits for the end of the request, with what replaces it in the same store (`store`). */
  heldConsumption?: HeldConsumption;
}

export interface HeldConsumption {
  model: string;
  id: string;
  store: object;
  replacement?: { model: string; id: string; payload: Record<string, unknown>; expiresIn?: number };
}

// Scopes by request, found through the request oidc-provider is serving
// (its own AsyncLocalStorage, Provider.ctx), where every adapter call of a
// token request runs. An AsyncLocalStorage of our own would do the same and
// cost every promise the process creates, on every request, a second
// propagation (profiled: the largest of Gatehouse's async-hook costs).
const scopes = new WeakMap<object, RequestScope>();

/** The scope of the request this code runs for, if the request has one. */
export function currentScope(): RequestScope | undefined {
  const request = Provider.ctx;
  return request === undefined ? undefined : scopes.get(request);
}

/**
 * Runs `work` (which hands `request` to oidc-provider) with a scope of its
 * own, then `settle` (which writes what is held if `request` was answered
 * with a success); `settle` runs even when nothing is held, and not when
 * `work` threw (a failed request consumed nothing).
 */
export async function inRequestScope<T>(
  request: object,
  work: () => Promise<T>,
  settle: (scope: RequestScope, succeeded: boolean, request: object) => Promise<void>,
): Promise<T> {
  const scope: RequestScope = { readAhead: new Map() };
  scopes.set(request, scope);
  try {
    const result = await work();
    const status = (request as { status?: unknown }).status;
    await settle(scope, typeof status === 'number' && status >= 200 && status < 300, request);
    return result;
  } finally {
    scopes.delete(request);
  }
}

/** The row read ahead under `key`, once: `undefined` when none was read ahead, `null` when the read found none. */
export function takeReadAhead<T>(key: string): T | null | undefined {
  const scope = currentScope();
  if (!scope || !scope.readAhead.has(key)) return undefined;
  const row = scope.readAhead.get(key) as T | null;
  scope.readAhead.delete(key);
  return row;
}

/** Forgets a row read ahead (the request is about to change or remove it). */
export function forgetReadAhead(key: string): void {
  currentScope()?.readAhead.delete(key);
}

export function rememberReadAhead(key: string, row: unknown): void {
  currentScope()?.readAhead.set(key, row ?? null);
}
