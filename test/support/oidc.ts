import * as oidc from 'openid-client';
import { expect } from 'chai';
import { FormBrowser } from './form-browser.js';
import { postForm, type Reply } from './http.js';
import type { TestServer } from './server.js';

export const REDIRECT_URI = 'https://rp.example.test/callback';

/** openid-client configured through discovery, as a relying party would be. */
export async function discover(server: Pick<TestServer, 'issuer'>, clientId: string, clientSecret?: string): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(server.issuer),
    clientId,
    undefined,
    clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(),
    // The test issuer is http://localhost; production issuers are https.
    { execute: [oidc.allowInsecureRequests] },
  );
}

export interface CodeFlowResult {
  callback: URL;
  verifier: string;
  state: string;
  nonce: string;
  browser: FormBrowser;
}

/**
 * Runs the authorization request through the login and consent pages the
 * way a browser without JavaScript does, stopping at the redirect back to
 * the client. Returns the callback URL with the code.
 */
export async function authorize(
  config: oidc.Configuration,
  user: { username: string; password: string },
  options: { scope?: string; redirectUri?: string; browser?: FormBrowser; parameters?: Record<string, string> } = {},
): Promise<CodeFlowResult> {
  const redirectUri = options.redirectUri ?? REDIRECT_URI;
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: options.scope ?? 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...options.parameters,
  });
  const browser = options.browser ?? new FormBrowser((next) => next.href.startsWith(redirectUri));
  const callback = await signInAndConsent(browser, url, user, redirectUri);
  return { callback, verifier, state, nonce, browser };
}

/**
 * Opens an authorization URL (any path that leads to the login and consent
 * pages), signs in and consents as needed, and returns the redirect back to
 * `redirectUri`.
 */
export async function signInAndConsent(browser: FormBrowser, url: URL | string, user: { username: string; password: string }, redirectUri: string): Promise<URL> {
  let page = await browser.navigate(String(url));
  if (page.html.includes('/login"')) {
    page = await browser.submit(page, '/login', { username: user.username, password: user.password });
  }
  if (page.html.includes('/confirm"')) {
    page = await browser.submit(page, '/confirm');
  }
  expect(page.url.startsWith(redirectUri), `expected a redirect to ${redirectUri}, got ${page.status} ${page.url}\n${page.html.slice(0, 400)}`).to.equal(true);
  return new URL(page.url);
}

export async function redeem(config: oidc.Configuration, flow: CodeFlowResult, parameters?: Record<string, string>) {
  return oidc.authorizationCodeGrant(config, flow.callback, {
    pkceCodeVerifier: flow.verifier,
    expectedState: flow.state,
    expectedNonce: flow.nonce,
  }, parameters);
}

/** The OAuth error code a rejected openid-client call carried. */
export async function oauthError(promise: Promise<unknown>): Promise<{ error: string; status: number }> {
  try {
    await promise;
  } catch (caught) {
    const error = caught as { error?: string; status?: number; cause?: { error?: string } };
    return { error: error.error ?? error.cause?.error ?? String(caught), status: error.status ?? 0 };
  }
  throw new Error('expected the call to fail');
}

/**
 * The raw token request a relying party sends to redeem a code (RFC 6749
 * §4.1.3). An override of `undefined` leaves that parameter out.
 */
export function redeemCode(
  server: TestServer,
  flow: { callback: URL; verifier?: string },
  auth: Record<string, string>,
  overrides: Record<string, string | undefined> = {},
): Promise<Reply> {
  const fields: Record<string, string | undefined> = {
    grant_type: 'authorization_code',
    code: flow.callback.searchParams.get('code') ?? undefined,
    redirect_uri: REDIRECT_URI,
    code_verifier: flow.verifier,
    ...overrides,
  };
  return postForm(`${server.url}/token`, Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined)), auth);
}

/** Whether introspection (RFC 7662) calls the token active, asked by `auth`'s client. */
export async function isActive(server: TestServer, token: string, auth: Record<string, string>): Promise<boolean> {
  const reply = await postForm(`${server.url}/token/introspection`, { token }, auth);
  expect(reply.status, reply.text).to.equal(200);
  return reply.json.active === true;
}

export interface FrontChannelReply {
  status: number;
  /** Where the browser is sent, if anywhere. */
  location: URL | null;
  headers: Headers;
  html: string;
}

/** One GET of an authorization-style URL without following redirects, as a browser's first hop. */
export async function frontChannel(url: string | URL, headers: Record<string, string> = {}): Promise<FrontChannelReply> {
  const response = await fetch(url, { redirect: 'manual', headers });
  const location = response.headers.get('location');
  return { status: response.status, location: location ? new URL(location, url) : null, headers: response.headers, html: await response.text() };
}

/** An authorization request URL at `path` (default: the standard endpoint) with these exact parameters. */
export function authorizationUrl(server: TestServer, params: Record<string, string> | Array<[string, string]>, path = '/auth'): URL {
  const url = new URL(`${server.url}${path}`);
  url.search = new URLSearchParams(params).toString();
  return url;
}
