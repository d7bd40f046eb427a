import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { type Replay, replayToProvider } from './provider-endpoint.js';
import { MalformedJsonError, parseJsonBody } from './json-body.js';
import { readRaw } from './raw-body.js';
import { absentIfRefusedMetadata } from '../errors/provider-error.js';
import type { FailureLimiter } from '../security/failure-limiter.js';
import type { ClientSecretVerifier } from '../clients/secret-verification.js';

/**
 * RFC 7592 with client secrets at rest. Gatehouse stores a client's secret
 * as a keyed hash (adapters/secrets-at-rest.ts), and oidc-provider's client
 * configuration endpoint treats the stored value as the secret itself: it
 * answered the hash as `client_secret` on every read and update (a client
 * that took it for its new secret could no longer authenticate), and it
 * compared an update's `client_secret` with the hash, refusing every client
 * that sends its secret back as RFC 7592 §2.2's example does.
 */

/** The request's own method and media type, for a replay of its body. */
const asSent = (ctx: Context): Replay => ({ method: ctx.method, contentType: ctx.get('content-type') });

/**
 * Whether the request carries a live registration access token of this
 * client (RFC 7592 §3: the Authorization header's Bearer token). The
 * provider checks it again, and answers a missing or wrong one itself.
 */
async function holdsRegistrationToken(ctx: Context, provider: Provider, clientId: string): Promise<boolean> {
  const bearer = /^Bearer +([^\s]+)$/i.exec(ctx.get('authorization'))?.[1];
  if (!bearer) return false;
  const token = await provider.RegistrationAccessToken.find(bearer);
  return token?.clientId === clientId;
}

/**
 * On the client update route: a `client_secret` that proves right (checked
 * as client authentication checks it) is taken out of the body before the
 * provider sees it, so the provider keeps the stored secret; a wrong one is
 * left in, and the provider refuses it. The secret is compared only for a
 * request that holds the client's registration access token: without it the
 * provider refuses the request anyway, and a comparison would be a way to
 * test secrets (and, for a secret imported as a slow hash, to hold a
 * thread-pool thread per request) that no limit counts.
 */
export function registrationUpdateSecret(provider: Provider, limiter: FailureLimiter, verifyClientSecret: ClientSecretVerifier): Middleware {
  return async (ctx, next) => {
    if (!ctx.is('application/json')) return next();
    const raw = await readRaw(ctx.req);
    if (!raw) return next();
    let body: unknown;
    try {
      body = parseJsonBody(raw.toString('utf8'));
    } catch (error) {
      // Not JSON: the provider answers that in its own words. A name given
      // twice or half a surrogate pair is refused here, before the secret is read.
      if (error instanceof MalformedJsonError) return replayToProvider(ctx, next, ctx.path, raw, asSent(ctx));
      throw error;
    }
    const presented = (body as { client_secret?: unknown } | null)?.client_secret;
    // As the provider resolved `/reg/:clientId` (any spelling it accepts, a trailing slash included).
    const clientId = ctx.state.providerRoute?.params.clientId;
    if (typeof presented !== 'string' || !clientId || !(await holdsRegistrationToken(ctx, provider, clientId))) {
      return replayToProvider(ctx, next, ctx.path, raw, asSent(ctx));
    }
    const client = await provider.Client.find(clientId).catch(absentIfRefusedMetadata);
    // A client without a secret (a public one) has nothing to compare: the provider judges the body.
    const stored = client?.clientSecret;
    if (!stored || !presented) return replayToProvider(ctx, next, ctx.path, raw, asSent(ctx));
    let proved = false;
    // Checked as client authentication checks it, and inside the same limits
    // (every comparison is: provider/build.ts): a token holder's wrong secrets count like anyone's.
    await limiter.guard([{ kind: 'ip', value: ctx.ip }, { kind: 'client', value: clientId }], async () => {
      proved = await verifyClientSecret(presented, stored, clientId);
      return !proved;
    });
    if (!proved) return replayToProvider(ctx, next, ctx.path, raw, asSent(ctx));
    const { client_secret: _proved, ...rest } = body as Record<string, unknown>;
    return replayToProvider(ctx, next, ctx.path, Buffer.from(JSON.stringify(rest)), asSent(ctx));
  };
}

/**
 * On the client read and update routes: the stored secret is never answered
 * as `client_secret` (RFC 7591 §3.2.1 makes it optional). A secret the
 * provider issued in this very request (an update that made the client need
 * one) differs from the stored value and is answered, as it must be.
 */
export function withholdStoredSecret(): Middleware {
  return async (ctx, next) => {
    await next();
    const stored = (ctx as { oidc?: { client?: { clientSecret?: string } } }).oidc?.client?.clientSecret;
    const body = ctx.body as Record<string, unknown> | undefined;
    if (stored && body && typeof body === 'object' && body.client_secret === stored) delete body.client_secret;
  };
}
