import type { Adapter, AdapterFactory, AdapterPayload as ProviderPayload } from 'oidc-provider';
import Provider, { errors } from 'oidc-provider';
import type { AdapterPayload, PayloadStore } from './contract.js';
import type { ClientMetadata, ClientsStore } from './contract.js';
import { currentScope, type RequestScope } from './request-scope.js';
import { isEphemeral, JWT_ACCESS_TOKEN_MODEL } from './tiers.js';
import { StorageUnavailableError } from './unavailable.js';

export interface AdapterTiers {
  durable: PayloadStore;
  ephemeral: PayloadStore;
  clients: ClientsStore;
  /** Removes every token a client holds, in both tiers, announcing its JWTs' revocation. */
  revokeClientTokens(clientId: string): Promise<void>;
}

// Artifacts that may be used once. oidc-provider checks `consumed` on the
// artifact it loaded and then consumes it; two concurrent redemptions can both
// pass that check. The store's consume is atomic, so the loser is caught here.
// A pushed authorization request (RFC 9126 §7.3: one-time use) is spent
// when the authorization it carries is answered.
const SINGLE_USE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest']);

/** Removes everything issued under a grant, in both tiers (RFC 9700 §4.14.2 on reuse; an account's removal). */
export async function revokeGrant(tiers: Pick<AdapterTiers, 'durable' | 'ephemeral'>, grantId: string): Promise<void> {
  await Promise.all([
    ...['AccessToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest', JWT_ACCESS_TOKEN_MODEL]
      .map((m) => tiers.ephemeral.revokeByGrantId(m, grantId)),
    tiers.durable.revokeByGrantId('RefreshToken', grantId),
    tiers.durable.destroy('Grant', grantId),
  ]);
}

// A device polling with an expired device code is owed `expired_token`
// (RFC 8628 §3.5), not "not found"; oidc-provider decides expiry from the
// payload, so the store keeps the code a while past it.
const KEPT_PAST_EXPIRY: Record<string, number> = { DeviceCode: 600 };

/**
 * Spending a code or refresh token while a tier is known to be down would
 * lose it: what it is exchanged for (access tokens in the ephemeral tier, a
 * rotated refresh token in the durable one) could not be stored, and the
 * client could never retry. Refuse before spending instead.
 */
function assertTiersReachable(tiers: AdapterTiers): void {
  for (const [name, store] of [['durable', tiers.durable], ['ephemeral', tiers.ephemeral]] as const) {
    if (store.reachable?.() === false) throw new StorageUnavailableError(`${name} tier disconnected; nothing consumed`);
  }
}

interface ProviderRequest { oidc?: { provider?: { emit(event: string, ...args: unknown[]): boolean } } }

/**
 * Lost the race to a concurrent use of a single-use artifact: treat it as
 * the reuse it is. The grant is revoked, and said so as oidc-provider says
 * it of a replay it catches itself (`grant.revoked`: the audit trail); when
 * the request is past the provider's own error handling (`settled`: its
 * request given, as oidc-provider's own context has ended), its refusal is
 * announced too (`grant.error`: the token error metric), so a stolen code or
 * refresh token shows where operators look.
 */
async function lostTheRace(tiers: AdapterTiers, store: PayloadStore, model: string, id: string, settled?: object): Promise<never> {
  const payload = await store.find(model, id);
  const request = (settled ?? Provider.ctx) as (ProviderRequest & object) | undefined;
  const provider = request?.oidc?.provider;
  if (payload?.grantId) {
    await revokeGrant(tiers, payload.grantId);
    provider?.emit('grant.revoked', request, payload.grantId);
  }
  const refusal = model === 'PushedAuthorizationRequest'
    ? new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used')
    : new errors.InvalidGrant(`${model} already consumed`);
  if (settled) provider?.emit('grant.error', request, refusal);
  throw refusal;
}

/**
 * Writes a held consumption, with its replacement when there is one (one
 * statement: the replacement exists only if this request consumed the
 * artifact); a lost race fails the request as it would have at the consume
 * itself, and ends the grant as the replay it is.
 */
async function writeHeldConsumption(scope: RequestScope, tiers: AdapterTiers, settled?: object): Promise<void> {
  const held = scope.heldConsumption;
  if (!held) return;
  scope.heldConsumption = undefined;
  const store = held.store as PayloadStore;
  const { replacement } = held;
  const won = replacement && store.consumeAndUpsert
    ? await store.consumeAndUpsert(held, replacement.model, replacement.id, replacement.payload as AdapterPayload, replacement.expiresIn)
    : await store.consume(held.model, held.id);
  if (!won) await lostTheRace(tiers, store, held.model, held.id, settled);
}

