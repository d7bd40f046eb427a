import * as oidc from 'openid-client';

export interface DashboardClientSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  /** Where this process itself listens; known only once it does. */
  internalOrigin: () => string;
}

/**
 * The dashboard is a relying party of Gatehouse like any other, through
 * openid-client (code flow with PKCE). Its requests to the provider go to
 * this process's own listener rather than out through the public issuer URL,
 * which a server behind a load balancer may not be able to reach.
 */
export class DashboardOidcClient {
  private config?: Promise<oidc.Configuration>;

  constructor(private readonly settings: DashboardClientSettings) {}

  private configuration(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret, internalOrigin } = this.settings;
    const local: oidc.CustomFetch = (url, options) => {
      const target = url.startsWith(issuer) ? `${internalOrigin()}${url.slice(issuer.length)}` : url;
      return fetch(target, options as RequestInit);
    };
    this.config ??= oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret), {
      [oidc.customFetch]: local,
      ...(issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : {}),
    }).then((discovered) => {
      // The provider wrote its endpoints for the origin discovery reached (this
      // listener); the browser must be sent to the issuer's, behind any proxy.
      const origin = internalOrigin();
      const metadata = Object.fromEntries(Object.entries(discovered.serverMetadata()).map(([name, value]) => [
        name, typeof value === 'string' && value.startsWith(`${origin}/`) ? `${issuer}${value.slice(origin.length)}` : value,
      ])) as oidc.ServerMetadata;
      const config = new oidc.Configuration(metadata, clientId, undefined, oidc.ClientSecretBasic(clientSecret));
      config[oidc.customFetch] = local;
      if (issuer.startsWith('http:')) oidc.allowInsecureRequests(config);
      return config;
    }).catch((error: unknown) => {
      this.config = undefined;
      throw error;
    });
    return this.config;
  }

  /**
   * Starts a sign-in: the URL to send the browser to, and what to remember.
   * Each signed-in surface has its own registered redirect URI; the code is
   * redeemed at the one it was sent to (openid-client takes it from the
   * callback URL, as RFC 6749 §4.1.3 requires them to match).
   */
  async start(redirectUri = this.settings.redirectUri): Promise<{ url: string; verifier: string; state: string; nonce: string }> {
    const config = await this.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, verifier, state, nonce };
  }

  /**
   * Finishes a sign-in from the callback URL: who signed in and the access
   * token (whose grant binds the session). The ID token is checked, then not
   * kept: sign-out ends the provider session on the server, not by
   * presenting it as id_token_hint (signed-in-pages.ts).
   */
  async finish(callbackUrl: URL, expected: { verifier: string; state: string; nonce: string }): Promise<{ sub: string; name: string; accessToken: string }> {
    const config = await this.configuration();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: expected.verifier, expectedState: expected.state, expectedNonce: expected.nonce,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('no ID token in the token response');
    // Profile claims come from userinfo (the ID token carries only sub and protocol claims).
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    return { sub: claims.sub, name: String(info.preferred_username ?? info.name ?? claims.sub), accessToken: tokens.access_token };
  }

  /**
   * Where to send the browser for the provider to end its sign-in session
   * (OpenID Connect RP-Initiated Logout 1.0 §2): the provider asks the user to
   * confirm with a plain form, ends the session and every grant made in it,
   * and returns to the registered post-logout URI. The client_id names the
   * registration, not an id_token_hint, which the provider refuses once the
   * key that signed it is retired.
   */
  async endSessionUrl(postLogoutRedirectUri = this.settings.postLogoutRedirectUri): Promise<string> {
    const config = await this.configuration();
    return oidc.buildEndSessionUrl(config, {
      client_id: this.settings.clientId,
      post_logout_redirect_uri: postLogoutRedirectUri,
    }).href;
  }
}

/**
 * What the user may be told about a failed sign-in: the provider's own
 * error and description (RFC 6749 §4.1.2.1, §5.2), or openid-client's check
 * that failed (state, nonce, ID token). Anything else (a network or storage
 * failure) stays in the log, under the request id the page shows.
 */
export function signInFailureReason(error: unknown): string | undefined {
  if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError) {
    return error.error_description ? `${error.error_description} (${error.error})` : error.error;
  }
  if (error instanceof oidc.ClientError || error instanceof oidc.WWWAuthenticateChallengeError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return undefined;
}
