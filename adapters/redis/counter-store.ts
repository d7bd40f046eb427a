import { duplicateOf, type RedisClient } from './connect.js';
import type { CounterState, CounterStore } from '../contract.js';
import { followSeeded } from './seeded-subscription.js';

// A counter's news carries its count after the change ("<count> <key>"), so
// a watcher can forget a key whose count is back at zero: every sign-in is
// counted as a failure before its password is checked and taken back after
// (src/security/failure-limiter.ts), and without the count, each success
// made every process look the address up in Redis for a whole window. Each
// script publishes from inside Redis, so the news is in the order of the
// changes themselves (in a cluster, from the counter's own node, so in order
// there too). The key alone also goes to the channel of earlier
// versions (hits only), for processes still running one during an upgrade.
const HIT = `local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[3])
redis.call('PUBLISH', ARGV[5], count .. ' ' .. ARGV[3])
return count`;

const CLEAR = `redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '0 ' .. ARGV[1])
return 1`;

const RELEASE = `local count = tonumber(redis.call('HGET', KEYS[1], 'count'))
if count and count > 0 then count = redis.call('HINCRBY', KEYS[1], 'count', -1) else count = 0 end
redis.call('PUBLISH', ARGV[2], count .. ' ' .. ARGV[1])
return count`;

/** A counter's news on the counts channel: its key and its count after the change. */
function parseNews(message: string): { key: string; count: number } | undefined {
  const space = message.indexOf(' ');
  const count = Number(message.slice(0, space));
  return space > 0 && Number.isInteger(count) && count >= 0 ? { key: message.slice(space + 1), count } : undefined;
}

/**
 * Counters as Redis hashes (`count`, `last`) whose TTL restarts on every hit.
 * Every change is also published with the count it left, so readers in every
 * process can tell which keys have counts without asking Redis on each
 * request. A sorted set indexes the live counters by expiry, so a reader
 * (re)starting its view reads only those, not the whole keyspace (which
 * holds every token too).
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

  /** Where every change goes with its count (the constructor's channel has hits' keys only). */
  private get countsChannel(): string {
    return `${this.channel}:counts`;
  }

  private hitScript(counter: string, key: string, windowSeconds: number, now: number): [string, number, ...string[]] {
    return [HIT, 1, counter, String(now), String(windowSeconds), key, this.channel, this.countsChannel];
  }

  async hit(key: string, windowSeconds: number): Promise<CounterState> {
    const now = Date.now();
    const k = this.prefix + key;
    if (this.redis.isCluster) return this.hitInCluster(k, key, windowSeconds, now);
    const replies = await this.redis.multi()
      .eval(...this.hitScript(k, key, windowSeconds, now))
      .zadd(this.index, now + windowSeconds * 1000, key)
      .zremrangebyscore(this.index, '-inf', now)
      .exec();
    const [error, count] = replies?.[0] ?? [new Error('counter transaction aborted'), 0];
    if (error) throw error;
    return { count: Number(count), lastAt: now };
  }

  /**
   * hit() in a cluster, where the counter and the index are in different
   * slots: the counter and its news in one script, then the index. The index
   * only tells a (re)starting reader where to look, and such a reader hears
   * the news of every change after it subscribed.
   */
  private async hitInCluster(k: string, key: string, windowSeconds: number, now: number): Promise<CounterState> {
    const count = await this.redis.eval(...this.hitScript(k, key, windowSeconds, now));
    await this.redis.multi().zadd(this.index, now + windowSeconds * 1000, key).zremrangebyscore(this.index, '-inf', now).exec();
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
    await this.redis.eval(RELEASE, 1, this.prefix + key, key, this.countsChannel);
  }

  async clear(key: string): Promise<void> {
    // The news goes out from the counter's own node, as a hit's and a release's
    // do: in a cluster, news from two nodes may arrive in either order.
    const clear: [string, number, ...string[]] = [CLEAR, 1, this.prefix + key, key, this.countsChannel];
    if (this.redis.isCluster) {
      await this.redis.eval(...clear);
      await this.redis.zrem(this.index, key);
    } else {
      await this.redis.multi().eval(...clear).zrem(this.index, key).exec();
    }
  }

  watch(onChange: (key: string, count?: number) => void): { live(): boolean } {
    const subscriber = this.connectSubscriber();
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.countsChannel) {
        const news = parseNews(message);
        if (news) onChange(news.key, news.count);
      } else if (channel === this.channel) {
        onChange(message);
      }
    });
    // Only counts above zero are told from the index: a count read there may
    // be older than news already heard, and only a stale zero would be unsafe.
    return followSeeded(subscriber, [this.channel, this.countsChannel], async () => {
      const keys = await this.redis.zrangebyscore(this.index, Date.now(), '+inf');
      const states = await this.peek(keys);
      keys.forEach((key, i) => { if (states[i]?.count) onChange(key, states[i]!.count); });
    });
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
