import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Anti-CSRF tokens for the login and consent forms: an HMAC of the
 * interaction's uid. The interaction itself is bound to a signed cookie by
 * oidc-provider; the token additionally proves the form came from our page.
 */
export function csrfToken(secret: string, uid: string): string {
  return createHmac('sha256', secret).update(`interaction:${uid}`).digest('base64url');
}

export function csrfTokenValid(secret: string, uid: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(csrfToken(secret, uid));
  const actual = Buffer.from(presented);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
