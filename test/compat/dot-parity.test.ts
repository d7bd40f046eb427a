import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { DotService, ensureDjangoOAuthToolkit, type SeededApplication, type SeededUser, sourceServerProblem } from '../support/dot-service.js';

/** The fixture DOT service's ACCESS_TOKEN_EXPIRE_SECONDS (test/fixtures/dot-service/dot_service/settings.py). */
const FIXTURE_ACCESS_TOKEN_SECONDS = 36000;
const CALLBACK = 'https://web.example.org/callback';
/** Gatehouse's user for the code flow (DOT's code is for the fixture's `holder`; only the answers' shapes are compared). */
const HOLDER = { username: `parity-holder-${Date.now()}`, password: 'parity holder password' };

/**
 * A code as DOT's AuthorizationView stores it once the user has consented
 * (the fixture site has no login pages): a Grant row for `holder`.
 */
const DOT_GRANT = `
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dot_service.settings")
import django; django.setup()
from datetime import timedelta
from django.utils import timezone
from django.contrib.auth.models import User
from oauth2_provider.models import Application, Grant
Grant.objects.create(user=User.objects.get(username="holder"), code=sys.argv[1], application=Application.objects.get(client_id="web-app"),
    expires=timezone.now() + timedelta(minutes=1), redirect_uri="${CALLBACK}", scope="read write")
`;

/** A public DOT application whose secret is blank, as a public app's may be: it names itself with Basic `id:`. */
const DOT_PUBLIC_APP = `
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dot_service.settings")
import django; django.setup()
from oauth2_provider.models import Application
Application.objects.create(name="Pub code", client_id=sys.argv[1], client_type=Application.CLIENT_PUBLIC,
    authorization_grant_type=Application.GRANT_PASSWORD, client_secret="")
`;

/**
 * What a DOT client sees at Gatehouse's DOT paths is what the real service
 * (Debian's DOT 1.7, the fixture's settings) answered it: the same fields,
 * token type, lifetime and scope, for the grants DOT applications other than
 * password ones use.
 */
