/**
 * Which access tokens a resource accepts, by audience (RFC 8707 §2, RFC 9068
 * §4): one rule for every surface that takes a bearer token, so a token
 * issued for one resource server is never honoured by another.
 *
 * - A token whose `aud` names the resource is accepted.
 * - A token without an audience is the issuer's own: oidc-provider issues
 *   opaque tokens with no `aud` only when the client named no resource
 *   indicator (the standard flows' default for opaque clients, and every
 *   legacy dialect). Only Gatehouse's own API accepts those
 *   (`audiencelessAccepted`); a separate resource server never does.
 * - Anything else is refused, whatever its scopes or its user's role:
 *   a token handed to `https://rs.example.com/` must not open Gatehouse's
 *   admin surfaces (the confused deputy, RFC 9700 §4.10).
 */
export interface AudienceRule {
  /** The resource's identifier (for Gatehouse's API, `${issuer}/api`). */
  audience: string;
  audiencelessAccepted: boolean;
}

export function audienceAccepted(tokenAudience: readonly string[], rule: AudienceRule): boolean {
  if (tokenAudience.length === 0) return rule.audiencelessAccepted;
  return tokenAudience.includes(rule.audience);
}

/** An `aud` claim or token property as a list (it may be a string, an array or absent). */
export function audienceList(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((value): value is string => typeof value === 'string');
  return [];
}
