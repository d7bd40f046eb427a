import type { SignInSessionRecord, SignInSessionStore } from '../contract.js';
import type { RedisClient } from './connect.js';

// Every key of the index carries one hash tag, so a Redis Cluster keeps them
// in one slot and each write below is one atomic script there too. The index
// is small (one entry per signed-in browser), so one slot holds it easily.
// KEYS: the entry, the index of all sessions, the account's index.
// ARGV: expiry (epoch ms), now (epoch ms), uid, then field/value pairs.
// An index is a sorted set of uids scored by expiry: each write first drops
// the members that have expired (the lazy half of expiry; reads drop them too).
const RECORD = `
local expires = tonumber(ARGV[1])
if expires <= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], expires)
for i = 2, 3 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[2])
  redis.call('ZADD', KEYS[i], expires, ARGV[3])
end
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
redis.call('PEXPIREAT', KEYS[3], last)
return 1
`;

// Only an entry that still exists, of that account, is touched: a session
// removed meanwhile stays removed.
const TOUCH = `
if redis.call('HGET', KEYS[1], 'accountId') ~= ARGV[4] then return 0 end
local expires = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[5], 'expiresAt', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], expires)
for i = 2, 3 do
  redis.call('ZADD', KEYS[i], 'XX', expires, ARGV[3])
end
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
if last then redis.call('PEXPIREAT', KEYS[3], last) end
return 1
`;

type ScriptedRedis = RedisClient & {
  gatehouseRecordSession(...args: Array<string | number>): Promise<number>;
  gatehouseTouchSession(...args: Array<string | number>): Promise<number>;
};

function entry(uid: string, fields: Record<string, string>): SignInSessionRecord | undefined {
  if (!fields.accountId || !fields.expiresAt || Number(fields.expiresAt) <= Date.now()) return undefined;
  return {
    sessionUid: uid,
    accountId: fields.accountId,
    signedInAt: new Date(Number(fields.signedInAt)),
    ip: fields.ip || null,
    userAgent: fields.userAgent || null,
    lastSeenAt: new Date(Number(fields.lastSeenAt)),
    expiresAt: new Date(Number(fields.expiresAt)),
  };
}

/** The session index in Redis, beside the sessions themselves: a hash per session and sorted sets of uids. */
export class RedisSignInSessionStore implements SignInSessionStore {
  private readonly redis: ScriptedRedis;

  constructor(redis: RedisClient, private readonly prefix: string) {
    if (!('gatehouseRecordSession' in redis)) {
      redis.defineCommand('gatehouseRecordSession', { lua: RECORD, numberOfKeys: 3 });
      redis.defineCommand('gatehouseTouchSession', { lua: TOUCH, numberOfKeys: 3 });
    }
    this.redis = redis as ScriptedRedis;
  }

  private entryKey(uid: string): string {
    return `${this.prefix}{sign-in-sessions}:session:${uid}`;
  }

  private allKey(): string {
    return `${this.prefix}{sign-in-sessions}:all`;
  }

  private accountKey(accountId: string): string {
    return `${this.prefix}{sign-in-sessions}:account:${accountId}`;
  }

  async record(session: SignInSessionRecord): Promise<void> {
    const fields = {
      accountId: session.accountId,
      signedInAt: String(session.signedInAt.getTime()),
      ip: session.ip ?? '',
      userAgent: session.userAgent ?? '',
      lastSeenAt: String(session.lastSeenAt.getTime()),
      expiresAt: String(session.expiresAt.getTime()),
    };
    await this.redis.gatehouseRecordSession(
      this.entryKey(session.sessionUid), this.allKey(), this.accountKey(session.accountId),
      session.expiresAt.getTime(), Date.now(), session.sessionUid, ...Object.entries(fields).flat(),
    );
  }

  async touch(sessionUid: string, accountId: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    await this.redis.gatehouseTouchSession(
      this.entryKey(sessionUid), this.allKey(), this.accountKey(accountId),
      expiresAt.getTime(), Date.now(), sessionUid, accountId, lastSeenAt.getTime(),
    );
  }

  async remove(sessionUid: string): Promise<void> {
    const accountId = await this.redis.hget(this.entryKey(sessionUid), 'accountId');
    const steps = this.redis.multi().del(this.entryKey(sessionUid)).zrem(this.allKey(), sessionUid);
    if (accountId) steps.zrem(this.accountKey(accountId), sessionUid);
    await steps.exec();
  }

  async find(sessionUid: string): Promise<SignInSessionRecord | undefined> {
    return entry(sessionUid, await this.redis.hgetall(this.entryKey(sessionUid)));
  }

  /** The entries of these uids that are live, in order (one round trip). */
  private async entries(uids: string[]): Promise<SignInSessionRecord[]> {
    if (!uids.length) return [];
    const pipeline = this.redis.multi();
    for (const uid of uids) pipeline.hgetall(this.entryKey(uid));
    const replies = (await pipeline.exec()) ?? [];
    return uids.flatMap((uid, i) => entry(uid, (replies[i]?.[1] ?? {}) as Record<string, string>) ?? []);
  }

  /** Drops the expired members of an index, then reads uids from it, latest expiry first. */
  private async liveUids(key: string, start: number, stop: number): Promise<{ total: number; uids: string[] }> {
    const now = Date.now();
    const replies = (await this.redis.multi()
      .zremrangebyscore(key, '-inf', now)
      .zcard(key)
      .zrevrange(key, start, stop)
      .exec()) ?? [];
    return { total: Number(replies[1]?.[1] ?? 0), uids: (replies[2]?.[1] ?? []) as string[] };
  }

  async listByAccount(accountId: string): Promise<SignInSessionRecord[]> {
    return this.entries((await this.liveUids(this.accountKey(accountId), 0, -1)).uids);
  }

  async list(options: { limit: number; offset: number }): Promise<{ total: number; items: SignInSessionRecord[] }> {
    const { total, uids } = await this.liveUids(this.allKey(), options.offset, options.offset + options.limit - 1);
    return { total, items: await this.entries(uids) };
  }
}
