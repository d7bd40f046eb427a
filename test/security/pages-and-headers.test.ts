import { expect } from 'chai';
import { ensureDashboardClient } from '../../src/admin/dashboard/registration.js';
import { FormBrowser, type Page } from '../support/form-browser.js';
import { authorizationUrl, frontChannel, REDIRECT_URI, signInAndConsent } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DASHBOARD = '/Lux/OAuth2/dashboard';
const CHALLENGE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

/** The directives of a Content-Security-Policy header. */
function csp(header: string | null): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

/** The headers every HTML page Gatehouse renders must carry. */
function expectStrictPage(page: Pick<Page, 'headers' | 'status'>, name: string): void {
  expect(page.headers.get('content-type'), name).to.match(/^text\/html/);
  const policy = csp(page.headers.get('content-security-policy'));
  expect(policy.get('default-src'), `${name}: default-src`).to.deep.equal(["'none'"]);
  expect(policy.get('frame-ancestors'), `${name}: frame-ancestors`).to.deep.equal(["'none'"]);
  for (const [directive, values] of policy) {
    expect(values, `${name}: ${directive}`).not.to.include.members(["'unsafe-inline'", "'unsafe-eval'", '*']);
  }
  expect(policy.get('script-src') ?? ["'none'"], `${name}: scripts`).to.deep.equal(["'none'"]);
  expect(page.headers.get('x-content-type-options'), name).to.equal('nosniff');
  expect(page.headers.get('referrer-policy'), name).to.be.oneOf(['no-referrer', 'same-origin', 'strict-origin']);
  expect(page.headers.get('x-frame-options'), name).to.equal('DENY');
}

/** A Set-Cookie line's attributes, lower-cased. */
function cookieAttributes(line: string): { name: string; attributes: Map<string, string> } {
  const [pair = '', ...rest] = line.split(';');
  const attributes = new Map(rest.map((part) => {
    const [key = '', value = ''] = part.trim().split('=');
    return [key.toLowerCase(), value.toLowerCase()] as [string, string];
  }));
  return { name: pair.split('=')[0]!.trim(), attributes };
}

