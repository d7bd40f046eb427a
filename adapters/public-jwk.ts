/** A JWK without its private members (RFC 7518 §6.3.2, §6.2.2): what may be published or read without `withSecrets`. */
export function publicJwk(material: Record<string, unknown>): Record<string, unknown> {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, k: _k, ...publicPart } = material;
  return publicPart;
}
