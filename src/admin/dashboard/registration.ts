import type { ClientService } from '../../clients/service.js';
import { ConflictError, NotFoundError } from '../../errors/app-error.js';

export const DASHBOARD_CLIENT_ID = 'gatehouse-dashboard';

/**
 * Registers the dashboard as a confidential client of the provider (once;
 * every process finds the same record) and keeps its redirect URI in step
 * with the issuer.
 */
export async function ensureDashboardClient(clients: ClientService, issuer: string, callbackPath: string) {
  const redirectUri = `${issuer}${callbackPath}`;
  try {
    const existing = await clients.show(DASHBOARD_CLIENT_ID);
    if (existing.redirectUris.join() !== redirectUri) {
      await clients.update(DASHBOARD_CLIENT_ID, { redirectUris: [redirectUri] });
    }
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    try {
      await clients.create({
        clientId: DASHBOARD_CLIENT_ID,
        name: 'Gatehouse dashboard',
        description: 'The administration dashboard (first-party).',
        grantTypes: ['authorization_code'],
        redirectUris: [redirectUri],
        scope: ['openid', 'profile'],
      });
    } catch (raced) {
      if (!(raced instanceof ConflictError)) throw raced; // another process registered it first
    }
  }
  const clientSecret = await clients.secretOf(DASHBOARD_CLIENT_ID);
  if (!clientSecret) throw new Error(`client ${DASHBOARD_CLIENT_ID} has no secret`);
  return { clientId: DASHBOARD_CLIENT_ID, clientSecret, redirectUri };
}
