import { Algorithm, hash } from '@node-rs/argon2';
import { isVerifiableHash, verifyHash } from './password-hashes.js';

// argon2id with the OWASP Password Storage Cheat Sheet's first profile
// (m = 19 MiB, t = 2, p = 1): memory-hard, about 20 ms a hash on one core.
const OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const OWN_PREFIX = `$argon2id$v=19$m=${OPTIONS.memoryCost},t=${OPTIONS.timeCost},p=${OPTIONS.parallelism}$`;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** Any verifiable format (password-hashes.ts): Gatehouse's own, or one imported from another system. */
export function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return verifyHash(passwordHash, password);
}

/**
 * Whether a hash is Gatehouse's own, with today's parameters. Any other
 * (imported, or made with older parameters) is replaced at the next
 * successful sign-in, while the password is at hand.
 */
export function isCurrentHash(passwordHash: string): boolean {
  return passwordHash.startsWith(OWN_PREFIX);
}

let ownDecoy: Promise<string> | undefined;

/**
 * Spends the work of a real verification where there is no account to
 * verify against, so the response time does not tell which usernames exist:
 * against `decoyHash` (a real account's, chosen by the store, see
 * AccountsStore.findForSignIn) when there is one Gatehouse can verify, else
 * against a hash of Gatehouse's own.
 */
export async function burnVerification(password: string, decoyHash?: string): Promise<void> {
  if (decoyHash !== undefined && isVerifiableHash(decoyHash)) {
    await verifyHash(decoyHash, password);
    return;
  }
  ownDecoy ??= hashPassword('gatehouse-decoy-password');
  await verifyPassword(await ownDecoy, password);
}