describe('pages and headers', () => {
  let server: TestServer;
  let clientId: string;
  const stamp = Date.now();
  const user = { username: `paige-${stamp}`, password: 'pages password' };
  const admin = { username: `pam-${stamp}`, password: 'pages admin password' };

  const authUrl = () => authorizationUrl(server, { client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st', ...CHALLENGE });
  const browser = () => new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));

  /** An admin signed in to the dashboard, on its client list. */
  async function dashboardAdmin(): Promise<{ browser: FormBrowser; page: Page }> {
    const b = new FormBrowser();
    const login = await b.navigate(`${server.issuer}${DASHBOARD}/`);
    const page = await b.submit(login, '/login', admin);
    expect(page.status, page.html.slice(0, 300)).to.equal(200);
    return { browser: b, page };
  }

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({
      name: 'Pages RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], postLogoutRedirectUris: ['https://rp.example.test/bye'], scope: ['openid', 'profile'],
    });
    clientId = created.client.clientId;
    await server.services.accounts.create(user);
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
  });

  after(() => server.stop());

  it('no cache keeps a Gatehouse answer unless its route says so: the stylesheet is cacheable, discovery and JWKS keep the provider\'s choice', async () => {
    const answers = await Promise.all(['/Lux/OAuth2/query/', '/v2/clients', '/api/whoami', '/auth/oauth2/token/', '/api/v1.1/oauth/token', '/no-such-page', '/assets/gatehouse.css', '/.well-known/openid-configuration', '/jwks']
      .map(async (path) => [path, (await fetch(`${server.url}${path}`)).headers.get('cache-control')] as const));
    expect(Object.fromEntries(answers)).to.deep.equal({
      '/Lux/OAuth2/query/': 'no-store', '/v2/clients': 'no-store', '/api/whoami': 'no-store', '/auth/oauth2/token/': 'no-store',
      '/api/v1.1/oauth/token': 'no-store', '/no-such-page': 'no-store', '/assets/gatehouse.css': 'public, max-age=3600',
      '/.well-known/openid-configuration': null, '/jwks': null,
    });
  });

  describe('every page sends a strict CSP with frame-ancestors \'none\', nosniff and a Referrer-Policy', () => {
    it('login (also after a wrong password) and consent', async () => {
      const b = browser();
      const login = await b.navigate(authUrl().href);
      expectStrictPage(login, 'login');
      const wrong = await b.submit(login, '/login', { ...user, password: 'wrong' });
      expect(wrong.status).to.equal(401);
      expectStrictPage(wrong, 'login with an error');
      const consent = await b.submit(wrong, '/login', user);
      expect(consent.html).to.include('/confirm"');
      expectStrictPage(consent, 'consent');
    });

    it('error pages: the provider’s, an expired interaction, and Lux authorize/', async () => {
      const pages: Array<[string, string]> = [
        ['provider error', `${server.url}/auth?client_id=nobody&response_type=code`],
        ['expired interaction', `${server.url}/interaction/no-such-interaction`],
        ['Lux authorize/ error', `${server.url}/Lux/OAuth2/authorize/?response_type=token&client_id=${clientId}`],
      ];
      for (const [name, url] of pages) {
        const reply = await frontChannel(url);
        expect(reply.status, name).to.equal(400);
        expectStrictPage(reply, name);
      }
    });

    it('logout and logged-out', async () => {
      const b = browser();
      await signInAndConsent(b, authUrl(), user, REDIRECT_URI);
      const logout = await b.navigate(`${server.url}/session/end`);
      expect(logout.html).to.include('/session/end/confirm');
      expectStrictPage(logout, 'logout');
      const done = await frontChannel(`${server.url}/session/end/success`);
      expect(done.status).to.equal(200);
      expectStrictPage(done, 'logged out');
    });

    it('oidc-provider’s auto-submitting page (logout without a session): no framing, and no script but its own hashed one', async () => {
      const page = await frontChannel(`${server.url}/session/end`);
      expect(page.html).to.include('<script>');
      const policy = csp(page.headers.get('content-security-policy'));
      expect(policy.get('default-src')).to.deep.equal(["'none'"]);
      expect(policy.get('frame-ancestors')).to.deep.equal(["'none'"]);
      const scripts = policy.get('script-src') ?? [];
      expect(scripts.filter((source) => source !== "'self'" && !source.startsWith("'sha256-"))).to.deep.equal([]);
      expect(scripts.some((source) => source.startsWith("'sha256-"))).to.equal(true);
      expect(page.headers.get('x-content-type-options')).to.equal('nosniff');
    });

    it('the dashboard’s pages', async () => {
      const { browser: b, page } = await dashboardAdmin();
      expectStrictPage(page, 'dashboard list');
      expectStrictPage(await b.navigate(`${server.issuer}${DASHBOARD}/clients/new`), 'dashboard form');
      expectStrictPage(await b.navigate(`${server.issuer}${DASHBOARD}/clients/${clientId}`), 'dashboard client');
      const missing = await b.navigate(`${server.issuer}${DASHBOARD}/clients/no-such-client`);
      expect(missing.status).to.equal(404);
      expectStrictPage(missing, 'dashboard not found');
    });
  });

  describe('forms carry CSRF tokens; a POST without or with a wrong one is a 403 and changes nothing', () => {
    it('login: refused, and the visitor is still not signed in', async () => {
      const b = browser();
      const login = await b.navigate(authUrl().href);
      expect(FormBrowser.forms(login).every((form) => form.method !== 'post' || form.fields.csrf)).to.equal(true);
      for (const csrf of [undefined, 'forged', '']) {
        const form = FormBrowser.forms(login).find((f) => f.action.endsWith('/login'))!;
        const fields: Record<string, string> = { ...form.fields, ...user };
        if (csrf === undefined) delete fields.csrf; else fields.csrf = csrf;
        const refused = await b.request(form.action, { method: 'POST', body: new URLSearchParams(fields) });
        expect(refused.status, `csrf=${String(csrf)}`).to.equal(403);
        expect(refused.headers.get('location')).to.equal(null);
        expectStrictPage(refused, 'refusal');
      }
      const again = await b.navigate(login.url);
      expect(again.html, 'still the login form').to.include('/login"');
    });

    it('consent and deny: refused, no grant, no redirect, and the interaction is untouched', async () => {
      const b = browser();
      const consent = await b.submit(await b.navigate(authUrl().href), '/login', user);
      for (const action of ['/confirm', '/abort']) {
        const form = FormBrowser.forms(consent).find((f) => f.action.endsWith(action))!;
        expect(form.fields.csrf, action).to.be.a('string').and.not.equal('');
        const refused = await b.request(form.action, { method: 'POST', body: new URLSearchParams({ csrf: 'forged' }) });
        expect(refused.status, action).to.equal(403);
        expect(refused.headers.get('location'), action).to.equal(null);
      }
      const again = await b.navigate(consent.url);
      expect(again.html, 'still the consent form').to.include('/confirm"');
      const done = await b.submit(again, '/confirm');
      expect(new URL(done.url).searchParams.get('code'), 'the real form still works').to.be.a('string');
    });

    it('the dashboard: creating, editing and signing out are refused and change nothing', async () => {
      const { browser: b } = await dashboardAdmin();
      const url = (path: string) => `${server.issuer}${DASHBOARD}${path}`;
      const name = `CSRF victim ${stamp}`;
      for (const csrf of [undefined, 'forged']) {
        const base = { name, grant_types: 'client_credentials', scope: 'openid', ...(csrf ? { csrf } : {}) };
        const created = await b.request(url('/clients'), { method: 'POST', body: new URLSearchParams(base) });
        expect(created.status).to.equal(403);
        const edited = await b.request(url(`/clients/${clientId}`), { method: 'POST', body: new URLSearchParams({ ...base, redirect_uris: 'https://evil.example.test/cb' }) });
        expect(edited.status).to.equal(403);
        const signedOut = await b.request(url('/logout'), { method: 'POST', body: new URLSearchParams(csrf ? { csrf } : {}) });
        expect(signedOut.status).to.equal(403);
      }
      expect((await server.services.clients.list({ name })).total).to.equal(0);
      const client = await server.services.clients.show(clientId);
      expect([client.name, client.redirectUris]).to.deep.equal(['Pages RP', [REDIRECT_URI]]);
      expect((await b.navigate(url('/'))).status, 'still signed in').to.equal(200);
    });

    it('logout (oidc-provider’s own xsrf field): refused, and the session survives', async () => {
      const b = browser();
      await signInAndConsent(b, authUrl(), user, REDIRECT_URI);
      const logout = await b.navigate(`${server.url}/session/end`);
      const form = FormBrowser.forms(logout).find((f) => f.action.endsWith('/session/end/confirm'))!;
      expect(form.fields.xsrf).to.be.a('string').and.not.equal('');
      const refused = await b.request(form.action, { method: 'POST', body: new URLSearchParams({ xsrf: 'forged', logout: 'yes' }) });
      expect(refused.status).to.be.within(400, 403);
      expect(refused.headers.get('location')).to.equal(null);
      const silent = await b.navigate(authorizationUrl(server, { client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', prompt: 'none', ...CHALLENGE }).href);
      expect(new URL(silent.url).searchParams.get('code'), 'still signed in').to.be.a('string');
    });
  });

  describe('cookies', () => {
    it('are HttpOnly and SameSite, through sign-in, consent, the dashboard and logout', async () => {
      const b = browser();
      await signInAndConsent(b, authUrl(), user, REDIRECT_URI);
      const logout = await b.navigate(`${server.url}/session/end`);
      await b.submit(logout, '/session/end/confirm', { logout: 'yes' });
      const { browser: dashboard } = await dashboardAdmin();
      const lines = [...b.history, ...dashboard.history].flatMap((exchange) => exchange.setCookies);
      const names = new Set(lines.map((line) => cookieAttributes(line).name));
      expect([...names]).to.include.members(['_interaction', '_interaction_resume', '_session', 'gh_dashboard', 'gh_dashboard_login']);
      for (const line of lines) {
        const { name, attributes } = cookieAttributes(line);
        expect(attributes.has('httponly'), `${name} HttpOnly`).to.equal(true);
        expect(attributes.get('samesite'), `${name} SameSite`).to.be.oneOf(['lax', 'strict']);
        expect(attributes.has('secure'), `${name} is not Secure over plain http`).to.equal(false);
      }
      // An http issuer asks nothing of the kind: HSTS over plain http would be ignored, and is not sent.
      for (const exchange of b.history) expect(exchange.hsts, exchange.url).to.equal(null);
    });

    it('are Secure behind a trusted TLS-terminating proxy (TRUST_PROXY=true, X-Forwarded-Proto: https, https issuer)', async () => {
      const behindProxy = await startTestServer({ TRUST_PROXY: 'true', ISSUER: 'https://gatehouse.example.test' });
      try {
        const listener = new URL(behindProxy.url);
        const route = (url: URL) => {
          if (url.host !== 'gatehouse.example.test' && url.host !== listener.host) return url;
          const routed = new URL(url.href);
          routed.protocol = 'http:';
          routed.host = listener.host;
          return routed;
        };
        const headers = { 'x-forwarded-proto': 'https' };
        const made = await behindProxy.services.clients.create({ name: 'Proxied RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
        await behindProxy.services.accounts.create({ ...admin, roles: ['admin'] }).catch(() => undefined); // shared database: already there
        await behindProxy.services.accounts.create(user).catch(() => undefined);
        const b = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI), { headers, route });
        const url = new URL(`https://gatehouse.example.test/auth?${new URLSearchParams({ client_id: made.client.clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st', ...CHALLENGE }).toString()}`);
        await signInAndConsent(b, url, user, REDIRECT_URI);
        const dashboard = new FormBrowser(() => false, { headers, route });
        const signedIn = await dashboard.submit(await dashboard.navigate(`https://gatehouse.example.test${DASHBOARD}/`), '/login', admin);
        expect(signedIn.status, signedIn.html.slice(0, 300)).to.equal(200);
        // Every answer of an https issuer keeps browsers to https (RFC 6797), whatever the page.
        for (const exchange of [...b.history, ...dashboard.history]) expect(exchange.hsts, exchange.url).to.equal('max-age=31536000');
        const lines = [...b.history, ...dashboard.history].flatMap((exchange) => exchange.setCookies);
        const names = new Set(lines.map((line) => cookieAttributes(line).name));
        // The origin's cookies carry __Host- (RFC 6265bis): a sibling subdomain cannot plant its own copy.
        expect([...names]).to.include.members(['_interaction', '__Host-_session', '__Host-gh_dashboard', '__Host-gh_dashboard_login']);
        expect([...names]).not.to.include.members(['_session', 'gh_dashboard']);
        for (const line of lines) {
          const { name, attributes } = cookieAttributes(line);
          expect(attributes.has('secure'), `${name} Secure`).to.equal(true);
          expect(attributes.has('httponly'), `${name} HttpOnly`).to.equal(true);
          if (name.startsWith('__Host-')) {
            expect(attributes.get('path'), `${name} Path`).to.equal('/');
            expect(attributes.has('domain'), `${name} Domain`).to.equal(false);
          }
        }
      } finally {
        await behindProxy.stop();
        // With a shared database the dashboard's one client record follows the
        // issuer of the last process started; give it back to this file's server.
        await ensureDashboardClient({ store: server.services.storage.clients, validate: (metadata) => server.services.provider.Client.validate(metadata) }, server.issuer, DASHBOARD);
      }
    });
  });

  it('sends no CORS headers from the authorization endpoint, the interaction pages or the dashboard, whatever the Origin', async () => {
    const origin = { origin: 'https://evil.example.test' };
    const first = await frontChannel(authUrl(), origin);
    const urls = [authUrl().href, first.location!.href, `${server.url}/Lux/OAuth2/authorize/?client_id=${clientId}&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`, `${server.url}${DASHBOARD}/`];
    for (const url of urls) {
      for (const method of ['GET', 'OPTIONS']) {
        const response = await fetch(url, { method, redirect: 'manual', headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
        await response.arrayBuffer();
        for (const header of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods']) {
          expect(response.headers.get(header), `${method} ${url}: ${header}`).to.equal(null);
        }
      }
    }
  });

  describe('redirects are 303 (RFC 9700 §4.12), never 307 or 302', () => {
    function expectSeeOther(history: FormBrowser['history'], flow: string): void {
      const redirects = history.filter((exchange) => exchange.status >= 300 && exchange.status < 400);
      expect(redirects.length, `${flow} redirects`).to.be.above(1);
      for (const exchange of redirects) {
        expect(exchange.status, `${flow}: ${exchange.method} ${exchange.url} → ${exchange.location ?? ''}`).to.equal(303);
      }
    }

    it('through sign-in and consent back to the client, including oidc-provider’s resume and a denial', async () => {
      const b = browser();
      await signInAndConsent(b, authUrl(), user, REDIRECT_URI);
      expectSeeOther(b.history, 'code flow');
      expect(b.history.some((exchange) => exchange.method === 'POST' && exchange.status === 303)).to.equal(true);
      const denying = browser();
      const login = await denying.navigate(authUrl().href);
      await denying.submit(login, '/abort');
      expectSeeOther(denying.history, 'denial');
    });

    it('through Lux authorize/, logout, and the dashboard (sign-in, save, a POST without a session)', async () => {
      const lux = browser();
      await signInAndConsent(lux, `${server.url}/Lux/OAuth2/authorize/?client_id=${clientId}&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&state=s`, user, REDIRECT_URI);
      expectSeeOther(lux.history, 'Lux');

      const out = new FormBrowser((next) => next.host === 'rp.example.test');
      await signInAndConsent(out, authUrl(), user, REDIRECT_URI);
      const logout = await out.navigate(`${server.url}/session/end?client_id=${clientId}&post_logout_redirect_uri=${encodeURIComponent('https://rp.example.test/bye')}`);
      await out.submit(logout, '/session/end/confirm', { logout: 'yes' });
      expectSeeOther(out.history, 'logout');

      const { browser: dashboard } = await dashboardAdmin();
      const { client } = await server.services.clients.create({ name: 'Saved RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
      const edit = await dashboard.navigate(`${server.issuer}${DASHBOARD}/clients/${client.clientId}/edit`);
      const saved = await dashboard.submit(edit, `/clients/${client.clientId}`, { name: 'Saved RP, renamed', redirect_uris: REDIRECT_URI, scope: 'openid' });
      expect(saved.status, saved.html.slice(0, 300)).to.equal(200);
      expect((await server.services.clients.show(client.clientId)).name).to.equal('Saved RP, renamed');
      const anonymous = new FormBrowser();
      await anonymous.request(`${server.issuer}${DASHBOARD}/clients`, { method: 'POST', body: new URLSearchParams({ name: 'x' }) });
      expectSeeOther([...dashboard.history, ...anonymous.history], 'dashboard');
    });
  });
});
