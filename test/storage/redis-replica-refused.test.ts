import { expect } from 'chai';
import { connectRedis, RedisRefusedError } from '../../adapters/redis/connect.js';
import { eventually, nodeClient, redisBinariesPresent, startRedis, type RedisProcess } from '../support/redis-servers.js';
import { skipBecause } from '../support/server.js';

/**
 * A REDIS_URL that leads to a replica let Gatehouse start; every write then
 * met READONLY, the connection reconnected to the same replica, and the log
 * flapped "lost … connection closed" / "back" twice a second without ever
 * saying READONLY. Sentinel and Cluster find their masters themselves and
 * are not concerned.
 */
describe('storage: a Redis replica behind REDIS_URL', function () {
  this.timeout(60_000);
  let master: RedisProcess | undefined;
  let replica: RedisProcess | undefined;

  before(async function () {
    if (!redisBinariesPresent()) skipBecause(this, 'redis-server is not installed');
    master = await startRedis([]);
    replica = await startRedis([`replicaof 127.0.0.1 ${master.port}`]);
  });
  after(async () => {
    await replica?.stop();
    await master?.stop();
  });

  it('is refused at start, naming REDIS_URL, the replica\'s master and what to set instead', async () => {
    const refused = await connectRedis({ kind: 'single', url: `redis://127.0.0.1:${replica!.port}/0` }).then(
      (redis) => { redis.disconnect(); return undefined; },
      (error: unknown) => error,
    );
    expect(refused).to.be.instanceOf(RedisRefusedError);
    expect((refused as RedisRefusedError).detail)
      .to.match(new RegExp(`^REDIS_URL: redis://127\\.0\\.0\\.1:${replica!.port}/0 is a replica \\(of 127\\.0\\.0\\.1:${master!.port}\\)`))
      .and.include('point REDIS_URL at the master, or use REDIS_SENTINELS');
  });

  it('a master demoted under a running connection is one outage, logged with its READONLY reply, and back once it is a master again', async () => {
    const events: string[] = [];
    const demoted = await startRedis([]);
    const redis = await connectRedis({ kind: 'single', url: `redis://127.0.0.1:${demoted.port}/0` }, {
      lost: (reason) => events.push(`lost: ${reason}`),
      restored: () => events.push('restored'),
    });
    const admin = nodeClient(demoted.port);
    try {
      await redis.set('gh-replica-test', '1');
      // Demoted: it now replicates the master, and refuses writes.
      await admin.call('REPLICAOF', '127.0.0.1', String(master!.port));
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline) {
        await redis.set('gh-replica-test', '2').catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(events, 'one line for the whole outage').to.have.length(1);
      expect(events[0]).to.match(/^lost: Redis answered "READONLY [^"]*": it is not a master now/);

      await admin.call('REPLICAOF', 'NO', 'ONE');
      await eventually('the connection is reported back', async () => events.includes('restored'), 10_000);
      await redis.set('gh-replica-test', '3');
      expect(events).to.have.length(2);
    } finally {
      await admin.call('REPLICAOF', 'NO', 'ONE').catch(() => {});
      admin.disconnect();
      redis.disconnect();
      await demoted.stop();
    }
  });
});
