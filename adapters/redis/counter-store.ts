import { duplicateOf, type RedisClient } from './connect.js';
import type { CounterState, CounterStore } from '../contract.js';

const RELEASE = `if redis.call('HGET', KEYS[1], 'count') and tonumber(redis.call('HGET', KEYS[1], 'count')) > 0 then
  return redis.call('HINCRBY', KEYS[1], 'count', -1)
end
return 0`;

/**
 * Counters as Redis hashes (`count`, `last`) whose TTL restarts on every hit.
 * Every hit is also published, so readers in every process can tell which
 * keys have counts without asking Redis on each request. A sorted set
 * indexes the live counters by expiry, so a reader (re)starting its view
 * reads only those, not the whole keyspace (which holds every token too).
 */
export class RedisCounterStore implements CounterStore {
  private subscriber: RedisClient | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = 'gatehouse:counter:',
    /** A second connection for the subscription (pub/sub needs its own). */
    private readonly connectSubscriber: () => RedisClient = () => duplicateOf(redis),
    /** Where hits are published: unique to the deployment (see namespace.ts). */
    private readonly channel = `${prefix}hits`,
  ) {}

  private get index(): string {
    return `${this.prefix}index`;
  }

  async hit(key: string, windowSeconds: number): Promise<CounterState> {
    const now = Date.now();
    const k = this.prefix + key;
    if (this.redis.isCluster) return this.hitInCluster(k, key, windowSeconds, now);
    const replies = await this.redis.multi()
      .hincrby(k, 'count', 1)
      .hset(k, 'last', now)
      .expire(k, windowSeconds)
      .zadd(this.index, now + windowSeconds * 1000, key)
      .zremrangebyscore(this.index, '-inf', now)
      .publish(this.channel, key)
      .exec();
    const [error, count] = replies?.[0] ?? [new Error('counter transaction aborted'), 0];
    if (error) throw error;
    return { count: Number(count), lastAt: now };
  }

  /**
   * hit() in a cluster, where the counter and the index are in different
   * slots: the counter in one transaction, then the index, then the news.
   * The index only tells a (re)starting reader where to look, so a reader
   * that starts between the two misses nothing the next hit would not bring.
   */
  private async hitInCluster(k: string, key: string, windowSeconds: number, now: number): Promise<CounterState> {
    const replies = await this.redis.multi().hincrby(k, 'count', 1).hset(k, 'last', now).expire(k, windowSeconds).exec();
    const [error, count] = replies?.[0] ?? [new Error('counter transaction aborted'), 0];
    if (error) throw error;
    await this.redis.multi().zadd(this.index, now + windowSeconds * 1000, key).zremrangebyscore(this.index, '-inf', now).exec();
    await this.redis.publish(this.channel, key);
    return { count: Number(count), lastAt: now };
  }

  async peek(keys: string[]): Promise<Array<CounterState | undefined>> {
    if (!keys.length) return [];
    // Sent together by auto-pipelining; in a cluster each goes to its key's node.
    const replies = await Promise.all(keys.map((key) => this.redis.hmget(this.prefix + key, 'count', 'last')));
    return replies.map(([count, last]) => {
      return count === null ? undefined : { count: Number(count), lastAt: Number(last) };
    });
  }

  async addMember(key: string, member: string, windowSeconds: number): Promise<number> {
    // A sorted set scored by each member's expiry: past ones are dropped
    // before counting, and the set itself lives as long as its newest member.
    const now = Date.now();
    const k = `${this.prefix}members:${key}`;
    const replies = await this.redis.multi()
      .zadd(k, now + windowSeconds * 1000, member)
      .zremrangebyscore(k, '-inf', now)
      .zcard(k)
      .pexpire(k, windowSeconds * 1000)
      .exec();
    const [error, count] = replies?.[2] ?? [new Error('member transaction aborted'), 0];
    if (error) throw error;
    return Number(count);
  }

  async release(key: string): Promise<void> {
    // One script, so a counter that expired meanwhile is not brought back
    // (as a count of -1 without a TTL) and no count goes below zero.
    await this.redis.eval(RELEASE, 1, this.prefix + key);
  }

  async clear(key: string): Promise<void> {
    if (this.redis.isCluster) await Promise.all([this.redis.del(this.prefix + key), this.redis.zrem(this.index, key)]);
    else await this.redis.multi().del(this.prefix + key).zrem(this.index, key).exec();
  }

  watch(onHit: (key: string) => void): { live(): boolean } {
    let live = false;
    const subscriber = this.connectSubscriber();
    this.subscriber = subscriber;
    subscriber.on('error', () => {});
    subscriber.on('message', (channel: string, key: string) => { if (channel === this.channel) onHit(key); });
    // Hits published while not subscribed are lost: after (re)subscribing,
    // every live counter is read once from the index, and only then is the view live.
    const seed = async () => {
      for (const key of await this.redis.zrangebyscore(this.index, Date.now(), '+inf')) onHit(key);
      live = subscriber.status === 'ready';
    };
    subscriber.on('ready', () => { seed().catch(() => { live = false; }); });
    subscriber.on('close', () => { live = false; });
    subscriber.on('reconnecting', () => { live = false; });
    subscriber.subscribe(this.channel).catch(() => { live = false; });
    return { live: () => live };
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
