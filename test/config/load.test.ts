import { expect } from 'chai';
import { redisTarget } from '../../adapters/redis/connect.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';

function failure(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.port).to.equal(3000);
    expect(config.issuer).to.equal('http://localhost:3000');
    expect(config.databaseUrl).to.equal(undefined);
    expect(config.dataDir).to.equal('data');
    expect(config.accessTokenTtl).to.equal(3600);
  });

  it('derives the issuer from PORT and takes overrides from the environment', () => {
    expect(loadConfig({ PORT: '8080' }).issuer).to.equal('http://localhost:8080');
    const config = loadConfig({ ISSUER: 'https://id.example.com/', TRUST_PROXY: 'yes', COOKIE_SECRETS: `${'a'.repeat(32)}, ${'b'.repeat(32)}` });
    expect(config.issuer).to.equal('https://id.example.com');
    expect(config.trustProxy).to.equal(true);
    expect(config.cookieSecrets).to.deep.equal(['a'.repeat(32), 'b'.repeat(32)]);
  });

  it('names the setting when a value is invalid', () => {
    expect(failure({ PORT: '70000' })).to.match(/PORT must be <= 65535/);
    expect(failure({ PORT: 'abc' })).to.match(/PORT must be a whole number \(got "abc"\)/);
    expect(failure({ ISSUER: 'https://id.example.com/?x=1' })).to.match(/ISSUER/);
    expect(failure({ ACCESS_TOKEN_TTL: '-5' })).to.match(/ACCESS_TOKEN_TTL/);
    expect(failure({ LOG_LEVEL: 'chatty' })).to.match(/LOG_LEVEL/);
  });

  it('says in words what a value must look like: no regular expressions, the allowed values listed, one line per setting (issue 17)', () => {
    const issuer = failure({ ISSUER: 'ftp://id.example.com' });
    expect(issuer).to.include('ISSUER must be an http:// or https:// URL with no query or fragment');
    expect(issuer.split('\n').filter((line) => line.includes('ISSUER'))).to.have.length(1);
    expect(failure({ LOG_LEVEL: 'chatty' })).to.include('LOG_LEVEL must be one of: fatal, error, warn, info, debug, trace, silent (got "chatty")');
    expect(failure({ REDIS_URL: 'http://cache:6379' })).to.include('REDIS_URL must be a redis:// or rediss:// URL');
    expect(failure({ SECRETS_KEY: 'short' })).to.include('SECRETS_KEY must be 32 bytes');
    for (const message of [issuer, failure({ DATABASE_URL: 'mysql://x', SECRETS_KEY: 'short' })]) {
      expect(message).not.to.match(/\^|\$"|\[\^/);
    }
  });

  it('takes a Sentinel set instead of REDIS_URL, never both, and always with the master\'s name (issue 19)', () => {
    const config = loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26379,sentinel-3.internal:26380', REDIS_SENTINEL_MASTER: 'gatehouse' });
    expect(config.redisSentinels).to.equal('10.0.0.1:26379,10.0.0.2:26379,sentinel-3.internal:26380');
    expect(redisTarget(config)).to.deep.equal({
      kind: 'sentinel', master: 'gatehouse',
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }, { host: 'sentinel-3.internal', port: 26380 }],
    });
    expect(failure({ REDIS_URL: 'redis://cache:6379', REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_MASTER: 'gatehouse' }))
      .to.include('REDIS_URL and REDIS_SENTINELS are set: set only one of them');
    expect(failure({ REDIS_SENTINELS: '10.0.0.1:26379' })).to.include('REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS');
    expect(failure({ REDIS_SENTINEL_MASTER: 'gatehouse' })).to.include('REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS');
    expect(failure({ REDIS_SENTINELS: '10.0.0.1', REDIS_SENTINEL_MASTER: 'gatehouse' })).to.include('REDIS_SENTINELS must be host:port pairs separated by commas');
  });

  it('takes Redis Cluster seed nodes instead of REDIS_URL or a Sentinel set, never together (issue 19)', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:6379,10.0.0.2:6379' });
    expect(redisTarget(config)).to.deep.equal({ kind: 'cluster', nodes: [{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6379 }] });
    expect(failure({ REDIS_URL: 'redis://cache:6379', REDIS_CLUSTER_NODES: '10.0.0.1:6379' })).to.include('REDIS_URL and REDIS_CLUSTER_NODES are set: set only one of them');
    expect(failure({ REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_MASTER: 'gatehouse', REDIS_CLUSTER_NODES: '10.0.0.1:6379' })).to.include('REDIS_SENTINELS and REDIS_CLUSTER_NODES are set');
    expect(failure({ REDIS_CLUSTER_NODES: 'redis://10.0.0.1:6379' })).to.include('REDIS_CLUSTER_NODES must be host:port pairs separated by commas');
  });

  it('takes a user, passwords and TLS for servers reached through sentinels or cluster nodes, and refuses them beside REDIS_URL', () => {
    const sentinel = loadConfig({
      REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_MASTER: 'gatehouse',
      REDIS_USERNAME: 'gatehouse', REDIS_PASSWORD: 'data secret', REDIS_SENTINEL_PASSWORD: 'sentinel secret', REDIS_TLS: 'yes',
    });
    expect(redisTarget(sentinel)).to.deep.include({
      access: { username: 'gatehouse', password: 'data secret', sentinelPassword: 'sentinel secret', tls: true },
    });
    expect(redisTarget(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:6379', REDIS_PASSWORD: 'data secret' })))
      .to.deep.equal({ kind: 'cluster', nodes: [{ host: '10.0.0.1', port: 6379 }], access: { password: 'data secret' } });
    expect(failure({ REDIS_URL: 'redis://cache:6379', REDIS_PASSWORD: 'secret', REDIS_TLS: 'true' }))
      .to.include('REDIS_PASSWORD and REDIS_TLS apply to REDIS_SENTINELS or REDIS_CLUSTER_NODES only; with REDIS_URL, put them in the URL');
    expect(failure({ REDIS_CLUSTER_NODES: '10.0.0.1:6379', REDIS_SENTINEL_PASSWORD: 'secret' })).to.include('REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS');
    // Without any Redis the advice to put it in the URL names a setting that is not there.
    expect(failure({ REDIS_TLS: 'true' })).to.include('REDIS_TLS applies to REDIS_SENTINELS or REDIS_CLUSTER_NODES only; no Redis is set (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)');
    expect(failure({ COOKIE_SECRETS: 'short' })).to.include('COOKIE_SECRETS must be secrets of at least 32 characters each, separated by commas');
  });

  it('refuses an https issuer unless TRUST_PROXY says TLS ends at a proxy', () => {
    expect(failure({ ISSUER: 'https://id.example.com' })).to.match(/ISSUER is https, which needs TRUST_PROXY=true/);
    expect(loadConfig({ ISSUER: 'https://id.example.com', TRUST_PROXY: 'on' }).trustProxy).to.equal(true);
  });

  it('never echoes secrets or connection strings in its errors', () => {
    const message = failure({ DATABASE_URL: 'mysql://root:hunter2@db/x', COOKIE_SECRETS: 'short-secret' });
    expect(message).to.match(/DATABASE_URL/).and.match(/COOKIE_SECRETS/);
    expect(message).not.to.include('hunter2');
    expect(message).not.to.include('short-secret');
  });

  it('requires SECRETS_KEY with DATABASE_URL, and refuses a malformed one without echoing it', () => {
    expect(failure({ DATABASE_URL: 'postgres://db.example.test/gatehouse' })).to.match(/SECRETS_KEY is required with DATABASE_URL/);
    expect(failure({ SECRETS_KEY: 'too-short-a-key' })).to.match(/SECRETS_KEY/).and.not.include('too-short-a-key');
    const hex = 'ab'.repeat(32);
    expect(loadConfig({ DATABASE_URL: 'postgres://db.example.test/gatehouse', SECRETS_KEY: hex }).secretsKey).to.equal(hex);
    expect(loadConfig({}).secretsKey, 'the embedded default generates one instead').to.equal(undefined);
  });
});
