import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import type { CounterStore } from '../../adapters/contract.js';
import { openEmbedded } from '../../adapters/embedded/pglite.js';
import type { RedisClient } from '../../adapters/redis/connect.js';
import { RedisCounterStore } from '../../adapters/redis/counter-store.js';
import { SqlCounterStore } from '../../adapters/sql/counter-store.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { migrate } from '../../adapters/sql/migrate.js';
import { openPostgres } from '../../adapters/sql/postgres.js';
import { openSharedCluster } from '../support/payload-stores.js';
import { clusterContractWanted } from '../support/redis-servers.js';
import { sleep, until } from '../support/waiting.js';
import { embeddedDataDir } from '../support/embedded-data.js';

interface Subject {
  name: string;
  open(): Promise<{ store: CounterStore; close(): Promise<void> }>;
}

async function sqlSubject(db: SqlDatabase, cleanup: () => Promise<void> = async () => {}) {
  await migrate(db);
  return { store: new SqlCounterStore(db), close: async () => { await db.close(); await cleanup(); } };
}

const subjects: Subject[] = [{
  name: 'SQL on embedded PGlite',
  async open() {
    const dir = await embeddedDataDir();
    return sqlSubject(await openEmbedded(dir, 'owner'), () => rm(dir, { recursive: true, force: true }));
  },
}];
if (process.env.DATABASE_URL) subjects.push({ name: 'SQL on PostgreSQL', open: async () => sqlSubject(openPostgres(process.env.DATABASE_URL!)) });
if (process.env.REDIS_URL) {
  subjects.push({
    name: 'Redis',
    async open() {
      const redis = new Redis(process.env.REDIS_URL!);
      return { store: new RedisCounterStore(redis, `gatehouse-test-${randomUUID()}:`), close: async () => { redis.disconnect(); } };
    },
  });
}

if (clusterContractWanted) {
  subjects.push({
    name: 'Redis Cluster',
    async open() {
      const redis = await openSharedCluster();
      return { store: new RedisCounterStore(redis, `gatehouse-test-${randomUUID()}:`), close: async () => { redis.disconnect(); } };
    },
  });
}

/** Each kind of Redis the environment offers: a single server (REDIS_URL), a cluster (TEST_REDIS_CLUSTER=1). */
const redisKinds: Array<{ name: string; connect(): Promise<RedisClient> }> = [
  ...(process.env.REDIS_URL ? [{ name: 'Redis', connect: async () => new Redis(process.env.REDIS_URL!) }] : []),
  ...(clusterContractWanted ? [{ name: 'Redis Cluster', connect: openSharedCluster }] : []),
];

for (const kind of redisKinds) describe(`counter store: ${kind.name} publishes its hits to every watcher`, function () {

  /**
   * A writer and a reader on connections of their own, under a prefix of the
   * test's own; `subscriberOf` makes the reader's subscription connection
   * (the store's own default when absent).
   */
  async function withWriterAndReader(
    test: (writer: RedisCounterStore, reader: RedisCounterStore, writing: { connection: RedisClient; prefix: string }) => Promise<void>,
    subscriberOf?: (readerConnection: RedisClient) => RedisClient,
  ): Promise<void> {
    const prefix = `gatehouse-test-${randomUUID()}:`;
    const writerConnection = await kind.connect();
    const readerConnection = await kind.connect();
    const reader = new RedisCounterStore(readerConnection, prefix, subscriberOf && (() => subscriberOf(readerConnection)));
    try {
      await test(new RedisCounterStore(writerConnection, prefix), reader, { connection: writerConnection, prefix });
    } finally {
      await reader.close();
      writerConnection.disconnect();
      readerConnection.disconnect();
    }
  }

  it('seeds a watcher with the counters that exist, then reports every hit from any connection', () => withWriterAndReader(async (writer, reader) => {
    const existing = randomUUID();
    await writer.hit(existing, 60);
    const seen: string[] = [];
    const view = reader.watch((key) => seen.push(key));
    await until(() => view.live());
    expect(seen, 'seeded from what exists').to.include(existing);
    const fresh = randomUUID();
    await writer.hit(fresh, 60);
    await until(() => seen.includes(fresh));
  }));

  // The subscription is held back (as a cluster's subscriber connection,
  // still opening, holds it back) while the index is read at once: on a
  // connection that opens at once, and on one that waits to be asked, as
  // Gatehouse's own (lazyConnect) do.
  for (const lazyConnect of [false, true]) {
    it(`is live only once Redis has confirmed its subscription: news sent before then cannot be missed (lazyConnect: ${lazyConnect})`, () => {
      const slowToSubscribe = (readerConnection: RedisClient) => {
        const subscriber = readerConnection instanceof Cluster
          ? readerConnection.duplicate([], { lazyConnect })
          : readerConnection.duplicate({ lazyConnect });
        const subscribe = subscriber.subscribe.bind(subscriber) as (...channels: string[]) => Promise<unknown>;
        Object.assign(subscriber, { subscribe: async (...channels: string[]) => { await sleep(300); return subscribe(...channels); } });
        return subscriber;
      };
      return withWriterAndReader(async (writer, reader) => {
        const seen: string[] = [];
        const view = reader.watch((key) => seen.push(key));
        await until(() => view.live());
        const fresh = randomUUID();
        await writer.hit(fresh, 60);
        await until(() => seen.includes(fresh), 1500);
      }, slowToSubscribe);
    });
  }

  it('tells every watcher each change with the count it left: hits, releases and clears, in order', () => withWriterAndReader(async (writer, reader) => {
    const key = randomUUID();
    const heard: number[] = [];
    const view = reader.watch((changed, count) => { if (changed === key && count !== undefined) heard.push(count); });
    await until(() => view.live());
    await writer.hit(key, 60);
    await writer.hit(key, 60);
    await writer.release(key);
    await writer.release(key);
    await writer.release(key);
    await writer.hit(key, 60);
    await writer.clear(key);
    await until(() => heard.length === 7);
    expect(heard).to.deep.equal([1, 2, 1, 0, 0, 1, 0]);
  }));

  it('seeds a watcher with counts above zero only: a hit taken back leaves nothing to look up', () => withWriterAndReader(async (writer, reader) => {
    const [failed, released] = [randomUUID(), randomUUID()];
    await writer.hit(failed, 60);
    await writer.hit(failed, 60);
    await writer.hit(released, 60);
    await writer.release(released);
    const seeded = new Map<string, number | undefined>();
    const view = reader.watch((key, count) => seeded.set(key, count));
    await until(() => view.live());
    expect([...seeded]).to.deep.equal([[failed, 2]]);
  }));

  it('seeds from its index of live counters: not from expired ones, nor from the rest of the keyspace', () => withWriterAndReader(async (writer, reader, { connection, prefix }) => {
    const [live, expiring, cleared] = [randomUUID(), randomUUID(), randomUUID()];
    await writer.hit(live, 60);
    await writer.hit(expiring, 1);
    await writer.hit(cleared, 60);
    await writer.clear(cleared);
    // Under the prefix but not a counter (a token store shares the keyspace).
    await connection.set(`${prefix}not-a-counter`, 'x', 'EX', 60);
    await sleep(1100);
    const seen: string[] = [];
    const view = reader.watch((key) => seen.push(key));
    await until(() => view.live());
    expect(seen).to.deep.equal([live]);
  }));
});

