import { duplicateOf, type RedisClient } from './connect.js';
import type { RevocationFeed, RevocationWatch, TokenRevocation } from '../contract.js';
import { followSeeded } from './seeded-subscription.js';

// The sorted set's members are the revocations, scored by when they lapse
// (`until`), so lapsed ones go with one range removal. One member, scored
// +inf so that it never lapses, records since when the set has existed
// (`since:<epoch seconds>`): if Redis loses its data, it goes with the
// revocations, and the next watcher to seed writes a new one. Tokens issued
// before it are then judged by their records, which were lost too, so they
// are refused, as they were before there was a feed.
const SEED = `
local marker = redis.call('ZRANGEBYSCORE', KEYS[1], '+inf', '+inf', 'LIMIT', 0, 1)[1]
if not marker then
  marker = 'since:' .. ARGV[2]
  redis.call('ZADD', KEYS[1], '+inf', marker)
end
return { marker, redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '(+inf', 'WITHSCORES') }
`;

function member(revocation: TokenRevocation): string {
  return revocation.kind === 'token' ? `token:${revocation.jti}` : `client:${revocation.issuedUntil}:${revocation.clientId}`;
}

function fromMember(value: string, until: number): TokenRevocation | undefined {
  if (value.startsWith('token:')) return { kind: 'token', jti: value.slice('token:'.length), until };
  const client = /^client:(\d+):(.*)$/s.exec(value);
  return client ? { kind: 'client', clientId: client[2]!, issuedUntil: Number(client[1]), until } : undefined;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Revocations of JWT access tokens in a Redis sorted set (for seeding a
 * process that starts or reconnects) and published on a channel (for the
 * processes already watching).
 */
export class RedisRevocationFeed implements RevocationFeed {
  readonly persistent = true;
  private subscriber: RedisClient | undefined;
  private onRevoked: ((revocation: TokenRevocation) => void) | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly key = 'gatehouse:revocations',
    /** A second connection for the subscription (pub/sub needs its own). */
    private readonly connectSubscriber: () => RedisClient = () => duplicateOf(redis),
    /** Where revocations are published: unique to the deployment (see namespace.ts). */
    private readonly channel = key,
  ) {}

  async publish(revocations: TokenRevocation[]): Promise<void> {
    if (!revocations.length) return;
    const multi = this.redis.multi();
    for (const revocation of revocations) multi.zadd(this.key, revocation.until, member(revocation));
    // Lapsed revocations are dropped whenever one is added, which bounds the set.
    multi.zremrangebyscore(this.key, '-inf', `(${nowSeconds()}`);
    multi.publish(this.channel, JSON.stringify(revocations));
    const replies = await multi.exec();
    if (!replies) throw new Error('revocation transaction aborted');
    for (const [error] of replies) if (error) throw error;
    // The subscriber echoes this back later; this process must not wait for it.
    for (const revocation of revocations) this.onRevoked?.(revocation);
  }

  watch(onRevoked: (revocation: TokenRevocation) => void): RevocationWatch {
    this.onRevoked = onRevoked;
    let completeFrom: number | undefined;
    // One promise for everyone waiting for the view to be complete, however many.
    let completion: { promise: Promise<void>; resolve: () => void } | undefined;
    const subscriber = this.connectSubscriber();
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      let revocations: TokenRevocation[];
      try {
        revocations = JSON.parse(message) as TokenRevocation[];
      } catch {
        // A revocation this process cannot read may be one it misses: start over from the set.
        following.reseed();
        return;
      }
      for (const revocation of revocations) onRevoked(revocation);
    });
    // The recorded revocations, told as they are read; the view is complete
    // from the set's marker once the subscription is live.
    const following = followSeeded(subscriber, [this.channel], async () => {
      const [marker, entries] = await this.redis.eval(SEED, 1, this.key, nowSeconds(), Math.ceil(Date.now() / 1000)) as [string, string[]];
      for (let i = 0; i < entries.length; i += 2) {
        const revocation = fromMember(entries[i]!, Number(entries[i + 1]));
        if (revocation) onRevoked(revocation);
      }
      return Number(marker.slice('since:'.length));
    }, (since) => {
      completeFrom = since;
      completion?.resolve();
      completion = undefined;
    });
    return {
      completeFrom: () => (following.live() ? completeFrom : undefined),
      whenComplete: () => {
        if (following.live()) return Promise.resolve();
        if (!completion) {
          let resolve!: () => void;
          const promise = new Promise<void>((done) => { resolve = done; });
          completion = { promise, resolve };
        }
        return completion.promise;
      },
    };
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
