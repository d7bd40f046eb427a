import { Writable } from 'node:stream';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import type { ClientMetadata } from '../../adapters/contract.js';
import { FormBrowser } from '../support/form-browser.js';
import { restartableEnv, startTestServer, type TestServer } from '../support/server.js';

const DASHBOARD_CLIENT_ID = 'gatehouse-dashboard';

/**
 * Every administrator signs in through the dashboard's own client, so it
 * must survive anything done to it in storage (issue 17): each start puts
 * it back, and a sign-in that fails meanwhile says why.
 */
describe('the dashboard’s own client (gatehouse-dashboard)', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let server: TestServer | undefined;
  /** The client as a fresh start registers it. */
  let wanted: ClientMetadata;
  const admin = { username: `keeper-${Date.now()}`, password: 'dashboard keeper pw' };

  before(async () => {
    ({ env, dataDir } = await restartableEnv());
  });

  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function signIn(on: TestServer) {
    const browser = new FormBrowser();
    const login = await browser.navigate(`${on.issuer}/Lux/OAuth2/dashboard`);
    expect(login.html).to.include('name="password"');
    return browser.submit(login, '/login', admin);
  }

  it('says why a sign-in fails while the client is broken, and is repaired by the next start', async () => {
    server = await startTestServer(env);
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    const store = server.services.storage.clients;
    ({ metadata: wanted } = (await store.find(DASHBOARD_CLIENT_ID))!);
    const secret = await server.services.clients.secretOf(DASHBOARD_CLIENT_ID);

    // What the dashboard, the admin API or SQL could once do: untick openid.
    await store.replace({ ...wanted, scope: 'profile' });
    const failed = await new FormBrowser().navigate(`${server.issuer}/Lux/OAuth2/dashboard`);
    expect(failed.url).to.match(/\/sign-in-failed$/);
    expect(failed.html).to.include('Sign-in failed').and.include('requested scope is not allowed (invalid_scope)');

    // Break everything else the dashboard relies on, then restart on the same data.
    await store.replace({
      ...wanted,
      scope: 'profile',
      redirect_uris: ['https://elsewhere.example.test/cb'],
      post_logout_redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      require_pushed_authorization_requests: true,
    });
    await server.stop();
    server = await startTestServer(env);

    const repaired = (await server.services.storage.clients.find(DASHBOARD_CLIENT_ID))!.metadata;
    expect(repaired).to.deep.equal(wanted);
    expect(await server.services.clients.secretOf(DASHBOARD_CLIENT_ID), 'the secret is kept').to.equal(secret);
    const signedIn = await signIn(server);
    expect(signedIn.status).to.equal(200);
    expect(signedIn.html).to.include('New client');
  });

  it('is registered again, complete, at start when it was deleted', async () => {
    await server!.services.storage.clients.delete(DASHBOARD_CLIENT_ID);
    await server!.stop();
    server = await startTestServer(env);
    const registered = (await server.services.storage.clients.find(DASHBOARD_CLIENT_ID))!.metadata;
    expect({ ...registered, client_secret: undefined }).to.deep.equal({ ...wanted, client_secret: undefined });
    // Each signed-in surface (the Lux dashboard, the admin console, the account page) has its own.
    expect(registered.post_logout_redirect_uris).to.deep.equal(['/Lux/OAuth2/dashboard', '/admin', '/account'].map((path) => `${server!.issuer}${path}/signed-out`));
    expect((await signIn(server)).html).to.include('New client');
  });

  it('says at start when a process with another ISSUER had registered it: the console then signs in only at the last one', async () => {
    const firstIssuer = server!.issuer;
    await server!.stop();
    let logged = '';
    const log = new Writable({ write(chunk, _encoding, done) { logged += String(chunk); done(); } });
    server = await startTestServer({ ...env, ISSUER: 'http://127.0.0.1:9', LOG_LEVEL: 'warn' }, { logTo: log });
    const warning = logged.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => String(line.msg).includes('registered for another ISSUER'));
    expect(warning, logged).to.include({ issuer: 'http://127.0.0.1:9' });
    expect(warning!.other_issuers).to.deep.equal([new URL(firstIssuer).origin]);
    await server.stop();
    server = await startTestServer(env);
  });
});
