import { generateKeyPair, randomBytes, createPublicKey, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { KeyRecord, KeysStore } from '../../adapters/contract.js';
import { publicJwk } from '../../adapters/public-jwk.js';
import type { Actor, AuditLog } from '../audit/log.js';
import { NotFoundError, ValidationError } from '../errors/app-error.js';
import { KEY_REFRESH_INTERVAL_MS } from './signing-key-refresh.js';

const generate = promisify(generateKeyPair);

/**
 * The JWS algorithms Gatehouse signs with, each with its own key: RS256 for
 * ID tokens and by default (what every verifier supports), ES256 and EdDSA
 * (Ed25519, RFC 8037) for resource servers that ask for them — a tenth of
 * RS256's signing cost.
 */
export const SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlg = typeof SIGNING_ALGS[number];
export const DEFAULT_SIGNING_ALG: SigningAlg = 'RS256';

/** A key's algorithm; keys stored before there were several are RS256. */
const algOf = (key: { alg?: string | null }): string => key.alg ?? DEFAULT_SIGNING_ALG;

/**
 * Where a signing key is in its life, read at one instant:
 * - `pending`: published, newer than the key that signs, waiting for its activation delay;
 * - `signing`: the key its algorithm signs with now;
 * - `retiring`: replaced, still published because tokens it signed may still be valid or presented (ID tokens as logout hints);
 * - `retirable`: replaced long enough ago that nothing it signed is valid or presented any more;
 * - `retired`: no longer published.
 */
export type KeyState = 'pending' | 'signing' | 'retiring' | 'retirable' | 'retired';

export interface KeySummary {
  kid: string;
  alg: string;
  /** The newest unretired key of its algorithm: the one that signs, or will once `signsFrom` has passed. */
  active: boolean;
  retired: boolean;
  state: KeyState;
  createdAt: string;
  /** When its activation delay ends (SIGNING_KEY_ACTIVATION_DELAY after its creation). */
  signsFrom: string;
  /** For a replaced key: from when retiring it is safe (its successor has signed, in every process, for as long as a signature is relied on: SignatureReliance). */
  retirableFrom?: string;
}

export interface KeyServiceOptions {
  /** Seconds from a signing key's creation to its first signature (SIGNING_KEY_ACTIVATION_DELAY). */
  activationDelay?: number;
  /**
   * How long, in seconds, what a key signed is still relied on after it
   * stopped signing: how long a replaced key must stay published. Asked
   * each time a replaced key's state is worked out (list, retire), since
   * resource servers and clients with lifetimes of their own are registered
   * while the server runs.
   */
  reliance?: () => Promise<SignatureReliance>;
  /** Where rotations and retirements are recorded, with the actor each surface names. */
  audit?: AuditLog;
}

/** How long, in seconds, what a replaced key signed is still relied on, and why: the longer of the two holds the key. */
export interface SignatureReliance {
  /** The longest any token Gatehouse signs is valid (longestServerWideLifetime and the registered lifetimes). */
  tokens: number;
  /** The longest an ID token is still presented as `id_token_hint` (idTokenHintLifetime). */
  idTokenHints: number;
}

/**
 * The longest lifetime the server-wide settings give a signed token: access
 * and client-credentials JWTs, ID tokens, and the dialects' JWT access
 * tokens. A registered resource server's or a client's own lifetime may be
 * longer (main.ts adds them). Not counted: refresh tokens, codes, device and
 * initial access tokens, which are opaque; logout tokens, which live 120 s
 * but are verified on receipt, in the request that delivers them; and ID
 * tokens presented after they expire (idTokenHintLifetime).
 */
export function longestServerWideLifetime(config: {
  accessTokenTtl: number; clientCredentialsTtl: number; idTokenTtl: number; losAccessTokenTtl: number; leAccessTokenTtl: number; dotAccessTokenTtl: number;
}): number {
  return Math.max(config.accessTokenTtl, config.clientCredentialsTtl, config.idTokenTtl, config.losAccessTokenTtl, config.leAccessTokenTtl, config.dotAccessTokenTtl);
}

/**
 * How long an ID token is still presented after it was issued, whatever its
 * own lifetime: a relying party keeps it for as long as its session and
 * sends it as the `id_token_hint` of RP-initiated logout, which the provider
 * must accept expired (OpenID Connect RP-Initiated Logout 1.0 §2) but can
 * validate only while its key is published: once the key is retired the
 * sign-out is refused (400) and the user stays signed in to Gatehouse. The
 * hint matters while there is a Gatehouse sign-in session to end, so for at
 * most SESSION_TTL. It counts for every algorithm, not only RS256 (the
 * default): a client may register another `id_token_signed_response_alg`,
 * and the provider offers every algorithm it holds a key for.
 */
export function idTokenHintLifetime(config: { sessionTtl: number }): number {
  return config.sessionTtl;
}

function relianceSeconds(reliance: SignatureReliance): number {
  return Math.max(reliance.tokens, reliance.idTokenHints);
}

/** Why a replaced key is kept until `safeAt`, in the words of a refusal to retire it. */
function keptBecause(safeAt: number, reliance: SignatureReliance): string {
  const until = new Date(safeAt).toISOString();
  if (reliance.tokens >= reliance.idTokenHints) {
    return `may still have signed tokens that are valid until ${until} (the longest token lifetime after its successor began signing); retire it after that`;
  }
  return `may still have signed ID tokens that relying parties present as id_token_hint to sign their users out until ${until} `
    + '(SESSION_TTL, the longest a Gatehouse sign-in session lasts, after its successor began signing: once the key is retired, '
    + 'such a sign-out is refused and leaves the user signed in to Gatehouse); retire it after that';
}

/** The published signing keys, in the order oidc-provider's keystore should hold them. */
export interface SigningKeySet {
  /** Private JWKs; for each algorithm the key it signs with comes first (oidc-provider signs with the first match). */
  keys: JWK[];
  /** Their public halves, newest first as the store lists them (not in signing order, which changes with time): what `/jwks` publishes. */
  published: { keys: JWK[] };
  /** The kid each algorithm signs with. */
  signing: Record<string, string>;
}

/**
 * Which published key of each algorithm signs at `now`: the newest one whose
 * activation delay is over, so relying parties that cache the JWKS have had
 * the time to see it. When none is (a first start, or two rotations within
 * the delay), the oldest one, which has been published the longest.
 * `keys` are newest first, as the store lists them.
 */
export function signersAt<K extends { kid: string; alg?: string | null; createdAt: Date }>(keys: readonly K[], delaySeconds: number, now: number): Map<string, K> {
  const signers = new Map<string, K>();
  for (const alg of new Set(keys.map(algOf))) {
    const ofAlg = keys.filter((key) => algOf(key) === alg);
    signers.set(alg, ofAlg.find((key) => key.createdAt.getTime() + delaySeconds * 1000 <= now) ?? ofAlg[ofAlg.length - 1]!);
  }
  return signers;
}

async function newSigningKey(alg: SigningAlg): Promise<Omit<KeyRecord, 'createdAt'>> {
  // RSA 2048 (RFC 7518 §3.3 minimum), P-256 (§3.4), Ed25519 (RFC 8037).
  const { privateKey } = alg === 'RS256' ? await generate('rsa', { modulusLength: 2048 })
    : alg === 'ES256' ? await generate('ec', { namedCurve: 'P-256' })
      : await generate('ed25519', {});
  const jwk = privateKey.export({ format: 'jwk' }) as JsonWebKey;
  const kid = await calculateJwkThumbprint(publicJwk(jwk as Record<string, unknown>) as JWK);
  return { kid, use: 'sig', alg, material: { ...jwk, kid, alg, use: 'sig' } };
}

function assertAlg(alg: string): asserts alg is SigningAlg {
  if (!(SIGNING_ALGS as readonly string[]).includes(alg)) {
    throw new ValidationError([{ field: 'alg', message: `must be one of ${SIGNING_ALGS.join(', ')}` }]);
  }
}

function newCookieKey(): Omit<KeyRecord, 'createdAt'> {
  const secret = randomBytes(32).toString('base64url');
  return { kid: `cookie-${randomBytes(8).toString('hex')}`, use: 'cookie', alg: null, material: { secret } };
}

/**
 * Signing and cookie keys. They live in the durable store so that every
 * process and every restart signs with the same key, and tokens signed with
 * a rotated-out key still verify (its public half stays in JWKS).
 */
export class KeyService {
  private readonly activationDelay: number;
  private readonly reliance: () => Promise<SignatureReliance>;
  private readonly audit: AuditLog | undefined;

  constructor(private readonly store: KeysStore, options: KeyServiceOptions = {}) {
    this.activationDelay = options.activationDelay ?? 0;
    this.reliance = options.reliance ?? (async () => ({ tokens: 0, idTokenHints: 0 }));
    this.audit = options.audit;
  }

  /** Makes the first signing key of each algorithm and the first cookie key, where missing (first start, upgrades). */
  async ensure(): Promise<void> {
    for (const alg of SIGNING_ALGS) await this.store.insertIfNone('sig', () => newSigningKey(alg), alg);
    await this.store.insertIfNone('cookie', async () => newCookieKey());
  }

  /** Adds a new active signing key for `alg`; the previous ones stay published. */
  async rotate(alg: string = DEFAULT_SIGNING_ALG, by: Actor = { actor: 'cli' }): Promise<KeySummary> {
    assertAlg(alg);
    const key = await newSigningKey(alg);
    await this.store.insert(key);
    const summary = (await this.list()).find((k) => k.kid === key.kid);
    if (!summary?.active) throw new Error('the new key is not the newest; check the database clock');
    await this.audit?.record({ event: 'key.rotated', ...by, detail: { kid: key.kid, alg } });
    return summary;
  }

  /** Every signing key, newest first, with its state at `now`; the newest unretired key of each algorithm is active. */
  async list(now = Date.now()): Promise<KeySummary[]> {
    const keys = await this.store.list('sig', { includeRetired: true });
    const published = keys.filter((key) => !key.retiredAt);
    const signers = new Set([...signersAt(published, this.activationDelay, now).values()].map((key) => key.kid));
    // Asked only when some key has been replaced (the metrics' counts list the keys too).
    const replaced = new Set(published.map(algOf)).size < published.length;
    const lifetime = replaced ? relianceSeconds(await this.reliance()) : 0;
    const firstOfAlg = (key: KeyRecord) => !keys.some((other) => algOf(other) === algOf(key) && other.createdAt < key.createdAt);
    return keys.map((key) => {
      const ofAlg = published.filter((other) => algOf(other) === algOf(key));
      const index = ofAlg.findIndex((other) => other.kid === key.kid);
      const signerIndex = ofAlg.findIndex((other) => signers.has(other.kid));
      const safeAt = index > 0 ? this.retirableAt(ofAlg[index - 1]!, lifetime) : undefined;
      const state: KeyState = key.retiredAt ? 'retired'
        : signers.has(key.kid) ? 'signing'
          : index < signerIndex ? 'pending'
            : safeAt !== undefined && now >= safeAt ? 'retirable' : 'retiring';
      return {
        kid: key.kid, alg: algOf(key), active: index === 0, retired: Boolean(key.retiredAt), state, createdAt: key.createdAt.toISOString(),
        // The first key of its algorithm signs at once (signersAt: no other to sign meanwhile); a successor after the delay.
        signsFrom: new Date(key.createdAt.getTime() + (firstOfAlg(key) ? 0 : this.activationDelay * 1000)).toISOString(),
        ...(safeAt !== undefined ? { retirableFrom: new Date(safeAt).toISOString() } : {}),
      };
    });
  }

  /**
   * A replaced key may have signed tokens until its successor began signing
   * in every process: after the activation delay, at each process's next
   * read of the key store (signing-key-refresh.ts). What it signed last is
   * relied on `lifetime` (relianceSeconds) more.
   */
  private retirableAt(successor: { createdAt: Date }, lifetime: number): number {
    return successor.createdAt.getTime() + (this.activationDelay + lifetime) * 1000 + KEY_REFRESH_INTERVAL_MS;
  }

  /**
   * Stops publishing a key. Refused for the active key, and while what it
   * signed may still be relied on (see retirableAt), unless `force`.
   */
  async retire(kid: string, options: { force?: boolean } = {}, by: Actor = { actor: 'cli' }): Promise<KeySummary> {
    const published = await this.store.list('sig');
    const target = published.find((key) => key.kid === kid);
    if (!target) throw new NotFoundError(`no published signing key ${kid}`);
    // Keys of one algorithm replace each other; the others are unaffected.
    const keys = published.filter((key) => algOf(key) === algOf(target));
    const index = keys.findIndex((key) => key.kid === kid);
    if (index === 0) throw new ValidationError([{ field: 'kid', message: `${target.kid} is the active ${algOf(target)} signing key: rotate first, then retire it` }]);
    if (!options.force) {
      const reliance = await this.reliance();
      const safeAt = this.retirableAt(keys[index - 1]!, relianceSeconds(reliance));
      if (Date.now() < safeAt) throw new ValidationError([{ field: 'kid', message: keptBecause(safeAt, reliance) }]);
    }
    await this.store.retire(kid);
    await this.audit?.record({ event: 'key.retired', ...by, detail: { kid, alg: algOf(target), forced: options.force === true } });
    return (await this.list()).find((key) => key.kid === kid)!;
  }

  async counts(): Promise<{ active: number; published: number; retired: number }> {
    const keys = await this.list();
    return {
      active: keys.filter((key) => key.active).length,
      published: keys.filter((key) => !key.retired).length,
      retired: keys.filter((key) => key.retired).length,
    };
  }

  /** Private JWKS for oidc-provider, the signing key of each algorithm first (see signersAt). */
  async privateJwks(): Promise<{ keys: JWK[] }> {
    return { keys: (await this.signingKeySet()).keys };
  }

  /** Every published signing key, ordered for signing at `now`. */
  async signingKeySet(now = Date.now()): Promise<SigningKeySet> {
    const keys = await this.store.list('sig', { withSecrets: true });
    const signers = signersAt(keys, this.activationDelay, now);
    const first = new Set([...signers.values()].map((key) => key.kid));
    const ordered = [...keys.filter((key) => first.has(key.kid)), ...keys.filter((key) => !first.has(key.kid))];
    return {
      keys: ordered.map((key) => key.material as JWK),
      published: { keys: keys.map((key) => publicJwk(key.material) as JWK) },
      signing: Object.fromEntries([...signers].map(([alg, key]) => [alg, key.kid])),
    };
  }

  /** Public JWKS (what /jwks publishes), for verifying tokens in-process. */
  async publicJwks(): Promise<{ keys: JWK[] }> {
    const keys = await this.store.list('sig');
    return {
      keys: keys.map((key) => publicJwk(key.material) as JWK),
    };
  }

  /**
   * A signing key's public half as PEM (SPKI): the given kid (the one this
   * process signs with), else the newest published one.
   */
  async publicKeyPem(kid?: string): Promise<{ kid: string; alg: string; pem: string }> {
    const keys = await this.store.list('sig');
    const key = keys.find((k) => k.kid === kid) ?? keys.find((k) => algOf(k) === DEFAULT_SIGNING_ALG);
    if (!key) throw new Error('no signing key: run migrations and start the server once');
    const pem = createPublicKey({ key: publicJwk(key.material) as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    return { kid: key.kid, alg: algOf(key), pem };
  }

  /** Cookie signing secrets, newest first (Koa's keygrip signs with the first). */
  async cookieSecrets(): Promise<string[]> {
    const keys = await this.store.list('cookie', { withSecrets: true });
    return keys.map((key) => String(key.material.secret));
  }
}
