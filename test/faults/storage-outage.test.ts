import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { basicAuth, postForm, postJson, type Reply } from '../support/http.js';
import { authorize, discover, REDIRECT_URI } from '../support/oidc.js';
import { skipBecause, startTestServer, type TestServer } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

// "Within a couple of seconds": a request during an outage must neither hang
// nor wait out long driver retries.
const PROMPT_MS = 2000;

interface Timed extends Reply { ms: number }

async function timed(request: Promise<Reply>): Promise<Timed> {
  const started = Date.now();
  const reply = await request;
  return { ...reply, ms: Date.now() - started };
}

/** 503 temporarily_unavailable, promptly, with no token and no stack trace in the body. */
function expectUnavailable(reply: Timed, body: Record<string, unknown> = reply.json, what = 'reply'): void {
  expect(reply.status, `${what}: ${reply.text}`).to.equal(503);
  expect(reply.ms, `${what} answered in ${reply.ms} ms`).to.be.below(PROMPT_MS);
  expect(body.error, what).to.equal('temporarily_unavailable');
  expect(body.error_description, what).to.be.a('string');
  expect(body).to.not.have.any.keys('access_token', 'refresh_token', 'id_token');
  expect(reply.text, `${what} leaks no stack`).to.not.match(/\n\s+at |Error:|ECONNREFUSED|Connection/);
}

