import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The configured secrets key cannot open what is stored: another key sealed
 * it, or the stored value was altered. The message names SECRETS_KEY and
 * never shows a key.
 */
export class SecretsKeyError extends Error {
  override name = 'SecretsKeyError';
}

const HASH_PREFIX = 'hmac-sha256';
const SEAL_PREFIX = 'aes-256-gcm';
// Enough for every active client of a large deployment; past it, start again.
const VERIFIED_SECRETS_KEPT = 10_000;
const IV_BYTES = 12; // NIST SP 800-38D §8.2: 96-bit nonces, random per message.

function derive(key: Buffer, purpose: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `gatehouse ${purpose}`, length));
}

/**
 * How Gatehouse keeps secrets in its database (RFC 6819 §5.1.4.1.3, and
 * §4.3.4 / §5.1.4.1.1 for what a stolen database must not give away):
 *
 * - client secrets as a keyed hash, HMAC-SHA-256 under a server pepper. The
 *   secrets are 256 random bits, so a slow password hash would add nothing
 *   but latency on every token request; the pepper means a dump alone cannot
 *   even test guesses.
 * - anything Gatehouse must read back (a client secret the legacy admin
 *   surfaces show again, private signing keys, cookie keys) sealed with
 *   AES-256-GCM, bound to its row by the additional data, so a sealed value
 *   copied onto another row does not open.
 *
 * Both keys are derived (HKDF-SHA-256, RFC 5869) from the one SECRETS_KEY, and
 * every stored value names the key that made it, so a start-up with another
 * key is told so instead of reading garbage.
 */
export class SecretsAtRest {
  /** A short, public fingerprint of the key (not the key, nor enough to guess it). */
  readonly keyId: string;
  private readonly pepper: Buffer;
  private readonly sealingKey: Buffer;
  private readonly digestKey: Buffer;
  /** Stored hash → the secret last proved to match it. */
  private readonly verified = new Map<string, Buffer>();

  constructor(key: Buffer) {
    if (key.length !== 32) throw new SecretsKeyError(`SECRETS_KEY must be 32 bytes (got ${key.length})`);
    this.pepper = derive(key, 'client-secret pepper v1');
    this.sealingKey = derive(key, 'at-rest encryption v1');
    this.keyId = derive(key, 'key id v1', 6).toString('hex');
    this.digestKey = derive(key, 'keyed digests v1');
  }

  /**
   * An HMAC-SHA-256 of `text` under a key of its own derived from
   * SECRETS_KEY: a value no one without the key can compute ahead (where
   * an unknown username's sign-in decoy is taken, say). Callers put their
   * purpose in `text`, so no digest stands for another's.
   */
  keyedDigest(text: string): Buffer {
    return createHmac('sha256', this.digestKey).update(text, 'utf8').digest();
  }

  private mac(secret: string): Buffer {
    return createHmac('sha256', this.pepper).update(secret, 'utf8').digest();
  }

  /** The stored form of a client secret: `hmac-sha256.<key id>.<mac>`. */
  hashClientSecret(secret: string): string {
    return `${HASH_PREFIX}.${this.keyId}.${this.mac(secret).toString('base64url')}`;
  }

  /** Whether a value is a stored hash (as opposed to a secret in the clear). */
  isClientSecretHash(value: string): boolean {
    return value.startsWith(`${HASH_PREFIX}.`);
  }

  /**
   * Whether `presented` is the secret whose hash is `stored`. The comparison
   * is of two 32-byte MACs in constant time (crypto.timingSafeEqual), whatever
   * the presented length; a malformed stored value is compared too, and fails.
   */
  verifyClientSecret(presented: string, stored: string): boolean {
    const presentedBytes = Buffer.from(presented, 'utf8');
    // A client asks for tokens with the same secret again and again: once a
    // secret has matched a hash, later requests are compared with it (in
    // constant time) instead of being hashed again. Only secrets proved right
    // are kept, and this process holds the key that unseals them anyway.
    const known = this.verified.get(stored);
    if (known && known.length === presentedBytes.length && timingSafeEqual(known, presentedBytes)) return true;
    const actual = this.mac(presented);
    const [prefix, keyId, encoded] = stored.split('.');
    const expected = Buffer.from(encoded ?? '', 'base64url');
    const wellFormed = prefix === HASH_PREFIX && keyId === this.keyId && expected.length === actual.length;
    const matches = timingSafeEqual(actual, wellFormed ? expected : Buffer.alloc(actual.length)) && wellFormed;
    if (matches) {
      if (this.verified.size >= VERIFIED_SECRETS_KEPT) this.verified.clear();
      this.verified.set(stored, presentedBytes);
    }
    return matches;
  }

  /**
   * Throws when a stored value was made under another key (ids from the
   * second field of stored hashes and sealed values): the start-up check,
   * which needs no decryption, so one damaged row cannot stop the server.
   */
  assertKeyIds(keyIds: Iterable<string | undefined>): void {
    for (const keyId of keyIds) {
      if (keyId === this.keyId) continue;
      throw new SecretsKeyError(
        `SECRETS_KEY does not match the key the stored secrets were sealed with (stored under key id ${keyId ?? '(none)'}, ` +
        `SECRETS_KEY has key id ${this.keyId}); start with the key this database was used with`,
      );
    }
  }

  /** `plaintext` encrypted for the row named by `context`: `aes-256-gcm.<key id>.<iv>.<ciphertext>.<tag>`. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealingKey, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [SEAL_PREFIX, this.keyId, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** Opens what `seal` made for the same `context`; a SecretsKeyError if it cannot. */
  open(sealed: string, context: string): string {
    const [prefix, keyId, iv, ciphertext, tag] = sealed.split('.');
    if (prefix !== SEAL_PREFIX || !iv || ciphertext === undefined || !tag) {
      throw new SecretsKeyError(`the stored value for ${context} is not a sealed secret`);
    }
    this.assertKeyIds([keyId]);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealingKey, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretsKeyError(`the stored secret for ${context} does not open with SECRETS_KEY: it was altered or moved from another row`);
    }
  }
}
