import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, type JSONWebKeySet, jwksCache, type JWKSCacheInput, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../errors/app-error.js';
import { writeAppErrorAsRfc6749 } from '../errors/rfc6749.js';
import { type AudienceRule, audienceAccepted, audienceList } from './audience.js';
import { DPOP_PROOF_ALGS, dpopProofProblem, type ProofReplayGuard } from './dpop.js';

/** What a resource server learns about a valid token. */
export interface TokenInfo {
  clientId: string;
  /** The end-user the token acts for; absent for client_credentials tokens. */
  sub?: string;
  scope: string[];
  /** The scheme it was presented with. */
  tokenType: 'Bearer' | 'LEAccess' | 'DPoP';
  /** The key thumbprint a sender-constrained (DPoP) token is bound to. */
  jkt?: string;
  format: 'opaque' | 'jwt';
  /** Epoch seconds. */
  expiresAt?: number;
  /** The verified claims of a JWT access token. */
  claims?: Record<string, unknown>;
  /** Who the token is for (`aud`); empty for an opaque token issued without a resource indicator. */
  audience: string[];
  /** The grant an opaque token belongs to (JWTs keep theirs in their record). */
  grantId?: string;
}

/** What is known of a genuine, live token before any resource's rules are applied. */
export type IssuedToken = Omit<TokenInfo, 'tokenType' | 'format'>;

/** The error codes of RFC 6750 §3.1, and RFC 9449 §7.1's for a refused DPoP proof. */
export type TokenCheckErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof';

export interface TokenCheckErrorDetails {
  /** The scheme the token was presented with: its challenge carries the error (RFC 9449 §7.2). */
  scheme?: 'Bearer' | 'LEAccess' | 'DPoP';
  requiredScope?: string[];
  /** The DPoP proof algorithms, when the refusing resource accepts DPoP: then it challenges for DPoP too (RFC 9449 §7.1). */
  dpopAlgs?: readonly string[];
}

/**
 * An RFC 6750 §3.1 error: 400 invalid_request, 401 invalid_token, 403
 * insufficient_scope, and RFC 9449's 401 invalid_dpop_proof. `error` is
 * undefined when the request carries no credentials this resource
 * understands, no token or another scheme's (§3.1: then the challenge
 * carries no error code); the body still needs one, and says invalid_token,
 * as oidc-provider's own resource endpoints do: the 401 of a token missing.
 */
export class TokenCheckError extends AppError {
  override name = 'TokenCheckError';
  readonly scheme: 'Bearer' | 'LEAccess' | 'DPoP';
  readonly requiredScope?: string[];
  readonly dpopAlgs?: readonly string[];

  constructor(
    override readonly status: 400 | 401 | 403,
    readonly error: TokenCheckErrorCode | undefined,
    message: string,
    { scheme = 'Bearer', requiredScope, dpopAlgs }: TokenCheckErrorDetails = {},
  ) {
    super(status, error ?? 'invalid_token', message);
    this.scheme = scheme;
    if (requiredScope) this.requiredScope = requiredScope;
    if (dpopAlgs) this.dpopAlgs = dpopAlgs;
  }

  /**
   * The WWW-Authenticate value for this error: the one place every refusal's
   * challenge is written. Without credentials, a bare challenge for each
   * scheme accepted (RFC 6750 §3.1, RFC 9449 §7.2 Figure 17); otherwise the
   * presented scheme's challenge carries the error, and, where DPoP is
   * accepted, a DPoP challenge follows with the proof algorithms (Figure 18).
   */
  challenge(realm: string): string {
    const quoted = (value: string) => `"${value.replace(/["\\]/g, '')}"`;
    const algs = this.dpopAlgs?.length ? [`algs=${quoted(this.dpopAlgs.join(' '))}`] : undefined;
    const challenges: string[] = [];
    if (this.error) {
      const params = [`realm=${quoted(realm)}`, `error="${this.error}"`, `error_description=${quoted(this.message)}`];
      if (this.requiredScope?.length) params.push(`scope=${quoted(this.requiredScope.join(' '))}`);
      if (this.scheme === 'DPoP' && algs) params.push(...algs);
      challenges.push(`${this.scheme} ${params.join(', ')}`);
    } else {
      challenges.push(`Bearer realm=${quoted(realm)}`);
    }
    if (algs && (!this.error || this.scheme !== 'DPoP')) challenges.push(`DPoP realm=${quoted(realm)}, ${algs.join(', ')}`);
    return challenges.join(', ');
  }
}

