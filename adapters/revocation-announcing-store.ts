import { type PayloadStore, type RevocationFeed, type TokenRevocation, UNRECORDED_JWT_MAX_LIFETIME } from './contract.js';
import { JWT_ACCESS_TOKEN_MODEL } from './tiers.js';

// A record stored without a lifetime would be a token that never expires:
// its revocation must never lapse.
const NEVER = Number.MAX_SAFE_INTEGER;

/**
 * The ephemeral tier, announcing on `feed` every JWT access token whose
 * record a revocation is about to remove, before removing it: the token
 * itself (RFC 7009), its grant (refresh-token or code reuse, logout, consent
 * withdrawn) or its client (deleted). Doing it here, on the store every one
 * of those paths goes through, rather than at each caller, means no path can
 * remove a record without the denylist learning of it.
 *
 * JWTs do not carry their grant id, so a grant's revocation is expanded to
 * its tokens' jtis, which the store indexes by grant. They do carry
 * `client_id`, so a client's revocation is one entry, lasting until the last
 * of its tokens expires (or, with a persistent feed, for as long as a token
 * without a record may live).
 *
 * Announcing first, removing second: if the announcement fails the records
 * stay, the revocation fails, and the caller can retry.
 */
export function announcingRevocations(store: PayloadStore, feed: RevocationFeed): PayloadStore {
  async function announceTokens(owner: { id: string } | { grantId: string }): Promise<void> {
    const expiries = await store.expiries(JWT_ACCESS_TOKEN_MODEL, owner);
    const revocations: TokenRevocation[] = [...expiries].map(([jti, expiresAt]) => ({ kind: 'token', jti, until: expiresAt ?? NEVER }));
    await feed.publish(revocations);
  }

  const announcing = Object.create(store) as PayloadStore;
  return Object.assign(announcing, {
    async destroy(model: string, id: string): Promise<void> {
      if (model === JWT_ACCESS_TOKEN_MODEL) await announceTokens({ id });
      await store.destroy(model, id);
    },
    // Whatever the model: the Redis store removes every artifact of a grant,
    // JWT records included, on the first call for it.
    async revokeByGrantId(model: string, grantId: string): Promise<void> {
      await announceTokens({ grantId });
      await store.revokeByGrantId(model, grantId);
    },
    async revokeByClientId(clientId: string, options?: { keep?: readonly string[] }): Promise<void> {
      const expiries = await store.expiries(JWT_ACCESS_TOKEN_MODEL, { clientId });
      const now = Math.floor(Date.now() / 1000);
      // With a persistent feed the client may also hold tokens that were never
      // recorded (JwtAccessTokenRegistry.record), none outliving this bound.
      let until = feed.persistent ? now + UNRECORDED_JWT_MAX_LIFETIME : 0;
      for (const expiresAt of expiries.values()) until = Math.max(until, expiresAt ?? NEVER);
      if (until > 0) await feed.publish([{ kind: 'client', clientId, issuedUntil: now, until }]);
      await store.revokeByClientId(clientId, options);
    },
  });
}
