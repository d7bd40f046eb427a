import type Provider from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

/** Keys to hand to a running provider: private JWKs in signing order, and their public halves. */
export interface ProviderSigningKeys {
  keys: ReadonlyArray<Record<string, unknown>>;
  published: { keys: ReadonlyArray<Record<string, unknown>> };
}

/**
 * Replaces a running provider's signing keys, so that a key rotated by the
 * CLI or another process is published and used without a restart.
 *
 * oidc-provider takes `jwks` once, at construction, into a keystore that
 * every signature reads afresh (`instance(provider).keystore.selectForSign`,
 * first match wins), and serves `/jwks` from a public copy made at the same
 * time (`instance(provider).jwks`). Neither is reachable through its API, so
 * both are replaced where the provider keeps them, in one synchronous step:
 * no request sees a keystore half filled. Rebuilding the whole provider
 * instead would mean rebuilding everything that holds it (routers, token
 * check, event listeners, metrics). The keys come from the same generator and
 * algorithms that the provider validated at start-up.
 *
 * Throws at start-up when an oidc-provider upgrade has moved either.
 */
export function liveSigningKeys(provider: Provider): (next: ProviderSigningKeys) => void {
  const internals = instance(provider);
  const keystore = internals?.keystore;
  if (typeof keystore?.clear !== 'function' || typeof keystore.add !== 'function' || !Array.isArray(internals?.jwks?.keys)) {
    throw new Error('oidc-provider no longer keeps its keystore where Gatehouse replaces rotated keys (src/provider/live-signing-keys.ts); check the oidc-provider upgrade');
  }
  return (next) => {
    keystore.clear();
    // The provider reads (and may annotate) its own copies, as at construction.
    for (const key of next.keys) keystore.add(structuredClone(key));
    internals!.jwks = { keys: next.published.keys.map((key) => structuredClone(key)) };
  };
}
