import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../adapters/redis/connect.js';
import { followSeeded } from '../../adapters/redis/seeded-subscription.js';
import { namedSubscriberLike, openSharedCluster } from '../support/payload-stores.js';
import { clusterContractWanted, dropConnectionsNamed } from '../support/redis-servers.js';
import { until } from '../support/waiting.js';

/** Each kind of Redis the environment offers: a single server (REDIS_URL), a cluster (TEST_REDIS_CLUSTER=1). */
const redisKinds: Array<{ name: string; connect(): Promise<RedisClient> }> = [
  ...(process.env.REDIS_URL ? [{ name: 'Redis', connect: async () => new Redis(process.env.REDIS_URL!) }] : []),
  ...(clusterContractWanted ? [{ name: 'Redis Cluster', connect: openSharedCluster }] : []),
];

for (const kind of redisKinds) describe(`seeded subscription: ${kind.name}`, function () {
  let opened: RedisClient[];
  beforeEach(() => { opened = []; });
  afterEach(() => { for (const connection of opened) connection.disconnect(); });

  it('seeds again whenever the connection holding its subscription drops, and hears news on the one that replaces it', async () => {
    const channel = `gatehouse-test-${randomUUID()}`;
    const other = await kind.connect();
    opened.push(other);
    const { connection, listedAs } = namedSubscriberLike(other, `gatehouse-test-${randomUUID()}`);
    opened.push(connection);
    const heard: string[] = [];
    connection.on('message', (_channel: string, message: string) => heard.push(message));
    let seeds = 0;
    const following = followSeeded(connection, [channel], async () => { seeds += 1; });
    await until(() => following.live());
    expect(seeds).to.equal(1);

    // Redis drops the subscription's connection, as a failing node would (a
    // cluster's subscriber then moves to some node without a word of the
    // Cluster's): news published meanwhile is lost, and only a seed makes up for it.
    expect(await dropConnectionsNamed(other, listedAs), 'the subscription’s connection found and dropped').to.be.at.least(1);
    await until(() => seeds === 2 && following.live(), 5000);
    await other.publish(channel, 'after the drop');
    await until(() => heard.includes('after the drop'));
  });
});
