import { parse } from 'node:querystring';
import type { Middleware } from 'koa';
import { PayloadTooLargeError } from '../errors/app-error.js';
import { writeAppErrorAsRfc6749 } from '../errors/rfc6749.js';
import { FailureLimiter, type Subject, TooManyFailures } from '../security/failure-limiter.js';
import { isReservedClient } from '../clients/reserved-clients.js';
import { basicClientId } from './basic-auth.js';
import { replayToProvider } from './provider-endpoint.js';
import { readRaw } from './raw-body.js';

// The methods that prove a shared secret, which a guesser could hit on.
const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);

/** How a client authenticates (its token_endpoint_auth_method), or undefined for an unknown one. */
export type AuthMethodOf = (clientId: string) => Promise<string | undefined>;

/**
 * Brute-force protection for client authentication, placed (in main.ts's
 * table of provider extensions) on every endpoint that authenticates clients
 * (token, introspection, revocation, PAR, device authorization), and so for
 * every dialect, which hands its requests to those endpoints. A request past
 * the limiter's limits that apply to it is refused before the provider
 * checks anything, and each `invalid_client` counts against them: for a
 * client with a shared secret (or an unknown one), this address with this
 * client, this address, and this client from many addresses
 * (src/security/failure-limiter.ts); for a client with nothing to guess, the
 * address only; Gatehouse's own clients are never refused. Requests with
 * HTTP Basic need no body read, nor do a dialect's, whose form is already
 * parsed (ctx.state.providerForm); for credentials in the body of a direct
 * request, the body is read once and handed on unchanged.
 */
export function clientAuthThrottle(limiter: FailureLimiter, authMethodOf: AuthMethodOf): Middleware {
  return async (ctx, next) => {
    let clientId = basicClientId(ctx.get('authorization'));
    let raw: Buffer | undefined;
    const handedForm = ctx.state.providerForm;
    if (clientId === undefined && handedForm) {
      // A dialect's hand-off: the form is already parsed; its body is left for the provider.
      if (handedForm.client_id) clientId = handedForm.client_id;
    } else if (clientId === undefined && ctx.is('application/x-www-form-urlencoded')) {
      raw = await readRaw(ctx.req);
      // The same error the provider's body checks throw (raw-body.ts), answered in the caller's shape.
      if (!raw) throw new PayloadTooLargeError();
      const field = parse(raw.toString('utf8')).client_id;
      if (typeof field === 'string' && field) clientId = field;
    }
    const address: Subject = { kind: 'ip', value: ctx.ip };
    // No client named: only the address is limited.
    let attempt = (run: (proven: () => void) => Promise<boolean>) => limiter.guard([address], run);
    if (clientId && isReservedClient(clientId)) {
      // Gatehouse's own clients (the dashboard's, which every page sign-in
      // redeems its code through, from the server's own address) hold
      // 256-bit secrets only the server knows: a limit on them guards
      // nothing and would let others lock every user out of the pages,
      // through the client or through the address the server calls itself
      // from. Their failures still count against the sender's address.
      attempt = (run) => limiter.unguessable([address], run, false);
    } else if (clientId) {
      // A client with no shared secret (a public client, private_key_jwt)
      // has nothing to guess: limits on it, from one address or from every
      // one, would only let others lock its users out. Only the sender's
      // address is limited. An unknown client is limited as a secret one,
      // so that its answers cannot tell it apart from a secret one.
      const method = await authMethodOf(clientId);
      const subjects: Subject[] = [address, { kind: 'client', value: clientId }];
      attempt = method === undefined || SECRET_METHODS.has(method)
        ? (run) => limiter.guard(subjects, run)
        : (run) => limiter.unguessable([address], run);
    }
    try {
      // Checked, run and counted as one guarded attempt: requests sent at
      // once get no more secret checks than the limit (FailureLimiter.guard).
      await attempt(async (proven) => {
        // The provider's secret check says when the secret is right (provider/build.ts).
        ctx.state.clientSecretProven = proven;
        try {
          if (raw) await replayToProvider(ctx, next, ctx.path, raw);
          else await next();
        } finally {
          // The guard ends with this attempt: nothing later in the request compares a secret under it.
          // Cleared, not deleted: ctx.state keeps its shape (and V8 its fast properties).
          ctx.state.clientSecretProven = undefined;
        }
        // The provider's answer to a failed client authentication (RFC 6749
        // §5.2), JSON whatever the request prefers (provider/error-answers.ts).
        return ctx.status === 401 && (ctx.body as { error?: unknown } | undefined)?.error === 'invalid_client';
      });
    } catch (error) {
      if (!(error instanceof TooManyFailures)) throw error;
      // Answered, not thrown: it stands in for the provider's answer, which
      // dialects translate like any other (429 in the RFC 6749 shape here).
      writeAppErrorAsRfc6749(ctx, error, { 'Cache-Control': 'no-store' });
    }
  };
}
