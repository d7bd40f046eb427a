import { generateKeyPair, randomBytes, createPublicKey, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { KeyRecord, KeysStore } from '../../adapters/sql/keys-store.js';

const generateRsa = promisify(generateKeyPair);

export interface KeySummary {
  kid: string;
  alg: string;
  active: boolean;
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
    const keys = await this.store.list('sig');
    return keys.map((key, index) => ({
      kid: key.kid, alg: key.alg ?? 'RS256', active: index === 0, createdAt: key.createdAt.toISOString(),
    }));
  }

  /** Private JWKS for oidc-provider; the newest key first, so it signs. */
  async privateJwks(): Promise<{ keys: JWK[] }> {
    const keys = await this.store.list('sig');
    return { keys: keys.map((key) => key.material as JWK) };
  }

  /** Public JWKS (what /jwks publishes), for verifying tokens in-process. */
  async publicJwks(): Promise<{ keys: JWK[] }> {
    const keys = await this.store.list('sig');
    return {
      keys: keys.map((key) => {
        const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = key.material;
        return publicJwk as JWK;
      }),
    };
  }

  /** The active signing key's public half as PEM (SPKI). */
  async activePublicKeyPem(): Promise<{ kid: string; alg: string; pem: string }> {
    const [key] = await this.store.list('sig');
    if (!key) throw new Error('no signing key: run migrations and start the server once');
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = key.material;
    const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    return { kid: key.kid, alg: key.alg ?? 'RS256', pem };
  }

  /** Cookie signing secrets, newest first (Koa's keygrip signs with the first). */
  async cookieSecrets(): Promise<string[]> {
    const keys = await this.store.list('cookie');
    return keys.map((key) => String(key.material.secret));
  }
}
