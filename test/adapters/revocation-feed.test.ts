import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { TokenRevocation } from '../../adapters/contract.js';
import { LocalRevocationFeed } from '../../adapters/local-revocation-feed.js';
import type { RedisClient } from '../../adapters/redis/connect.js';
import { RedisRevocationFeed } from '../../adapters/redis/revocation-feed.js';
import { namedSubscriberLike, openSharedCluster } from '../support/payload-stores.js';
import { clusterContractWanted, dropConnectionsNamed } from '../support/redis-servers.js';
import { skipBecause } from '../support/server.js';
import { sleep, until } from '../support/waiting.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);

const jtis = (revocations: TokenRevocation[]) => revocations.map((revocation) => (revocation.kind === 'token' ? revocation.jti : undefined));

type TokenEntry = Extract<TokenRevocation, { kind: 'token' }>;
const token = (jti = randomUUID(), lifetime = 60): TokenEntry => ({ kind: 'token', jti, until: nowSeconds() + lifetime });

/** Each kind of Redis the environment offers: a single server (REDIS_URL), a cluster (TEST_REDIS_CLUSTER=1). */
const redisKinds: Array<{ name: string; connect(): Promise<RedisClient> }> = [
  ...(process.env.REDIS_URL ? [{ name: 'Redis', connect: async () => new Redis(process.env.REDIS_URL!) }] : []),
  ...(clusterContractWanted ? [{ name: 'Redis Cluster', connect: openSharedCluster }] : []),
];

