/**
 * How a page tells the user which application they are dealing with. A
 * client's name is its own words (RFC 7591 §5: self-asserted metadata shown
 * to the user is a phishing vector), so no page shows it alone: beside it go
 * the host the browser will be sent back to, which the name cannot fake
 * (RFC 6749 §10.2), and whether the client registered itself rather than
 * being registered by an administrator. Every page that names a client (the
 * login and consent pages, the device pages, the logout pages, the account
 * page's list of applications) goes through `clientIdentity`.
 */
export interface ClientIdentity {
  /** What the client calls itself (or its client_id when it gives no name). */
  name: string;
  /** Where the browser returns to: this request's redirect_uri's host when known, else those of every registered one. */
  hosts: string[];
  /** Registered through RFC 7591 by whoever held an initial access token: nobody at Gatehouse vouched for it. */
  selfRegistered: boolean;
}

/**
 * Whether a client was made by RFC 7591 registration. oidc-provider's
 * registration endpoint always sets `client_id_issued_at` (RFC 7591 §3.2.1)
 * over whatever the registrant sent, an RFC 7592 update may not include it
 * and keeps the stored one, and no administrator's surface (CLI, Northstar,
 * Lux, the dashboard, imports) ever writes it. So it marks every
 * self-registered client, those registered before this rule existed
 * included, and nothing a registrant sends can remove it. A client an
 * administrator imports over one keeps no such mark: the administrator
 * vouched for it.
 */
export function isSelfRegistered(metadata: Record<string, unknown>): boolean {
  return typeof metadata.client_id_issued_at === 'number';
}

/** What a redirect URI returns the browser to: its host (with any port), or its scheme for an app's private-use URI (RFC 8252 §7.1). */
function returnTarget(uri: unknown): string | undefined {
  if (typeof uri !== 'string') return undefined;
  try {
    const url = new URL(uri);
    // URL gives the ASCII (punycode) form of a host, so a look-alike
    // internationalised host shows as what it is.
    return url.host || url.protocol;
  } catch {
    return undefined;
  }
}

/**
 * What a page shows of a client, from its metadata (RFC 7591 names, as the
 * provider's `client.metadata()` and the client store hold them).
 * `redirectUri` is the one of the request being answered, already checked by
 * the provider against the registered ones; without it, every registered
 * redirect URI's host is listed.
 */
export function clientIdentity(metadata: Record<string, unknown>, redirectUri?: unknown): ClientIdentity {
  const clientId = typeof metadata.client_id === 'string' ? metadata.client_id : '';
  const ownName = typeof metadata.client_name === 'string' ? metadata.client_name.trim() : '';
  const requested = returnTarget(redirectUri);
  const registered = Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris.map(returnTarget) : [];
  const hosts = requested ? [requested] : [...new Set(registered.filter((host): host is string => host !== undefined))];
  return { name: ownName || clientId || 'an application', hosts, selfRegistered: isSelfRegistered(metadata) };
}
