import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { basicAuth, postForm, send } from '../support/http.js';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { REDIRECT_URI } from '../support/oidc.js';
import { cliJson, idTokenKid, mintJwt, publishedKids, type CreatedClient } from '../support/nodes.js';
import { storageMode } from '../support/server.js';
import { sleep } from '../support/waiting.js';
import { embeddedDataDir } from '../support/embedded-data.js';

// Short, so the test sees a key go from published to signing; production's
// default is 600 s. Long enough for what must happen before it (publication
// on both nodes, up to a refresh interval each, then a token and a sign-in on
// each) on a machine busy with the rest of CI.
const ACTIVATION_DELAY = 15;

describe('a signing key rotated with the CLI reaches running processes without a restart', () => {
  const nodes: GatehouseProcess[] = [];
  let dataDir: string | undefined;
  let env: Record<string, string>;

  before(async function () {
    this.timeout(60_000);
    // The embedded database belongs to one process (the CLI reaches it through that process);
    // PostgreSQL takes two, standing in for two machines.
    dataDir = storageMode.postgres ? undefined : await embeddedDataDir();
    env = { SIGNING_KEY_ACTIVATION_DELAY: String(ACTIVATION_DELAY), ...(dataDir ? { GATEHOUSE_DATA_DIR: dataDir } : {}) };
    const first = await spawnGatehouse(env);
    nodes.push(first);
    if (storageMode.postgres) nodes.push(await spawnGatehouse({ ...env, ISSUER: first.issuer }));
  });

  after(async () => {
    for (const node of nodes) node.child.kill('SIGTERM');
    await Promise.all(nodes.map((node) => node.exited));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('publishes the new key on every node within seconds, signs with it only after SIGNING_KEY_ACTIVATION_DELAY, and verifies tokens across nodes', async function () {
    this.timeout(90_000);
    const stamp = Date.now();
    const jwtClient = await cliJson<CreatedClient>(env, 'client', 'create', '--name', `live rotation ${stamp}`, '--grant-types', 'client_credentials',
      '--scope', 'read', '--token-format', 'jwt');
    const rp = await cliJson<CreatedClient>(env, 'client', 'create', '--name', `live rotation rp ${stamp}`, '--grant-types', 'authorization_code',
      '--redirect-uris', REDIRECT_URI, '--scope', 'openid');
    const user = { username: `rotation-${stamp}`, password: 'correct horse battery staple' };
    await cliJson(env, 'user', 'create', '--username', user.username, '--password', user.password);
    // A file sharing the database may have rotated RS256 moments ago: let that
    // key begin signing first, so the only switch seen here is this test's.
    const keys = await cliJson<Array<{ alg: string; retired: boolean; signs_from: string }>>(env, 'keys', 'list');
    const lastSwitch = Math.max(...keys.filter((key) => key.alg === 'RS256' && !key.retired).map((key) => Date.parse(key.signs_from)));
    await sleep(Math.max(0, lastSwitch + 2500 - Date.now()));
    const before = await mintJwt(nodes[0]!, jwtClient);

    // The CLI is a process of its own (seconds on a busy machine): the key's
    // activation is ACTIVATION_DELAY after some moment while it ran.
    const requestedAt = Date.now();
    const rotated = await cliJson<{ kid: string; alg: string; signs_from: string }>(env, 'keys', 'rotate');
    const rotatedAt = Date.now();
    expect(rotated.alg).to.equal('RS256');
    expect(Date.parse(rotated.signs_from)).to.be.within(requestedAt + ACTIVATION_DELAY * 1000 - 1000, rotatedAt + ACTIVATION_DELAY * 1000);

    // Published everywhere within a refresh interval (2 s) or so, and in any case before it signs.
    const publishedAfter: number[] = [];
    for (const node of nodes) {
      while (!(await publishedKids(node)).includes(rotated.kid)) {
        expect(Date.now() - rotatedAt, `${node.url} publishes ${rotated.kid}`).to.be.below(Math.min(8000, Date.parse(rotated.signs_from) - rotatedAt));
        await sleep(100);
      }
      publishedAfter.push(Date.now() - rotatedAt);
    }
    expect((await publishedKids(nodes[0]!))).to.include(before.kid);
    for (const node of nodes) {
      const minted = await mintJwt(node, jwtClient);
      expect(Date.now()).to.be.below(Date.parse(rotated.signs_from));
      expect(minted.kid, 'not yet signing with the new key').to.equal(before.kid);
      expect(await idTokenKid(node, rp, user)).to.not.equal(rotated.kid);
    }

    // Once the delay is over (plus a refresh interval), every node signs with it: access tokens and ID tokens.
    await sleep(Math.max(0, Date.parse(rotated.signs_from) + 2500 - Date.now()));
    const after: string[] = [];
    for (const node of nodes) {
      const minted = await mintJwt(node, jwtClient);
      expect(minted.kid, `${node.url} signs with the rotated key`).to.equal(rotated.kid);
      expect(await idTokenKid(node, rp, user), `${node.url} signs ID tokens with it`).to.equal(rotated.kid);
      after.push(minted.token);
    }

    // Tokens signed by either key verify against every node's JWKS, and every node's own check accepts them.
    for (const node of nodes) {
      const jwks = createRemoteJWKSet(new URL(`${node.url}/jwks`));
      for (const token of [before.token, ...after]) {
        await jwtVerify(token, jwks, { issuer: nodes[0]!.issuer });
        const introspected = await postForm(`${node.url}/token/introspection`, { token }, { authorization: basicAuth(jwtClient.client_id, jwtClient.client_secret) });
        expect(introspected.json.active, `${node.url} introspects a token`).to.equal(true);
        expect((await send(`${node.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status).to.not.equal(401);
      }
    }
    // Recorded for the docs (docs/operations/scaling-out.md).
    console.log(`      published on ${nodes.length} node(s) after ${publishedAfter.join(', ')} ms`);
  });
});
