import type { Redis } from 'ioredis';
import type { CounterState, CounterStore } from '../contract.js';

/** Counters as Redis hashes (`count`, `last`) whose TTL restarts on every hit. */
export class RedisCounterStore implements CounterStore {
  constructor(private readonly redis: Redis, private readonly prefix = 'gatehouse:counter:') {}

  async hit(key: string, windowSeconds: number): Promise<CounterState> {
    const now = Date.now();
    const k = this.prefix + key;
    const replies = await this.redis.multi()
      .hincrby(k, 'count', 1)
      .hset(k, 'last', now)
      .expire(k, windowSeconds)
      .exec();
    const [error, count] = replies?.[0] ?? [new Error('counter transaction aborted'), 0];
    if (error) throw error;
    return { count: Number(count), lastAt: now };
  }

  async peek(keys: string[]): Promise<Array<CounterState | undefined>> {
    if (!keys.length) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hmget(this.prefix + key, 'count', 'last');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, value]) => {
      if (error) throw error;
      const [count, last] = value as [string | null, string | null];
      return count === null ? undefined : { count: Number(count), lastAt: Number(last) };
    });
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
}
