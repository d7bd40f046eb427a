import { Algorithm, hash, verify } from '@node-rs/argon2';

// argon2id with the OWASP Password Storage Cheat Sheet's first profile
// (m = 19 MiB, t = 2, p = 1): memory-hard, about 20 ms a hash on one core.
const OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let decoy: Promise<string> | undefined;

/**
 * Spends the same work as a real verification, for unknown usernames, so the
 * response time does not tell which usernames exist.
 */
export async function burnVerification(password: string): Promise<void> {
  decoy ??= hashPassword('gatehouse-decoy-password');
  await verifyPassword(await decoy, password);
}
