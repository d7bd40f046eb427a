import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, type JWK, jwtVerify } from 'jose';

/**
 * Remembers proof ids for a while; `true` the first time an id is seen. The
 * id it is given is a digest of the proof's `jti` (proofId), never the `jti`
 * itself: always 43 base64url characters, whatever the client sent.
 */
export type ProofReplayGuard = (id: string, seconds: number) => Promise<boolean>;

/**
 * What the replay guard remembers of a proof's `jti`: its SHA-256, base64url.
 * The `jti` is the client's choice, of any length and any characters (RFC
 * 9449 §4.2 asks only that it be unique), and RFC 9449 §11.1 lets a server
 * keep a hash of it instead; a store's key then never depends on what the
 * client sent (a 4000-character `jti` overflowed PostgreSQL's index row, a
 * NUL was refused as text). oidc-provider keeps its own proofs' ids so
 * (ReplayDetection.unique: the SHA-256 of issuer and jti).
 */
function proofId(jti: string): string {
  return createHash('sha256').update(jti).digest('base64url');
}

const MAX_AGE = 60; // seconds a proof is accepted after (or before) its iat
/** The proof algorithms accepted here, and advertised in discovery (provider/build.ts). */
export const DPOP_PROOF_ALGS: readonly string[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

export interface ProofCheck {
  proof: string | undefined;
  method: string;
  /** The request URL without query or fragment (RFC 9449 §4.3 `htu`). */
  url: string;
  accessToken: string;
  /** The key thumbprint the token is bound to (`cnf.jkt`). */
  jkt: string;
}

/**
 * Why a DPoP-bound token was refused, in RFC 9449 §7.1's terms:
 * `invalid_dpop_proof` when the proof itself fails §4.3's criteria (its form,
 * signature, method, URL, age, token hash, or a replay), `invalid_token` when
 * the proof is sound but does not confirm the token's binding (no proof at
 * all, or a key other than the token's `cnf.jkt`: §7.1's Figure 16, and what
 * oidc-provider's own resource endpoints answer).
 */
export interface ProofRefusal {
  error: 'invalid_dpop_proof' | 'invalid_token';
  description: string;
}

const invalidProof = (description: string): ProofRefusal => ({ error: 'invalid_dpop_proof', description });
const unconfirmedBinding = (description: string): ProofRefusal => ({ error: 'invalid_token', description });

/**
 * Verifies a DPoP proof for a resource request (RFC 9449 §4.3, §7.1): a
 * `dpop+jwt` signed by the key the token is bound to, for this method and
 * URL, recent, carrying the token's hash, and never seen before. Returns why
 * it is refused, or `undefined` when it is good.
 */
export async function dpopProofProblem(check: ProofCheck, seen: ProofReplayGuard): Promise<ProofRefusal | undefined> {
  if (!check.proof) return unconfirmedBinding('a DPoP-bound token needs a DPoP proof');
  let jti: unknown;
  try {
    const header = decodeProtectedHeader(check.proof);
    if (header.typ !== 'dpop+jwt' || !header.jwk || !DPOP_PROOF_ALGS.includes(String(header.alg))) return invalidProof('malformed DPoP proof');
    const jwk = header.jwk as JWK;
    if ('d' in jwk) return invalidProof('malformed DPoP proof');
    const { payload } = await jwtVerify(check.proof, await importJWK(jwk, header.alg), { typ: 'dpop+jwt', algorithms: [...DPOP_PROOF_ALGS] });
    if (payload.htm !== check.method || payload.htu !== check.url) return invalidProof('the DPoP proof is for another request');
    if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > MAX_AGE) return invalidProof('the DPoP proof is too old');
    const ath = createHash('sha256').update(check.accessToken).digest('base64url');
    if (payload.ath !== ath) return invalidProof('the DPoP proof is for another token');
    if ((await calculateJwkThumbprint(jwk)) !== check.jkt) return unconfirmedBinding('the DPoP proof key does not match the token');
    jti = payload.jti;
  } catch {
    return invalidProof('invalid DPoP proof');
  }
  // RFC 9449 §4.2: a proof carries a unique identifier; without one it cannot be told from a replay.
  if (typeof jti !== 'string' || jti === '') return invalidProof('malformed DPoP proof');
  // Outside the catch: a replay guard that cannot answer (its store is down)
  // is an outage for the caller to answer (503), not a refused proof.
  if (!(await seen(proofId(jti), 2 * MAX_AGE))) return invalidProof('the DPoP proof was already used');
  return undefined;
}
