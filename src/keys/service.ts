import { generateKeyPair, randomBytes, createPublicKey, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { type KeyRecord, type KeysStore, publicJwk } from '../../adapters/sql/keys-store.js';
import { NotFoundError, ValidationError } from '../errors/app-error.js';

const generateRsa = promisify(generateKeyPair);

export interface KeySummary {
  kid: string;
  alg: string;
  active: boolean;
  retired: boolean;
  createdAt: string;
}

async function newSigningKey(): Promise<Omit<KeyRecord, 'createdAt'>> {
  // RS256 with 2048-bit keys (RFC 7518 §3.3 minimum, what RS256 verifiers expect).
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JsonWebKey;
  const kid = await calculateJwkThumbprint({ kty: 'RSA', n: jwk.n, e: jwk.e } as JWK);
  return { kid, use: 'sig', alg: 'RS256', material: { ...jwk, kid, alg: 'RS256', use: 'sig' } };
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
  constructor(private readonly store: KeysStore) {}

  /** Makes the first signing and cookie keys if there are none (first start). */
  async ensure(): Promise<void> {
    await this.store.insertIfNone('sig', newSigningKey);
    await this.store.insertIfNone('cookie', async () => newCookieKey());
  }

  /** Adds a new active signing key; the previous ones stay published. */
  async rotate(): Promise<KeySummary> {
    const key = await newSigningKey();
    await this.store.insert(key);
    const [summary] = await this.list();
    if (!summary || summary.kid !== key.kid) throw new Error('the new key is not the newest; check the database clock');
    return summary;
  }

  async list(): Promise<KeySummary[]> {
    const keys = await this.store.list('sig', { includeRetired: true });
    const active = keys.find((key) => !key.retiredAt)?.kid;
    return keys.map((key) => ({
      kid: key.kid, alg: key.alg ?? 'RS256', active: key.kid === active, retired: Boolean(key.retiredAt), createdAt: key.createdAt.toISOString(),
    }));
  }

  /**
   * Stops publishing a key. Refused for the active key, and while tokens it
   * signed may still be valid: the key that replaced it must have been
   * active for `maxTokenLifetime` seconds (unless `force`).
   */
  async retire(kid: string, maxTokenLifetime: number, force = false): Promise<KeySummary> {
    const keys = await this.store.list('sig');
    const index = keys.findIndex((key) => key.kid === kid);
    if (index === -1) throw new NotFoundError(`no published signing key ${kid}`);
    if (index === 0) throw new ValidationError([{ field: 'kid', message: 'is the active signing key; rotate first' }]);
    const successor = keys[index - 1]!;
    const safeAt = successor.createdAt.getTime() + maxTokenLifetime * 1000;
    if (!force && Date.now() < safeAt) {
      throw new ValidationError([{
        field: 'kid',
        message: `may still have signed valid tokens until ${new Date(safeAt).toISOString()}; retire it after that, or pass --force`,
      }]);
    }
    await this.store.retire(kid);
    const summary = (await this.list()).find((key) => key.kid === kid)!;
    return summary;
  }

  async counts(): Promise<{ active: number; published: number; retired: number }> {
    const keys = await this.list();
    return {
      active: keys.filter((key) => key.active).length,
      published: keys.filter((key) => !key.retired).length,
      retired: keys.filter((key) => key.retired).length,
    };
  }

  /** Private JWKS for oidc-provider; the newest key first, so it signs. */
  async privateJwks(): Promise<{ keys: JWK[] }> {
    const keys = await this.store.list('sig', { withSecrets: true });
    return { keys: keys.map((key) => key.material as JWK) };
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
    const key = keys.find((k) => k.kid === kid) ?? keys[0];
    if (!key) throw new Error('no signing key: run migrations and start the server once');
    const pem = createPublicKey({ key: publicJwk(key.material) as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    return { kid: key.kid, alg: key.alg ?? 'RS256', pem };
  }

  /** Cookie signing secrets, newest first (Koa's keygrip signs with the first). */
  async cookieSecrets(): Promise<string[]> {
    const keys = await this.store.list('cookie', { withSecrets: true });
    return keys.map((key) => String(key.material.secret));
  }
}
