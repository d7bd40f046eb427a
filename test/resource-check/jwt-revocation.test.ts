import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { JWT_ACCESS_TOKEN_MODEL } from '../../adapters/tiers.js';
import { runCli } from '../support/cli.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { removeRevocationSet, restartableEnv, startTestServer, storageMode, type TestServer } from '../support/server.js';
import { sleep, until } from '../support/waiting.js';
import { authorize, discover, isActive, redeem, REDIRECT_URI } from '../support/oidc.js';

/**
 * A JWT access token verifies by its signature until it expires, so its
 * revocation has to reach every resource check: by its own revocation
 * (RFC 7009), its grant's (refresh-token reuse, RFC 9700 §4.14.2), or its
 * client's deletion. Each process keeps a denylist fed by the other
 * processes; these tests hold it to the answers the token records gave.
 */

interface Client { id: string; secret: string; auth: Record<string, string> }

/** The status /api/whoami answers a token with. */
async function whoami(baseUrl: string, token: string): Promise<number> {
  return (await send(`${baseUrl}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status;
}

/** Polls until the status is `expected`, for at most `ms`; answers how long it took. */
async function answersWithin(baseUrl: string, token: string, expected: number, ms: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const status = await whoami(baseUrl, token);
    if (status === expected) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`still ${status} after ${ms} ms`);
    await sleep(20);
  }
}

async function createClient(server: TestServer, name: string): Promise<Client> {
  const created = await server.services.clients.create({
    name, grantTypes: ['client_credentials', 'password', 'refresh_token'], scope: ['read', 'write'], tokenFormat: 'jwt',
  });
  const id = created.client.clientId;
  return { id, secret: created.clientSecret!, auth: { authorization: basicAuth(id, created.clientSecret!) } };
}

async function clientCredentials(baseUrl: string, client: Client): Promise<string> {
  const reply = await postForm(`${baseUrl}/token`, { grant_type: 'client_credentials', scope: 'read' }, client.auth);
  expect(reply.status, reply.text).to.equal(200);
  return reply.json.access_token as string;
}

async function revoke(baseUrl: string, client: Client, token: string): Promise<void> {
  expect((await postForm(`${baseUrl}/token/revocation`, { token }, client.auth)).status).to.equal(200);
}

/** Two JWTs of one grant, whose grant is then revoked by presenting a rotated refresh token again. */
async function grantRevokedByReuse(baseUrl: string, client: Client, user: { username: string; password: string }): Promise<string[]> {
  const first = await postForm(`${baseUrl}/token`, { grant_type: 'password', ...user, scope: 'read' }, client.auth);
  expect(first.status, first.text).to.equal(200);
  const second = await postForm(`${baseUrl}/token`, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token as string }, client.auth);
  expect(second.status, second.text).to.equal(200);
  const tokens = [first.json.access_token as string, second.json.access_token as string];
  for (const token of tokens) expect(await whoami(baseUrl, token)).to.equal(200);
  const reuse = await postForm(`${baseUrl}/token`, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token as string }, client.auth);
  expect([reuse.status, reuse.json.error]).to.deep.equal([400, 'invalid_grant']);
  return tokens;
}

/** Storage reads (any tier) the server has made so far. */
async function storageFinds(server: TestServer): Promise<number> {
  const { values } = await server.services.metrics.storageDuration.get();
  return values
    .filter((value) => value.metricName === 'gatehouse_storage_duration_seconds_count' && String(value.labels.operation).startsWith('find'))
    .reduce((sum, value) => sum + value.value, 0);
}

describe('revoked JWT access tokens at the resource check', () => {
  let server: TestServer;
  let client: Client;
  const user = { username: `jwt-revocation-${Date.now()}`, password: 'jwt revocation password' };

  before(async () => {
    server = await startTestServer();
    client = await createClient(server, 'JWT revocation');
    await server.services.accounts.create(user);
    // The view covers tokens issued from the next whole second after its feed
    // began (this process's start, or a fresh Redis's first watcher): from
    // then on it, not the records, answers.
    expect(await whoami(server.url, await clientCredentials(server.url, client))).to.equal(200);
    await sleep(1100);
  });

  after(() => server.stop());

  it('refuses a JWT revoked at the revocation endpoint (RFC 7009), at once', async () => {
    const token = await clientCredentials(server.url, client);
    expect(await whoami(server.url, token)).to.equal(200);
    await revoke(server.url, client, token);
    expect(await whoami(server.url, token)).to.equal(401);
  });

  it('refuses every JWT of a grant revoked by refresh-token reuse, at once', async () => {
    for (const token of await grantRevokedByReuse(server.url, client, user)) expect(await whoami(server.url, token)).to.equal(401);
  });

  it('refuses the JWTs of a deleted client, at once, and not those of another client', async () => {
    const doomed = await createClient(server, 'JWT revocation, deleted');
    const token = await clientCredentials(server.url, doomed);
    const bystander = await clientCredentials(server.url, client);
    expect(await whoami(server.url, token)).to.equal(200);
    await server.services.clients.delete(doomed.id);
    expect(await whoami(server.url, token)).to.equal(401);
    expect(await whoami(server.url, bystander)).to.equal(200);
  });

  it('records a client_credentials JWT only where the revocation feed does not outlive the process (without Redis)', async () => {
    const token = await clientCredentials(server.url, client);
    const record = await server.services.storage.ephemeral.find(JWT_ACCESS_TOKEN_MODEL, decodeJwt(token).jti!);
    // With Redis the feed alone judges it, in every process; the embedded
    // database's feed starts empty with each process, so it keeps the record.
    if (storageMode.redis) expect(record).to.equal(undefined);
    else expect(record).to.include({ clientId: client.id });
    expect(await whoami(server.url, token)).to.equal(200);
  });

  it('answers a JWT from memory: no storage read per request', async () => {
    const token = await clientCredentials(server.url, client);
    expect(await whoami(server.url, token)).to.equal(200);
    const before = await storageFinds(server);
    for (let i = 0; i < 20; i += 1) expect(await whoami(server.url, token)).to.equal(200);
    expect(await storageFinds(server) - before).to.equal(0);
  });
});

describe('JWT access tokens revoked from the CLI beside a running server', () => {
  it('are refused by the server once the command returns: a deactivated user’s, a deleted user’s', async function () {
    this.timeout(60_000);
    const server = await startTestServer();
    try {
      const client = await createClient(server, 'JWT revocation from the CLI');
      const user = { username: `cli-revoked-${Date.now()}`, password: 'cli revocation password' };
      await server.services.accounts.create(user);
      await sleep(1100); // tokens the view covers, so that only a revocation it hears of refuses them
      const signIn = async () => {
        const reply = await postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'read' }, client.auth);
        expect(reply.status, reply.text).to.equal(200);
        return reply.json.access_token as string;
      };
      const introspected = async (token: string) => (await postForm(`${server.url}/token/introspection`, { token }, client.auth)).json.active;

      // A user deactivated from the CLI (their grants are revoked).
      const ofDeactivated = await signIn();
      expect(await whoami(server.url, ofDeactivated)).to.equal(200);
      const deactivated = await runCli(server, 'user', 'update', user.username, '--active', 'false', '--json');
      expect(deactivated.code, deactivated.stderr).to.equal(0);
      // With the embedded database the server has it before the command returns; through Redis within milliseconds.
      await answersWithin(server.url, ofDeactivated, 401, storageMode.redis ? 1000 : 0);
      expect(await introspected(ofDeactivated)).to.equal(false);
      expect((await runCli(server, 'user', 'update', user.username, '--active', 'true', '--json')).code).to.equal(0);

      // A user deleted from the CLI.
      const ofUser = await signIn();
      expect(await whoami(server.url, ofUser)).to.equal(200);
      const deleted = await runCli(server, 'user', 'delete', user.username, '--json');
      expect(deleted.code, deleted.stderr).to.equal(0);
      await answersWithin(server.url, ofUser, 401, storageMode.redis ? 1000 : 0);
      expect(await introspected(ofUser)).to.equal(false);
    } finally {
      await server.stop();
    }
  });

  it('are refused by the server once the command returns: a deleted client’s, a signed-out session’s', async function () {
    this.timeout(60_000);
    const server = await startTestServer();
    try {
      // The tokens are issued once the view covers the present, so only a revocation it hears of refuses them.
      await sleep(1100);
      const machine = await createClient(server, 'JWT revocation from the CLI: client delete');
      const ofClient = await clientCredentials(server.url, machine);
      expect(await whoami(server.url, ofClient)).to.equal(200);
      const deleted = await runCli(server, 'client', 'delete', machine.id, '--json');
      expect(deleted.code, deleted.stderr).to.equal(0);
      await answersWithin(server.url, ofClient, 401, storageMode.redis ? 1000 : 0);

      // A session signed out from the CLI revokes the grants made in it, and with them their JWTs.
      const { client, clientSecret } = await server.services.clients.create({
        name: 'JWT revocation from the CLI: session revoke', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read'], tokenFormat: 'jwt',
      });
      const user = { username: `cli-session-${Date.now()}`, password: 'cli session password' };
      const account = await server.services.accounts.create(user);
      const config = await discover(server, client.clientId, clientSecret);
      const { access_token: ofSession } = await redeem(config, await authorize(config, user, { scope: 'openid read' }));
      expect(await whoami(server.url, ofSession)).to.equal(200);
      const [session] = await server.services.sessions.ofAccount(account.id);
      const signedOut = await runCli(server, 'session', 'revoke', session!.sessionUid, '--json');
      expect(signedOut.code, signedOut.stderr).to.equal(0);
      await answersWithin(server.url, ofSession, 401, storageMode.redis ? 1000 : 0);
      expect(await isActive(server, ofSession, { authorization: basicAuth(client.clientId, clientSecret!) })).to.equal(false);
    } finally {
      await server.stop();
    }
  });
});

describe('revocation and introspection of JWT access tokens by another client', () => {
  it('tell a public client nothing of another client’s JWT, live or revoked, and revoke nothing: the same policy as opaque tokens', async () => {
    const server = await startTestServer();
    try {
      const owner = await createClient(server, 'JWT owner');
      const { client: spa } = await server.services.clients.create({ name: 'public bystander', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'], public: true });
      const [live, revoked] = [await clientCredentials(server.url, owner), await clientCredentials(server.url, owner)];
      await revoke(server.url, owner, revoked);
      for (const [name, token] of [['live', live], ['revoked', revoked]] as const) {
        const asked = await postForm(`${server.url}/token/revocation`, { token, client_id: spa.clientId }, {});
        expect([asked.status, asked.text], `revocation of a ${name} JWT`).to.deep.equal([200, '']);
        const introspected = await postForm(`${server.url}/token/introspection`, { token, client_id: spa.clientId }, {});
        expect(introspected.json, `introspection of a ${name} JWT`).to.deep.equal({ active: false });
      }
      expect(await whoami(server.url, live), 'not revoked by the bystander').to.equal(200);
      // A confidential client is told, as for opaque tokens (RFC 7009 §2.1).
      const other = await createClient(server, 'confidential bystander');
      const refused = await postForm(`${server.url}/token/revocation`, { token: live }, other.auth);
      expect([refused.status, refused.json.error]).to.deep.equal([400, 'invalid_request']);
      expect(await whoami(server.url, live)).to.equal(200);
    } finally {
      await server.stop();
    }
  });
});

describe('the revocation view of a server that has just started', () => {
  it('judges the first JWT it issues from memory, from its first check on', async function () {
    // A namespace of its own: with Redis, a revocation set that begins now.
    const prefix = `gatehouse-test-${randomUUID()}:`;
    const server = await startTestServer({ REDIS_PREFIX: prefix });
    try {
      const client = await createClient(server, 'JWT revocation, first token');
      // The feed is followed from start-up, not from the first check: once it
      // covers the present, a new token needs no lookup even the first time.
      // (Followed from the first check, the view is not even started here,
      // and that check reads the token's record.)
      const { jwtAccessTokens } = server.services;
      await until(() => jwtAccessTokens.revocationsCoveredFrom() !== undefined, 10_000);
      // A fresh set covers tokens from the next whole second.
      await until(() => Date.now() / 1000 >= jwtAccessTokens.revocationsCoveredFrom()!, 3000);
      const token = await clientCredentials(server.url, client);
      const before = await storageFinds(server);
      expect(await whoami(server.url, token)).to.equal(200);
      expect(await storageFinds(server) - before).to.equal(0);
    } finally {
      await server.stop();
      await removeRevocationSet(server.config);
    }
  });
});

describe('revoked JWT access tokens across a restart', () => {
  it('refuses, from the first request after a restart, what was revoked before it, and accepts the rest', async () => {
    const { env, dataDir } = await restartableEnv();
    let server = await startTestServer(env);
    try {
      const client = await createClient(server, 'JWT revocation, restart');
      const [revoked, kept] = [await clientCredentials(server.url, client), await clientCredentials(server.url, client)];
      await revoke(server.url, client, revoked);
      await server.stop();

      server = await startTestServer(env);
      // Tokens from before this process are older than its view covers: the records answer.
      expect(await whoami(server.url, revoked)).to.equal(401);
      expect(await whoami(server.url, kept)).to.equal(200);
      await sleep(200);
      expect(await whoami(server.url, revoked)).to.equal(401);
      expect(await whoami(server.url, kept)).to.equal(200);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('revoked JWT access tokens across two processes sharing PostgreSQL and Redis', function () {
  this.timeout(60_000);
  let first: TestServer;
  let second: GatehouseProcess | undefined;
  let client: Client;
  const user = { username: `jwt-revocation-shared-${Date.now()}`, password: 'jwt revocation password' };
  // Revoked before the second process starts.
  const revokedEarlier: Record<string, string> = {};
  let live: string;

  before(async function () {
    if (!storageMode.postgres || !storageMode.redis) this.skip(); // the embedded database belongs to one process
    first = await startTestServer();
    client = await createClient(first, 'JWT revocation, shared');
    await first.services.accounts.create(user);
    // Once the first process's view covers them, its client_credentials
    // tokens go unrecorded: the second process must judge them by the feed.
    expect(await whoami(first.url, await clientCredentials(first.url, client))).to.equal(200);
    await sleep(1100);
    revokedEarlier.token = await clientCredentials(first.url, client);
    await revoke(first.url, client, revokedEarlier.token);
    revokedEarlier.grant = (await grantRevokedByReuse(first.url, client, user))[0]!;
    const deleted = await createClient(first, 'JWT revocation, shared, deleted');
    revokedEarlier.client = await clientCredentials(first.url, deleted);
    await first.services.clients.delete(deleted.id);
    live = await clientCredentials(first.url, client);
    expect(await first.services.storage.ephemeral.find(JWT_ACCESS_TOKEN_MODEL, decodeJwt(live).jti!), 'live is unrecorded').to.equal(undefined);
    second = await spawnGatehouse({ ISSUER: first.issuer });
  });

  after(async () => {
    second?.child.kill('SIGTERM');
    await second?.exited;
    await first?.stop();
  });

  it('refuses, from its first request, what was revoked before the process started', async () => {
    // The view starts with the server; until it is complete the records
    // answer, and a token without one (live, first) waits for the view.
    expect(await whoami(second!.url, live)).to.equal(200);
    for (const [kind, token] of Object.entries(revokedEarlier)) expect(await whoami(second!.url, token), kind).to.equal(401);
    await sleep(300);
    for (const [kind, token] of Object.entries(revokedEarlier)) expect(await whoami(second!.url, token), kind).to.equal(401);
    expect(await whoami(second!.url, live)).to.equal(200);
  });

  it('refuses within a second a JWT revoked at the other process (RFC 7009), both ways', async () => {
    const atFirst = await clientCredentials(first.url, client);
    const atSecond = await clientCredentials(second!.url, client);
    for (const token of [atFirst, atSecond]) {
      expect(await whoami(first.url, token)).to.equal(200);
      expect(await whoami(second!.url, token)).to.equal(200);
    }
    await revoke(first.url, client, atFirst);
    await revoke(second!.url, client, atSecond);
    expect(await answersWithin(second!.url, atFirst, 401, 1000)).to.be.below(1000);
    expect(await answersWithin(first.url, atSecond, 401, 1000)).to.be.below(1000);
  });

  it('refuses within a second every JWT of a grant revoked at the other process', async () => {
    const tokens = await grantRevokedByReuse(first.url, client, user);
    for (const token of tokens) expect(await answersWithin(second!.url, token, 401, 1000)).to.be.below(1000);
  });

  it('refuses within a second the JWTs of a client deleted at the other process', async () => {
    const doomed = await createClient(first, 'JWT revocation, shared, deleted later');
    const token = await clientCredentials(second!.url, doomed);
    expect(await whoami(second!.url, token)).to.equal(200);
    expect(decodeJwt(token).client_id).to.equal(doomed.id);
    await first.services.clients.delete(doomed.id);
    expect(await answersWithin(second!.url, token, 401, 1000)).to.be.below(1000);
    expect(await whoami(second!.url, live), 'another client’s token').to.equal(200);
  });
});
