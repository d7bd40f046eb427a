import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { connectRedis, duplicateOf, type RedisClient } from '../../adapters/redis/connect.js';
import { followSeeded } from '../../adapters/redis/seeded-subscription.js';
import { namedSubscriberLike, openSharedCluster } from '../support/payload-stores.js';
import { clusterContractWanted, dropConnectionsNamed, redisBinariesPresent, startRedis } from '../support/redis-servers.js';
import { skipBecause } from '../support/server.js';
import { sleep, until } from '../support/waiting.js';

/** Each kind of Redis the environment offers: a single server (REDIS_URL), a cluster (TEST_REDIS_CLUSTER=1). */
const redisKinds: Array<{ name: string; connect(): Promise<RedisClient> }> = [
  ...(process.env.REDIS_URL ? [{ name: 'Redis', connect: async () => new Redis(process.env.REDIS_URL!) }] : []),
  ...(clusterContractWanted ? [{ name: 'Redis Cluster', connect: openSharedCluster }] : []),
];

for (const kind of redisKinds) describe(`seeded subscription: ${kind.name}`, function () {
  let opened: RedisClient[];
  beforeEach(() => { opened = []; });
  afterEach(() => { for (const connection of opened) connection.disconnect(); });

  /**
   * A seeded subscription to a channel of the test's own, on a connection
   * of its own (named: see namedSubscriberLike), live; `other` is a second
   * connection for the test's own commands, `seeds` counts the seeds and
   * `heard` the messages.
   */
  async function liveSubscription() {
    const channel = `gatehouse-test-${randomUUID()}`;
    const other = await kind.connect();
    opened.push(other);
    const { connection, listedAs } = namedSubscriberLike(other, `gatehouse-test-${randomUUID()}`);
    opened.push(connection);
    const heard: string[] = [];
    connection.on('message', (_channel: string, message: string) => heard.push(message));
    const counted = { seeds: 0 };
    const following = followSeeded(connection, [channel], async () => { counted.seeds += 1; });
    await until(() => following.live());
    return { channel, other, connection, listedAs, heard, counted, following };
  }

  it('seeds again whenever the connection holding its subscription drops, and hears news on the one that replaces it', async () => {
    const { channel, other, listedAs, heard, counted, following } = await liveSubscription();
    expect(counted.seeds).to.equal(1);

    // Redis drops the subscription's connection, as a failing node would (a
    // cluster's subscriber then moves to some node without a word of the
    // Cluster's): news published meanwhile is lost, and only a seed makes up for it.
    expect(await dropConnectionsNamed(other, listedAs), 'the subscription’s connection found and dropped').to.be.at.least(1);
    await until(() => counted.seeds >= 2 && following.live(), 5000);
    await other.publish(channel, 'after the drop');
    await until(() => heard.includes('after the drop'));
  });

  it('is not live from the moment a cluster moves its subscription to another node, and is again once seeded there', async function () {
    if (kind.name !== 'Redis Cluster') skipBecause(this, 'only a cluster moves its subscription between nodes');
    const { channel, other, connection, heard, counted, following } = await liveSubscription();

    // ioredis's own news that the subscriber's node left the cluster (the
    // slot map no longer has it): it opens another connection at once and
    // closes this one later, when its socket is done.
    const internals = connection as unknown as {
      subscriber: { getInstance(): Redis };
      connectionPool: { emit(event: string, redis: unknown, key: string): void };
    };
    const { host, port } = internals.subscriber.getInstance().options;
    internals.connectionPool.emit('-node', undefined, `${host}:${port}`);
    expect(following.live(), 'news published now may be lost').to.equal(false);
    await until(() => counted.seeds >= 2 && following.live(), 5000);
    await other.publish(channel, 'on the new node');
    await until(() => heard.includes('on the new node'));
  });
});

describe('seeded subscription: a Redis that stops answering', function () {
  it('stays live while its PINGs are answered, is not live once one is not, and is seeded again once the server answers (a connection as Gatehouse makes it)', async function () {
    if (!redisBinariesPresent()) skipBecause(this, 'redis-server is not installed');
    this.timeout(40_000);
    // A server of the test's own, frozen as a partitioned or stalled one is:
    // its connections stay open and nothing comes back.
    const server = await startRedis([]);
    // Connected as Gatehouse connects (command timeouts, bounded retries, auto-pipelining).
    const commands = await connectRedis({ kind: 'single', url: `redis://127.0.0.1:${server.port}` });
    const connection = duplicateOf(commands);
    try {
      let seeds = 0;
      const following = followSeeded(connection, [`gatehouse-test-${randomUUID()}`], async () => { seeds += 1; });
      await until(() => following.live());
      await sleep(6500);
      expect(following.live(), 'quiet is not silence').to.equal(true);
      expect(seeds).to.equal(1);

      process.kill(server.pid, 'SIGSTOP');
      try {
        await until(() => !following.live(), 6000);
      } finally {
        process.kill(server.pid, 'SIGCONT');
      }
      await until(() => seeds >= 2 && following.live(), 15_000);
    } finally {
      connection.disconnect();
      commands.disconnect();
      await server.stop();
    }
  });
});