for (const kind of redisKinds) describe(`revocation feed: ${kind.name}`, function () {
  let connections: RedisClient[];
  let feeds: RedisRevocationFeed[];
  let keys: string[];

  beforeEach(() => { connections = []; feeds = []; keys = []; });

  afterEach(async () => {
    await Promise.all(feeds.map((feed) => feed.close()));
    for (const connection of connections) connection.disconnect();
    // The set never expires as a whole (it records since when it exists).
    if (!keys.length) return;
    const cleaner = await kind.connect();
    await Promise.all(keys.map((key) => cleaner.del(key)));
    cleaner.disconnect();
  });

  /** A set of this test's own. */
  function newKey(): string {
    const key = `gatehouse-test-${randomUUID()}:revocations`;
    keys.push(key);
    return key;
  }

  /** A feed on its own connection; `channel` other than the key's hears none of the key's messages, only its seed. */
  async function openFeed(key: string, channel = key): Promise<RedisRevocationFeed> {
    const connection = await kind.connect();
    connections.push(connection);
    const feed = new RedisRevocationFeed(connection, key, undefined, channel);
    feeds.push(feed);
    return feed;
  }

  /** A feed on `command` whose subscription goes over `subscriberConnection`, watched until its view is complete; `seen` is what it told. */
  async function completeWatch(key: string, command: RedisClient, subscriberConnection: RedisClient) {
    connections.push(command, subscriberConnection);
    const feed = new RedisRevocationFeed(command, key, () => subscriberConnection);
    feeds.push(feed);
    const seen: TokenRevocation[] = [];
    const watch = feed.watch((revocation) => seen.push(revocation));
    await until(() => watch.completeFrom() !== undefined);
    return { watch, seen };
  }

  it('seeds a watcher with the revocations recorded before it, then delivers each new one from any process', async () => {
    const key = newKey();
    const writer = await openFeed(key);
    const earlier = token();
    const client: TokenRevocation = { kind: 'client', clientId: 'a:client id with spaces', issuedUntil: nowSeconds(), until: nowSeconds() + 60 };
    await writer.publish([earlier, client]);

    const seen: TokenRevocation[] = [];
    const watch = (await openFeed(key)).watch((revocation) => seen.push(revocation));
    expect(watch.completeFrom(), 'not complete before it has read what is recorded').to.equal(undefined);
    await until(() => watch.completeFrom() !== undefined);
    expect(seen).to.deep.include(earlier);
    expect(seen).to.deep.include(client);

    const later = token();
    await writer.publish([later]);
    await until(() => jtis(seen).includes(later.jti));
  });

  it('delivers to its own watcher before publish resolves, without waiting for the echo', async () => {
    const feed = await openFeed(newKey());
    const seen: TokenRevocation[] = [];
    feed.watch((revocation) => seen.push(revocation));
    const revocation = token();
    await feed.publish([revocation]);
    expect(seen).to.deep.include(revocation);
  });

  it('drops lapsed revocations from the set as new ones are recorded', async () => {
    const key = newKey();
    const writer = await openFeed(key);
    const lapsed = { ...token(), until: nowSeconds() - 5 };
    await writer.publish([lapsed]);
    const live = token();
    await writer.publish([live]);
    // Only what the set holds: a cluster relays the two messages above between
    // its nodes in its own time, so a watcher on their channel may still hear them.
    const seen: TokenRevocation[] = [];
    const watch = (await openFeed(key, `${key}:elsewhere`)).watch((revocation) => seen.push(revocation));
    await until(() => watch.completeFrom() !== undefined);
    expect(seen).to.deep.equal([live]);
    // Gone from the set itself, not only left out of the seed.
    expect(await connections[0]!.zscore(key, `token:${lapsed.jti}`)).to.equal(null);
  });

  it('is complete from when the set began, and starts again from the present when Redis has lost it', async () => {
    const key = newKey();
    const first = (await openFeed(key)).watch(() => {});
    await until(() => first.completeFrom() !== undefined);
    const began = first.completeFrom()!;
    expect(began).to.be.within(nowSeconds(), nowSeconds() + 1);

    await sleep(1100);
    const second = (await openFeed(key)).watch(() => {});
    await until(() => second.completeFrom() !== undefined);
    expect(second.completeFrom(), 'the same set: the same beginning').to.equal(began);

    // Redis restarted without persistence: revocations before now are unknown,
    // so tokens issued before now must be judged by their records.
    await connections[0]!.del(key);
    const third = (await openFeed(key)).watch(() => {});
    await until(() => third.completeFrom() !== undefined);
    expect(third.completeFrom()).to.be.greaterThan(began);
  });

  it('is not complete while its subscription is down, and catches up on what it missed once it is back', async function () {
    // Drops a single server's subscriber connection; a cluster's subscriber is ioredis's own.
    if (kind.name !== 'Redis') skipBecause(this, 'it drops a single server\'s subscriber connection');
    const key = newKey();
    const subscriberConnection = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
    const { watch, seen } = await completeWatch(key, new Redis(process.env.REDIS_URL!), subscriberConnection);

    // The subscription drops (and ioredis reconnects it): a revocation
    // published meanwhile is never delivered as a message.
    const closed = new Promise((resolve) => subscriberConnection.once('close', resolve));
    subscriberConnection.disconnect(true);
    await closed;
    expect(watch.completeFrom()).to.equal(undefined);
    const missed = token();
    await (await openFeed(key)).publish([missed]);
    // Whoever waits for the view (a check of a token without a record) is let go once it is complete again.
    const waiters = [watch.whenComplete(), watch.whenComplete()];
    await Promise.all(waiters);
    expect(watch.completeFrom()).to.not.equal(undefined);
    expect(seen).to.deep.include(missed);
  });

  it('learns, once the connection holding its subscription is replaced, of a revocation it never heard', async () => {
    const key = newKey();
    const command = await kind.connect();
    const { connection: subscriberConnection, listedAs } = namedSubscriberLike(command, `gatehouse-test-${randomUUID()}`);
    const { watch, seen } = await completeWatch(key, command, subscriberConnection);

    // Recorded, but its message goes where this watcher does not listen, as
    // one published while the subscription moves between connections (a
    // cluster's ioredis moves it on its own) reaches no one.
    const unheard = token();
    await (await openFeed(key, `${key}:elsewhere`)).publish([unheard]);
    await sleep(200);
    expect(jtis(seen)).to.not.include(unheard.jti);
    // Redis drops the subscription's connection, as a failing node would.
    expect(await dropConnectionsNamed(command, listedAs)).to.be.at.least(1);
    await until(() => jtis(seen).includes(unheard.jti), 5000);
    await watch.whenComplete();
  });
});

describe('revocation feed: local (embedded, one process)', () => {
  it('delivers revocations published before anyone watched, then each new one at once', async () => {
    const feed = new LocalRevocationFeed();
    const early = token();
    const lapsed = { ...token(), until: nowSeconds() - 5 };
    await feed.publish([lapsed]);
    await feed.publish([early]);
    const seen: TokenRevocation[] = [];
    const watch = feed.watch((revocation) => seen.push(revocation));
    expect(seen).to.deep.equal([early]);
    const later = token();
    await feed.publish([later]);
    expect(seen).to.deep.equal([early, later]);
    expect(watch.completeFrom(), 'complete for tokens issued since the process started').to.be.within(nowSeconds() - 1, nowSeconds() + 1);
  });
});
