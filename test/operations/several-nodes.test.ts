import { expect } from 'chai';
import { basicAuth, postForm } from '../support/http.js';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { cliJson, mintJwt, publishedKids, type CreatedClient } from '../support/nodes.js';
import { skipBecause, storageMode } from '../support/server.js';
import { sleep } from '../support/waiting.js';

const ACTIVATION_DELAY = 5;

/** Milliseconds until `condition` holds on every node, polled every 20 ms; fails past `budgetMs`. */
async function untilEveryNode(nodes: GatehouseProcess[], budgetMs: number, what: string, condition: (node: GatehouseProcess) => Promise<boolean>): Promise<number> {
  const start = Date.now();
  const pending = new Set(nodes);
  while (pending.size) {
    for (const node of [...pending]) if (await condition(node)) pending.delete(node);
    if (!pending.size) break;
    if (Date.now() - start > budgetMs) throw new Error(`${what}: not seen by ${[...pending].map((node) => node.url).join(', ')} within ${budgetMs} ms`);
    await sleep(20);
  }
  return Date.now() - start;
}

describe('three Gatehouse processes over one PostgreSQL and one Redis serve one issuer', () => {
  const nodes: GatehouseProcess[] = [];
  const env = { SIGNING_KEY_ACTIVATION_DELAY: String(ACTIVATION_DELAY) };
  const auth = (client: CreatedClient) => ({ authorization: basicAuth(client.client_id, client.client_secret) });
  const active = async (node: GatehouseProcess, token: string, client: CreatedClient) =>
    (await postForm(`${node.url}/token/introspection`, { token }, auth(client))).json.active === true;

  before(async function () {
    if (!storageMode.postgres || !storageMode.redis) skipBecause(this, 'needs DATABASE_URL and Redis: the embedded database belongs to one process');
    this.timeout(90_000);
    const first = await spawnGatehouse(env);
    nodes.push(first);
    nodes.push(...await Promise.all([spawnGatehouse({ ...env, ISSUER: first.issuer }), spawnGatehouse({ ...env, ISSUER: first.issuer })]));
  });

  after(async () => {
    for (const node of nodes) node.child.kill('SIGTERM');
    await Promise.all(nodes.map((node) => node.exited));
  });

  for (const format of ['opaque', 'jwt'] as const) {
    it(`honours a revocation on one node in every other within a second (${format} access tokens)`, async function () {
      this.timeout(30_000);
      const client = await cliJson<CreatedClient>(env, 'client', 'create', '--name', `nodes ${format} ${Date.now()}`, '--grant-types', 'client_credentials',
        '--scope', 'read', '--token-format', format);
      const [a, b, c] = nodes as [GatehouseProcess, GatehouseProcess, GatehouseProcess];
      const reply = await postForm(`${a.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth(client));
      const token = reply.json.access_token as string;
      // Every node has seen (and, for a JWT, verified and kept) the token before it is revoked.
      for (const node of nodes) expect(await active(node, token, client), node.url).to.equal(true);
      const revoked = await postForm(`${b.url}/token/revocation`, { token }, auth(client));
      expect(revoked.status, revoked.text).to.equal(200);
      const took = await untilEveryNode([a, c], 1000, 'the revocation', async (node) => !(await active(node, token, client)));
      expect(took).to.be.below(1000);
      console.log(`      refused by the other nodes after ${took} ms`);
    });
  }

  it('sees a client change on every node within the client cache lifetime (1 s)', async function () {
    this.timeout(30_000);
    const client = await cliJson<CreatedClient>(env, 'client', 'create', '--name', `nodes change ${Date.now()}`, '--grant-types', 'client_credentials',
      '--scope', 'read', '--scope', 'write');
    const grant = (node: GatehouseProcess, scope: string) => postForm(`${node.url}/token`, { grant_type: 'client_credentials', scope }, auth(client));
    for (const node of nodes) expect((await grant(node, 'write')).status, node.url).to.equal(200);

    await cliJson(env, 'client', 'update', client.client_id, '--scope', 'read');
    // The cache lifetime, plus the CLI's own exit and a poll.
    const narrowed = await untilEveryNode(nodes, 1500, 'the narrowed scope', async (node) => (await grant(node, 'write')).json.error === 'invalid_scope');
    for (const node of nodes) expect((await grant(node, 'read')).status, node.url).to.equal(200);

    await cliJson(env, 'client', 'delete', client.client_id);
    const deleted = await untilEveryNode(nodes, 1500, 'the deletion', async (node) => (await grant(node, 'read')).status === 401);
    console.log(`      narrowed scope seen everywhere after ${narrowed} ms, deletion after ${deleted} ms`);
  });

  it('publishes a key rotated with the CLI on every node within seconds and signs with it on every node after the activation delay', async function () {
    this.timeout(60_000);
    const client = await cliJson<CreatedClient>(env, 'client', 'create', '--name', `nodes keys ${Date.now()}`, '--grant-types', 'client_credentials',
      '--scope', 'read', '--token-format', 'jwt');
    const before = await mintJwt(nodes[0]!, client);
    const rotated = await cliJson<{ kid: string; signs_from: string }>(env, 'keys', 'rotate');
    const published = await untilEveryNode(nodes, 3000, 'the new key in JWKS', async (node) => (await publishedKids(node)).includes(rotated.kid));
    console.log(`      published by every node ${published} ms after the CLI returned`);
    for (const node of nodes) expect((await mintJwt(node, client)).kid, node.url).to.equal(before.kid);

    await sleep(Math.max(0, Date.parse(rotated.signs_from) + 2500 - Date.now()));
    const minted = await Promise.all(nodes.map((node) => mintJwt(node, client)));
    for (const [i, token] of minted.entries()) {
      expect(token.kid, nodes[i]!.url).to.equal(rotated.kid);
      // Signed on one node, accepted by the next.
      expect(await active(nodes[(i + 1) % nodes.length]!, token.token, client)).to.equal(true);
    }
  });
});
