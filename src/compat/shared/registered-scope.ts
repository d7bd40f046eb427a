import type Provider from 'oidc-provider';
import { absentIfRefusedMetadata } from '../../errors/provider-error.js';

/**
 * The scopes a client is registered for, space-separated; `undefined` for an
 * unknown client (the provider refuses it afterwards, in its own words).
 * What a legacy server granted when a request named no scope: Lux gave a
 * client its registered scopes, and django-oauth-toolkit (oauthlib) its
 * `DEFAULT_SCOPES`, every scope by default.
 */
export async function registeredScope(provider: Provider, clientId: string | undefined): Promise<string | undefined> {
  if (!clientId) return undefined;
  const client = await provider.Client.find(clientId).catch(absentIfRefusedMetadata);
  return client?.scope || undefined;
}
