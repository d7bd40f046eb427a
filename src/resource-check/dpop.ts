import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, type JWK, jwtVerify } from 'jose';

/** Remembers proof ids for a while; `true` the first time an id is seen. */
export type ProofReplayGuard = (jti: string, seconds: number) => Promise<boolean>;

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
 * Verifies a DPoP proof for a resource request (RFC 9449 §4.3, §7.1): a
 * `dpop+jwt` signed by the key the token is bound to, for this method and
 * URL, recent, carrying the token's hash, and never seen before. Returns why
 * it is refused, or `undefined` when it is good.
 */
export async function dpopProofProblem(check: ProofCheck, seen: ProofReplayGuard): Promise<string | undefined> {
  if (!check.proof) return 'a DPoP-bound token needs a DPoP proof';
  try {
    const header = decodeProtectedHeader(check.proof);
    if (header.typ !== 'dpop+jwt' || !header.jwk || !DPOP_PROOF_ALGS.includes(String(header.alg))) return 'malformed DPoP proof';
    const jwk = header.jwk as JWK;
    if ('d' in jwk) return 'malformed DPoP proof';
    const { payload } = await jwtVerify(check.proof, await importJWK(jwk, header.alg), { typ: 'dpop+jwt', algorithms: [...DPOP_PROOF_ALGS] });
    if (payload.htm !== check.method || payload.htu !== check.url) return 'the DPoP proof is for another request';
    if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > MAX_AGE) return 'the DPoP proof is too old';
    const ath = createHash('sha256').update(check.accessToken).digest('base64url');
    if (payload.ath !== ath) return 'the DPoP proof is for another token';
    if ((await calculateJwkThumbprint(jwk)) !== check.jkt) return 'the DPoP proof key does not match the token';
    if (typeof payload.jti !== 'string' || !(await seen(payload.jti, 2 * MAX_AGE))) return 'the DPoP proof was already used';
    return undefined;
  } catch {
    return 'invalid DPoP proof';
  }
}
