import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Cluster, Redis } from 'ioredis';
import type { PayloadStore } from '../../adapters/contract.js';
import { openEmbedded } from '../../adapters/embedded/pglite.js';
import { RedisPayloadStore } from '../../adapters/redis/payload-store.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { migrate } from '../../adapters/sql/migrate.js';
import { SqlPayloadStore } from '../../adapters/sql/payload-store.js';
import { openPostgres } from '../../adapters/sql/postgres.js';
import { clusterContractWanted, sharedRedisCluster } from './redis-servers.js';
import { embeddedDataDir } from './embedded-data.js';

/** One payload store implementation to run a contract against, opened fresh. */
export interface PayloadStoreSubject {
  name: string;
  open(): Promise<{ store: PayloadStore; close(): Promise<void> }>;
}

async function sqlSubject(db: SqlDatabase, cleanup: () => Promise<void> = async () => {}) {
  await migrate(db);
  return { store: new SqlPayloadStore(db), close: async () => { await db.close(); await cleanup(); } };
}

/** Every payload store the environment offers: embedded SQL always, PostgreSQL and Redis when configured. */
export function payloadStoreSubjects(): PayloadStoreSubject[] {
  const subjects: PayloadStoreSubject[] = [{
    name: 'SQL on embedded PGlite',
    async open() {
      const dir = await embeddedDataDir();
      return sqlSubject(await openEmbedded(dir, 'owner'), () => rm(dir, { recursive: true, force: true }));
    },
  }];
  if (process.env.DATABASE_URL) {
    subjects.push({ name: 'SQL on PostgreSQL', open: async () => sqlSubject(openPostgres(process.env.DATABASE_URL!)) });
  }
  if (process.env.REDIS_URL) {
    subjects.push({
      name: 'Redis',
      async open() {
        const redis = new Redis(process.env.REDIS_URL!);
        return { store: new RedisPayloadStore(redis, `gatehouse-test-${randomUUID()}:`), close: async () => { redis.disconnect(); } };
      },
    });
  }
  if (clusterContractWanted) {
    subjects.push({
      name: 'Redis Cluster',
      async open() {
        const redis = await openSharedCluster();
        return { store: new RedisPayloadStore(redis, `gatehouse-test-${randomUUID()}:`), close: async () => { redis.disconnect(); } };
      },
    });
  }
  return subjects;
}

/** A client of the run's shared three-master cluster (started on first use). */
export async function openSharedCluster(): Promise<Cluster> {
  const { nodes } = await sharedRedisCluster();
  // As Gatehouse connects (adapters/redis/connect.ts): no auto-pipelining in a cluster.
  const cluster = new Cluster(nodes);
  await new Promise<void>((resolve, reject) => { cluster.once('ready', resolve); cluster.once('error', reject); });
  return cluster;
}

/**
 * A second connection to the Redis `like` reaches, lazy as Gatehouse's are,
 * named `name`, and the name Redis lists the connection holding its
 * subscriptions under: the connection itself on a single server; on a
 * cluster, the one connection ioredis opens to a node for them.
 */
export function namedSubscriberLike(like: Redis | Cluster, name: string): { connection: Redis | Cluster; listedAs: string } {
  return like instanceof Cluster
    ? { connection: like.duplicate([], { lazyConnect: true, redisOptions: { ...like.options.redisOptions, connectionName: name } }), listedAs: `ioredis-cluster(subscriber):${name}` }
    : { connection: like.duplicate({ lazyConnect: true, connectionName: name }), listedAs: name };
}

/** One implementation of some store to run a contract against, opened fresh. */
export interface StoreSubject<T> {
  name: string;
  open(): Promise<{ store: T; close(): Promise<void> }>;
}

/**
 * Every implementation of a store the environment offers, built by `sql`
 * (embedded always, PostgreSQL when configured) or `redis` (a single Redis,
 * and a cluster, when configured), each opened fresh and migrated.
 */
export function storeSubjects<T>(sql: (db: SqlDatabase) => T, redis: (client: Redis | Cluster, prefix: string) => T): Array<StoreSubject<T>> {
  const onSql = async (db: SqlDatabase, cleanup: () => Promise<void> = async () => {}) => {
    await migrate(db);
    return { store: sql(db), close: async () => { await db.close(); await cleanup(); } };
  };
  const onRedis = (client: Redis | Cluster) => ({ store: redis(client, `gatehouse-test-${randomUUID()}:`), close: async () => { client.disconnect(); } });
  const subjects: Array<StoreSubject<T>> = [{
    name: 'SQL on embedded PGlite',
    async open() {
      const dir = await embeddedDataDir();
      return onSql(await openEmbedded(dir, 'owner'), () => rm(dir, { recursive: true, force: true }));
    },
  }];
  if (process.env.DATABASE_URL) subjects.push({ name: 'SQL on PostgreSQL', open: () => onSql(openPostgres(process.env.DATABASE_URL!)) });
  if (process.env.REDIS_URL) subjects.push({ name: 'Redis', open: async () => onRedis(new Redis(process.env.REDIS_URL!)) });
  if (clusterContractWanted) subjects.push({ name: 'Redis Cluster', open: async () => onRedis(await openSharedCluster()) });
  return subjects;
}
