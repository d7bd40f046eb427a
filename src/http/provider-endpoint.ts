import { stringify } from 'node:querystring';
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { setDialectLifetimes } from '../provider/lifetimes.js';
import type { Dialect, DialectLifetimes } from '../request-state.js';

/** What the provider answered, for a dialect to translate into its own shape. */
export interface ProviderAnswer {
  status: number;
  body: Record<string, unknown>;
  wwwAuthenticate?: string;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface ProviderCall {
  route: 'token' | 'revocation' | 'introspection';
  form: Record<string, string | undefined>;
  /** Sent as form fields (client_secret_post), whatever the client registered. */
  credentials?: ClientCredentials;
  /** An Authorization header to pass through untouched (the client already sent Basic). */
  authorization?: string;
  /** The dialect's own lifetimes; a client's own (dialect_lifetimes) come first. */
  lifetimes?: DialectLifetimes;
  /** The dialect making the call, for logs, metrics and lifetimes. */
  dialect: Dialect;
}

/**
 * A request body already in memory, readable the way oidc-provider (and
 * readRaw) read bodies: once, by async iteration. A full Readable stream per
 * replayed request cost more than the dialect's own translation did.
 */
class ReplayedBody {
  readable = true;
  readonly readableEncoding = null;

  constructor(private readonly payload: Buffer) {}

  async *iterator(): AsyncGenerator<Buffer> {
    if (!this.readable) return;
    this.readable = false;
    yield this.payload;
  }

  [Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    return this.iterator();
  }
}

/**
 * Runs the rest of the middleware chain (and so the provider) as if the
 * request had been `POST path` (or `replay.method`) with this body (a form,
 * unless `replay.contentType` says otherwise) and the request's own headers
 * (its Authorization replaced when `replay.authorization` is given, removed
 * when it is null), then restores the original request. The provider reads
 * the body from the request itself, so the replacement carries a fresh body.
 */
export interface Replay {
  /** Replaces the request's Authorization header; null removes it. */
  authorization?: string | null;
  /** The body's media type (a form by default). */
  contentType?: string;
  /** The method (POST by default, what the provider's endpoints for dialects take). */
  method?: string;
  /** Leaves the request's DPoP proof out (RFC 9449): the provider would judge it against its own path. */
  withoutDpop?: boolean;
}

export async function replayToProvider(ctx: Context, next: Next, path: string, payload: Buffer, replay: Replay = {}): Promise<void> {
  const { authorization, contentType = 'application/x-www-form-urlencoded', method = 'POST', withoutDpop = false } = replay;
  const replayHeaders: IncomingMessage['headers'] = {
    ...ctx.req.headers, 'content-type': contentType, 'content-length': String(payload.length),
  };
  delete replayHeaders['transfer-encoding'];
  if (withoutDpop) delete replayHeaders.dpop;
  if (authorization === null) delete replayHeaders.authorization;
  else if (authorization !== undefined) replayHeaders.authorization = authorization;
  const original = ctx.req;
  const originalPath = ctx.path;
  const replayed = Object.assign(new ReplayedBody(payload), {
    headers: replayHeaders,
    method,
    url: original.url,
    socket: original.socket,
    connection: original.socket,
    httpVersion: original.httpVersion,
    httpVersionMajor: original.httpVersionMajor,
    httpVersionMinor: original.httpVersionMinor,
  }) as unknown as IncomingMessage;

  ctx.req = replayed;
  ctx.request.req = replayed;
  ctx.response.req = replayed;
  ctx.path = path;
  try {
    await next();
  } finally {
    ctx.req = original;
    ctx.request.req = original;
    ctx.response.req = original;
    ctx.path = originalPath;
  }
}

const endpointPaths = new WeakMap<Provider, Map<ProviderCall['route'], string>>();

/** The provider's path for a route, resolved once (pathFor asks its router every time). */
function endpointPath(provider: Provider, route: ProviderCall['route']): string {
  let paths = endpointPaths.get(provider);
  if (!paths) endpointPaths.set(provider, paths = new Map());
  let path = paths.get(route);
  if (path === undefined) paths.set(route, path = provider.pathFor(route));
  return path;
}

/**
 * Hands a dialect's request to one of the provider's own endpoints, in this
 * same request: the body is replaced by the equivalent form-encoded request,
 * the path by the endpoint's, and the provider (further down the middleware
 * chain) does everything else — client authentication, grants, token storage,
 * events. Afterwards the request is restored and the provider's answer is
 * returned for translation. This is how every dialect stays a thin
 * translation with no token logic of its own.
 *
 * Why a substituted request, not a seam of oidc-provider's: the provider
 * resolves its route from the path, authenticates the client from the
 * Authorization header or the body, and reads parameters with its own body
 * parser, all from the request; it has no call that takes parameters. Its one
 * way in for an already-parsed body (`ctx.request.body`, honoured when the
 * request stream has been read; lib/shared/selective_body.js) still needs the
 * form content type and the endpoint's path on the request, re-encodes the
 * object before parsing it again, and logs a warning that an upstream body
 * parser "is not recommended" in every process. So the dialect's body is read
 * from the network once (by the dialect), the form is encoded once and parsed
 * once (by the provider), and the steps in front of the provider read the
 * parsed form from `ctx.state.providerForm` rather than the body.
 */
export async function callProviderEndpoint(ctx: Context, next: Next, provider: Provider, call: ProviderCall): Promise<ProviderAnswer> {
  const form: Record<string, string> = {};
  for (const name in call.form) if (call.form[name] !== undefined) form[name] = call.form[name];

  const authorization: string | null = call.authorization ?? null;
  if (!authorization && call.credentials) {
    // Always in the form, whichever method the client registered (the
    // provider takes client_secret_basic and client_secret_post for either):
    // chosen by the stored client, the hand-off answered an unknown client,
    // a Basic one and a post one differently (a secret Basic cannot carry,
    // the challenge), and so told who exists.
    form.client_id = call.credentials.clientId;
    form.client_secret = call.credentials.clientSecret;
  }

  // A call through a dialect always carries lifetimes, if only none of its
  // own: that is what makes the provider read a client's own (an imported
  // client keeps what its old server gave it; provider/lifetimes.ts).
  setDialectLifetimes(ctx, call.lifetimes ?? {});
  ctx.state.dialect = call.dialect;
  ctx.state.providerForm = form;
  try {
    // The dialects' documents predate DPoP, and their answers say Bearer: a proof
    // sent to a dialect is ignored, as RFC 9449 §5 has a server that does not do
    // DPoP at an endpoint ignore it (it was judged against the provider's /token
    // rather than the URL it was made for, and bound a token the answer called Bearer).
    await replayToProvider(ctx, next, endpointPath(provider, call.route), Buffer.from(stringify(form)), { authorization, withoutDpop: true });
  } finally {
    // Cleared, not deleted: ctx.state keeps its shape (and V8 its fast properties).
    ctx.state.providerForm = undefined;
  }

  const body = ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body) ? ctx.body as Record<string, unknown> : {};
  const answer: ProviderAnswer = { status: ctx.status, body };
  const challenge = ctx.response.get('WWW-Authenticate');
  if (challenge) answer.wwwAuthenticate = challenge;
  // The dialect writes its own body and challenge.
  ctx.remove('WWW-Authenticate');
  ctx.body = null;
  return answer;
}
