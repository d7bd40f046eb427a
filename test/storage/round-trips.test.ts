import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Redis } from 'ioredis';
import pg from 'pg';
import { sqlDatabaseOf } from '../../adapters/factory.js';
import { authorize, discover, oauthError, redeem } from '../support/oidc.js';
import { skipBecause, startTestServer, storageMode, type TestServer } from '../support/server.js';

/**
 * Issue 20: what a code redemption and a refresh rotation cost in
 * PostgreSQL round trips, counted at the driver (every query a pooled
 * client sends), with consumed codes and rotated refresh tokens still
 * durable when the answer goes out.
 */
describe('PostgreSQL round trips per token request', function () {
  this.timeout(60_000);
  let server: TestServer;
  let config: oidc.Configuration;
  const user = { username: `rt-${Date.now()}`, password: 'round trip password' };
  const sent: string[] = [];
  const original = pg.Client.prototype.query;
  // Redis commands that touch a code or an access token (ioredis, as the server in this process sends them).
  const redisSent: string[] = [];
  const originalSend = Redis.prototype.sendCommand;

  before(async function () {
    if (!storageMode.postgres) skipBecause(this, 'counts PostgreSQL round trips: set DATABASE_URL');
    server = await startTestServer();
    const { client, clientSecret } = await server.services.clients.create({
      name: 'Round trips', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://rp.example.test/callback'],
      scope: ['openid', 'profile', 'offline_access'],
    });
    await server.services.accounts.create(user);
    config = await discover(server, client.clientId, clientSecret);
    (pg.Client.prototype as unknown as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text;
      // The artifacts, grants and accounts: what a flow reads and writes.
      // (The client comes from a cache that lasts a second, clients-store.ts,
      // so whether a request refreshes it depends on timing, not on the flow;
      // without Redis the brute-force counters are SQL rows too. The
      // sweeper's periodic DELETE of expired rows is no request's.)
      const statement = String(text);
      if (counting && /oidc_payloads|accounts/.test(statement) && !/^\s*DELETE FROM oidc_payloads WHERE \(model, id\) IN/.test(statement)) {
        sent.push(statement.replace(/\s+/g, ' ').slice(0, 100));
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
      const [command] = args as unknown as [{ name: string; args: unknown[]; promise: Promise<unknown> }];
      if (counting && command.args.some((arg) => /:(AuthorizationCode|AccessToken):/.test(String(arg)))) {
        // A script's first use is EVALSHA refused with NOSCRIPT, then EVAL: one step, counted once.
        command.promise.then(() => redisSent.push(command.name), (error: Error) => {
          if (!/NOSCRIPT/.test(error.message)) redisSent.push(command.name);
        });
      }
      return originalSend.apply(this, args);
    } as typeof Redis.prototype.sendCommand;
  });

  let counting = false;
  async function count<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[]; redisCommands: string[] }> {
    sent.length = 0;
    redisSent.length = 0;
    counting = true;
    try {
      const result = await work();
      return { result, statements: [...sent], redisCommands: [...redisSent] };
    } finally {
      counting = false;
    }
  }

  after(async () => {
    (pg.Client.prototype as unknown as { query: unknown }).query = original;
    Redis.prototype.sendCommand = originalSend;
    await server?.stop();
  });

  // The refresh token's row as PostgreSQL holds it (oidc-provider stores it by its value).
  async function storedRefreshToken(value: string): Promise<{ consumed: boolean } | undefined> {
    const { rows } = await sqlDatabaseOf(server.services.storage).query<{ consumed_at: unknown }>(
      "SELECT consumed_at FROM oidc_payloads WHERE model = 'RefreshToken' AND id = $1", [value]);
    return rows[0] && { consumed: rows[0].consumed_at !== null };
  }

  const withRefresh = { scope: 'openid profile offline_access', parameters: { prompt: 'consent' } };
  // Without Redis the code and the access token are rows too: the code is read
  // with its grant and account, and consumed by the statement that stores the
  // access token; the refresh token's write is the third trip either way.
  const tokenWrite = storageMode.redis ? 0 : 1;

  it('redeems a code in two round trips with Redis (three without): its grant and account read together, the refresh token written', async () => {
    const flow = await authorize(config, user, withRefresh);
    const { result, statements, redisCommands } = await count(() => redeem(config, flow));
    expect(result.refresh_token).to.be.a('string');
    expect(result.claims()?.sub).to.be.a('string');
    expect(statements, statements.join('\n')).to.have.length(2 + tokenWrite);
    // With Redis: the code read, then spent and the access token stored by one script
    // (the token exists only if this request spent the code).
    if (storageMode.redis && !process.env.REDIS_CLUSTER_NODES) expect(redisCommands, redisCommands.join(', ')).to.have.length(2);
    expect(await storedRefreshToken(result.refresh_token!)).to.deep.equal({ consumed: false });
  });

  it('rotates a refresh token in two round trips with Redis (three without): token, grant and account read together, then the old one consumed and the new one written in one statement', async () => {
    const tokens = await redeem(config, await authorize(config, user, withRefresh));
    const { result: rotated, statements } = await count(() => oidc.refreshTokenGrant(config, tokens.refresh_token!));
    expect(statements, statements.join('\n')).to.have.length(2 + tokenWrite);
    // Durable before the answer came back: the old one spent, the new one stored.
    expect(await storedRefreshToken(tokens.refresh_token!)).to.deep.equal({ consumed: true });
    expect(await storedRefreshToken(rotated.refresh_token!)).to.deep.equal({ consumed: false });
    // Reuse of the spent one is refused and ends the grant (RFC 9700 §4.14.2), so the new one dies too.
    expect((await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!))).error).to.equal('invalid_grant');
    expect((await oauthError(oidc.refreshTokenGrant(config, rotated.refresh_token!))).error).to.equal('invalid_grant');
  });

  it('lets exactly one of two concurrent rotations of the same refresh token through, and then ends the grant', async () => {
    const tokens = await redeem(config, await authorize(config, user, withRefresh));
    const results = await Promise.allSettled([1, 2].map(() => oidc.refreshTokenGrant(config, tokens.refresh_token!)));
    const won = results.filter((result) => result.status === 'fulfilled') as Array<PromiseFulfilledResult<oidc.TokenEndpointResponse>>;
    expect(won, 'exactly one rotation succeeded').to.have.length(1);
    // The loser was a reuse: the grant is gone, so the winner's new token is refused too.
    expect((await oauthError(oidc.refreshTokenGrant(config, won[0]!.value.refresh_token!))).error).to.equal('invalid_grant');
  });
});