describe('django-oauth-toolkit dialect answers client_credentials and authorization_code as a real DOT service does', function () {
  this.timeout(600_000);
  let dot: DotService | undefined;
  let server: TestServer | undefined;
  let apps: Record<string, SeededApplication>;
  let users: Record<string, SeededUser>;

  /** The DOT application's id at Gatehouse: its own, made unique so as not to meet the import test's clients in a shared database. */
  const RUN = Date.now().toString(36);
  const at = (clientId: string) => `${clientId}-${RUN}`;
  const gatehouse = (clientId: string, form: Record<string, string>) => postForm(`${server!.url}/auth/oauth2/token/`, form,
    { authorization: basicAuth(at(clientId), apps[clientId]!.client_secret) });
  const atDot = async (clientId: string, form: Record<string, string>) => {
    const reply = await dot!.post('/o/token/', form, { id: clientId, secret: apps[clientId]!.client_secret });
    expect(reply.status, JSON.stringify(reply.json)).to.equal(200);
    return reply.json;
  };
  /** Everything but the token strings, which differ by nature. */
  const shape = (json: Record<string, unknown>) => Object.fromEntries(Object.keys(json).sort().map((key) => [key,
    key.endsWith('_token') ? typeof json[key] : json[key]]));

  before(async function () {
    const missing = await sourceServerProblem() ?? await ensureDjangoOAuthToolkit();
    if (missing) {
      this.test!.parent!.title += ` (skipped: ${missing})`;
      this.skip();
    }
    dot = await DotService.create('gh_dot_parity');
    const seeded = await dot.seed();
    apps = Object.fromEntries(seeded.applications.map((a) => [a.client_id, a]));
    users = Object.fromEntries(seeded.users.map((u) => [u.username, u]));
    await dot.serve();

    server = await startTestServer({ DOT_ACCESS_TOKEN_TTL: String(FIXTURE_ACCESS_TOKEN_SECONDS) });
    // The two applications as the import brings them (same secrets, grants mapped the same way).
    await server.services.clients.importClient({
      clientId: at('batch-job'), name: 'Batch job', clientSecret: apps['batch-job']!.client_secret, public: false,
      grantTypes: ['client_credentials'], redirectUris: [], scope: ['read', 'write'],
    });
    await server.services.clients.importClient({
      clientId: at('web-app'), name: 'Web app', clientSecret: apps['web-app']!.client_secret, public: false,
      grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scope: ['read', 'write'],
    });
    await server.services.accounts.create(HOLDER);
  });

  after(async () => {
    await server?.stop();
    await dot?.destroy();
  });

  it('client_credentials without a scope: every scope, DOT’s lifetime in seconds, no refresh token', async () => {
    const expected = await atDot('batch-job', { grant_type: 'client_credentials' });
    expect(shape(expected)).to.deep.equal({ access_token: 'string', expires_in: FIXTURE_ACCESS_TOKEN_SECONDS, scope: 'read write', token_type: 'Bearer' });
    const reply = await gatehouse('batch-job', { grant_type: 'client_credentials' });
    expect(reply.status, reply.text).to.equal(200);
    expect(shape(reply.json)).to.deep.equal(shape(expected));
  });

  it('client_credentials with a scope: that scope', async () => {
    const expected = await atDot('batch-job', { grant_type: 'client_credentials', scope: 'read' });
    const reply = await gatehouse('batch-job', { grant_type: 'client_credentials', scope: 'read' });
    expect(reply.status, reply.text).to.equal(200);
    expect(shape(reply.json)).to.deep.equal(shape(expected));
  });

  it('authorization_code (a confidential client, no PKCE): an access and a refresh token, every scope', async () => {
    const dotCode = `parity-code-${Date.now()}`;
    await dot!.python('-c', DOT_GRANT, dotCode);
    const expected = await atDot('web-app', { grant_type: 'authorization_code', code: dotCode, redirect_uri: CALLBACK });
    expect(shape(expected)).to.deep.equal({
      access_token: 'string', expires_in: FIXTURE_ACCESS_TOKEN_SECONDS, refresh_token: 'string', scope: 'read write', token_type: 'Bearer',
    });

    const browser = new FormBrowser((next) => next.href.startsWith(CALLBACK));
    let page = await browser.navigate(`${server!.url}/auth/oauth2/authorize/?${new URLSearchParams({ client_id: at('web-app'), redirect_uri: CALLBACK, response_type: 'code' }).toString()}`);
    if (page.html.includes('/login"')) page = await browser.submit(page, '/login', HOLDER);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    const code = new URL(page.url).searchParams.get('code');
    expect(code, page.html.slice(0, 300)).to.be.a('string');
    const reply = await gatehouse('web-app', { grant_type: 'authorization_code', code: code!, redirect_uri: CALLBACK });
    expect(reply.status, reply.text).to.equal(200);
    expect(shape(reply.json)).to.deep.equal(shape(expected));
  });
  describe('which Authorization header counts as client authentication (RFC 6749 §2.3: Basic only)', () => {
    /** One side of the comparison: its ids for the DOT applications, and the tokens it issued. */
    interface Side { id(dotId: string): string; tokens: Record<string, string> }
    const dotSide: Side = { id: (dotId) => dotId, tokens: {} };
    const gatehouseSide: Side = { id: at, tokens: {} };
    type TokenRequest = { headers?: Record<string, string>; form: Record<string, string> };

    async function post(url: string, { headers, form }: TokenRequest) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });
      const json = await response.json() as Record<string, unknown>;
      return { status: response.status, error: json.error, json };
    }
    /** The same request at DOT and at Gatehouse: Gatehouse answers with DOT's status and error code. */
    async function sameAnswer(request: (side: Side) => TokenRequest): Promise<number> {
      const atDot = await post(`${dot!.baseUrl}/o/token/`, request(dotSide));
      const gatehouse = await post(`${server!.url}/auth/oauth2/token/`, request(gatehouseSide));
      expect({ status: gatehouse.status, error: gatehouse.error }, `DOT: ${JSON.stringify(atDot.json)}; Gatehouse: ${JSON.stringify(gatehouse.json)}`)
        .to.deep.equal({ status: atDot.status, error: atDot.error });
      return atDot.status;
    }
    const batchJob = (side: Side) => ({ grant_type: 'client_credentials', client_id: side.id('batch-job'), client_secret: apps['batch-job']!.client_secret });

    it('an access token the client sends along (Bearer, or another scheme) is ignored: the body’s credentials count', async () => {
      for (const authorization of ['Bearer an-expired-access-token', 'LEAccess an-old-token']) {
        expect(await sameAnswer((side) => ({ headers: { authorization }, form: batchJob(side) })), authorization).to.equal(200);
      }
    });

    it('a Bearer token alone is no client authentication: 401 invalid_client', async () => {
      expect(await sameAnswer(() => ({ headers: { authorization: 'Bearer an-expired-access-token' }, form: { grant_type: 'client_credentials' } }))).to.equal(401);
    });

    it('HTTP Basic with the same credentials repeated in the body: 200', async () => {
      expect(await sameAnswer((side) => ({
        headers: { authorization: basicAuth(side.id('batch-job'), apps['batch-job']!.client_secret) }, form: batchJob(side),
      }))).to.equal(200);
    });

    it('a public client refreshing with Basic `id:` (empty password), or with its client_id beside a Bearer token: 200', async () => {
      const pub = `pub-code-${RUN}`;
      // DOT: a public password application with a blank secret (the reviewer's `pub-code`), signed in as `holder`.
      await dot!.python('-c', DOT_PUBLIC_APP, pub);
      const holder = users.holder!;
      const signedIn = await post(`${dot!.baseUrl}/o/token/`, { form: { grant_type: 'password', username: holder.username, password: holder.password, client_id: pub } });
      expect(signedIn.status, JSON.stringify(signedIn.json)).to.equal(200);
      dotSide.tokens = signedIn.json as Record<string, string>;
      // Gatehouse: the imported public client (no secret), through the code flow with PKCE, as Gatehouse gives public clients.
      await server!.services.clients.importClient({
        clientId: at(pub), name: 'Pub code', public: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scope: ['read', 'write'],
      });
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const browser = new FormBrowser((next) => next.href.startsWith(CALLBACK));
      let page = await browser.navigate(`${server!.url}/auth/oauth2/authorize/?${new URLSearchParams({
        client_id: at(pub), redirect_uri: CALLBACK, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256',
      }).toString()}`);
      if (page.html.includes('/login"')) page = await browser.submit(page, '/login', HOLDER);
      if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
      const code = new URL(page.url).searchParams.get('code');
      expect(code, page.html.slice(0, 300)).to.be.a('string');
      const issued = await post(`${server!.url}/auth/oauth2/token/`, { form: { grant_type: 'authorization_code', code: code!, redirect_uri: CALLBACK, client_id: at(pub), code_verifier: verifier } });
      expect(issued.status, JSON.stringify(issued.json)).to.equal(200);
      gatehouseSide.tokens = issued.json as Record<string, string>;

      /** A refresh with each side's current refresh token, authenticated as `authenticate` says; each keeps its rotated pair. */
      const refreshAtBoth = async (authenticate: (side: Side) => TokenRequest) => {
        for (const [side, url] of [[dotSide, `${dot!.baseUrl}/o/token/`], [gatehouseSide, `${server!.url}/auth/oauth2/token/`]] as const) {
          const { headers, form } = authenticate(side);
          const reply = await post(url, { headers, form: { grant_type: 'refresh_token', refresh_token: side.tokens.refresh_token!, ...form } });
          expect(reply.status, `${url}: ${JSON.stringify(reply.json)}`).to.equal(200);
          side.tokens = reply.json as Record<string, string>;
        }
      };
      await refreshAtBoth((side) => ({ headers: { authorization: basicAuth(side.id(pub), '') }, form: {} }));
      await refreshAtBoth((side) => ({ headers: { authorization: `Bearer ${side.tokens.access_token!}` }, form: { client_id: side.id(pub) } }));
    });
  });
});
