/**
 * Which tier holds which oidc-provider model.
 *
 * Ephemeral: short-lived artifacts whose loss only signs people out or makes
 * them retry (codes, access tokens, sessions, interactions, replay records).
 * Everything else (grants, refresh tokens, registration tokens) is durable,
 * as are clients, which have a table of their own.
 */
export const EPHEMERAL_MODELS: ReadonlySet<string> = new Set([
  'Session',
  // A mark that a session was ended, for as long as it could have lived
  // (oidc-adapter.ts): a request that loaded it before cannot save it back.
  'EndedSession',
  'Interaction',
  'AuthorizationCode',
  'AccessToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
  'ReplayDetection',
  'PreAuthorizedCode',
  // Gatehouse's record of each JWT access token (oidc-provider keeps none), so
  // that revoking one, its grant or its client is seen by every check.
  'JwtAccessToken',
  // DPoP proof ids seen by the resource check (RFC 9449 §11.1 replay).
  'DPoPProof',
]);

export const JWT_ACCESS_TOKEN_MODEL = 'JwtAccessToken';

export function isEphemeral(model: string): boolean {
  return EPHEMERAL_MODELS.has(model);
}