for (const subject of subjects) {
  describe(`counter store contract: ${subject.name}`, () => {
    let store: CounterStore;
    let close: () => Promise<void>;

    before(async () => { ({ store, close } = await subject.open()); });
    after(() => close());

    it('counts hits and reports the last one; peek reads several counters in order without counting', async () => {
      const [a, b, none] = [randomUUID(), randomUUID(), randomUUID()];
      const before = Date.now();
      expect((await store.hit(a, 60)).count).to.equal(1);
      const second = await store.hit(a, 60);
      expect(second.count).to.equal(2);
      expect(second.lastAt).to.be.within(before - 1000, Date.now() + 1000);
      await store.hit(b, 60);
      const peeked = await store.peek([b, none, a]);
      expect(peeked.map((state) => state?.count)).to.deep.equal([1, undefined, 2]);
      expect((await store.peek([a]))[0]?.count, 'peek does not count').to.equal(2);
    });

    it('loses no hit among fifty concurrent ones', async () => {
      const key = randomUUID();
      const counts = await Promise.all(Array.from({ length: 50 }, () => store.hit(key, 60)));
      expect(counts.map((c) => c.count).sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('forgets a counter after its window and when cleared', async () => {
      const [expiring, cleared] = [randomUUID(), randomUUID()];
      await store.hit(expiring, 1);
      await store.hit(cleared, 60);
      await store.clear(cleared);
      expect(await store.peek([cleared])).to.deep.equal([undefined]);
      await sleep(2100);
      expect(await store.peek([expiring])).to.deep.equal([undefined]);
      expect((await store.hit(expiring, 1)).count, 'starts again from one').to.equal(1);
    });

    it('takes a hit back on release, never below zero, keeping the last hit’s time, and does not bring back a counter past its window', async () => {
      const [key, expiring] = [randomUUID(), randomUUID()];
      await store.hit(key, 60);
      const { lastAt } = await store.hit(key, 60);
      await Promise.all([store.release(key), store.release(key), store.release(key)]);
      expect(await store.peek([key])).to.deep.equal([{ count: 0, lastAt }]);
      expect((await store.hit(key, 60)).count).to.equal(1);
      await store.release(randomUUID()); // none: nothing to take back, and nothing made
      await store.hit(expiring, 1);
      await sleep(1100);
      await store.release(expiring);
      expect(await store.peek([expiring])).to.deep.equal([undefined]);
      expect((await store.hit(expiring, 1)).count).to.equal(1);
    });

    it('counts distinct members of a set: a member added again counts once, and sets and counters of one key are apart', async () => {
      const key = randomUUID();
      expect(await store.addMember(key, '192.0.2.1', 60)).to.equal(1);
      expect(await store.addMember(key, '192.0.2.1', 60), 'the same member again').to.equal(1);
      expect(await store.addMember(key, '192.0.2.2', 60)).to.equal(2);
      expect(await store.addMember(randomUUID(), '192.0.2.1', 60), 'another set').to.equal(1);
      await store.hit(key, 60);
      expect((await store.hit(key, 60)).count, 'the counter of the same key').to.equal(2);
      expect(await store.addMember(key, '192.0.2.3', 60), 'the set of the same key').to.equal(3);
    });

    it('forgets each member of a set after its own window', async () => {
      const key = randomUUID();
      await store.addMember(key, 'short', 1);
      expect(await store.addMember(key, 'long', 60)).to.equal(2);
      await sleep(2100);
      expect(await store.addMember(key, 'long', 60), 'the short-lived member is gone').to.equal(1);
      expect(await store.addMember(key, 'short', 1), 'and counts again when added again').to.equal(2);
    });

    it('keeps every member of thirty concurrent adds', async () => {
      const key = randomUUID();
      const counts = await Promise.all(Array.from({ length: 30 }, (_, i) => store.addMember(key, `m${i}`, 60)));
      expect(Math.max(...counts)).to.be.at.most(30);
      expect(await store.addMember(key, 'm0', 60), 'all thirty, read after').to.equal(30);
    });
  });
}