export interface TokenCheckOptions {
  issuer: string;
  /**
   * The audience a token must carry to be accepted here (RFC 8707, RFC 9068
   * §4), and whether tokens without one are (see resource-check/audience.ts).
   * Defaults to refusing audience-less tokens.
   */
  audience: string;
  audiencelessAccepted?: boolean;
  /** Where signing keys come from: a JWKS URL (fetched and cached), or a loader of the current set, asked on every verification (answer from memory; a new object when the keys change). */
  jwks: URL | (() => Promise<JSONWebKeySet>);
  /**
   * Looks up an opaque token; in-process this is the provider's own token
   * store. Returns undefined for unknown, expired or revoked tokens.
   */
  findOpaque?: (token: string) => Promise<IssuedToken | undefined>;
  /**
   * Whether a verified JWT access token was revoked, itself or through its
   * grant or client. Asked on every request, so it should answer from memory
   * (in-process, a revocation view) rather than ask a store each time.
   */
  jwtRevoked?: (claims: JWTPayload) => boolean | Promise<boolean>;
  /** Whether a client still exists (tokens of deleted clients are dead); asked on every request too. */
  clientExists?: (clientId: string) => boolean | Promise<boolean>;
  /** Realm in challenges. */
  realm?: string;
  /** Replay guard for DPoP proofs; without it DPoP-bound tokens are refused. */
  dpopReplay?: ProofReplayGuard;
}

/** The request a token is presented with (needed to check DPoP proofs). */
export interface PresentedRequest {
  method: string;
  url: string;
  dpop?: string;
}

// Verified JWTs kept per process; past this, start again.
const VERIFIED_TOKENS_KEPT = 10_000;
const SCHEMES = new Map([['bearer', 'Bearer'], ['leaccess', 'LEAccess'], ['dpop', 'DPoP']] as const);
// RFC 6750 §2.1 b64token
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Signing keys, and which set of them is current: `generation` names the
 * set a verification used, and changes whenever keys are rotated in or
 * retired, so that what was verified with an earlier set can be judged again.
 */
interface SigningKeys {
  getKey: JWTVerifyGetKey;
  generation(): Promise<unknown>;
}

/**
 * A loader's key set, rebuilt when the loader answers with another object
 * (keys rotated in or retired). The loader is asked on every verification,
 * so it must answer from memory; the object it answers is the generation.
 */
function loadedKeys(load: () => Promise<JSONWebKeySet>): SigningKeys {
  let source: JSONWebKeySet | undefined;
  let keySet: JWTVerifyGetKey | undefined;
  return {
    async getKey(header, token) {
      const jwks = await load();
      if (jwks !== source || !keySet) {
        source = jwks;
        keySet = createLocalJWKSet(jwks);
      }
      return keySet(header, token);
    },
    generation: load,
  };
}

/**
 * The issuer's published keys could not be fetched (unreachable, slow, not
 * a key set): the token cannot be judged either way, so the resource answers
 * 503 rather than telling the client its token is invalid.
 */
export class SigningKeysUnavailableError extends AppError {
  override name = 'SigningKeysUnavailableError';

