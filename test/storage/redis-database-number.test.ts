import { expect } from 'chai';
import { StorageUnavailableError } from '../../adapters/factory.js';
import { nodeClient, redisBinariesPresent, startRedis, type RedisProcess } from '../support/redis-servers.js';
import { skipBecause, startTestServer } from '../support/server.js';

/**
 * REDIS_URL's path is the database number. Redis refuses a SELECT past its
 * `databases` setting, and ioredis then goes on in database 0: start-up must
 * stop instead, naming the setting, before anything is written anywhere.
 */
describe('storage: a REDIS_URL naming a database Redis does not have', function () {
  this.timeout(60_000);
  let redis: RedisProcess | undefined;

  before(async function () {
    if (!redisBinariesPresent()) skipBecause(this, 'redis-server is not installed');
    // Its own server, so that "nothing in database 0" is a statement about this test alone.
    redis = await startRedis(['databases 16']);
  });
  after(async () => { await redis?.stop(); });

  it('stops start-up with a message naming REDIS_URL and the database, and writes nothing to database 0', async () => {
    const prefix = `gh-db-number-${Date.now()}:`;
    const started = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${redis!.port}/99`, REDIS_PREFIX: prefix })
      .then(async (server) => { await server.stop(); return undefined; }, (error: unknown) => error);
    expect(started).to.be.instanceOf(StorageUnavailableError);
    const { detail } = started as StorageUnavailableError;
    expect(detail).to.match(/^REDIS_URL: /).and.include(`redis://127.0.0.1:${redis!.port}/99`).and.include('database 99');

    const admin = nodeClient(redis!.port);
    try {
      for (const database of [0, 15]) {
        await admin.select(database);
        expect(await admin.keys(`${prefix}*`), `database ${database}`).to.deep.equal([]);
        expect(await admin.dbsize(), `database ${database} is empty`).to.equal(0);
      }
    } finally {
      admin.disconnect();
    }
  });

  it('starts on a database the server has', async () => {
    const server = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${redis!.port}/15`, REDIS_PREFIX: `gh-db-number-${Date.now()}:` });
    await server.stop();
  });
});