/**
 * What a request scope (Storage.requestScope) settles when its work is done:
 * what it holds is written if the request succeeded, and dropped if not
 * (the artifact stays unspent, and its replacement is never stored).
 */
export function settleRequestScope(tiers: AdapterTiers): (scope: RequestScope, succeeded: boolean, request: object) => Promise<void> {
  return async (scope, succeeded, request) => {
    if (succeeded) await writeHeldConsumption(scope, tiers, request);
    else scope.heldConsumption = undefined;
  };
}

// isWellFormed is false for half a surrogate pair, which is no text at all.
const unstorableText = (text: string) => text.includes('\0') || !text.isWellFormed();

/**
 * Whether a string anywhere in `value` (a name or a value, 16 levels deep,
 * past any payload the provider writes) holds what no store can keep: U+0000, which
 * PostgreSQL's jsonb refuses, or half a surrogate pair, which is not text
 * (jsonb refuses it too; Redis would keep it, to fail later).
 */
function holdsUnstorable(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return unstorableText(value);
  if (value === null || typeof value !== 'object' || depth > 16) return false;
  for (const key in value) {
    if (unstorableText(key) || holdsUnstorable((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

const SESSION = 'Session';
const ENDED_SESSION = 'EndedSession';

/**
 * Destroys a session, leaving a mark (EndedSession, in the session's store)
 * for as long as the session could have lived, so that it stays ended
 * (sessionAdapter). Every end of a session goes through here.
 */
export async function endSession(store: PayloadStore, id: string): Promise<void> {
  const session = await store.find(SESSION, id);
  if (typeof session?.exp === 'number') {
    await store.upsert(ENDED_SESSION, id, {}, Math.max(60, session.exp - Math.floor(Date.now() / 1000)));
  }
  await store.destroy(SESSION, id);
}

/**
 * Sessions that stay ended. oidc-provider loads a request's session when
 * the request starts and saves it when it ends, unless that same request
 * destroyed it; a session ended meanwhile by another (a sign-out, a revoked
 * session, a new password, a deactivated account, a sign-in that gave the
 * session a new id) was written back by any request still in flight on it,
 * and a slow body holds one open for up to 30 s: signed out, the browser
 * was silently signed in again. So an ended session leaves a mark
 * (endSession), a session with a mark is not found, and a save of one is
 * not written. A save racing the end writes and then finds the mark: it
 * removes what it wrote and, since its write pointed the session's uid at
 * it, points the uid back at the session that lives on under it (a sign-in
 * keeps the uid), so a later end by uid still finds that one.
 */
function sessionAdapter(store: PayloadStore, plain: Adapter): Adapter {
  const ended = async (id: string) => (await store.find(ENDED_SESSION, id)) !== undefined;
  const findByUid = async (uid: string) => {
    const session = await plain.findByUid(uid);
    const id = session?.jti;
    return session && typeof id === 'string' && await ended(id) ? undefined : session;
  };
  return {
    ...plain,
    upsert: async (id, payload, expiresIn) => {
      if (await ended(id)) return;
      const uid = typeof payload.uid === 'string' ? payload.uid : undefined;
      const sharing = uid ? await findByUid(uid) : undefined;
      await plain.upsert(id, payload, expiresIn);
      if (!await ended(id)) return;
      await store.destroy(SESSION, id);
      const other = sharing?.jti;
      if (typeof other === 'string' && other !== id && typeof sharing?.exp === 'number' && !await ended(other)) {
        await plain.upsert(other, sharing, Math.max(1, sharing.exp - Math.floor(Date.now() / 1000)));
      }
    },
    find: async (id) => {
      const [session, gone] = await Promise.all([plain.find(id), ended(id)]);
      return gone ? undefined : session;
    },
    findByUid,
    destroy: (id) => endSession(store, id),
  };
}

function payloadAdapter(model: string, store: PayloadStore, tiers: AdapterTiers): Adapter {
  return {
    consume: async (id) => {
      if (!SINGLE_USE.has(model)) { await store.consume(model, id); return; }
      assertTiersReachable(tiers);
      const scope = currentScope();
      if (scope) {
        // Spent when the answer is known to be a success (settleRequestScope),
        // with what oidc-provider stores in exchange right after, in one
        // statement (one round trip, still before the answer goes out).
        await writeHeldConsumption(scope, tiers);
        scope.heldConsumption = { model, id, store };
        return;
      }
      if (!await store.consume(model, id)) await lostTheRace(tiers, store, model, id);
    },
    // Revoking a grant's access tokens revokes its JWT access tokens too.
    ...(model === 'AccessToken' ? {
      revokeByGrantId: async (grantId: string) => {
        await store.revokeByGrantId(model, grantId);
        await store.revokeByGrantId(JWT_ACCESS_TOKEN_MODEL, grantId);
      },
    } : { revokeByGrantId: (grantId: string) => store.revokeByGrantId(model, grantId) }),
    upsert: async (id, payload, expiresIn) => {
      // A request parameter the provider keeps (state, nonce, login_hint…,
      // from the query, a request object or a PAR) that no store can hold
      // would fail in PostgreSQL (jsonb), and one kept in Redis later, where
      // it is copied into a durable artifact (a code's nonce into its refresh
      // token, after the code is spent). Refused at the first write, whatever
      // the tier, as the malformed request it is.
      if (holdsUnstorable(payload)) throw new errors.InvalidRequest('request parameters must not contain NUL characters or unpaired surrogates');
      const lifetime = expiresIn && expiresIn + (KEPT_PAST_EXPIRY[model] ?? 0);
      const held = currentScope()?.heldConsumption;
      if (held?.store === store && !held.replacement && store.consumeAndUpsert) {
        // What the held artifact is exchanged for: written with its consumption.
        held.replacement = { model, id, payload: payload as AdapterPayload, expiresIn: lifetime };
        return;
      }
      await store.upsert(model, id, payload as AdapterPayload, lifetime);
    },
    find: async (id) => (await store.find(model, id)) as ProviderPayload | undefined,
    findByUid: async (uid) => (await store.findByUid(model, uid)) as ProviderPayload | undefined,
    findByUserCode: async (userCode) => (await store.findByUserCode(model, userCode)) as ProviderPayload | undefined,
    destroy: (id) => store.destroy(model, id),
  };
}

interface RegistrationRequest { oidc?: { route?: string; entities?: { RegistrationAccessToken?: { jti?: string } } } }

/**
 * oidc-provider writes a client in two places, both of dynamic registration
 * (RFC 7591, RFC 7592), and one upsert serves both; here they are told apart
 * by the provider's own route. A registration adds a row and never writes
 * over one. An update changes the row that is there, and only the holder of
 * the registration access token it presents: the token is claimed first
 * (rotation spends it right after this write, RFC 7592 §3), so of concurrent
 * updates with one token exactly one writes and gets the next token, and an
 * update racing the client's deletion cannot bring the row back.
 */
async function writeRegisteredClient(tiers: AdapterTiers, metadata: ClientMetadata): Promise<void> {
  const request = Provider.ctx as RegistrationRequest | undefined;
  if (request?.oidc?.route !== 'client_update') {
    await tiers.clients.insert(metadata);
    return;
  }
  const presented = request.oidc.entities?.RegistrationAccessToken?.jti;
  const tokens = isEphemeral('RegistrationAccessToken') ? tiers.ephemeral : tiers.durable;
  if (!presented || !await tokens.consume('RegistrationAccessToken', presented)) {
    throw new errors.InvalidToken('the registration access token was already used');
  }
  if (!await tiers.clients.replace(metadata)) throw new errors.InvalidToken('the client no longer exists');
}

// Clients are rows of their own table, shared with every admin surface; this
// adapter is how oidc-provider (and dynamic registration) reads and writes them.
function clientAdapter(tiers: AdapterTiers): Adapter {
  const { clients, revokeClientTokens } = tiers;
  const unsupported = async (): Promise<never> => { throw new Error('not applicable to clients'); };
  return {
    upsert: async (id, payload) => {
      // RFC 7591 metadata at any depth (a JWK's kid, a contact): what jsonb cannot hold is the registrant's mistake.
      if (holdsUnstorable(payload)) throw new errors.InvalidClientMetadata('client metadata must not contain NUL characters or unpaired surrogates');
      await writeRegisteredClient(tiers, { ...(payload as Record<string, unknown>), client_id: id } as ClientMetadata);
    },
    find: async (id) => (await clients.findCached(id)) as ProviderPayload | undefined,
    findByUid: unsupported,
    findByUserCode: unsupported,
    consume: unsupported,
    // RFC 7592 deletion: like an administrator's, the row first (nothing new
    // can be minted), then every grant, code and token the client holds.
    destroy: async (id) => {
      await clients.delete(id);
      await revokeClientTokens(id);
    },
    revokeByGrantId: unsupported,
  };
}

/** The `adapter` option of oidc-provider: one adapter per model, on its tier. */
export function createAdapterFactory(tiers: AdapterTiers): AdapterFactory {
  return (model: string) => {
    if (model === 'Client') return clientAdapter(tiers);
    const store = isEphemeral(model) ? tiers.ephemeral : tiers.durable;
    const adapter = payloadAdapter(model, store, tiers);
    return model === SESSION ? sessionAdapter(store, adapter) : adapter;
  };
}