  constructor(url: URL, cause: unknown) {
    super(503, 'temporarily_unavailable', 'the issuer’s signing keys cannot be fetched; try again later', `${url.href}: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

// What jose says of the token itself once it has a key set: no key for its
// `kid`/`alg`, several, or a key it cannot use. Anything else from the
// remote set is the fetch failing.
const TOKEN_KEY_PROBLEMS = [joseErrors.JWKSNoMatchingKey, joseErrors.JWKSMultipleMatchingKeys, joseErrors.JOSENotSupported, joseErrors.JWSInvalid];

/** A JWKS URL's keys (fetched and cached by jose); a generation per successful fetch. */
function remoteKeys(url: URL): SigningKeys {
  const cache: JWKSCacheInput = {};
  const remote = createRemoteJWKSet(url, { [jwksCache]: cache });
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (TOKEN_KEY_PROBLEMS.some((problem) => error instanceof problem)) throw error;
      throw new SigningKeysUnavailableError(url, error);
    }
  };
  return { getKey, generation: async () => (cache as { uat?: number }).uat };
}

// RFC 9068 §2.2: claims every JWT access token carries. Without `exp` a
// token would never end; without `iat` and `jti` it could not be revoked.
const REQUIRED_CLAIMS = ['exp', 'iat', 'jti', 'client_id'];

/**
 * The check resource servers use on a presented access token: the `Bearer`
 * or `LEAccess` scheme, opaque tokens against the token store, JWT access
 * tokens (RFC 9068) against the signing keys, then the required scopes.
 */
export function createTokenCheck(options: TokenCheckOptions) {
  const keys = options.jwks instanceof URL ? remoteKeys(options.jwks) : loadedKeys(options.jwks);

  // A client presents the same token on every call until it expires: its
  // signature, issuer, audience and type are checked the first time, and the
  // verified claims kept (by the token's exact value) until its `exp`, for
  // as long as the signing keys stay the ones that verified it: a retired
  // key (a leaked one among them) takes what it signed with it at once.
  // Revocation, the client's existence, DPoP binding and scopes are still
  // checked on every request.
  const verified = new Map<string, JWTPayload & { exp: number }>();
  let verifiedWith: unknown;
  async function verifiedClaims(token: string): Promise<JWTPayload> {
    const now = Math.floor(Date.now() / 1000);
    const generation = await keys.generation();
    if (generation !== verifiedWith) {
      verified.clear();
      verifiedWith = generation;
    }
    const known = verified.get(token);
    if (known && known.exp > now) return known;
    // The audience is judged afterwards, by the same rule as for opaque
    // tokens; introspection and token exchange look at tokens of any audience.
    const { payload } = await jwtVerify(token, keys.getKey, {
      issuer: options.issuer, typ: 'at+jwt', algorithms: ['RS256', 'ES256', 'EdDSA', 'PS256'], requiredClaims: REQUIRED_CLAIMS,
    });
    // Kept only if the keys did not change while it was verified.
    if (verifiedWith === await keys.generation()) {
      if (verified.size >= VERIFIED_TOKENS_KEPT) verified.clear();
      verified.set(token, payload as JWTPayload & { exp: number });
    }
    return payload;
  }

  async function verifyJwt(token: string): Promise<IssuedToken | undefined> {
    try {
      const payload = await verifiedClaims(token);
      if (typeof payload.client_id !== 'string') return undefined;
      if (options.jwtRevoked && await options.jwtRevoked(payload)) return undefined;
      return {
        clientId: payload.client_id,
        sub: payload.sub && payload.sub !== payload.client_id ? payload.sub : undefined,
        scope: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
        expiresAt: payload.exp,
        claims: payload,
        jkt: (payload.cnf as { jkt?: string } | undefined)?.jkt,
        audience: audienceList(payload.aud),
      };
    } catch (error) {
      // A token that fails verification is no token; anything else (the
      // revocation record's read failing in a storage outage) is not an
      // answer about the token, and is thrown on.
      if (error instanceof joseErrors.JOSEError) return undefined;
      throw error;
    }
  }

  /**
   * Whether `token` is a genuine, live token of this issuer, whatever its
   * audience: a verified JWT (not revoked) or a stored opaque token, of a
   * client that still exists. Introspection (RFC 7662) and token exchange
   * (RFC 8693) judge tokens for any resource; resources use `checkToken`.
   */
  async function inspect(token: string): Promise<IssuedToken | undefined> {
    const info = isJwt(token) ? await verifyJwt(token) : await options.findOpaque?.(token);
    if (!info) return undefined;
    if (options.clientExists && !(await options.clientExists(info.clientId))) return undefined;
    return info;
  }

  const audienceRule: AudienceRule = { audience: options.audience, audiencelessAccepted: options.audiencelessAccepted ?? false };

  /** Resolves the token's info, or throws a TokenCheckError. */
  async function checkToken(authorization: string | undefined, requiredScopes: string[] = [], request?: PresentedRequest): Promise<TokenInfo> {
    // DPoP is accepted only where a proof can be checked: the request is
    // known and proofs' ids are remembered. Only then is it advertised.
    const dpopAlgs = request && options.dpopReplay ? DPOP_PROOF_ALGS : undefined;
    const refuse = (status: 400 | 401 | 403, error: TokenCheckErrorCode | undefined, message: string, details: TokenCheckErrorDetails = {}) =>
      new TokenCheckError(status, error, message, { ...details, ...(dpopAlgs ? { dpopAlgs } : {}) });

    if (!authorization) throw refuse(401, undefined, 'no access token');
    const space = authorization.indexOf(' ');
    const scheme = SCHEMES.get(authorization.slice(0, space).toLowerCase() as 'bearer');
    const token = authorization.slice(space + 1).trim();
    // RFC 6750 §3.1: a request "attempted using an unsupported authentication
    // method" lacks authentication information: 401 and a bare challenge.
    if (space < 1 || !scheme) throw refuse(401, undefined, 'use the Bearer, LEAccess or DPoP scheme');
    if (!TOKEN.test(token) || token.length > 4096) throw refuse(400, 'invalid_request', 'malformed access token', { scheme });

    const info = await inspect(token);
    if (!info) throw refuse(401, 'invalid_token', 'the access token is invalid, expired or revoked', { scheme });
    if (!audienceAccepted(info.audience, audienceRule)) {
      throw refuse(401, 'invalid_token', 'the access token was issued for another resource', { scheme });
    }
    // RFC 9449 §7.1: a bound token only with the DPoP scheme and a valid proof;
    // the DPoP scheme only for a bound token.
    if (info.jkt || scheme === 'DPoP') {
      const refusal = !info.jkt || scheme !== 'DPoP' || !request || !options.dpopReplay
        ? { error: 'invalid_token' as const, description: 'this token must be presented with the DPoP scheme and a proof' }
        : await dpopProofProblem({ proof: request.dpop, method: request.method, url: request.url, accessToken: token, jkt: info.jkt }, options.dpopReplay);
      if (refusal) throw refuse(401, refusal.error, refusal.description, { scheme: 'DPoP' });
    }
    const missing = requiredScopes.filter((s) => !info.scope.includes(s));
    if (missing.length) {
      throw refuse(403, 'insufficient_scope', 'the access token lacks a required scope', { scheme, requiredScope: requiredScopes });
    }
    return { ...info, tokenType: scheme, format: isJwt(token) ? 'jwt' : 'opaque' };
  }

  return Object.assign(checkToken, { inspect });
}

const isJwt = (token: string): boolean => token.split('.').length === 3;

export type TokenCheck = ReturnType<typeof createTokenCheck>;

/**
 * Koa middleware: rejects the request with an RFC 6750 error unless it
 * carries a valid token with every scope in `scopes`; otherwise puts the
 * token's info on `ctx.state.token`. `origin` is the resource's public
 * origin: a DPoP proof's `htu` is compared with it, never with the request's
 * Host header, which the sender controls (RFC 9449 §4.3 step 9).
 */
export function requireToken(check: TokenCheck, { origin, scopes = [], realm = 'gatehouse' }: { origin: string; scopes?: string[]; realm?: string }): Middleware {
  const base = new URL(origin).origin;
  return async (ctx: Context, next) => {
    try {
      ctx.state.token = await check(ctx.get('Authorization') || undefined, scopes, {
        method: ctx.method, url: `${base}${ctx.path}`, dpop: ctx.get('DPoP') || undefined,
      });
    } catch (error) {
      if (!(error instanceof TokenCheckError)) throw error;
      writeAppErrorAsRfc6749(ctx, error, { 'WWW-Authenticate': error.challenge(realm), 'Cache-Control': 'no-store' });
      return;
    }
    await next();
  };
}

/** The opaque-token lookup backed by the provider's own token store. */
export function providerTokenLookup(provider: Provider): NonNullable<TokenCheckOptions['findOpaque']> {
  return async (token) => {
    // An opaque value does not say which kind it is: ask for both at once (one round trip).
    const [accessToken, clientCredentials] = await Promise.all([provider.AccessToken.find(token), provider.ClientCredentials.find(token)]);
    const found = accessToken ?? clientCredentials;
    if (!found || found.isExpired) return undefined;
    const { accountId, jkt, grantId, aud } = found as { accountId?: string; jkt?: string; grantId?: string; aud?: unknown };
    return {
      ...(jkt ? { jkt } : {}),
      ...(grantId ? { grantId } : {}),
      clientId: found.clientId!,
      sub: accountId,
      scope: (found.scope ?? '').split(' ').filter(Boolean),
      expiresAt: found.exp,
      audience: audienceList(aud),
    };
  };
}
