import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { basicAuth, postForm, type Reply } from '../support/http.js';
import { authorize, discover, REDIRECT_URI } from '../support/oidc.js';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { restartableEnv, startTestServer } from '../support/server.js';

const LOAD_WORKERS = 6;

describe('faults: a process killed with SIGKILL under load', function () {
  this.timeout(120_000);

  it('loses no consumed-code or rotated-refresh-token state: after a restart on the same storage both are still refused', async () => {
    const { env, dataDir } = await restartableEnv();
    const user = { username: `killed-${Date.now()}`, password: 'sigkill password' };
    let gatehouse: GatehouseProcess | undefined;
    try {
      // Clients and the user go in first, through the services, on the storage the processes will share.
      const setup = await startTestServer(env);
      const rp = await setup.services.clients.create({
        name: `sigkill rp ${Date.now()}`, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read'],
      });
      const service = await setup.services.clients.create({ name: `sigkill cc ${Date.now()}`, grantTypes: ['client_credentials'], scope: ['read'] });
      await setup.services.accounts.create(user);
      await setup.stop();
      const rpAuth = { authorization: basicAuth(rp.client.clientId, rp.clientSecret!) };
      const ccAuth = { authorization: basicAuth(service.client.clientId, service.clientSecret!) };

      gatehouse = await spawnGatehouse(env);
      const token = `${gatehouse.url}/token`;
      const config = await discover(gatehouse, rp.client.clientId, rp.clientSecret);
      const codeRequest = async () => {
        const flow = await authorize(config, user, { scope: 'openid read' });
        return { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: flow.verifier };
      };
      // The state that must survive: one code redeemed, one refresh token rotated.
      const redeemedCode = await codeRequest();
      const first = await postForm(token, redeemedCode, rpAuth);
      expect(first.status, first.text).to.equal(200);
      const rotated = String(first.json.refresh_token);
      const second = await postForm(token, { grant_type: 'refresh_token', refresh_token: rotated }, rpAuth);
      expect(second.status, second.text).to.equal(200);
      const successor = String(second.json.refresh_token);

      // Load: each worker redeems a code of its own, then rotates its refresh
      // token as fast as it can, beside client_credentials traffic. Whatever
      // was spent with a 200 seen by the client must stay spent.
      const spentCodes: Array<Record<string, string>> = [];
      const spentRefreshTokens: string[] = [];
      const codes = await Promise.all(Array.from({ length: LOAD_WORKERS }, codeRequest));
      let killed = false;
      const attempt = (body: Record<string, string>, auth: Record<string, string>) => postForm(token, body, auth).catch(() => undefined as Reply | undefined);
      const workers = codes.map(async (code, i) => {
        const redeemed = await attempt(code, rpAuth);
        if (redeemed?.status !== 200) return;
        spentCodes.push(code);
        let refresh = String(redeemed.json.refresh_token);
        while (!killed) {
          const reply = i % 2 === 0
            ? await attempt({ grant_type: 'refresh_token', refresh_token: refresh }, rpAuth)
            : await attempt({ grant_type: 'client_credentials', scope: 'read' }, ccAuth);
          if (reply?.status === 200 && reply.json.refresh_token) {
            spentRefreshTokens.push(refresh);
            refresh = String(reply.json.refresh_token);
          }
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 2000));
      gatehouse.child.kill('SIGKILL');
      killed = true;
      expect(await gatehouse.exited).to.equal('SIGKILL');
      await Promise.all(workers);
      expect(spentCodes.length, 'codes redeemed under load').to.be.above(0);
      expect(spentRefreshTokens.length, 'refresh tokens rotated under load').to.be.above(0);

      gatehouse = await spawnGatehouse(env);
      const restartedToken = `${gatehouse.url}/token`;
      // The successor of the rotation survived the kill…
      const fromSuccessor = await postForm(restartedToken, { grant_type: 'refresh_token', refresh_token: successor }, rpAuth);
      expect(fromSuccessor.status, fromSuccessor.text).to.equal(200);
      // …and nothing spent before it came back to life.
      const refused = async (body: Record<string, string>, what: string) => {
        const reply = await postForm(restartedToken, body, rpAuth);
        expect(reply.status, `${what}: ${reply.text}`).to.equal(400);
        expect(reply.json.error, what).to.equal('invalid_grant');
      };
      await refused(redeemedCode, 'the code redeemed before the kill');
      await refused({ grant_type: 'refresh_token', refresh_token: rotated }, 'the refresh token rotated before the kill');
      for (const code of spentCodes) await refused(code, 'a code redeemed under load');
      for (const refresh of spentRefreshTokens) await refused({ grant_type: 'refresh_token', refresh_token: refresh }, 'a refresh token rotated under load');
    } finally {
      gatehouse?.child.kill('SIGKILL');
      await gatehouse?.exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
