import { createHash, pbkdf2, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { verify as verifyArgon2 } from '@node-rs/argon2';
import { verify as verifyBcrypt } from '@node-rs/bcrypt';

/**
 * Password hashes made by the systems Gatehouse replaces, and which of them it
 * can verify. This module is the one place that decides: `isVerifiableHash`
 * (import refuses the rest), `verifyHash` (sign-in) and `isGatehouseHash`
 * (whether a hash is replaced by Gatehouse's own at the next sign-in, the lazy
 * migration Django does when its hasher changes, `must_update`).
 *
 * Formats:
 * - Django (`django.contrib.auth.hashers`): `pbkdf2_sha256$iter$salt$b64`,
 *   `pbkdf2_sha1$…`, `bcrypt_sha256$$2b$…` (bcrypt of the hex SHA-256 of the
 *   password), `bcrypt$$2b$…`, `argon2$argon2id$…` / `argon2$argon2i$…` (a PHC
 *   string after the `argon2` label), and Django 4's `scrypt$N$salt$r$p$b64`
 *   (64-byte key, salt used as its UTF-8 text).
 * - PHC strings: `$argon2id$`, `$argon2i$`, and `$scrypt$ln=…,r=…,p=…$salt$hash`
 *   (salt and hash in base64 without padding, passlib's `.` for `+` accepted).
 * - bcrypt: `$2a$`, `$2b$`, `$2y$` (PHP/Laravel's name for the fixed `$2a$`).
 *
 * Every comparison is constant-time: pbkdf2 and scrypt results with
 * crypto.timingSafeEqual on equal lengths; bcrypt and argon2 inside their
 * libraries (the Rust crates compare with `subtle`'s constant-time equality).
 *
 * Work factors are bounded: a hash is data an importer supplies, and each
 * wrong password tried against it costs what its work factor says, so one
 * with a billion iterations would let a single sign-in attempt hold a core
 * for minutes. The bounds below leave room above what each of these systems
 * issues by default today (Django 6: pbkdf2 1,200,000 iterations, argon2
 * m=100 MiB t=2, bcrypt cost 12; Laravel bcrypt 12) and cap one attempt at
 * about a second of a worker thread; anything past them is not verifiable
 * (refused at import). Every verification runs on libuv's thread pool
 * (node:crypto, @node-rs/argon2, @node-rs/bcrypt), never on the thread that
 * serves requests.
 */

export const MAX_PBKDF2_ITERATIONS = 2_000_000;
export const MAX_BCRYPT_COST = 13;
export const MAX_SCRYPT_MEMORY_BYTES = 256 * 1024 * 1024;
export const MAX_ARGON2_MEMORY_KIB = 256 * 1024;
export const MAX_ARGON2_TIME = 32;
/** Memory × passes (KiB): the work of one argon2 verification. */
export const MAX_ARGON2_WORK = 512 * 1024;
export const MAX_ARGON2_PARALLELISM = 16;

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (password: string | Buffer, salt: string | Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

type Verifier = (password: string) => Promise<boolean>;

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const PHC_B64 = /^[A-Za-z0-9+/.]+$/;
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const ARGON2_PHC = /^\$argon2(id|i)\$(?:v=(16|19)\$)?m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function positiveInt(text: string | undefined, max: number): number | undefined {
  if (!text || !/^\d{1,10}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= max ? value : undefined;
}

function sameBytes(actual: Buffer, expected: Buffer): boolean {
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function bcryptVerifier(hash: string, preHash?: (password: string) => string): Verifier | undefined {
  const match = BCRYPT.exec(hash);
  if (!match || Number(match[1]) < 4 || Number(match[1]) > MAX_BCRYPT_COST) return undefined;
  return async (password) => {
    try {
      return await verifyBcrypt(preHash ? preHash(password) : password, hash);
    } catch {
      return false;
    }
  };
}

function argon2Verifier(phc: string): Verifier | undefined {
  const match = ARGON2_PHC.exec(phc);
  if (!match) return undefined;
  const [m, t, p] = [match[3], match[4], match[5]];
  if (!positiveInt(m, MAX_ARGON2_MEMORY_KIB) || !positiveInt(t, MAX_ARGON2_TIME) || !positiveInt(p, MAX_ARGON2_PARALLELISM)) return undefined;
  if (Number(m) * Number(t) > MAX_ARGON2_WORK) return undefined;
  return async (password) => {
    try {
      return await verifyArgon2(phc, password);
    } catch {
      return false;
    }
  };
}

function scryptVerifier(n: number, r: number, p: number, salt: string | Buffer, expected: Buffer): Verifier | undefined {
  // RFC 7914 §2: N a power of two above 1; memory is 128·N·r bytes (plus p blocks of 128·r).
  if (n < 2 || (n & (n - 1)) !== 0) return undefined;
  const memory = 128 * n * r + 128 * r * p;
  if (memory > MAX_SCRYPT_MEMORY_BYTES || r * p >= 2 ** 30 || expected.length < 16 || expected.length > 128) return undefined;
  return async (password) => {
    const actual = await scryptAsync(password, salt, expected.length, { N: n, r, p, maxmem: memory + 1024 * 1024 });
    return sameBytes(actual, expected);
  };
}

function djangoPbkdf2(digest: 'sha256' | 'sha1', rest: string): Verifier | undefined {
  const [iterationsText, salt, encoded, extra] = rest.split('$');
  const iterations = positiveInt(iterationsText, MAX_PBKDF2_ITERATIONS);
  if (!iterations || !salt || !encoded || extra !== undefined || !B64.test(encoded)) return undefined;
  const expected = Buffer.from(encoded, 'base64');
  if (expected.length < 16) return undefined;
  return async (password) => sameBytes(await pbkdf2Async(password, salt, iterations, expected.length, digest), expected);
}

function djangoScrypt(rest: string): Verifier | undefined {
  // Django 4.0+: "scrypt$%d$%s$%d$%d$%s" % (n, salt, r, p, b64(hashlib.scrypt(…, dklen=64))).
  const [nText, salt, rText, pText, encoded, extra] = rest.split('$');
  const n = positiveInt(nText, 2 ** 24);
  const r = positiveInt(rText, 64);
  const p = positiveInt(pText, 64);
  if (!n || !r || !p || !salt || !encoded || extra !== undefined || !B64.test(encoded)) return undefined;
  return scryptVerifier(n, r, p, Buffer.from(salt, 'utf8'), Buffer.from(encoded, 'base64'));
}

function phcScrypt(hash: string): Verifier | undefined {
  const [, , params, salt, encoded, extra] = hash.split('$');
  if (!params || !salt || !encoded || extra !== undefined || !PHC_B64.test(salt) || !PHC_B64.test(encoded)) return undefined;
  const fields = new Map(params.split(',').map((pair) => pair.split('=') as [string, string]));
  const ln = positiveInt(fields.get('ln'), 24);
  const n = ln ? 2 ** ln : positiveInt(fields.get('n'), 2 ** 24);
  const r = positiveInt(fields.get('r'), 64);
  const p = positiveInt(fields.get('p'), 64);
  if (!n || !r || !p) return undefined;
  const bytes = (text: string) => Buffer.from(text.replace(/\./g, '+'), 'base64');
  return scryptVerifier(n, r, p, bytes(salt), bytes(encoded));
}

/** The verifier for a stored hash, or `undefined` when Gatehouse cannot verify that format. */
function verifierFor(hash: unknown): Verifier | undefined {
  if (typeof hash !== 'string' || hash.length > 1024) return undefined;
  if (hash.startsWith('$argon2')) return argon2Verifier(hash);
  if (hash.startsWith('$2')) return bcryptVerifier(hash);
  if (hash.startsWith('$scrypt$')) return phcScrypt(hash);
  const cut = hash.indexOf('$');
  const [label, rest] = [hash.slice(0, cut), hash.slice(cut + 1)];
  switch (cut > 0 ? label : '') {
    case 'pbkdf2_sha256': return djangoPbkdf2('sha256', rest);
    case 'pbkdf2_sha1': return djangoPbkdf2('sha1', rest);
    case 'bcrypt': return bcryptVerifier(rest);
    // Django hashes first so bcrypt's 72-byte limit does not truncate the password.
    case 'bcrypt_sha256': return bcryptVerifier(rest, (password) => createHash('sha256').update(password, 'utf8').digest('hex'));
    case 'argon2': return argon2Verifier(`$${rest}`);
    case 'scrypt': return djangoScrypt(rest);
    default: return undefined;
  }
}

/** Whether Gatehouse can verify passwords against this hash (the formats above, within the work bounds). */
export function isVerifiableHash(hash: unknown): hash is string {
  return verifierFor(hash) !== undefined;
}

/** Whether `password` matches `hash`; false for a wrong password and for a hash that is not verifiable. */
export async function verifyHash(hash: string, password: string): Promise<boolean> {
  const verifier = verifierFor(hash);
  return verifier ? verifier(password) : false;
}

/** The format's name, for reports (`pbkdf2_sha256`, `bcrypt`, `argon2id`, …); `unknown` otherwise. */
export function hashFormat(hash: string): string {
  if (hash.startsWith('$argon2id$')) return 'argon2id';
  if (hash.startsWith('$argon2i$')) return 'argon2i';
  if (hash.startsWith('$2')) return 'bcrypt';
  if (hash.startsWith('$scrypt$')) return 'scrypt';
  const label = hash.split('$', 1)[0];
  return label && /^[a-z0-9_]{1,32}$/.test(label) ? `django ${label}` : 'unknown';
}
