/**
 * Fixtures for the code and refresh scenarios, made over HTTP the way a
 * browser and a relying party make them: the authorization endpoint, the
 * server's own login and consent forms, the token endpoint. The same code
 * drives Gatehouse's pages and the baseline's devInteractions pages; it
 * fills the first form a page posts, whatever its fields are called.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface CodeClient {
  /** Where the server listens (its issuer may name another host for it). */
  origin: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  user: { username: string; password: string };
}

export interface MintedCode { code: string; verifier: string }

/** How many authorization flows run at once while minting. */
const LANES = 20;

/** client_secret_basic (RFC 6749 §2.3.1: the id and secret are form-encoded first). */
export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

const entity = (value: string) => value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const attribute = (tag: string, name: string) => {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag);
  return match?.[1] === undefined ? undefined : entity(match[1]);
};

/** One browser: its own cookies, so its own session at the server. */
class Browser {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly origin: string) {}

  async request(url: URL, body?: URLSearchParams): Promise<{ status: number; location: URL | null; html: string }> {
    // Issuers say http://localhost:PORT; the server is reached where it was started.
    const target = new URL(`${url.pathname}${url.search}`, this.origin);
    const response = await fetch(target, {
      method: body ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '), accept: 'text/html' },
      body,
    });
    for (const cookie of response.headers.getSetCookie()) {
      const pair = cookie.split(';', 1)[0] ?? '';
      const at = pair.indexOf('=');
      if (at < 1) continue;
      if (at === pair.length - 1 || /max-age=0|expires=thu, 01 jan 1970/i.test(cookie)) this.cookies.delete(pair.slice(0, at));
      else this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const location = response.headers.get('location');
    return { status: response.status, location: location ? new URL(location, url) : null, html: await response.text() };
  }
}

/**
 * One authorization request with its own PKCE pair, through whatever pages
 * the server shows (login, consent), to the redirect back with a code.
 */
async function authorize(browser: Browser, client: CodeClient, params: Record<string, string>): Promise<MintedCode> {
  const verifier = randomBytes(32).toString('base64url');
  let url = new URL('/auth', client.origin);
  url.search = new URLSearchParams({
    client_id: client.clientId, response_type: 'code', redirect_uri: client.redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    state: randomBytes(8).toString('base64url'), nonce: randomBytes(8).toString('base64url'), ...params,
  }).toString();
  let page = await browser.request(url);
  for (let hops = 0; hops < 12; hops += 1) {
    if (page.location?.href.startsWith(client.redirectUri)) {
      const code = page.location.searchParams.get('code');
      if (!code) throw new Error(`no code in the redirect: ${page.location.href}`);
      return { code, verifier };
    }
    if (page.location) {
      url = page.location;
      page = await browser.request(url);
      continue;
    }
    const form = /<form\b([^>]*method="post"[^>]*)>([\s\S]*?)<\/form>/i.exec(page.html);
    if (page.status !== 200 || !form) break;
    const fields = new URLSearchParams();
    for (const [input] of form[2]!.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input, 'name');
      if (!name) continue;
      if (name === 'username' || name === 'login') fields.set(name, client.user.username);
      else if (name === 'password') fields.set(name, client.user.password);
      else fields.set(name, attribute(input, 'value') ?? '');
    }
    url = new URL(attribute(` ${form[1]}`, 'action') ?? url.href, url);
    page = await browser.request(url, fields);
  }
  throw new Error(`authorization at ${client.origin} stopped at ${page.status} ${url.href}: ${page.html.slice(0, 300)}`);
}

/** Runs `task` `count` times, at most `width` at once; `lane` says which of the `width` runs it. */
async function inLanes<T>(count: number, width: number, task: (lane: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let claimed = 0;
  await Promise.all(Array.from({ length: Math.min(width, count) }, async (_, lane) => {
    while (claimed < count) {
      claimed += 1;
      out.push(await task(lane));
    }
  }));
  return out;
}

/**
 * `count` authorization codes for `openid`. Each lane signs in once (one
 * password check, its own session and grant) and then asks for its codes on
 * that session, as a returning user's browser does: no further login or
 * consent page.
 */
export function mintCodes(client: CodeClient, count: number): Promise<MintedCode[]> {
  const browsers = Array.from({ length: LANES }, () => new Browser(client.origin));
  return inLanes(count, LANES, (lane) => authorize(browsers[lane]!, client, { scope: 'openid' }));
}

/**
 * `count` refresh tokens, each from its own sign-in, so each stands on a
 * grant of its own: a rotation chain that broke would revoke its grant
 * (reuse detection) and take only itself down. offline_access, so that the
 * tokens outlive the session, needs prompt=consent in oidc-provider.
 */
export function mintRefreshTokens(client: CodeClient, count: number): Promise<string[]> {
  return inLanes(count, LANES, async () => {
    const { code, verifier } = await authorize(new Browser(client.origin), client, { scope: 'openid offline_access', prompt: 'consent' });
    const reply = await fetch(new URL('/token', client.origin), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.clientId, client.clientSecret) },
      body: redemptionBody(client, { code, verifier }),
    });
    const tokens = (await reply.json()) as { refresh_token?: string };
    if (!tokens.refresh_token) throw new Error(`no refresh token from ${client.origin}: ${reply.status} ${JSON.stringify(tokens)}`);
    return tokens.refresh_token;
  });
}

/** The token request that redeems one code (RFC 6749 §4.1.3, RFC 7636 §4.5). */
export function redemptionBody(client: CodeClient, minted: MintedCode): string {
  return new URLSearchParams({ grant_type: 'authorization_code', code: minted.code, redirect_uri: client.redirectUri, code_verifier: minted.verifier }).toString();
}
