import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { authorize, discover, REDIRECT_URI } from '../support/oidc.js';
import { freePort, restartableEnv, startTestServer, storageMode, type TestServer } from '../support/server.js';
import { SERVER_ARGUMENTS } from '../support/process.js';

const user = { username: `carol-${Date.now()}`, password: 'kept across restarts' };

async function registerRp(server: TestServer) {
  const { client, clientSecret } = await server.services.clients.create({
    name: 'Durable RP',
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    redirectUris: [REDIRECT_URI],
    scope: ['openid', 'read'],
  });
  return { clientId: client.clientId, clientSecret: clientSecret! };
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('second server did not become ready');
}

describe('durable state', () => {
  it('keeps clients, users, keys and refresh tokens across a restart', async () => {
    const { env, dataDir } = await restartableEnv();
    let server = await startTestServer(env);
    try {
      const { clientId, clientSecret } = await registerRp(server);
      await server.services.accounts.create(user);
      let config = await discover(server, clientId, clientSecret);
      const flow = await authorize(config, user, { scope: 'openid' });
      const tokens = await oidc.authorizationCodeGrant(config, flow.callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce });
      const kidsBefore = (await server.services.keys.list()).filter((k) => !k.retired).map((k) => k.kid);
      await server.stop();

      server = await startTestServer(env);
      expect((await server.services.keys.list()).filter((k) => !k.retired).map((k) => k.kid)).to.deep.equal(kidsBefore);
      config = await discover(server, clientId, clientSecret);
      const jwks = await (await fetch(config.serverMetadata().jwks_uri!)).json() as { keys: Array<{ kid: string }> };
      expect(jwks.keys.map((k) => k.kid)).to.deep.equal(kidsBefore);
      // The client authenticates, the refresh token is still good, the user can still sign in.
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.access_token).to.be.a('string');
      await authorize(config, user, { scope: 'openid' });
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  describe('two processes sharing PostgreSQL and Redis', function () {
    let first: TestServer;
    let second: ChildProcess | undefined;

    before(function () {
      if (!storageMode.postgres) this.skip(); // embedded storage belongs to one process by design
    });

    after(async () => {
      second?.kill('SIGTERM');
      await first?.stop();
    });

    it('redeems, at the second process, a code issued by the first', async () => {
      first = await startTestServer();
      const { clientId, clientSecret } = await registerRp(first);
      await first.services.accounts.create({ ...user, username: `${user.username}-shared` });
      const port = await freePort();
      second = spawn(process.execPath, SERVER_ARGUMENTS, {
        env: { ...process.env, PORT: String(port), ISSUER: first.issuer, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const secondUrl = `http://127.0.0.1:${port}`;
      await waitForHealth(secondUrl, second);

      const config = await discover(first, clientId, clientSecret);
      const flow = await authorize(config, { ...user, username: `${user.username}-shared` }, { scope: 'openid' });
      // The same relying party, with its token endpoint on the other process.
      const viaSecond = new oidc.Configuration(
        { ...(JSON.parse(JSON.stringify(config.serverMetadata())) as oidc.ServerMetadata), token_endpoint: `${secondUrl}/token` }, clientId, undefined, oidc.ClientSecretBasic(clientSecret),
      );
      oidc.allowInsecureRequests(viaSecond);
      const tokens = await oidc.authorizationCodeGrant(viaSecond, flow.callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce });
      expect(tokens.access_token).to.be.a('string');
      // …and the first process honours the token the second one minted.
      const info = await oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck);
      expect(info.sub).to.be.a('string');
    });
  });
});