async function waitUntilReady(server: TestServer, withinMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < withinMs) {
    if ((await fetch(`${server.url}/readyz`)).status === 200) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not ready ${withinMs} ms after the store came back`);
}

const STORES = [
  { name: 'Redis', setting: 'REDIS_URL', defaultPort: 6379, tier: 'ephemeral' },
  { name: 'PostgreSQL', setting: 'DATABASE_URL', defaultPort: 5432, tier: 'durable' },
] as const;

for (const store of STORES) {
  describe(`faults: ${store.name} stopped mid-run`, function () {
    this.timeout(60_000);
    const url = process.env[store.setting];
    let proxy: TcpProxy;
    let server: TestServer;
    let ccAuth: Record<string, string>;
    let ccCredentials: { client_id: string; client_secret: string };
    let dotAuth: Record<string, string>;
    let dotClientId: string;
    let codeAuth: Record<string, string>;
    let config: Awaited<ReturnType<typeof discover>>;
    const user = { username: `outage-${store.tier}-${Date.now()}`, password: 'outage password' };
    let logged = '';

    before(async () => {
      if (!url) return;
      proxy = TcpProxy.forUrl(url, store.defaultPort);
      await proxy.start();
      const log = new PassThrough();
      log.on('data', (chunk: Buffer) => { logged += chunk.toString(); });
      server = await startTestServer({ [store.setting]: proxy.rewrite(url), LOG_LEVEL: 'info' }, { logTo: log });
      const cc = await server.services.clients.create({ name: `outage cc ${Date.now()}`, grantTypes: ['client_credentials'], scope: ['read'] });
      ccCredentials = { client_id: cc.client.clientId, client_secret: cc.clientSecret! };
      ccAuth = { authorization: basicAuth(cc.client.clientId, cc.clientSecret!) };
      const dot = await server.services.clients.create({ name: `outage dot ${Date.now()}`, grantTypes: ['password', 'refresh_token'], scope: ['read', 'write'] });
      dotClientId = dot.client.clientId;
      dotAuth = { authorization: basicAuth(dot.client.clientId, dot.clientSecret!) };
      const code = await server.services.clients.create({
        name: `outage rp ${Date.now()}`, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read'],
      });
      codeAuth = { authorization: basicAuth(code.client.clientId, code.clientSecret!) };
      config = await discover(server, code.client.clientId, code.clientSecret);
      await server.services.accounts.create(user);
    });

    after(async () => {
      await server?.stop();
      await proxy?.stop();
    });

    it('answers 503 temporarily_unavailable on /readyz and every token endpoint, spends nothing meanwhile, and resumes by itself', async function () {
      // The outage is staged with a relay in front of a real server; the
      // embedded stand-in for this store has no connection to lose.
      if (!url) skipBecause(this, `${store.setting} is unset: the embedded stand-in has no connection to lose`);
      const dotToken = `${server.url}/auth/oauth2/token/`;
      const before = await postJson(dotToken, { grant_type: 'password', ...user }, dotAuth);
      expect(before.status).to.equal(200);
      const flow = await authorize(config, user, { scope: 'openid read' });
      const redemption = { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: flow.verifier };
      expect((await fetch(`${server.url}/readyz`)).status).to.equal(200);

      await proxy.stop();
      // Past the one-second client cache, so client lookups reach the store too.
      await new Promise((resolve) => setTimeout(resolve, 1200));

      const ready = await timed(fetch(`${server.url}/readyz`).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text(), json: {} }) as Reply));
      expect(ready.status).to.equal(503);
      expect(ready.ms).to.be.below(PROMPT_MS);
      expect(JSON.parse(ready.text)).to.include({ status: 'unavailable', [store.tier]: 'down' });

      const standard = {
        client_credentials: await timed(postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, ccAuth)),
        authorization_code: await timed(postForm(`${server.url}/token`, redemption, codeAuth)),
        refresh_token: await timed(postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: String(before.json.refresh_token) }, dotAuth)),
      };
      for (const [grant, reply] of Object.entries(standard)) expectUnavailable(reply, reply.json, `/token ${grant}`);

      const los = await timed(postJson(`${server.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', ...ccCredentials, scope: '*' }));
      expectUnavailable(los, los.json.data, 'LOS');
      expect(los.json.meta).to.include({ responseCode: 503, success: false });
      const le = await timed(postForm(`${server.url}/liveexpert/oauth/authorize`, { grant_type: 'client_credentials', ...ccCredentials }));
      expectUnavailable(le, le.json, 'LE');
      const dotPassword = await timed(postJson(dotToken, { grant_type: 'password', ...user }, dotAuth));
      expectUnavailable(dotPassword, dotPassword.json, 'DOT password');
      const dotRefresh = await timed(postJson(dotToken, { grant_type: 'refresh_token', refresh_token: before.json.refresh_token }, dotAuth));
      expectUnavailable(dotRefresh, dotRefresh.json, 'DOT refresh');

      await proxy.start();
      const resumedMs = await waitUntilReady(server, 5000);
      expect(resumedMs).to.be.below(5000);
      if (store.name === 'Redis') {
        // An operator reading the log finds the outage, once, and its end.
        const lines = logged.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string });
        expect(lines.filter((line) => line.msg.startsWith('lost the connection to Redis') && line.level === 40)).to.have.length(1);
        expect(lines.filter((line) => line.msg === 'the connection to Redis is back')).to.have.length(1);
      }

      // Nothing presented during the outage was spent: the code and the
      // refresh token each still work.
      const redeemed = await postForm(`${server.url}/token`, redemption, codeAuth);
      expect(redeemed.status, redeemed.text).to.equal(200);
      const refreshed = await postJson(dotToken, { grant_type: 'refresh_token', refresh_token: before.json.refresh_token }, dotAuth);
      expect(refreshed.status, refreshed.text).to.equal(200);
      // No refresh token was half-issued: the client holds exactly the one it was given.
      expect(await server.services.storage.clientTokens.countRefreshTokens(dotClientId)).to.equal(1);
      const issued = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, ccAuth);
      expect(issued.status).to.equal(200);
      for (const [token, auth] of [[issued.json.access_token, ccAuth], [redeemed.json.access_token, codeAuth], [refreshed.json.access_token, dotAuth]] as const) {
        const info = await postForm(`${server.url}/token/introspection`, { token: String(token) }, auth);
        expect(info.json.active, 'a token issued after recovery works').to.equal(true);
      }
    });
  });
}
