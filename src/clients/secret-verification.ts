import { timingSafeEqual } from 'node:crypto';
import type { SecretsAtRest } from '../../adapters/secrets-at-rest.js';
import type { PreviousSecret } from '../../adapters/contract.js';
import { isVerifiableHash, verifyHash } from '../accounts/password-hashes.js';

// Enough for every active client of a large deployment; past it, start again.
const VERIFIED_KEPT = 10_000;

/**
 * How a presented client secret is checked against what is stored, for
 * oidc-provider's client authentication (client_secret_basic and
 * client_secret_post, through compareClientSecret in provider/build.ts):
 *
 * - Gatehouse's own keyed hash (adapters/secrets-at-rest.ts);
 * - a hash imported from another system, in a format password-hashes.ts
 *   verifies (django-oauth-toolkit ≥ 2 stores `pbkdf2_sha256$…`), so the
 *   secret itself never has to be known. These are slow by design, so a
 *   secret proved right is replaced by Gatehouse's own keyed hash
 *   (ClientService.adoptProvenSecret), and remembered meanwhile (other
 *   processes, a write that failed) so later requests are compared with it
 *   in constant time;
 * - while a rotation's grace period lasts (`client rotate-secret --grace`),
 *   the replaced secret too.
 */
/** Whether `presented` is the secret `stored` (a client's stored form) stands for. */
export type ClientSecretVerifier = (presented: string, stored: string, clientId: string) => Promise<boolean>;

export function clientSecretVerifier(
  secrets: SecretsAtRest,
  previousSecret: (clientId: string) => Promise<PreviousSecret | undefined>,
  adoptProvenSecret: (clientId: string, importedHash: string, secret: string) => Promise<void>,
): ClientSecretVerifier {
  const verified = new Map<string, Buffer>();
  // Imported hashes whose replacement is done or under way in this process:
  // requests proving the same secret meanwhile (the client is re-read within
  // a second) do not each write it again.
  const adopting = new Set<string>();

  /** Whether `presented` matches; `imported` when it did against another system's hash. */
  async function matches(presented: string, stored: string): Promise<boolean | 'imported'> {
    if (!stored) return false;
    if (secrets.isClientSecretHash(stored) || !isVerifiableHash(stored)) return secrets.verifyClientSecret(presented, stored);
    const presentedBytes = Buffer.from(presented, 'utf8');
    const known = verified.get(stored);
    if (known && known.length === presentedBytes.length && timingSafeEqual(known, presentedBytes)) return 'imported';
    if (!(await verifyHash(stored, presented))) return false;
    if (verified.size >= VERIFIED_KEPT) verified.clear();
    verified.set(stored, presentedBytes);
    return 'imported';
  }

  return async (presented, stored, clientId) => {
    const current = await matches(presented, stored);
    if (current === 'imported') {
      const adoption = `${clientId}\0${stored}`;
      if (!adopting.has(adoption)) {
        adopting.add(adoption);
        // The request is answered either way; a write that fails (said by adoptProvenSecret) is tried at the next proof.
        await adoptProvenSecret(clientId, stored, presented).catch(() => adopting.delete(adoption));
      }
      return true;
    }
    if (current) return true;
    const previous = await previousSecret(clientId);
    return Boolean(previous && previous.until.getTime() > Date.now() && await matches(presented, previous.hash));
  };
}
