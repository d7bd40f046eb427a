import type { AuditLog } from '../../audit/log.js';
import { DASHBOARD_CLIENT_ID, keepReservedClient, type ReservedClientStore } from '../../clients/reserved-clients.js';
import type { MetadataValidator } from '../../clients/service.js';
import { ACCOUNT_PATH, ADMIN_PATH } from '../../web/paths.js';

export { DASHBOARD_CLIENT_ID };

export interface DashboardClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** Where the provider sends the browser after RP-initiated logout. */
  postLogoutRedirectUri: string;
}

/**
 * The surfaces that sign people in through the dashboard's client, each with
 * its own callback and post-logout page: the Lux dashboard path (given), the
 * admin console and the account page.
 */
const OTHER_SIGNED_IN_SURFACES = [ADMIN_PATH, ACCOUNT_PATH];

/**
 * Registers the dashboard as a confidential client of the provider and, at
 * every start, puts every field of it back as the dashboard needs it (scopes,
 * redirect URIs, grant types, authentication method), so nothing done to it
 * elsewhere can keep administrators from signing in.
 */
export async function ensureDashboardClient(
  deps: { store: ReservedClientStore; validate: MetadataValidator; audit?: AuditLog; warn?: (message: string, detail: Record<string, unknown>) => void },
  issuer: string,
  dashboardPath: string,
): Promise<DashboardClient> {
  // The client is one row for every process sharing the database, with one
  // issuer's callbacks: a process started with another ISSUER takes the
  // sign-in pages away from the others until they restart. Said, not hidden.
  const registered = (await deps.store.find(DASHBOARD_CLIENT_ID))?.metadata.redirect_uris;
  const otherIssuers = Array.isArray(registered)
    ? [...new Set(registered.filter((uri): uri is string => typeof uri === 'string' && !uri.startsWith(`${issuer}/`)).map((uri) => URL.canParse(uri) ? new URL(uri).origin : uri))]
    : [];
  if (otherIssuers.length) {
    deps.warn?.('the admin console\'s sign-in was registered for another ISSUER by a process sharing this database; it now works only at this ISSUER: give every process the same ISSUER', { issuer, other_issuers: otherIssuers });
  }
  const redirectUri = `${issuer}${dashboardPath}/callback`;
  const postLogoutRedirectUri = `${issuer}${dashboardPath}/signed-out`;
  const surfaces = [dashboardPath, ...OTHER_SIGNED_IN_SURFACES];
  const clientSecret = await keepReservedClient(deps, {
    client_id: DASHBOARD_CLIENT_ID,
    client_name: 'Gatehouse dashboard',
    description: 'The administration dashboard (first-party; managed by Gatehouse).',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: surfaces.map((path) => `${issuer}${path}/callback`),
    post_logout_redirect_uris: surfaces.map((path) => `${issuer}${path}/signed-out`),
    scope: 'openid profile',
    token_endpoint_auth_method: 'client_secret_basic',
    access_token_format: 'opaque',
  });
  return { clientId: DASHBOARD_CLIENT_ID, clientSecret, redirectUri, postLogoutRedirectUri };
}
